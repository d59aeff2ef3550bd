"""Web pages of the measurements, one module per noun: spectra (list, detail, figures, downloads), fitting by
hand (queue, preview, parameters CSV), the two-step upload (its preview storage in `upload_previews`) and the
other cell records (DC polarisations, CCD tests); `common` holds what several of them share. The names below
are what `urls.py` and other modules use."""
from .common import chosen_fit
from .hand_fit import PREVIEWS_PER_MINUTE, spectrum_fit, spectrum_fit_csv, spectrum_fit_preview
from .records import ccd_test_detail, ccd_test_edit, dc_polarisation_detail, dc_polarisation_edit
from .spectra import (
    SpectrumFilter,
    spectrum_csv,
    spectrum_detail,
    spectrum_figures,
    spectrum_json,
    spectrum_list,
    spectrum_plots,
    spectrum_raw,
)
from .upload import upload, upload_confirm

__all__ = [
    "PREVIEWS_PER_MINUTE", "SpectrumFilter", "ccd_test_detail", "ccd_test_edit", "chosen_fit", "dc_polarisation_detail",
    "dc_polarisation_edit", "spectrum_csv", "spectrum_detail", "spectrum_figures", "spectrum_fit", "spectrum_fit_csv",
    "spectrum_fit_preview", "spectrum_json", "spectrum_list", "spectrum_plots", "spectrum_raw", "upload", "upload_confirm",
]

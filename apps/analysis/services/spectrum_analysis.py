"""The whole analysis of one spectrum: the Kramers–Kronig check, then the standard fit — for a protocol
with a model family, the member chosen by evidence (``model_choice``)."""
from __future__ import annotations

from dataclasses import dataclass

from apps.measurements.models import ImpedanceSpectrum

from ..models import FitResult, KramersKronigCheck
from .common import AnalysisError
from .fits import fit_spectrum
from .kramers_kronig import validate_spectrum
from .model_choice import fit_by_evidence
from .protocols import standard_protocol_for


@dataclass
class AnalysisOutcome:
    kk: KramersKronigCheck | None
    fit: FitResult
    kk_error: str = ""


def analyse_spectrum(*, spectrum_id: int) -> AnalysisOutcome:
    """Kramers–Kronig check, then the fit under the spectrum's standard protocol (with conductivities); for a
    protocol of a model family, the family member chosen by BIC (``services.model_choice``)."""
    kk_error = ""
    try:
        kk = validate_spectrum(spectrum_id=spectrum_id)
    except AnalysisError as exc:
        kk, kk_error = None, str(exc)
    spectrum = ImpedanceSpectrum.objects.select_related("cell", "cell__separator").get(pk=spectrum_id)
    # A protocol with a model family (the pellet layouts): every candidate fitted, the lowest BIC kept.
    fit = fit_by_evidence(spectrum=spectrum)
    if fit is None:
        fit = fit_spectrum(spectrum_id=spectrum_id, protocol_id=standard_protocol_for(spectrum).pk)
    return AnalysisOutcome(kk=kk, fit=fit, kk_error=kk_error)

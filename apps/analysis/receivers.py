"""How analysis answers the lower apps' signals: new spectra and geometry edits queue analysis jobs."""
from django.dispatch import receiver

from apps.catalog.signals import geometry_changed
from apps.measurements.models import ImpedanceSpectrum
from apps.measurements.signals import spectra_stored

from .services import queue_analysis


@receiver(spectra_stored, dispatch_uid="analysis.analyse_stored_spectra")
def analyse_stored_spectra(sender, *, spectrum_ids, user=None, **kwargs) -> None:
    queue_analysis(spectrum_ids=list(spectrum_ids), user=user)


@receiver(geometry_changed, dispatch_uid="analysis.reanalyse_after_geometry_change")
def reanalyse_after_geometry_change(sender, *, user=None, separator_id=None, cell_id=None, **kwargs) -> None:
    spectra = ImpedanceSpectrum.objects.all()
    spectra = spectra.filter(cell__separator_id=separator_id) if separator_id is not None else spectra.filter(cell_id=cell_id)
    spectrum_ids = list(spectra.values_list("pk", flat=True))
    if spectrum_ids:
        queue_analysis(spectrum_ids=spectrum_ids, user=user)

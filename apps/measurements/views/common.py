"""Helpers shared by several spectrum and measurement pages: the spectrum a user may see, the fit shown on it
and its parameter rows, the cells a user may write to."""
from __future__ import annotations

from django.shortcuts import get_object_or_404

from apps.accounts.selectors import groups_of
from apps.analysis.models import FitResult, FitStatus
from apps.catalog.selectors import visible_cells

from ..figures import parameter_unit
from ..models import ImpedanceSpectrum
from ..selectors import visible_spectra


def chosen_fit(spectrum: ImpedanceSpectrum, fit_id: str | None) -> FitResult | None:
    fits = spectrum.fits.select_related("protocol").order_by("-protocol__is_standard", "-updated_at")
    if fit_id and fit_id.isdigit():
        return fits.filter(pk=int(fit_id)).first()
    return fits.filter(status=FitStatus.SUCCEEDED).first() or fits.first()


def parameter_rows(fit: FitResult | None) -> list[dict]:
    if fit is None or not fit.parameters:
        return []
    roles = fit.roles
    rows = []
    for name, value in fit.parameter_items():
        stderr = (fit.stderr or {}).get(name)
        element = name.split("_")[0]
        relative_percent = 100 * abs(stderr / value) if stderr is not None and value else None
        rows.append(
            {
                "name": name,
                "value": value,
                "stderr": stderr,
                "relative_percent": relative_percent,
                "unit": parameter_unit(name),
                "role": roles.get(name) or roles.get(element) or "",
            }
        )
    return rows


def visible_spectrum(request, pk: int, *, with_arrays: bool) -> ImpedanceSpectrum:
    return get_object_or_404(visible_spectra(user=request.user, with_arrays=with_arrays), pk=pk)


def writable_cells(user):
    cells = visible_cells(user=user).prefetch_related(None).select_related("group")
    return cells if user.is_superuser else cells.filter(group__in=groups_of(user))

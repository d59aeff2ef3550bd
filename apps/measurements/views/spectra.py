"""Spectrum pages: the list with its filters, the detail page with its figures (Nyquist, Bode, fit and
Kramers–Kronig residuals, DRT), the figures as JSON and the downloads (CSV, JSON, raw file)."""
from __future__ import annotations

import hashlib

import django_filters
import numpy as np
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from apps.accounts.filters import VisibleRelationsMixin
from apps.accounts.references import visible_reference
from apps.accounts.selectors import can_edit
from apps.analysis import eis
from apps.analysis.models import ElementRole, FitResult, FitStatus, KramersKronigCheck
from apps.analysis.selectors import visible_protocols
from apps.catalog.views import jobs_for_targets, list_context, paginate

from .. import exports, plots
from ..figures import SampleView, dense_fit_curve, sample_view
from ..filters import SpectrumFilterSet
from ..forms import FitRequestForm
from ..models import ImpedanceSpectrum
from ..selectors import visible_spectra
from .common import chosen_fit, parameter_rows, visible_spectrum

DRT_CACHE_SECONDS = 24 * 3600


class SpectrumFilter(VisibleRelationsMixin, SpectrumFilterSet):
    """The API's spectrum filters plus a free-text box."""

    q = django_filters.CharFilter(method="search", label="Label, cell or separator")

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(label__icontains=value)
            | self.through_visible("cell__name__icontains", value)
            | self.through_visible("cell__separator__name__icontains", value)
        )


def spectrum_list(request):
    f = SpectrumFilter(
        request.GET, request=request,
        queryset=visible_spectra(user=request.user).select_related("kk_check").order_by("-created_at", "-pk"),
    )
    page, query = paginate(request, f.qs, per_page=50)
    return render(request, "measurements/spectrum_list.html",
        list_context(f, page, query, ["temperature_c_min", "temperature_c_max", "cycle_index_min", "cycle_index_max"]),
    )


# ---------------------------------------------------------------- detail and figures


def _drt(spectrum: ImpedanceSpectrum, f: np.ndarray, z: np.ndarray):
    """DRT computed on demand and cached per spectrum content and engine version."""
    digest = hashlib.sha256(np.asarray(f, "<f8").tobytes() + np.asarray(z, complex).tobytes()).hexdigest()[:16]
    key = f"drt:{spectrum.pk}:{digest}:{eis.ENGINE_VERSION}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        result = eis.compute_drt(f, z)
        value = {
            "tau_s": np.asarray(result.tau_s).tolist(),
            "gamma_ohm": np.asarray(result.gamma_ohm).tolist(),
            "peaks_tau_s": np.asarray(result.peaks_tau_s).tolist(),
            "peaks_gamma": np.asarray(result.peaks_gamma).tolist(),
            "r_inf_ohm": float(result.r_inf_ohm),
            "error": "",
        }
    except Exception as error:  # noqa: BLE001 - a DRT that cannot be computed is shown as a message, not a 500
        value = {"error": str(error)}
    cache.set(key, value, DRT_CACHE_SECONDS)
    return value


def _fit_curve(fit: FitResult | None, f: np.ndarray) -> np.ndarray | None:
    if fit is None or fit.status != FitStatus.SUCCEEDED or not fit.parameters:
        return None
    try:
        return eis.circuit_impedance(fit.protocol.circuit, fit.parameters, f)
    except (ValueError, KeyError):
        return None


def _sample_view(fit: FitResult | None, f: np.ndarray, z: np.ndarray) -> SampleView:
    if fit is None or fit.status != FitStatus.SUCCEEDED or not fit.parameters:
        return SampleView(arcs=[])
    try:
        return sample_view(
            circuit=fit.protocol.circuit, parameters=fit.parameters, roles=fit.roles,
            elements=(fit.derived or {}).get("elements") or {}, frequencies_hz=f, impedance_ohm=z,
            role_titles=dict(ElementRole.choices),
        )
    except (ValueError, KeyError):
        return SampleView(arcs=[])


def spectrum_figures(spectrum: ImpedanceSpectrum, fit: FitResult | None) -> dict[str, str]:
    f, z = spectrum.frequencies_hz, spectrum.impedance_ohm
    label = spectrum.label or f"Spectrum {spectrum.pk}"
    model = _fit_curve(fit, f)
    fit_trace = dense_fit_curve(fit, f, f"fit: {fit.protocol}") if model is not None else None
    view = _sample_view(fit, f, z)
    figures = {
        "nyquist": plots.nyquist_figure([(label, f, z)], fit=fit_trace, title="Nyquist", zoom=view.zoom, arcs=view.arcs),
        "bode": plots.bode_figure([(label, f, z)], fit=fit_trace),
    }
    if model is not None:
        # From the model at every point (the fit's stored parameters; residuals are not stored).
        modulus = np.abs(z)
        real, imag = (z.real - model.real) / modulus, (z.imag - model.imag) / modulus
        figures["residuals"] = plots.residuals_figure(f, [("fit", real, imag)], title=f"Fit residuals ({fit.protocol})")
    else:
        figures["residuals"] = plots.message_figure(
            "No successful fit yet." if fit is None or fit.status == FitStatus.SUCCEEDED else f"Fit failed: {fit.error}",
            "Fit residuals",
        )
    kk = KramersKronigCheck.objects.filter(spectrum=spectrum).first()
    if kk is not None:
        kk.spectrum = spectrum  # its residuals are recomputed from this spectrum's arrays, already decoded
        verdict = kk.get_verdict_display().lower()
        figures["kk"] = plots.residuals_figure(
            f, [("Lin-KK", kk.residuals_real, kk.residuals_imag)], title=f"Kramers–Kronig residuals ({verdict}, M = {kk.n_elements})", threshold=kk.threshold
        )
    else:
        figures["kk"] = plots.message_figure("The Kramers–Kronig check has not run yet.", "Kramers–Kronig residuals")
    drt = _drt(spectrum, f, z)
    if drt.get("error"):
        figures["drt"] = plots.message_figure(f"DRT could not be computed: {drt['error']}", "Distribution of relaxation times")
    else:
        figures["drt"] = plots.drt_figure(np.array(drt["tau_s"]), np.array(drt["gamma_ohm"]), drt["peaks_tau_s"],
                                          drt["peaks_gamma"], sample_tau_range_s=view.tau_range_s)
    return {name: plots.figure_json(fig) for name, fig in figures.items()}


def spectrum_detail(request, pk: int):
    spectrum = visible_spectrum(request, pk, with_arrays=True)
    fit = chosen_fit(spectrum, request.GET.get("fit"))
    jobs = jobs_for_targets(user=request.user, targets=[("spectrum", [spectrum.pk])])
    may_edit = can_edit(spectrum, request.user)
    context = {
        "spectrum": spectrum,
        "fit": fit,
        "fits": spectrum.fits.select_related("protocol").order_by("-protocol__is_standard", "protocol__name"),
        "parameters": parameter_rows(fit),
        "kk": KramersKronigCheck.objects.filter(spectrum=spectrum).first(),
        "conductivities": fit.conductivities.all() if fit else [],
        "figures": spectrum_figures(spectrum, fit),
        "plots_url": reverse("measurements:spectrum-plots", args=[spectrum.pk]) + (f"?fit={fit.pk}" if fit else ""),
        "jobs": jobs,
        "jobs_active": any(not j.is_finished for j in jobs),
        "metadata": sorted((spectrum.metadata or {}).items()),
        "derived_elements": sorted(((fit.derived or {}).get("elements") or {}).items()) if fit else [],
        "flag_details": ((fit.derived or {}).get("flag_details") or {}) if fit else {},
        "can_edit": may_edit,
        "fit_form": FitRequestForm(protocols=visible_protocols(user=request.user)) if may_edit else None,
    }
    return render(request, "measurements/spectrum_detail.html", context)


def spectrum_plots(request, pk: int):
    spectrum = visible_spectrum(request, pk, with_arrays=True)
    return JsonResponse({"figures": spectrum_figures(spectrum, chosen_fit(spectrum, request.GET.get("fit")))})


def spectrum_csv(request, pk: int):
    spectrum = visible_spectrum(request, pk, with_arrays=True)
    text = exports.spectrum_csv(spectrum, user=request.user)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="spectrum-{spectrum.pk}.csv"'
    return response


def spectrum_json(request, pk: int):
    spectrum = visible_spectrum(request, pk, with_arrays=True)
    response = HttpResponse(exports.spectrum_json(spectrum, user=request.user), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="spectrum-{spectrum.pk}.json"'
    return response


def spectrum_raw(request, pk: int):
    spectrum = visible_spectrum(request, pk, with_arrays=False)
    raw = visible_reference(request.user, spectrum.raw_file)
    if raw is None or not raw.file or not default_storage.exists(raw.file.name):
        raise Http404("This spectrum has no stored raw file.")
    return FileResponse(default_storage.open(raw.file.name, "rb"), as_attachment=True, filename=raw.original_name)

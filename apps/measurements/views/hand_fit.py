"""Fitting a spectrum by hand: queue a fit with chosen settings, preview it synchronously (rate-limited, nothing
stored) and download the shown fit's parameters as CSV."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.selectors import can_edit
from apps.analysis import services as analysis_services
from apps.analysis.selectors import visible_protocols

from .. import exports
from ..figures import PreviewError, fit_preview
from ..forms import FitRequestForm
from .common import chosen_fit, parameter_rows, visible_spectrum


@login_required
@require_POST
def spectrum_fit(request, pk: int):
    """Queue a fit of this spectrum; the page then follows the job's progress."""
    spectrum = visible_spectrum(request, pk, with_arrays=False)
    form = FitRequestForm(request.POST, protocols=visible_protocols(user=request.user))
    if not form.is_valid():
        for field, errors in form.errors.items():
            where = f"{form.fields[field].label or field}: " if field in form.fields else ""
            messages.error(request, f"Fit not queued: {where}{' '.join(errors)}")
        return redirect("measurements:spectrum-detail", pk=spectrum.pk)
    try:
        job = analysis_services.request_fit(
            spectrum=spectrum,
            user=request.user,
            protocol=form.cleaned_data.get("protocol"),
            circuit=form.cleaned_data.get("circuit", "").strip() or None,
            name=form.cleaned_data.get("name", "").strip() or None,
            frequency_window_hz=form.window(),
            initial_values=form.cleaned_data.get("initial_values") or None,
            fixed=form.cleaned_data.get("fixed") or None,
        )
    except ValidationError as error:
        messages.error(request, "Fit not queued: " + " ".join(error.messages))
    except PermissionDenied as error:
        messages.error(request, f"Fit not queued: {error}")
    else:
        messages.success(request, f"Fit queued: {job.target_label}.")
    return redirect("measurements:spectrum-detail", pk=spectrum.pk)


PREVIEWS_PER_MINUTE = 20


def _preview_allowed(user) -> bool:
    """At most PREVIEWS_PER_MINUTE synchronous fit previews per user and minute (a fit costs CPU)."""
    key = f"fit-preview:{user.pk}:{int(timezone.now().timestamp() // 60)}"
    cache.add(key, 0, 120)
    try:
        return cache.incr(key) <= PREVIEWS_PER_MINUTE
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, 120)
        return True


@login_required
@require_POST
def spectrum_fit_preview(request, pk: int):
    """Fit the spectrum now (bounded in points, starts and time) and answer JSON: parameters ± errors, χ² and the
    figures. Members of the spectrum's group only; nothing is stored."""
    spectrum = visible_spectrum(request, pk, with_arrays=True)
    if not can_edit(spectrum, request.user):
        return JsonResponse({"error": "Only members of the spectrum's group may fit it."}, status=403)
    if not _preview_allowed(request.user):
        return JsonResponse({"error": f"At most {PREVIEWS_PER_MINUTE} previews a minute; try again shortly."}, status=429)
    form = FitRequestForm(request.POST, protocols=visible_protocols(user=request.user))
    if form.is_valid() and not form.circuit_text():
        form.add_error("circuit", "Choose a protocol or write a circuit to preview.")
    if not form.is_valid():
        return JsonResponse({"error": "Check the fit settings.", "fields": form.errors}, status=400)
    try:
        preview = fit_preview(spectrum.frequencies_hz, spectrum.impedance_ohm, form.preview_request(),
                              label=spectrum.label or f"Spectrum {spectrum.pk}")
    except PreviewError as error:
        return JsonResponse({"error": str(error), "fields": {error.field: [str(error)]} if error.field else {}}, status=400)
    return JsonResponse(preview)


def spectrum_fit_csv(request, pk: int):
    """The shown fit's parameters with standard errors, units and roles as CSV (`?fit=` picks another fit)."""
    spectrum = visible_spectrum(request, pk, with_arrays=False)
    fit = chosen_fit(spectrum, request.GET.get("fit"))
    if fit is None or not fit.parameters:
        raise Http404("This spectrum has no fitted parameters yet.")
    response = HttpResponse(exports.fit_parameters_csv(fit, parameter_rows(fit)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="spectrum-{spectrum.pk}-fit-{fit.pk}-parameters.csv"'
    return response

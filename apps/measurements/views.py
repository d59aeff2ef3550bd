"""Spectrum pages (list, detail with its figures, downloads, the two-step upload) and the pages and forms of
DC polarisations and CCD tests."""
from __future__ import annotations

import datetime
import hashlib
import io
import posixpath
import secrets
import zipfile

import django_filters
import numpy as np
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.accounts.filters import VisibleRelationsMixin
from apps.accounts.references import visible_reference
from apps.accounts.selectors import can_edit, groups_of
from apps.analysis import eis
from apps.analysis import services as analysis_services
from apps.analysis.models import ElementRole, FitResult, FitStatus, KramersKronigCheck
from apps.analysis.selectors import visible_protocols
from apps.catalog.models import Cell
from apps.catalog.selectors import visible_cells
from apps.catalog.views import apply_service_errors, jobs_for_targets, list_context, paginate

from . import exports, plots
from .figures import (
    PreviewError,
    PreviewRequest,
    SampleView,
    dense_fit_curve,
    fit_preview,
    parameter_unit,
    sample_view,
)
from .filters import SpectrumFilterSet
from .forms import CCDTestForm, ConfirmUploadForm, DCPolarisationForm, FitRequestForm, UploadFileForm
from .ingest import ZIP_ERRORS
from .models import DCPolarisation, ImpedanceSpectrum
from .selectors import visible_ccd_tests, visible_dc_polarisations, visible_spectra
from .serializers import electronic_conductivity_reading
from .services import (
    IngestError,
    conditions_from_metadata,
    create_ccd_test,
    create_dc_polarisation,
    ingest_upload,
    ingest_zip,
    preview_upload,
    update_cell_measurement,
)

PREVIEW_DIR = "upload-previews"
SESSION_KEY = "upload_previews"
PREVIEW_MAX_AGE = datetime.timedelta(hours=24)
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
        request.GET, queryset=visible_spectra(user=request.user).order_by("-created_at", "-pk"), request=request
    )
    page, query = paginate(request, f.qs, per_page=50)
    return render(request, "measurements/spectrum_list.html",
        list_context(f, page, query, ["temperature_c_min", "temperature_c_max", "cycle_index_min", "cycle_index_max"]),
    )


# ---------------------------------------------------------------- detail and figures

def chosen_fit(spectrum: ImpedanceSpectrum, fit_id: str | None) -> FitResult | None:
    fits = spectrum.fits.select_related("protocol").order_by("-protocol__is_standard", "-updated_at")
    if fit_id and fit_id.isdigit():
        return fits.filter(pk=int(fit_id)).first()
    return fits.filter(status=FitStatus.SUCCEEDED).first() or fits.first()


def _drt(spectrum: ImpedanceSpectrum, f: np.ndarray, z: np.ndarray):
    """DRT computed on demand and cached per spectrum content and engine version."""
    digest = hashlib.sha256(bytes(spectrum.data)).hexdigest()[:16]
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
        if fit.residuals_real and fit.residuals_imag and len(fit.residuals_real) == len(f):
            real, imag = fit.residuals_real, fit.residuals_imag
        else:
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
        verdict = "passed" if kk.passed else "failed"
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


def _parameter_rows(fit: FitResult | None) -> list[dict]:
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


def _visible_spectrum(request, pk: int, *, with_arrays: bool) -> ImpedanceSpectrum:
    return get_object_or_404(visible_spectra(user=request.user, with_arrays=with_arrays), pk=pk)


def spectrum_detail(request, pk: int):
    spectrum = _visible_spectrum(request, pk, with_arrays=True)
    fit = chosen_fit(spectrum, request.GET.get("fit"))
    jobs = jobs_for_targets(user=request.user, targets=[("spectrum", [spectrum.pk])])
    may_edit = can_edit(spectrum, request.user)
    context = {
        "spectrum": spectrum,
        "fit": fit,
        "fits": spectrum.fits.select_related("protocol").order_by("-protocol__is_standard", "protocol__name"),
        "parameters": _parameter_rows(fit),
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


@login_required
@require_POST
def spectrum_fit(request, pk: int):
    """Queue a fit of this spectrum; the page then follows the job's progress."""
    spectrum = _visible_spectrum(request, pk, with_arrays=False)
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
    spectrum = _visible_spectrum(request, pk, with_arrays=True)
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
    spectrum = _visible_spectrum(request, pk, with_arrays=False)
    fit = chosen_fit(spectrum, request.GET.get("fit"))
    if fit is None or not fit.parameters:
        raise Http404("This spectrum has no fitted parameters yet.")
    response = HttpResponse(exports.fit_parameters_csv(fit, _parameter_rows(fit)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="spectrum-{spectrum.pk}-fit-{fit.pk}-parameters.csv"'
    return response


def spectrum_plots(request, pk: int):
    spectrum = _visible_spectrum(request, pk, with_arrays=True)
    return JsonResponse({"figures": spectrum_figures(spectrum, chosen_fit(spectrum, request.GET.get("fit")))})


def spectrum_csv(request, pk: int):
    spectrum = _visible_spectrum(request, pk, with_arrays=True)
    text = exports.spectrum_csv(spectrum, user=request.user)
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="spectrum-{spectrum.pk}.csv"'
    return response


def spectrum_json(request, pk: int):
    spectrum = _visible_spectrum(request, pk, with_arrays=True)
    response = HttpResponse(exports.spectrum_json(spectrum, user=request.user), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="spectrum-{spectrum.pk}.json"'
    return response


def spectrum_raw(request, pk: int):
    spectrum = _visible_spectrum(request, pk, with_arrays=False)
    raw = visible_reference(request.user, spectrum.raw_file)
    if raw is None or not raw.file or not default_storage.exists(raw.file.name):
        raise Http404("This spectrum has no stored raw file.")
    return FileResponse(default_storage.open(raw.file.name, "rb"), as_attachment=True, filename=raw.original_name)


# ---------------------------------------------------------------- upload

def _writable_cells(user):
    cells = visible_cells(user=user).prefetch_related(None).select_related("group")
    return cells if user.is_superuser else cells.filter(group__in=groups_of(user))


def _store_preview(request, *, name: str, data: bytes) -> str:
    """Keep the file until it is confirmed; previews expire after a day and share MAX_PREVIEW_STORAGE_MB."""
    _make_room_for_preview(len(data))
    token = secrets.token_urlsafe(16)
    default_storage.save(f"{PREVIEW_DIR}/{token}", ContentFile(data))
    previews = request.session.get(SESSION_KEY, {})
    previews[token] = {"name": name}
    # Keep only the last few previews a user started; older files are removed.
    while len(previews) > 5:
        old = next(iter(previews))
        previews.pop(old)
        _delete_preview_file(old)
    request.session[SESSION_KEY] = previews
    return token


def _delete_preview_file(token: str) -> None:
    path = f"{PREVIEW_DIR}/{token}"
    if default_storage.exists(path):
        default_storage.delete(path)


def _load_preview(request, token: str) -> tuple[str, bytes] | None:
    entry = request.session.get(SESSION_KEY, {}).get(token)
    path = f"{PREVIEW_DIR}/{token}"
    if entry is None or not default_storage.exists(path):
        return None
    with default_storage.open(path, "rb") as handle:
        return entry["name"], handle.read()


def _forget_preview(request, token: str) -> None:
    previews = request.session.get(SESSION_KEY, {})
    previews.pop(token, None)
    request.session[SESSION_KEY] = previews
    _delete_preview_file(token)


PICKED_SUFFIX = " files picked together"  # the name of the archive made of files picked at once


def _is_archive(name: str) -> bool:
    return name.lower().endswith(".zip") or name.endswith(PICKED_SUFFIX)


PREVIEWED_MEMBERS = 30  # files of an archive (or picked together) parsed for the confirm page; the rest are listed


def _zip_members(data: bytes) -> list[tuple[str, bytes | None]]:
    """(name, bytes) of the files in an archive, bytes only for the first PREVIEWED_MEMBERS (the rest are listed)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir() and "__MACOSX" not in i.filename][:500]
        limit = int(settings.MAX_UPLOAD_MB) * 1048576
        members = []
        for position, info in enumerate(infos):
            readable = position < PREVIEWED_MEMBERS and info.file_size <= limit and not info.flag_bits & 0x1
            members.append((info.filename, archive.read(info) if readable else None))
        return members


def _member_previews(data: bytes) -> tuple[list[dict], list[tuple[str, np.ndarray, np.ndarray]]]:
    """Each file of an archive parsed as on confirmation: format, spectra and range, or the reason it would be refused."""
    rows, curves = [], []
    for name, member in _zip_members(data):
        if member is None:
            rows.append({"name": name, "status": "listed", "reason": "parsed on confirmation"})
            continue
        try:
            parsed = preview_upload(data=member, filename=posixpath.basename(name))
        except IngestError as error:
            rows.append({"name": name, "status": "rejected", "reason": str(error)})
            continue
        f_all = np.concatenate([np.asarray(p.frequencies_hz, dtype=float) for p in parsed])
        rows.append({"name": name, "status": "ok", "format": parsed[0].format, "n_spectra": len(parsed),
                     "f_min": float(f_all.min()), "f_max": float(f_all.max())})
        curves += [(f"{posixpath.basename(name)} #{p.index + 1}", np.asarray(p.frequencies_hz), np.asarray(p.impedance_ohm))
                   for p in parsed]
    return rows, curves


def _preview_files() -> list[tuple[str, int, datetime.datetime]]:
    """(path, size in bytes, modified) of every stored preview, oldest first."""
    if not default_storage.exists(PREVIEW_DIR):
        return []
    files = []
    for name in default_storage.listdir(PREVIEW_DIR)[1]:
        path = f"{PREVIEW_DIR}/{name}"
        try:
            files.append((path, default_storage.size(path), default_storage.get_modified_time(path)))
        except OSError:
            continue  # removed by a concurrent request
    return sorted(files, key=lambda item: item[2])


def _make_room_for_preview(size_bytes: int) -> None:
    """Drop previews older than a day, then the oldest ones until this one fits in MAX_PREVIEW_STORAGE_MB."""
    limit = float(settings.MAX_PREVIEW_STORAGE_MB) * 1024 * 1024
    if size_bytes > limit:
        raise IngestError(
            f"{size_bytes / 1048576:.1f} MB is more than the {settings.MAX_PREVIEW_STORAGE_MB} MB kept for upload "
            "previews (MAX_PREVIEW_STORAGE_MB)",
            field="file",
        )
    cutoff = timezone.now() - PREVIEW_MAX_AGE
    files = _preview_files()
    kept = []
    for path, size, modified in files:
        if modified < cutoff:
            _delete_quietly(path)
        else:
            kept.append((path, size))
    total = sum(size for _, size in kept)
    for path, size in kept:
        if total + size_bytes <= limit:
            break
        _delete_quietly(path)
        total -= size


def _delete_quietly(path: str) -> None:
    try:
        default_storage.delete(path)
    except OSError:
        pass


def _preview_context(name: str, data: bytes) -> dict:
    """What the confirm page shows: parsed spectra (Nyquist) and detected metadata; for an archive (or files
    picked together) each file's verdict and one Nyquist of them all."""
    if _is_archive(name):
        try:
            members, curves = _member_previews(data)
        except ZIP_ERRORS as exc:
            raise IngestError(f"not a readable zip archive ({exc or type(exc).__name__})", filename=name) from None
        figures = {}
        if curves:
            figures["preview"] = plots.figure_json(plots.nyquist_figure(curves, title="Parsed spectra (nothing stored yet)"))
        return {"is_zip": True, "members": members, "figures": figures, "detected": {},
                "n_ok": sum(m["status"] == "ok" for m in members)}
    parsed = preview_upload(data=data, filename=name)
    spectra = []
    for item in parsed[:20]:
        f = np.asarray(item.frequencies_hz, dtype=float)
        z = np.asarray(item.impedance_ohm, dtype=complex)
        spectra.append(
            {
                "index": item.index,
                "format": item.format,
                "n_points": int(f.size),
                "f_min": float(f.min()),
                "f_max": float(f.max()),
                "metadata": sorted((k, v) for k, v in item.metadata.items() if not isinstance(v, (list, dict))),
            }
        )
    figure = plots.nyquist_figure(
        [(f"{name} #{p.index + 1}", np.asarray(p.frequencies_hz), np.asarray(p.impedance_ohm)) for p in parsed],
        title="Parsed spectra (nothing stored yet)",
    )
    return {
        "is_zip": False,
        "spectra": spectra,
        "n_spectra": len(parsed),
        "figures": {"preview": plots.figure_json(figure)},
        "detected": conditions_from_metadata(parsed[0].metadata),
    }


def _picked_files(files) -> tuple[str, bytes]:
    """One file as it is; several picked together become an archive, so each is parsed, stored and reported
    on its own exactly like the members of an uploaded zip."""
    if len(files) == 1:
        return files[0].name, files[0].read()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for item in files:
            archive.writestr(item.name, item.read())
    return f"{len(files)}{PICKED_SUFFIX}", buffer.getvalue()


@login_required
def upload(request):
    """Step 1: choose a file. A valid file is parsed (nothing stored) and shown for confirmation."""
    cells = _writable_cells(request.user)
    if request.method == "POST" and not cells.exists():
        # Refused before the body is read: whoever may write to no cell cannot upload anything.
        messages.error(request, "You are not a member of a group that owns a cell, so there is nothing to upload to.")
        return redirect("measurements:upload")
    if request.method == "POST":
        form = UploadFileForm(request.POST, request.FILES)
        if form.is_valid():
            name, data = _picked_files(form.cleaned_data["file"])
            try:
                context = _preview_context(name, data)
                token = _store_preview(request, name=name, data=data)
            except IngestError as error:
                form.add_error("file", str(error))
            else:
                initial = {"token": token, **{k: v for k, v in context["detected"].items() if k in ConfirmUploadForm.base_fields}}
                if request.GET.get("cell", "").isdigit():
                    initial["cell"] = int(request.GET["cell"])
                confirm = ConfirmUploadForm(initial=initial, cells=cells)
                return render(
                    request,
                    "measurements/upload_confirm.html",
                    {"form": confirm, "filename": name, "size_bytes": len(data), **context},
                )
    else:
        form = UploadFileForm()
    return render(request, "measurements/upload.html", {"form": form, "has_cells": cells.exists()})


@login_required
@require_POST
def upload_confirm(request):
    """Step 2: store the previewed file on the chosen cell and queue its analysis."""
    cells = _writable_cells(request.user)
    form = ConfirmUploadForm(request.POST, cells=cells)
    token = request.POST.get("token", "")
    stored = _load_preview(request, token)
    if stored is None:
        messages.error(request, "That upload preview has expired or belongs to another session; please choose the file again.")
        return redirect("measurements:upload")
    name, data = stored
    if form.is_valid():
        options = dict(
            cell=form.cleaned_data["cell"],
            filename=name,
            data=data,
            user=request.user,
            visibility=form.cleaned_data["visibility"] or None,
            embargo_until=form.cleaned_data["embargo_until"],
            conditions=form.conditions(),
            attach=form.cleaned_data["attach"],
        )
        try:
            if _is_archive(name):
                report = ingest_zip(**options)
                _forget_preview(request, token)
                return _after_zip(request, report, form.cleaned_data["cell"])
            report = ingest_upload(**options)
        except IngestError as error:
            field = error.field if error.field in form.fields else None
            form.add_error(field, str(error))
        except PermissionDenied as error:
            form.add_error("cell", str(error))
        else:
            if report.duplicate:
                # The preview is kept, so that "attach to this cell" can store the same bytes without a new upload.
                return _duplicate_result(request, report, name, form)
            _forget_preview(request, token)
            return _after_upload(request, report, name, form.cleaned_data["cell"])
    return _confirm_again(request, form, name, data)


def _duplicate_result(request, report, name: str, form):
    """The result page of a file stored before: which spectra and cells hold it, what was NOT applied, how to attach."""
    cell = form.cleaned_data["cell"]
    attach_data = request.POST.copy()
    attach_data["attach"] = "on"
    return render(
        request,
        "measurements/upload_duplicate.html",
        {
            "filename": name,
            "explanation": report.explanation,
            "raw_file": report.raw_file,
            "held": report.created,
            "cell": cell,
            "can_attach": not any(s.cell_id == cell.pk for s in report.created),
            "attach_fields": [(k, v) for k in attach_data for v in attach_data.getlist(k) if k != "csrfmiddlewaretoken"],
        },
    )


def _after_upload(request, report, name: str, cell: Cell):
    if report.attached:
        messages.success(request, f"{name}: {report.explanation}; analysis queued.")
    else:
        messages.success(request, f"{name}: {len(report.created)} spectrum(s) stored; analysis queued.")
    if len(report.created) == 1:
        return redirect("measurements:spectrum-detail", pk=report.created[0].pk)
    return redirect("catalog:cell-detail", pk=cell.pk)


def _confirm_again(request, form, name: str, data: bytes):
    """The confirm page once more, with the form's errors, over the same preview."""
    try:
        context = _preview_context(name, data)
    except IngestError as error:
        context = {"is_zip": False, "spectra": [], "figures": {}, "detected": {}}
        form.add_error(None, str(error))
    return render(
        request, "measurements/upload_confirm.html", {"form": form, "filename": name, "size_bytes": len(data), **context}
    )


def _after_zip(request, report, cell: Cell):
    for outcome in report.files:
        if outcome.status == "accepted":
            messages.success(request, f"{outcome.name}: {len(outcome.spectra)} spectrum(s) stored.")
        elif outcome.status == "duplicate" or outcome.attached:
            messages.info(request, f"{outcome.name}: {outcome.reason}")
        else:
            messages.error(request, f"{outcome.name}: rejected — {outcome.reason}")
    return redirect("catalog:cell-detail", pk=cell.pk)


# ---------------------------------------------------------------- DC polarisation and CCD tests

def dc_polarisation_detail(request, pk: int):
    dc = get_object_or_404(visible_dc_polarisations(user=request.user).select_related("cell__separator", "group"), pk=pk)
    if dc.time_s:
        figure = plots.dc_polarisation_figure(dc.time_s, dc.current_a, steady_current_a=dc.steady_current_a, voltage_v=dc.voltage_v)
    else:
        figure = plots.message_figure("No current trace was recorded; ΔV and I_ss are listed beside.", "Current during DC polarisation")
    context = {
        "dc": dc,
        "sigma_e": electronic_conductivity_reading(dc),
        "figures": {"current": plots.figure_json(figure)},
        "can_edit": can_edit(dc, request.user),
    }
    return render(request, "measurements/dc_polarisation_detail.html", context)


def ccd_test_detail(request, pk: int):
    test = get_object_or_404(visible_ccd_tests(user=request.user).select_related("cell", "group"), pk=pk)
    steps = test.steps()
    figure = plots.ccd_figure(steps) if steps else plots.message_figure(
        "The cell did not fail: no failing step to draw.", "Current-density steps")
    context = {"test": test, "steps": steps, "figures": {"steps": plots.figure_json(figure)}, "can_edit": can_edit(test, request.user)}
    return render(request, "measurements/ccd_test_detail.html", context)


def _cell_measurement_form(request, *, form_class, create, detail_url: str, title: str, record=None):
    """Create (or, with `record`, edit) a DC polarisation or CCD test through its measurement service."""
    cells = _writable_cells(request.user)
    initial = {"cell": int(request.GET["cell"])} if request.GET.get("cell", "").isdigit() else None
    form = form_class(request.POST or None, instance=record, initial=initial, cells=cells)
    if request.method == "POST" and form.is_valid():
        try:
            if record is None:
                record = create(cell=form.cleaned_data["cell"], user=request.user, **form.service_fields())
            else:
                record = update_cell_measurement(
                    record=record, user=request.user, cell=form.cleaned_data["cell"], **form.service_fields()
                )
        except ValidationError as error:
            apply_service_errors(error, form)
        except PermissionDenied as error:
            form.add_error("cell", str(error))
        else:
            messages.success(request, f"{record} saved.")
            return redirect(detail_url, pk=record.pk)
    return render(request, "measurements/cell_measurement_form.html", {"form": form, "title": title, "record": record})


@login_required
def dc_polarisation_edit(request, pk: int | None = None):
    record = _editable_or_none(request, visible_dc_polarisations, pk)
    return _cell_measurement_form(
        request, form_class=DCPolarisationForm, create=create_dc_polarisation, record=record,
        detail_url="measurements:dc-polarisation-detail", title="DC polarisation",
    )


@login_required
def ccd_test_edit(request, pk: int | None = None):
    record = _editable_or_none(request, visible_ccd_tests, pk)
    return _cell_measurement_form(
        request, form_class=CCDTestForm, create=create_ccd_test, record=record,
        detail_url="measurements:ccd-test-detail", title="Critical-current-density test",
    )


def _editable_or_none(request, selector, pk: int | None):
    if pk is None:
        return None
    record = get_object_or_404(selector(user=request.user), pk=pk)
    if not can_edit(record, request.user):
        raise PermissionDenied("Only members of the owning group can edit this record.")
    return record

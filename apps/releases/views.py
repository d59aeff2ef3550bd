"""Release pages (list, landing page, archive, create) and the delete / retract pages of a record (thin)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse

from apps.accounts.selectors import can_edit, visible
from apps.catalog.models import Cell, Electrode, Interface, Separator
from apps.catalog.views.common import apply_service_errors
from apps.measurements.models import ImpedanceSpectrum

from . import deletion, selectors, services
from .forms import ReleaseForm, parse_authors
from .identifiers import spdx_url
from .models import RecordKind

#: URL kind → (model, name of its detail page, name of its list page).
RECORD_KINDS = {
    "separator": (Separator, "catalog:separator-detail", "catalog:separator-list"),
    "cell": (Cell, "catalog:cell-detail", "catalog:cell-list"),
    "spectrum": (ImpedanceSpectrum, "measurements:spectrum-detail", "measurements:spectrum-list"),
    "interface": (Interface, "catalog:interface-detail", "catalog:interface-list"),
    "electrode": (Electrode, "", "catalog:separator-list"),
}


def release_list(request):
    # The snapshot (the archive's whole content) and the manifest are not shown here: left in the database.
    releases = list(selectors.visible_releases(user=request.user).prefetch_related("records")
                    .defer("snapshot", "manifest"))
    latest = set(selectors.latest_releases().values_list("pk", flat=True))
    for release in releases:
        release.is_latest = release.pk in latest
    return render(request, "releases/release_list.html", {"releases": releases})


def release_detail(request, pk: int):
    release = get_object_or_404(selectors.visible_releases(user=request.user).defer("snapshot"), pk=pk)
    records = selectors.records_of_release(release)
    for record in records:
        record.url = _record_url(record.kind, record.object_id)
    entries = selectors.entries_of_release(release)
    return render(request, "releases/release_detail.html", {
        "release": release, "records": records, "entries": entries,
        "retracted": [r for r in records if r.retraction], "versions": selectors.versions_of(release),
        "licence_url": spdx_url(release.licence),
        "manifest": sorted(release.manifest.items()),
    })


def release_archive(request, pk: int):
    """The archive as published: the same bytes on every download."""
    release = get_object_or_404(selectors.visible_releases(user=request.user), pk=pk)
    if not release.archive:
        raise Http404("This release has no archive.")
    response = FileResponse(default_storage.open(release.archive.name, "rb"), content_type="application/zip",
                            as_attachment=True, filename=f"{release.group.slug}-{release.dataset_key}-v{release.version}.zip")
    response["ETag"] = f'"{release.archive_sha256}"'
    response["Digest"] = f"sha-256={release.archive_sha256}"
    return response


@login_required
def release_create(request):
    form = ReleaseForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            release = services.release_publish(
                user=request.user, group=data["group"], title=data["title"], description=data["description"],
                authors=parse_authors(data["authors"]), licence=data["licence"],
                source_dois=[line for line in data["source_dois"].splitlines() if line.strip()],
                separator_ids=[s.pk for s in data["separators"]], cell_ids=[c.pk for c in data["cells"]],
                spectrum_ids=[s.pk for s in data["spectra"]], previous=data["previous"],
                base_url=request.build_absolute_uri("/"),
            )
        except ValidationError as error:
            apply_service_errors(error, form)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Published {release.label}.")
            return redirect("releases:detail", pk=release.pk)
    return render(request, "releases/release_form.html", {"form": form}, status=400 if form.errors else 200)


def _record(request, kind: str, pk: int):
    if kind not in RECORD_KINDS:
        raise Http404("No such kind of record.")
    model = RECORD_KINDS[kind][0]
    queryset = model._default_manager.all()
    if model is ImpedanceSpectrum:
        queryset = queryset.defer("data")
    return get_object_or_404(visible(queryset, request.user), pk=pk)


def _record_url(kind: str, pk: int) -> str:
    name = RECORD_KINDS.get(kind, (None, ""))[1]
    try:
        return reverse(name, args=[pk]) if name else ""
    except NoReverseMatch:
        return ""


@login_required
def record_delete(request, kind: str, pk: int):
    """GET: what would be deleted; POST: delete it (members, unreleased records only)."""
    record = _record(request, kind, pk)
    plan = deletion.deletion_plan(record=record)
    problem = ""
    try:
        deletion.check_deletable(plan, user=request.user)
    except (PermissionDenied, ValidationError) as error:
        problem = " ".join(getattr(error, "messages", None) or [str(error)])
    if request.method == "POST" and not problem:
        summary = deletion.record_delete(record=record, user=request.user)
        messages.success(request, f"Deleted {kind} {record} ({_summary_text(summary)}).")
        return redirect(RECORD_KINDS[kind][2])
    return render(request, "releases/record_delete.html", {
        "record": record, "kind": kind, "plan": plan, "problem": problem,
        "record_url": _record_url(kind, pk), "summary": _summary_text(plan.summary()),
    }, status=403 if problem and request.method == "POST" else 200)


def _summary_text(summary: dict[str, int]) -> str:
    return ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in summary.items() if n) or "nothing else"


@login_required
def record_retract(request, kind: str, pk: int):
    """GET: the retraction form; POST: retract with the reason given."""
    if kind not in {k.value for k in RecordKind}:
        raise Http404("Only separators, cells and spectra are released and retracted.")
    record = _record(request, kind, pk)
    if not can_edit(record, request.user):
        raise PermissionDenied("Only members of the owning group may retract this record.")
    error = ""
    if request.method == "POST":
        try:
            services.record_retract(user=request.user, record=record, reason=request.POST.get("reason", ""))
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, f"Retracted {kind} {record}.")
            return redirect(_record_url(kind, pk) or "releases:list")
    return render(request, "releases/record_retract.html", {
        "record": record, "kind": kind, "error": error, "record_url": _record_url(kind, pk),
        "releases": selectors.releases_of_record(kind=kind, object_id=pk),
    }, status=400 if error else 200)

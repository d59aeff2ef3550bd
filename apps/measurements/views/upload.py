"""The two-step upload: choose a file (parsed and shown, nothing stored), then confirm it on a cell; a file
stored before leads to the duplicate page, an archive to one message per member."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.catalog.models import Cell

from ..forms import ConfirmUploadForm, UploadFileForm
from ..selectors import visible_spectra
from ..services import IngestError, ingest_upload, ingest_zip
from .common import writable_cells
from .upload_previews import forget_preview, is_archive, load_preview, picked_files, preview_context, store_preview


@login_required
def upload(request):
    """Step 1: choose a file. A valid file is parsed (nothing stored) and shown for confirmation."""
    cells = writable_cells(request.user)
    if request.method == "POST" and not cells.exists():
        # Refused before the body is read: whoever may write to no cell cannot upload anything.
        messages.error(request, "You are not a member of a group that owns a cell, so there is nothing to upload to.")
        return redirect("measurements:upload")
    if request.method == "POST":
        form = UploadFileForm(request.POST, request.FILES)
        if form.is_valid():
            name, data = picked_files(form.cleaned_data["file"])
            try:
                context = preview_context(name, data)
                token = store_preview(request, name=name, data=data)
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
    cells = writable_cells(request.user)
    form = ConfirmUploadForm(request.POST, cells=cells)
    token = request.POST.get("token", "")
    stored = load_preview(request, token)
    if stored is None:
        messages.error(request, "That upload preview has expired or belongs to another session; please choose the file again.")
        return redirect("measurements:upload")
    name, data = stored
    if form.is_valid():
        options = _ingest_options(form, name=name, data=data, user=request.user)
        try:
            if is_archive(name):
                report = ingest_zip(**options)
                forget_preview(request, token)
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
            forget_preview(request, token)
            return _after_upload(request, report, name, form.cleaned_data["cell"])
    return _confirm_again(request, form, name, data)


def _ingest_options(form, *, name: str, data: bytes, user) -> dict:
    """The keyword arguments of `ingest_upload` / `ingest_zip` from a valid confirm form."""
    return dict(
        cell=form.cleaned_data["cell"],
        filename=name,
        data=data,
        user=user,
        visibility=form.cleaned_data["visibility"] or None,
        embargo_until=form.cleaned_data["embargo_until"],
        conditions=form.conditions(),
        attach=form.cleaned_data["attach"],
    )


def _duplicate_result(request, report, name: str, form):
    """The result page of a file stored before: which spectra and cells hold it, what was NOT applied, how to attach."""
    cell = form.cleaned_data["cell"]
    attach_data = request.POST.copy()
    attach_data["attach"] = "on"
    # Listed as far as the uploader may see them: a fellow member's private spectra are counted in the explanation.
    held_ids = [s.pk for s in report.created]
    seen = visible_spectra(user=request.user).in_bulk(held_ids)
    return render(
        request,
        "measurements/upload_duplicate.html",
        {
            "filename": name,
            "explanation": report.explanation,
            "raw_file": report.raw_file,
            "held": [seen[pk] for pk in held_ids if pk in seen],
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
        context = preview_context(name, data)
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

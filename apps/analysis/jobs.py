"""The analysis app's job kinds, registered with ``apps.jobs``: what a worker does for each.

Each executor takes the running Job, calls the analysis services, and returns a
``JobOutcome`` (summary, and the follow-ups to queue); ``refit_in_process`` runs a
whole re-fit in this process for the ``refit`` command.
"""
from __future__ import annotations

from typing import Callable

from django.db import transaction

from apps.catalog.models import Cell, Separator
from apps.jobs.models import Job
from apps.jobs.registry import Deferred, JobFailed, JobOutcome, register_job_kind
from apps.jobs.services import (
    UNFINISHED,
    dispatch_job,
    ensure_queued,
    finish_job,
    finish_parent_if_done,
    new_job,
    report_progress,
    run_job,
    start_job,
)
from apps.measurements.models import ImpedanceSpectrum

from . import services
from .models import FitProtocol, FitStatus
from .selectors import previous_fit_parameters
from .services.fits import fit_many
from .services.queueing import followups_for_spectra

#: Spectra per re-fit chunk task.
REFIT_CHUNK_SIZE = 50


def _followup_of(spectrum_ids) -> Callable[[], object]:
    """Queue the Arrhenius / benchmark follow-ups of these spectra once the job is recorded."""
    followups = followups_for_spectra(spectrum_ids)
    return lambda: services.queue_followups(**followups)


def _pending_analyses_of_separator(separator_id: int, *, exclude_job_id: int) -> int:
    spectra = ImpedanceSpectrum.objects.filter(cell__separator_id=separator_id).values("pk")
    per_spectrum = Job.objects.filter(
        kind__in=[Job.Kind.ANALYSE_SPECTRUM, Job.Kind.FIT_SPECTRUM], state__in=UNFINISHED,
        target_type="spectrum", target_id__in=spectra,
    )
    chunks = Job.objects.filter(kind=Job.Kind.REFIT_CHUNK, state__in=UNFINISHED)
    # The series model choice rewrites the cells' fits: the Arrhenius fit waits for it too.
    series = Job.objects.filter(
        kind=Job.Kind.CHOOSE_SERIES_MODEL, state__in=UNFINISHED, target_type="cell",
        target_id__in=Cell.objects.filter(separator_id=separator_id).values("pk"),
    )
    return (per_spectrum.exclude(pk=exclude_job_id).count() + chunks.exclude(pk=exclude_job_id).count()
            + series.exclude(pk=exclude_job_id).count())


def _pending_analyses_of_cell(cell_id: int, *, exclude_job_id: int) -> int:
    per_spectrum = Job.objects.filter(
        kind__in=[Job.Kind.ANALYSE_SPECTRUM, Job.Kind.FIT_SPECTRUM], state__in=UNFINISHED, target_type="spectrum",
        target_id__in=ImpedanceSpectrum.objects.filter(cell_id=cell_id).values("pk"),
    )
    chunks = Job.objects.filter(kind=Job.Kind.REFIT_CHUNK, state__in=UNFINISHED)
    return per_spectrum.exclude(pk=exclude_job_id).count() + chunks.exclude(pk=exclude_job_id).count()


@register_job_kind(Job.Kind.ANALYSE_SPECTRUM, label=Job.Kind.ANALYSE_SPECTRUM.label)
def analyse_spectrum(job: Job) -> JobOutcome:
    """Kramers–Kronig check, standard fit and conductivities of one spectrum."""
    outcome = services.analyse_spectrum(spectrum_id=job.target_id)
    followup = _followup_of([job.target_id]) if outcome.fit.protocol.is_standard else None
    result = {
        "fit_id": outcome.fit.pk, "protocol": str(outcome.fit.protocol), "fit_status": outcome.fit.status,
        "kk_passed": outcome.kk.passed if outcome.kk else None, "kk_verdict": outcome.kk.verdict if outcome.kk else None,
    }
    if outcome.kk_error:
        result["kk_error"] = outcome.kk_error
    if outcome.fit.status == FitStatus.FAILED:
        raise JobFailed(outcome.fit.error, result, followup)
    return JobOutcome(result, followup)


@register_job_kind(Job.Kind.VALIDATE_SPECTRUM, label=Job.Kind.VALIDATE_SPECTRUM.label)
def validate_spectrum(job: Job) -> JobOutcome:
    check = services.validate_spectrum(spectrum_id=job.target_id)
    return JobOutcome({"kk_passed": check.passed, "kk_verdict": check.verdict, "max_abs_residual": check.max_abs_residual})


@register_job_kind(Job.Kind.FIT_SPECTRUM, label=Job.Kind.FIT_SPECTRUM.label)
def fit_spectrum(job: Job) -> JobOutcome:
    protocol_id = job.params.get("protocol_id")
    if protocol_id is None:
        protocol_id = services.standard_protocol_for(
            ImpedanceSpectrum.objects.select_related("cell__separator").get(pk=job.target_id)
        ).pk
    fit = services.fit_spectrum(spectrum_id=job.target_id, protocol_id=protocol_id,
                                initial_values=job.params.get("initial_values"), fixed=job.params.get("fixed"))
    followup = _followup_of([job.target_id]) if fit.protocol.is_standard else None
    result = {"fit_id": fit.pk, "protocol": str(fit.protocol), "fit_status": fit.status}
    if fit.status == FitStatus.FAILED:
        raise JobFailed(fit.error, result, followup)
    return JobOutcome(result, followup)


@register_job_kind(Job.Kind.FIT_ARRHENIUS, label=Job.Kind.FIT_ARRHENIUS.label)
def fit_arrhenius(job: Job) -> JobOutcome:
    pending = _pending_analyses_of_separator(job.target_id, exclude_job_id=job.pk)
    if pending:
        raise Deferred(f"{pending} analysis job(s) of this separator still pending; the last one re-queues this fit.")
    fits = services.fit_arrhenius_series(separator_id=job.target_id)
    separator = Separator.objects.only("pk", "name", "group_id").get(pk=job.target_id)
    # The benchmarks app registers this kind; it is queued by name, never imported.
    ensure_queued(
        kind=Job.Kind.RECOMPUTE_BENCHMARKS, target_type="separator", target_id=separator.pk,
        target_label=separator.name, group_id=separator.group_id,
    )
    return JobOutcome({"arrhenius_fits": len(fits)})


@register_job_kind(Job.Kind.CHOOSE_SERIES_MODEL, label=Job.Kind.CHOOSE_SERIES_MODEL.label)
def choose_series_model(job: Job) -> JobOutcome:
    """One model family across each temperature / pressure series of a cell (``services.model_choice``)."""
    pending = _pending_analyses_of_cell(job.target_id, exclude_job_id=job.pk)
    if pending:
        raise Deferred(f"{pending} analysis job(s) of this cell still pending; the last one re-queues this choice.")
    from .services.model_choice import choose_cell_series_models

    summary = choose_cell_series_models(cell_id=job.target_id)
    cell = Cell.objects.only("pk", "separator_id").get(pk=job.target_id)
    followups = ({"separator_ids": [cell.separator_id]} if cell.separator_id is not None
                 else {"cell_ids": [cell.pk]})
    return JobOutcome(summary, lambda: services.queue_followups(**followups))


@register_job_kind(Job.Kind.REFIT_PROTOCOL, label=Job.Kind.REFIT_PROTOCOL.label)
def refit_protocol(job: Job, *, dispatch: bool = True) -> JobOutcome | None:
    if job.children.exists():
        # Run again (worker lost after the fan-out): the chunks exist and carry on by themselves.
        finish_parent_if_done(job.pk)
        return None
    protocol = FitProtocol.objects.get(pk=job.target_id)
    ids = services.refit_candidates(protocol)
    if not ids:
        return JobOutcome({"spectra": 0})
    with transaction.atomic():
        Job.objects.filter(pk=job.pk).update(progress_total=len(ids), progress_done=0)
        for start in range(0, len(ids), REFIT_CHUNK_SIZE):
            chunk = ids[start : start + REFIT_CHUNK_SIZE]
            child = new_job(
                kind=Job.Kind.REFIT_CHUNK, target_type="protocol", target_id=protocol.pk,
                target_label=f"{protocol}: spectra {start + 1}–{start + len(chunk)} of {len(ids)}",
                params={"spectrum_ids": chunk}, parent=job, group_id=job.group_id, total=len(chunk),
            )
            if dispatch:
                dispatch_job(child)
    return None  # stays running; the last chunk to finish completes it


def refit_in_process(*, protocol: FitProtocol, user=None, progress: Callable[[Job], None] | None = None) -> Job:
    """Re-fit everything ``protocol`` applies to in this process (no worker needed), chunk by chunk.

    The same jobs and services as ``refit_protocol``; ``progress`` is called with the
    parent job after each chunk (``progress_done`` of ``progress_total``).
    """
    parent = new_job(
        kind=Job.Kind.REFIT_PROTOCOL, target_type="protocol", target_id=protocol.pk, target_label=str(protocol),
        user=user, group_id=protocol.group_id, params={"in_process": True},
    )
    parent = start_job(parent.pk, None)
    outcome = refit_protocol(parent, dispatch=False)
    if outcome is not None:
        finish_job(job_id=parent.pk, state=Job.State.SUCCEEDED, result=outcome.result)
    for child_id in Job.objects.filter(parent=parent).order_by("pk").values_list("pk", flat=True):
        run_job(job_id=child_id)
        if progress is not None:
            progress(Job.objects.get(pk=parent.pk))
    # Follow-ups (series model choice, Arrhenius, then benchmarks) were also sent to the broker; run them here so the
    # command leaves finished results behind. A worker that later receives them finds them done.
    for _ in range(4):
        pending = Job.objects.filter(
            kind__in=[Job.Kind.CHOOSE_SERIES_MODEL, Job.Kind.FIT_ARRHENIUS, Job.Kind.RECOMPUTE_BENCHMARKS],
            state=Job.State.QUEUED,
            created_at__gte=parent.created_at,
        ).order_by("pk")
        if not pending.exists():
            break
        for job_id in list(pending.values_list("pk", flat=True)):
            run_job(job_id=job_id)
    return Job.objects.get(pk=parent.pk)


@register_job_kind(Job.Kind.REFIT_CHUNK, label=Job.Kind.REFIT_CHUNK.label)
def refit_chunk(job: Job) -> JobOutcome:
    protocol = FitProtocol.objects.get(pk=job.target_id)
    counts = {"succeeded": 0, "failed": 0, "not_applicable": 0}
    touched: list[int] = []
    spectrum_ids = list(job.params.get("spectrum_ids", []))
    loaded = ImpedanceSpectrum.objects.select_related("cell", "cell__separator").prefetch_related(
        "cell__separator__components__material"
    ).in_bulk(spectrum_ids)
    applicable = []
    for spectrum_id in spectrum_ids:
        spectrum = loaded.get(spectrum_id)
        if spectrum is None or (protocol.is_standard and services.standard_protocol_name_for(spectrum) != protocol.name):
            counts["not_applicable"] += 1
        else:
            applicable.append(spectrum)
    # Fitted one by one (the engine, each started from its previous fit under this name and circuit), stored all
    # at once: one upsert of fits and one of conductivities.
    seeds = previous_fit_parameters(protocol=protocol, spectrum_ids=[s.pk for s in applicable])
    for fit in fit_many(applicable, protocol, seeds=seeds):
        counts["succeeded" if fit.status == FitStatus.SUCCEEDED else "failed"] += 1
        touched.append(fit.spectrum_id)
    # Absolute positions, not increments: a chunk run again (retry, redelivery) counts the same.
    report_progress(job, done=len(spectrum_ids))
    return JobOutcome(counts, _followup_of(touched) if protocol.is_standard and touched else None)

"""Queueing analysis work as Job rows (sent to the workers on commit).

When a job ends, follow-ups are queued once per separator (debounced: at most one
queued Arrhenius job per separator; it steps aside while analyses of that separator
are still pending, and the last one to finish queues it again), and after the
Arrhenius fit the separator's and its cells' benchmark entries are recomputed — a
job kind the benchmarks app registers, queued here by name.
"""
from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps.accounts.selectors import can_edit, can_view
from apps.catalog.models import Cell, Separator
from apps.jobs.models import Job
from apps.jobs.services import dispatch_job, ensure_queued, new_job
from apps.measurements.models import ImpedanceSpectrum

from ..models import FitProtocol
from .model_choice import has_family_series
from .protocols import custom_protocol, named_protocol, standard_protocol_for


@transaction.atomic
def queue_analysis(*, spectrum_ids: list[int], user=None) -> list[Job]:
    """One analysis job per spectrum (KK, standard fit, conductivities), sent on commit.

    Call it inside ``transaction.on_commit`` of the transaction that stored the spectra.
    """
    spectra = ImpedanceSpectrum.objects.filter(pk__in=list(spectrum_ids)).select_related("cell").defer("data")
    jobs = []
    for spectrum in spectra.order_by("pk"):
        job = new_job(
            kind=Job.Kind.ANALYSE_SPECTRUM, target_type="spectrum", target_id=spectrum.pk,
            target_label=f"{spectrum.label or 'spectrum ' + str(spectrum.pk)} ({spectrum.cell.name})",
            user=user, group_id=spectrum.group_id,
        )
        dispatch_job(job)
        jobs.append(job)
    return jobs


@transaction.atomic
def request_fit(*, spectrum: ImpedanceSpectrum, user, protocol: FitProtocol | None = None,
                circuit: str | None = None, name: str | None = None,
                frequency_window_hz: tuple[float | None, float | None] | None = None,
                initial_values: dict[str, float] | None = None, fixed: dict[str, float] | None = None) -> Job:
    """Queue a fit of one spectrum under a protocol, a custom circuit, or its standard protocol.

    A hand fit names itself (``name``) and may set a frequency window (Hz, either end open): it becomes the
    group's protocol of that name with the circuit (typed, or the chosen protocol's) and window, a new version
    when those change. ``initial_values`` (starting values) and ``fixed`` (values held constant) go to this
    fit only and are recorded with it. Members of the spectrum's group only: the fit is stored with the
    spectrum, for everyone who sees it.
    """
    if not can_view(spectrum, user):
        raise ValidationError("You cannot see this spectrum.")
    if not can_edit(spectrum, user):
        raise PermissionDenied("Only members of the spectrum's group may fit it.")
    if protocol is not None and circuit:
        raise ValidationError("Give a protocol or a circuit, not both.")
    if protocol is not None:
        from ..selectors import visible_protocols

        if not visible_protocols(user=user).filter(pk=protocol.pk).exists():
            raise ValidationError({"protocol": "You cannot use this protocol."})
    if name or frequency_window_hz:
        if not (circuit or protocol):
            raise ValidationError({"circuit": "A named fit or a frequency window needs a protocol or a circuit."})
        protocol = named_protocol(circuit=circuit or protocol.circuit, spectrum=spectrum, user=user, base=protocol,
                                  name=name or f"Hand fit {circuit or protocol.circuit}",
                                  window=frequency_window_hz or (None, None))
    elif circuit:
        protocol = custom_protocol(circuit=circuit, spectrum=spectrum, user=user)
    elif protocol is None:
        protocol = standard_protocol_for(ImpedanceSpectrum.objects.select_related("cell__separator").get(pk=spectrum.pk))
    params: dict = {"protocol_id": protocol.pk}
    if initial_values:
        params["initial_values"] = {str(k): float(v) for k, v in initial_values.items()}
    if fixed:
        params["fixed"] = {str(k): float(v) for k, v in fixed.items()}
    job = new_job(
        kind=Job.Kind.FIT_SPECTRUM, target_type="spectrum", target_id=spectrum.pk,
        target_label=f"{spectrum.label or 'spectrum ' + str(spectrum.pk)} under {protocol}",
        params=params, user=user, group_id=spectrum.group_id,
    )
    dispatch_job(job)
    return job


def followups_for_spectra(spectrum_ids) -> dict:
    cells = Cell.objects.filter(spectra__pk__in=list(spectrum_ids)).values_list("pk", "separator_id").distinct()
    series_cell_ids = has_family_series([c for c, _ in cells])
    # A cell whose series model is chosen again queues its separator's Arrhenius fit after that choice.
    after_series = {s for c, s in cells if c in series_cell_ids}
    separator_ids = sorted({s for _, s in cells if s is not None} - after_series)
    cell_ids = sorted({c for c, s in cells if s is None and c not in series_cell_ids})
    return {"separator_ids": separator_ids, "cell_ids": cell_ids, "series_cell_ids": series_cell_ids}


def queue_followups(*, separator_ids=(), cell_ids=(), series_cell_ids=()) -> list[Job]:
    """The model choice across each series of these cells (``series_cell_ids``), Arrhenius (then
    benchmarks) per separator — it waits for the series choices of its cells —, and benchmarks directly
    for cells without a separator."""
    jobs = []
    with transaction.atomic():
        for cell in Cell.objects.filter(pk__in=list(series_cell_ids)).only("pk", "name", "group_id"):
            jobs.append(ensure_queued(
                kind=Job.Kind.CHOOSE_SERIES_MODEL, target_type="cell", target_id=cell.pk, target_label=cell.name,
                group_id=cell.group_id,
            ))
        for separator in Separator.objects.filter(pk__in=list(separator_ids)).only("pk", "name", "group_id"):
            jobs.append(ensure_queued(
                kind=Job.Kind.FIT_ARRHENIUS, target_type="separator", target_id=separator.pk,
                target_label=separator.name, group_id=separator.group_id,
            ))
        for cell in Cell.objects.filter(pk__in=list(cell_ids)).only("pk", "name", "group_id"):
            jobs.append(ensure_queued(
                kind=Job.Kind.RECOMPUTE_BENCHMARKS, target_type="cell", target_id=cell.pk, target_label=cell.name,
                group_id=cell.group_id,
            ))
    return jobs

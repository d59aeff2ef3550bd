"""Reads of fits, conductivities, Arrhenius fits, protocols and jobs, through the visibility rule.

A fit, a Kramers–Kronig check or a conductivity is visible when its spectrum
is (the spectrum and its cell both visible); an Arrhenius fit when its
separator is. Standard protocols are public; a user protocol is seen by its
group. Jobs are seen by the person who started them and their group's
members; system jobs (no group) by every signed-in user.
"""
import math
from dataclasses import dataclass

from django.db.models import (
    Avg,
    BigIntegerField,
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    PositiveBigIntegerField,
    Q,
    QuerySet,
    StdDev,
    Subquery,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from apps.accounts.references import PRIVATE_LABEL
from apps.accounts.selectors import group_ids_of, shared_for_anonymous, visible_q
from apps.catalog.models import Cell, Separator
from apps.jobs.models import Job
from apps.measurements.models import ImpedanceSpectrum

from .eis.circuits import parse_circuit
from .models import (
    ArrheniusFit, Conductivity, ConductivitySummary, FitProtocol, FitResult, FitStatus, KramersKronigCheck,
)

#: Job targets that are owned records: a job shows its target only to those who may see it.
JOB_TARGET_MODELS = {"spectrum": ImpedanceSpectrum, "separator": Separator, "cell": Cell}
#: What a job about a hidden target says instead of its error (which describes that record).
HIDDEN_JOB_ERROR = "The job stopped with an error about a record you cannot see."


def _spectrum_visible(user, prefix: str = "spectrum__") -> Q:
    return visible_q(user, prefix) & visible_q(user, f"{prefix}cell__")


@shared_for_anonymous
def visible_fits(*, user) -> QuerySet[FitResult]:
    return (
        FitResult.objects.filter(_spectrum_visible(user))
        .select_related("spectrum", "spectrum__cell", "protocol")
        .defer("spectrum__data")
    )


@shared_for_anonymous
def visible_fits_to_list(*, user) -> QuerySet[FitResult]:
    """`visible_fits` for the API's fit list: every column of the fit, and of its spectrum and protocol only what
    the list shows (the cell is joined for the visibility rule, not read)."""
    own = [f.attname for f in FitResult._meta.concrete_fields]
    shown = ["spectrum__label", "spectrum__cell_id", "spectrum__temperature_c", "protocol__name", "protocol__version",
             "protocol__circuit"]
    return visible_fits(user=user).select_related(None).select_related("spectrum", "protocol").only(*own, *shown)


def visible_standard_fits(*, user) -> QuerySet[FitResult]:
    """Succeeded fits under standard protocols: the ones benchmarks use."""
    return visible_fits(user=user).filter(protocol__is_standard=True, status=FitStatus.SUCCEEDED)


def visible_kk_checks(*, user) -> QuerySet[KramersKronigCheck]:
    return KramersKronigCheck.objects.filter(_spectrum_visible(user)).select_related("spectrum")


def visible_conductivities(*, user) -> QuerySet[Conductivity]:
    return (
        Conductivity.objects.filter(_spectrum_visible(user))
        .select_related("fit", "fit__protocol", "spectrum", "spectrum__cell")
        .defer("spectrum__data")
    )


def visible_arrhenius_fits(*, user) -> QuerySet[ArrheniusFit]:
    return ArrheniusFit.objects.filter(visible_q(user, "separator__")).select_related("separator", "protocol")


def visible_protocols(*, user) -> QuerySet[FitProtocol]:
    if user is not None and user.is_authenticated and user.is_superuser:
        return FitProtocol.objects.all()
    rule = Q(is_standard=True)
    if user is not None and user.is_authenticated:
        rule |= Q(group_id__in=group_ids_of(user)) | Q(created_by_id=user.pk)
    return FitProtocol.objects.filter(rule)


def _job_target_seen(user) -> Q:
    """Jobs whose target the user may see: a spectrum (and its cell), a separator or a cell they see, or a target
    that is no owned record (a protocol, a batch)."""
    seen = ~Q(target_type__in=list(JOB_TARGET_MODELS))
    for target_type, model in JOB_TARGET_MODELS.items():
        rule = visible_q(user) & visible_q(user, "cell__") if model is ImpedanceSpectrum else visible_q(user)
        seen |= Q(Exists(model.objects.filter(rule, pk=OuterRef("target_id"))), target_type=target_type)
    return seen


def _shown_as_is(qs: QuerySet[Job]) -> QuerySet[Job]:
    return qs.annotate(shown_target_id=F("target_id"), shown_target_label=F("target_label"), shown_error=F("error"))


def visible_jobs(*, user) -> QuerySet[Job]:
    """Jobs the user may see, each annotated with what it may show of its target (visibility follows references:
    a group's job about a member's private spectrum does not name it to the other members):
    `shown_target_id` (null when the target is hidden), `shown_target_label` ("private record" then) and
    `shown_error` (a fixed sentence then: an error describes its record). Error texts are written from ids and
    kinds only (``apps.jobs``); this is the guard for rows written otherwise. ``job_result_shown`` does the
    same for the result."""
    if user is None or not user.is_authenticated:
        return _shown_as_is(Job.objects.none())
    qs = Job.objects.select_related("group", "created_by")
    if user.is_superuser:
        return _shown_as_is(qs)
    seen = _job_target_seen(user)
    qs = qs.annotate(
        shown_target_id=Case(When(seen, then=F("target_id")), default=Value(None),
                             output_field=PositiveBigIntegerField()),
        shown_target_label=Case(When(seen, then=F("target_label")), default=Value(PRIVATE_LABEL),
                                output_field=CharField()),
        shown_error=Case(When(seen, then=F("error")), When(error="", then=Value("")),
                         default=Value(HIDDEN_JOB_ERROR), output_field=TextField()),
    )
    # Group-less system jobs (re-fits, sweeps) name records of every group: staff only.
    system = Q(group__isnull=True) if user.is_staff else Q(pk__in=[])
    return qs.filter(Q(created_by_id=user.pk) | Q(group_id__in=group_ids_of(user)) | system)


def job_params_shown(job: Job, *, user) -> dict:
    """A job's parameters with `spectrum_ids` cut to the spectra `user` may see (a group re-fit lists every
    member's spectra)."""
    params = dict(job.params or {})
    ids = params.get("spectrum_ids")
    if isinstance(ids, list) and ids and not (user is not None and user.is_superuser):
        seen = set(
            ImpedanceSpectrum.objects.filter(visible_q(user) & visible_q(user, "cell__"), pk__in=ids)
            .values_list("pk", flat=True)
        )
        params["spectrum_ids"] = [i for i in ids if i in seen]
    return params


def job_result_shown(job: Job) -> dict:
    """A job's result, or nothing when its target is hidden from the viewer (``visible_jobs`` annotates
    ``shown_target_id``): it names that record's fit and protocol and the reasons of its failure."""
    hidden = hasattr(job, "shown_target_id") and job.shown_target_id is None and job.target_type in JOB_TARGET_MODELS
    return {} if hidden else dict(job.result or {})


def jobs_for_target(*, user, target_type: str, target_id: int) -> QuerySet[Job]:
    return visible_jobs(user=user).filter(target_type=target_type, target_id=target_id)


def chosen_fit_pk(spectrum_ref: str = "spectrum_id") -> Subquery:
    """The chosen fit of a spectrum, as a subquery: its standard protocol's successful fit when there is
    one, else its newest successful fit (the rule the pages plot)."""
    return Subquery(
        FitResult.objects.filter(spectrum_id=OuterRef(spectrum_ref), status=FitStatus.SUCCEEDED)
        .order_by("-protocol__is_standard", "-updated_at", "-pk")
        .values("pk")[:1]
    )


def conductivity_points_by_kind(*, user, spectra: QuerySet, max_points: int) -> dict[str, list[tuple]]:
    """(temperature °C, σ S/cm, δσ S/cm) per conductivity kind, from the chosen fit of each visible spectrum.

    Up to ``max_points`` rows in all they are the measured points themselves; above that (a separator with
    thousands of spectra) one point per kind and temperature: the mean σ with the standard deviation across
    its spectra as δσ (the propagated error where only one spectrum has that temperature). Either way two
    set-based queries, whatever the number of spectra.
    """
    rows = Conductivity.objects.filter(
        _spectrum_visible(user),
        spectrum__in=spectra.values("pk"),
        temperature_c__isnull=False,
        fit_id=chosen_fit_pk(),
    )
    groups = list(
        rows.values("kind", "temperature_c")
        .annotate(
            n=Count("pk"),
            sigma=Avg("conductivity_s_per_cm"),
            spread=StdDev("conductivity_s_per_cm"),
            propagated=Avg("conductivity_stderr_s_per_cm"),
        )
        .order_by("kind", "temperature_c")
    )
    by_kind: dict[str, list[tuple]] = {}
    if sum(g["n"] for g in groups) > max_points:
        for g in groups:
            error = g["spread"] if g["n"] > 1 else g["propagated"]
            by_kind.setdefault(g["kind"], []).append((g["temperature_c"], g["sigma"], error))
        return by_kind
    for kind, t, sigma, error in rows.order_by("kind", "temperature_c", "pk").values_list(
        "kind", "temperature_c", "conductivity_s_per_cm", "conductivity_stderr_s_per_cm"
    ):
        by_kind.setdefault(kind, []).append((t, sigma, error))
    return by_kind


def summarised_conductivity_points(*, user, separator_id: int) -> dict[str, list[tuple]] | None:
    """What `conductivity_points_by_kind` gives above its `max_points` — per kind and temperature the mean σ,
    the spread across spectra as δσ (population standard deviation, as there; the propagated error where one
    spectrum has that temperature) — from the separator's `ConductivitySummary` rows the user may see: a few
    rows instead of every conductivity. None when the separator has no summary yet."""
    rows = ConductivitySummary.objects.filter(separator_id=separator_id)
    if not rows.exists():
        return None
    totals = (
        rows.filter(visible_q(user, "spectrum_"), visible_q(user, "cell_"))
        .values("kind", "temperature_c")
        .annotate(
            n_total=Sum("n"), sigma_sum=Sum("sigma_sum_s_per_cm"), squares=Sum("sigma_sum_of_squares"),
            stderr_sum=Sum("stderr_sum_s_per_cm"),
        )
        .order_by("kind", "temperature_c")
    )
    by_kind: dict[str, list[tuple]] = {}
    for row in totals:
        n = row["n_total"]
        mean = row["sigma_sum"] / n
        if n > 1:
            error = math.sqrt(max(row["squares"] / n - mean * mean, 0.0))
        else:
            error = row["stderr_sum"]
        by_kind.setdefault(row["kind"], []).append((row["temperature_c"], mean, error))
    return by_kind


#: Rows of the series model table on a page: a cell measured thousands of times shows the first ones
#: (every spectrum's own page still says which layout its fit used).
MAX_SERIES_MODEL_ROWS = 200


@dataclass(frozen=True)
class SeriesModelRows:
    """The first rows of the series model table and how many there are in all."""

    rows: list[dict]
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.rows)


def series_model_rows(*, spectrum_ids, limit: int | None = None) -> SeriesModelRows:
    """Per spectrum (of the ids — a list, or a queryset of spectra the caller has already filtered by
    visibility, read as a subquery) whose standard fit went through the series model choice: temperature,
    pressure, the layout used, the other candidate's ΔBIC, the fastest arc's apex frequency against the
    top of the window, and the series' notes. Ordered by series, then position, in SQL; at most ``limit``
    rows (default MAX_SERIES_MODEL_ROWS; the total is counted only when there are more)."""
    limit = MAX_SERIES_MODEL_ROWS if limit is None else limit
    ids = spectrum_ids.values("pk") if isinstance(spectrum_ids, QuerySet) else list(spectrum_ids)
    series_key = "derived__model_choice__series__"
    fits = (
        FitResult.objects.filter(spectrum_id__in=ids, protocol__is_standard=True,
                                 **{f"{series_key}has_key": "kind"})
        .order_by(KT(f"{series_key}kind"), Cast(KT(f"{series_key}spectrum_ids__0"), BigIntegerField()),
                  Cast(KT(f"{series_key}position"), BigIntegerField()))
    )
    rows = []
    for spectrum_id, label, temperature_c, pressure_mpa, protocol_name, derived in fits.values_list(
        "spectrum_id", "spectrum__label", "spectrum__temperature_c", "spectrum__stack_pressure_mpa",
        "protocol__name", "derived",
    )[: limit + 1]:
        choice = derived["model_choice"]
        series = choice["series"]
        others = [c for c in choice["candidates"] if c["name"] != protocol_name]
        used = next((c for c in choice["candidates"] if c["name"] == protocol_name), None)
        rows.append({
            "spectrum_id": spectrum_id, "label": label or spectrum_id, "temperature_c": temperature_c,
            "stack_pressure_mpa": pressure_mpa, "kind": series["kind"], "position": series["position"],
            "first_spectrum_id": series["spectrum_ids"][0], "used": protocol_name, "family": series["family"],
            "other_delta": (others[0]["bic"] - used["bic"]) if others and used else None,
            "bulk_apex_hz": series.get("bulk_apex_frequency_hz"), "f_max_hz": series.get("f_max_hz"),
            "bulk_beyond_window": series.get("bulk_beyond_window", False),
            "capacitance_jump": series.get("capacitance_jump", False), "window_exit": series.get("window_exit"),
            "reason": series.get("reason", ""),
        })
    total = fits.count() if len(rows) > limit else len(rows)
    return SeriesModelRows(rows=rows[:limit], total=total)


def previous_fit_parameters(*, protocol: FitProtocol, spectrum_ids) -> dict[int, dict[str, float]]:
    """Parameters of each spectrum's last succeeded fit under this protocol's name with the same circuit (this
    version's own fit first, then the newest other version), by spectrum id; one query.

    A re-fit under a new version starts from them: when the new version leaves the optimum where it was, the
    engine's early stop ends the search after that one start; otherwise its other starts still run."""
    names = set(parse_circuit(protocol.circuit).parameter_names)
    rows = (FitResult.objects.filter(spectrum_id__in=list(spectrum_ids), protocol__name=protocol.name,
                                     protocol__circuit=protocol.circuit, status=FitStatus.SUCCEEDED)
            .values_list("spectrum_id", "protocol_id", "protocol__version", "parameters"))
    newest: dict[int, tuple[tuple[bool, int], dict]] = {}
    for spectrum_id, protocol_id, version, parameters in rows:
        rank = (protocol_id == protocol.pk, version)
        # Only a complete set of finite numbers can be a start (a row edited by hand may hold less).
        usable = isinstance(parameters, dict) and set(parameters) == names and all(
            isinstance(v, (int, float)) and math.isfinite(v) for v in parameters.values())
        if usable and (spectrum_id not in newest or rank > newest[spectrum_id][0]):
            newest[spectrum_id] = (rank, parameters)
    return {spectrum_id: parameters for spectrum_id, (_, parameters) in newest.items()}

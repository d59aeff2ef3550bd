"""Reads of benchmark entries and literature values, with their rules.

Visibility: an entry of a separator follows the separator's visibility; an
entry of a cell follows the cell's and, when the cell names one, its
separator's (a cell's numbers reveal its separator).

Leaderboards rank entries whose completeness is at least
`DEFAULT_MIN_COMPLETENESS` (0.7: most of what decides the number was
reported) and that carry no blocking flag (see `flags.FLAGS`).

Round robin — "comparable" means: same metric and material family,
temperature within ± 2 °C of each other (σ at 25 °C from an Arrhenius fit
counts as 25 °C), and stack pressure within a factor 2 when both are
stated; from at least two research groups. Spread = (max − min) / median.

Whose data counts: a separator's entries are computed from the cells of the
separator's own group and the cells of other groups that a member of that
group accepted (`ComparisonAcceptance`), and from those only the records at
least as visible as the separator (`apps.accounts.references.covers`), so an
entry never carries values computed from records its viewers cannot see. A
cell's entries likewise use only its spectra at least as visible as the cell.
Other groups' cells on a separator are compared in a separate, attributed
round robin (`apps.benchmarks.comparisons`).

The numbers themselves (spread, percentile, what counts as comparable) are
computed by the pure `statistics` module; the rows the metrics are computed
from (standard fits, conductivities, DC polarisations, CCD tests) are read by
the functions at the end of this module.
"""
from __future__ import annotations

import contextlib
import contextvars
import statistics
from dataclasses import dataclass, field

from django.db import connections
from django.db.models import Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL

from apps.accounts.references import covers
from apps.accounts.selectors import absent_or_visible_q, visible_q
from apps.analysis.models import ArrheniusFit, Conductivity, FitResult, FitStatus
from apps.analysis.selectors import visible_conductivities
from apps.catalog.models import Cell, MaterialFamily, Separator
from apps.catalog.selectors import visible_cells
from apps.measurements.models import CriticalCurrentDensityTest, DCPolarisation, ImpedanceSpectrum
from apps.measurements.selectors import visible_dc_polarisations, visible_spectra

from .models import BenchmarkEntry, ComparisonAcceptance, LiteratureValue, Metric
from .publication import published_entries, retracted_records
from .statistics import percentile_in_sorted, pressures_comparable, relative_spread, temperatures_comparable

DEFAULT_MIN_COMPLETENESS = 0.7
#: For these metrics a smaller value ranks higher.
LOWER_IS_BETTER = {
    Metric.SEPARATOR_ASR, Metric.INTERFACIAL_ASR, Metric.ACTIVATION_ENERGY, Metric.IMPEDANCE_GROWTH_PER_CYCLE,
    Metric.IMPEDANCE_GROWTH_PER_HOUR, Metric.ELECTRONIC_CONDUCTIVITY,
}
CONDUCTIVITY_METRICS = {Metric.SIGMA_25C_TOTAL, Metric.SIGMA_25C_BULK, Metric.SIGMA_25C_GRAIN_BOUNDARY}


def entry_visible_q(user) -> Q:
    separator_entry = Q(cell__isnull=True) & visible_q(user, "separator__")
    cell_entry = Q(cell__isnull=False) & visible_q(user, "cell__") & absent_or_visible_q(user, "separator")
    return separator_entry | cell_entry


def visible_entries(*, user) -> QuerySet[BenchmarkEntry]:
    """Entries ``user`` may see, without their whole id lists (``record_ids``: read on access, or ``defer(None)``)."""
    return (
        BenchmarkEntry.objects.filter(entry_visible_q(user))
        .select_related("separator", "separator__group", "separator__source", "cell", "cell__group", "cell__source",
                        "protocol")
        .defer("record_ids")
    )


def filtered_entries(*, user, metric: str | None = None, family: str | None = None, route: str | None = None,
                     min_completeness: float = 0.0, include_flagged: bool = True) -> QuerySet[BenchmarkEntry]:
    qs = narrow_entries(visible_entries(user=user), metric=metric, family=family, route=route,
                        min_completeness=min_completeness, include_flagged=include_flagged)
    return _without_retracted(qs)


def narrow_entries(qs: QuerySet, *, metric: str | None = None, family: str | None = None, route: str | None = None,
                   min_completeness: float = 0.0, include_flagged: bool = True) -> QuerySet:
    """The dashboard filters on any queryset of entries (live, or released copies with the same fields)."""
    if metric:
        qs = qs.filter(metric=metric)
    if family:
        qs = qs.filter(family=family)
    if route:
        qs = qs.filter(separator__processing_route=route)
    if min_completeness:
        qs = qs.filter(completeness_score__gte=min_completeness)
    if not include_flagged:
        qs = qs.filter(blocking=False)
    return qs


def _without_retracted(qs: QuerySet[BenchmarkEntry]) -> QuerySet[BenchmarkEntry]:
    """Entries of retracted separators and cells leave every list at once."""
    retracted = retracted_records()
    if retracted["separator"]:
        qs = qs.exclude(separator__in=retracted["separator"])
    if retracted["cell"]:
        qs = qs.exclude(cell__in=retracted["cell"])
    return qs


def _rests_on_retracted_spectrum(entry, retracted_spectra: set[int]) -> bool:
    return bool(retracted_spectra & set(entry.record_ids.get("spectrum_ids") or []))


def board_entries(*, user, released_only: bool, **filters) -> list:
    """What a dashboard shows: released numbers (frozen, each naming its release), or every visible live entry."""
    if released_only:
        return published_entries(user=user, **filters)
    return list(filtered_entries(user=user, **filters))


def leaderboard(*, user, metric: str, family: str | None = None,
                min_completeness: float = DEFAULT_MIN_COMPLETENESS, route: str | None = None,
                limit: int | None = None, released_only: bool = False) -> list[BenchmarkEntry]:
    """Ranked entries of one metric: complete enough, no blocking flag, best first.

    `released_only`: the released numbers (what the public pages show by default) instead of the live entries.
    """
    if released_only:
        entries = published_entries(user=user, metric=metric, family=family, route=route,
                                    min_completeness=min_completeness, include_flagged=False)[:limit or None]
        for rank, entry in enumerate(entries, start=1):
            entry.rank = rank
        return entries
    qs = filtered_entries(user=user, metric=metric, family=family, route=route,
                          min_completeness=min_completeness, include_flagged=False)
    order = "value" if metric in LOWER_IS_BETTER else "-value"
    retracted_spectra = retracted_records()["spectrum"]
    ordered = qs.order_by(order, "pk")
    if retracted_spectra:
        ordered = [e for e in ordered.defer(None) if not _rests_on_retracted_spectrum(e, retracted_spectra)]
    entries = list(ordered[:limit] if limit else ordered)
    for rank, entry in enumerate(entries, start=1):
        entry.rank = rank
    return entries


def leaderboards(*, user, metrics: list[str], family: str | None = None,
                 min_completeness: float = DEFAULT_MIN_COMPLETENESS, route: str | None = None,
                 limit: int | None = None, released_only: bool = False) -> dict[str, list]:
    """`leaderboard` of each metric in `metrics`. The released numbers are read once for all of them: released
    entries are chosen per (record, metric) and ranked within their metric, so one list split by metric is
    the same as one list per metric."""
    if not released_only:
        return {metric: leaderboard(user=user, metric=metric, family=family, min_completeness=min_completeness,
                                    route=route, limit=limit) for metric in metrics}
    boards: dict[str, list] = {metric: [] for metric in metrics}
    for entry in published_entries(user=user, family=family, route=route, min_completeness=min_completeness,
                                   include_flagged=False):
        board = boards.get(entry.metric)
        if board is not None and (not limit or len(board) < limit):
            entry.rank = len(board) + 1
            board.append(entry)
    return boards


def literature_values(*, family: str | None = None) -> QuerySet[LiteratureValue]:
    """Reported values (public reference data: everyone sees them)."""
    qs = LiteratureValue.objects.all()
    return qs.filter(family=family) if family else qs


class LiteratureDistribution:
    """Sorted reported conductivities per family, for percentiles without a query per entry."""

    def __init__(self) -> None:
        self._by_family: dict[str, list[float]] = {}
        for family, sigma in LiteratureValue.objects.values_list("family", "conductivity_s_per_cm"):
            self._by_family.setdefault(family, []).append(sigma)
        for values in self._by_family.values():
            values.sort()

    def count(self, family: str) -> int:
        return len(self._by_family.get(family, []))

    def percentile(self, value: float, family: str) -> float | None:
        """Share (0–100) of published values of the family below `value` (ties count half)."""
        return percentile_in_sorted(self._by_family.get(family) or [], value)


def literature_percentile(value: float, family: str) -> float | None:
    """Where a conductivity stands among published values of its family (OBELiX), 0–100."""
    return LiteratureDistribution().percentile(value, family)


@dataclass
class RoundRobinGroup:
    metric: str
    family: str
    temperature_c: float | None
    pressure_min_mpa: float | None
    pressure_max_mpa: float | None
    entries: list[BenchmarkEntry] = field(default_factory=list)

    @property
    def groups(self) -> list[str]:
        return sorted({_group_of(e).name for e in self.entries})

    @property
    def values(self) -> list[float]:
        return [e.value for e in self.entries]

    @property
    def n(self) -> int:
        return len(self.entries)

    @property
    def median(self) -> float:
        return float(statistics.median(self.values))

    @property
    def minimum(self) -> float:
        return min(self.values)

    @property
    def maximum(self) -> float:
        return max(self.values)

    @property
    def relative_spread(self) -> float | None:
        return relative_spread(self.values)

    @property
    def unit(self) -> str:
        return self.entries[0].unit

    def get_metric_display(self) -> str:
        return Metric(self.metric).label

    def get_family_display(self) -> str:
        return MaterialFamily(self.family).label if self.family in MaterialFamily.values else self.family


def _group_of(entry: BenchmarkEntry):
    return entry.cell.group if entry.cell_id else entry.separator.group


def _fits(cluster: RoundRobinGroup, entry: BenchmarkEntry) -> bool:
    if not temperatures_comparable(cluster.temperature_c, entry.temperature_c):
        return False
    p = entry.stack_pressure_mpa
    if p and cluster.pressure_min_mpa:
        return pressures_comparable(min(p, cluster.pressure_min_mpa), max(p, cluster.pressure_max_mpa))
    return True


def round_robin(*, user, metric: str | None = None, family: str | None = None, min_groups: int = 2,
                include_flagged: bool = False, released_only: bool = False) -> list[RoundRobinGroup]:
    """Spread between groups that measured the same family under comparable conditions."""
    qs = [e for e in board_entries(user=user, released_only=released_only, metric=metric, family=family,
                                   include_flagged=include_flagged) if e.family]
    clusters: list[RoundRobinGroup] = []
    ordered = sorted(qs, key=lambda e: (e.metric, e.family, e.temperature_c if e.temperature_c is not None else -1e9,
                                        e.stack_pressure_mpa or 0.0, e.pk))
    for entry in ordered:
        home = next((c for c in clusters if c.metric == entry.metric and c.family == entry.family
                     and _fits(c, entry)), None)
        if home is None:
            home = RoundRobinGroup(entry.metric, entry.family, entry.temperature_c, None, None)
            clusters.append(home)
        home.entries.append(entry)
        if entry.stack_pressure_mpa:
            p = entry.stack_pressure_mpa
            home.pressure_min_mpa = min(home.pressure_min_mpa or p, p)
            home.pressure_max_mpa = max(home.pressure_max_mpa or p, p)
    return [c for c in clusters if len(c.groups) >= min_groups]


# ---------------------------------------------------------------------------
# The analysis rows the metrics are computed from
# ---------------------------------------------------------------------------


def _standard_protocol_ids_for(spectra: list) -> dict[int, int | None]:
    """The analysis pipeline's own choice of protocol per spectrum, when it offers one: the rule of
    `standard_protocol_for`, with the spectra's arrays read in one query, the polymer rule asked once per
    separator and the newest version once per protocol name (per spectrum, that was two queries each)."""
    from apps.analysis import protocols as protocol_rules
    from apps.analysis.services import latest_standard_protocol

    arrays = ImpedanceSpectrum.objects.only("pk", "data", "frequency_grid").in_bulk([s.pk for s in spectra])
    polymer: dict[int | None, bool] = {}
    newest: dict[str, int | None] = {}
    chosen: dict[int, int | None] = {}
    for spectrum in spectra:
        cell = spectrum.cell
        key = cell.separator_id
        try:
            if key not in polymer:
                polymer[key] = protocol_rules.is_polymer_separator(cell.separator)
            name = protocol_rules.select_standard_protocol_name(
                configuration=cell.configuration, polymer_separator=polymer[key],
                frequencies_hz=arrays[spectrum.pk].frequencies_hz, impedance_ohm=arrays[spectrum.pk].impedance_ohm,
            )
            if name not in newest:
                newest[name] = latest_standard_protocol(name).pk
            chosen[spectrum.pk] = newest[name]
        except Exception:  # a spectrum no rule covers: fall back to the ranking of `standard_fits`
            chosen[spectrum.pk] = None
    return chosen


def standard_fits(spectra) -> dict[int, FitResult]:
    """One succeeded standard-protocol fit per spectrum id (inside `sharing_loaded_rows`, each read once).

    The pipeline's `standard_protocol_for(spectrum)` decides when it names a
    protocol that was fitted; otherwise the protocol made for the cell's
    configuration wins, then the highest version, then the latest fit.
    """
    spectra = list(spectra)
    memo = _loaded.get()
    if memo is not None:
        missing = [s for s in spectra if s.pk not in memo.fits_by_spectrum]
        if missing:
            token = _loaded.set(None)  # read the missing ones as without the memo
            try:
                found = standard_fits(missing)
            finally:
                _loaded.reset(token)
            for s in missing:
                memo.fits_by_spectrum[s.pk] = found.get(s.pk)
        return {s.pk: memo.fits_by_spectrum[s.pk] for s in spectra if memo.fits_by_spectrum[s.pk] is not None}
    by_spectrum: dict[int, list[FitResult]] = {}
    fits = (
        FitResult.objects.filter(spectrum__in=[s.pk for s in spectra], protocol__is_standard=True,
                                 status=FitStatus.SUCCEEDED)
        .select_related("protocol")
        .order_by("pk")
    )
    for fit in fits:
        by_spectrum.setdefault(fit.spectrum_id, []).append(fit)
    chosen: dict[int, FitResult] = {}
    spectra_by_id = {s.pk: s for s in spectra}
    preferred_by_spectrum = _standard_protocol_ids_for(
        [spectra_by_id[pk] for pk, candidates in by_spectrum.items() if len(candidates) > 1]
    )
    for spectrum_id, candidates in by_spectrum.items():
        spectrum = spectra_by_id[spectrum_id]
        preferred = preferred_by_spectrum.get(spectrum_id)
        configuration = spectrum.cell.configuration

        def rank(fit: FitResult):
            return (
                fit.protocol_id == preferred,
                configuration in (fit.protocol.applies_to or []),
                fit.protocol.version,
                fit.pk,
            )

        chosen[spectrum_id] = max(candidates, key=rank)
    return chosen


def cells_on_separator(separator: Separator) -> list[Cell]:
    """Every cell built on `separator`, directly or as one layer of a stack, whoever owns it."""
    return list(
        Cell.objects.filter(Q(separator=separator) | Q(layers__separator=separator))
        .distinct()
        .select_related("separator", "source", "group")
        .prefetch_related("pressure_steps", "interfaces")
        .order_by("pk")
    )


def other_groups_cells_on_separator(separator: Separator, user) -> list[Cell]:
    """Cells on `separator` (directly or as a layer) of groups other than its own, not accepted into its
    entries, that `user` may see — chosen in the database, so a separator with hundreds of its own group's
    cells reads none of them."""
    accepted = ComparisonAcceptance.objects.filter(separator=separator).values("cell_id")
    return list(
        Cell.objects.filter(Q(separator=separator) | Q(layers__separator=separator))
        .exclude(group_id=separator.group_id)
        .exclude(pk__in=accepted)
        .filter(visible_q(user))
        .distinct()
        .select_related("separator", "source", "group")
        .prefetch_related("pressure_steps", "interfaces")
        .order_by("pk")
    )


def accepted_cell_ids(separator: Separator) -> set[int]:
    return set(ComparisonAcceptance.objects.filter(separator=separator).values_list("cell_id", flat=True))


def counts_for_separator(cell: Cell, separator: Separator, accepted: set[int]) -> bool:
    """Whose data counts: the separator group's own cells and accepted ones, at least as visible as the separator."""
    return (cell.group_id == separator.group_id or cell.pk in accepted) and covers(cell, separator)


def cells_of_separator(separator: Separator) -> list[Cell]:
    """The cells whose data count toward `separator`'s entries (module docstring), with what the metrics read."""
    accepted = accepted_cell_ids(separator)
    return [cell for cell in cells_on_separator(separator) if counts_for_separator(cell, separator, accepted)]


#: What the completeness checklist reads of a spectrum's prefetched fits (a succeeded standard fit exists);
#: the metrics read the standard fit itself from `standard_fits`. The rest (parameters, per-point arrays)
#: stays in the database: thousands of spectra per separator.
_FIT_SUMMARY = ("id", "spectrum_id", "status", "protocol__id", "protocol__is_standard", "protocol__version")


def spectra_of_cells(cells, *, visible_with=None) -> list[ImpedanceSpectrum]:
    """Spectra of `cells` without their data arrays, with their cell, KK check, raw file and fits (the fits
    and checks without their per-point arrays). Each spectrum's cell is the object from `cells` (one per cell,
    not one per spectrum: thousands of spectra share a few cells).

    `visible_with`: only spectra at least as visible as that record (the separator or cell whose entry
    they feed), so the entry never carries values its viewers cannot see.
    """
    cells_by_pk = {c.pk: c for c in cells}
    memo = _loaded.get()
    known = memo.spectra_by_cell if memo is not None else {}
    missing = [pk for pk in cells_by_pk if pk not in known]
    loaded = list(
        ImpedanceSpectrum.objects.filter(cell__in=missing)
        .defer("data")
        .select_related("kk_check", "raw_file")
        .prefetch_related(Prefetch("fits", FitResult.objects.select_related("protocol").only(*_FIT_SUMMARY)))
        .order_by("pk")
    ) if missing else []
    if memo is not None:
        for pk in missing:
            known[pk] = []
        for spectrum in loaded:
            known[spectrum.cell_id].append(spectrum)
        spectra = sorted((s for pk in cells_by_pk for s in known[pk]), key=lambda s: s.pk)
    else:
        spectra = loaded
    for spectrum in spectra:
        spectrum.cell = cells_by_pk[spectrum.cell_id]
    return spectra if visible_with is None else [s for s in spectra if covers(s, visible_with)]


@dataclass
class _LoadedRows:
    """Rows read once in a recomputation and shared by its separator and cell passes."""

    spectra_by_cell: dict[int, list] = field(default_factory=dict)
    #: spectrum id -> its chosen standard fit (None: none), for `standard_fits`.
    fits_by_spectrum: dict[int, FitResult | None] = field(default_factory=dict)


_loaded: contextvars.ContextVar[_LoadedRows | None] = contextvars.ContextVar("benchmark_rows", default=None)


@contextlib.contextmanager
def sharing_loaded_rows():
    """Within the block, `spectra_of_cells` and `standard_fits` read each cell's spectra and each spectrum's
    fit once: a separator's pass and its cells' passes of one recomputation read the same rows."""
    token = _loaded.set(_LoadedRows())
    try:
        yield
    finally:
        _loaded.reset(token)


def conductivities_of_fits(fits) -> list[Conductivity]:
    """Conductivity rows computed from `fits`, each with its fit object from `fits` (no second read of them)."""
    by_pk = {f.pk: f for f in fits}
    rows = list(Conductivity.objects.filter(fit__in=list(by_pk)).order_by("pk"))
    for row in rows:
        row.fit = by_pk[row.fit_id]
    return rows


def standard_arrhenius_fits(*, separator: Separator, kind: str) -> list[ArrheniusFit]:
    """Arrhenius fits of `separator` for one conductivity kind under standard protocols."""
    return list(ArrheniusFit.objects.filter(separator=separator, kind=kind, protocol__is_standard=True)
                .select_related("protocol").order_by("pk"))


def dc_polarisations_of_cells(cells, *, visible_with=None) -> list[DCPolarisation]:
    """DC polarisations of `cells`; with `visible_with`, only those at least as visible as that record."""
    rows = list(DCPolarisation.objects.filter(cell__in=[c.pk for c in cells]).select_related("cell").order_by("pk"))
    return rows if visible_with is None else [d for d in rows if covers(d, visible_with)]


def ccd_tests_of_cell(cell: Cell) -> list[CriticalCurrentDensityTest]:
    """The cell's CCD tests, oldest first."""
    return list(CriticalCurrentDensityTest.objects.filter(cell=cell).order_by("measured_at", "pk"))


def cell_for_metrics(*, cell_id: int) -> Cell:
    return (Cell.objects.select_related("separator", "source").prefetch_related("pressure_steps", "interfaces")
            .get(pk=cell_id))


# The id lists an entry's ``details`` carries, and the selector of the records each names.
_DETAIL_ID_SELECTORS = {
    "spectrum_ids": visible_spectra, "cell_ids": visible_cells, "conductivity_ids": visible_conductivities,
    "dc_polarisation_ids": visible_dc_polarisations,
}


#: Ids per visibility query on SQLite, which takes at most 32,766 parameters.
_IDS_PER_QUERY = 10_000


def _visible_of(visible: QuerySet, ids) -> set[int]:
    """Those of ``ids`` that the ``visible`` queryset holds."""
    ids = sorted(ids)
    if not ids:
        return set()
    if connections[visible.db].vendor == "postgresql":  # one array parameter, however many ids
        in_ids = RawSQL("SELECT unnest(%s::bigint[])", [ids])
        return set(visible.filter(pk__in=in_ids).values_list("pk", flat=True))
    return {pk for start in range(0, len(ids), _IDS_PER_QUERY)
            for pk in visible.filter(pk__in=ids[start:start + _IDS_PER_QUERY]).values_list("pk", flat=True)}


def details_for_viewer(entries, user, *, whole: bool = False) -> dict[int, dict]:
    """Each entry's ``details`` with its id lists cut to the records ``user`` may see (one query per kind
    of id for all the entries), so an entry never names a hidden record; ``hidden_records`` counts what
    was left out. ``details`` holds the first ids of each list (``<key>_not_listed``: how many more), which is
    what a list of entries shows; ``whole`` looks at every id (reads ``record_ids``: one entry's page)."""
    stored = {entry.pk: entry.all_details() if whole else dict(entry.details or {}) for entry in entries}
    wanted = {key: {i for details in stored.values() for i in details.get(key) or []} for key in _DETAIL_ID_SELECTORS}
    seen = {key: _visible_of(_DETAIL_ID_SELECTORS[key](user=user), ids) for key, ids in wanted.items()}
    for details in stored.values():
        hidden = 0
        for key in _DETAIL_ID_SELECTORS:
            if isinstance(details.get(key), list):
                kept = [i for i in details[key] if i in seen[key]]
                hidden += len(details[key]) - len(kept)
                details[key] = kept
        if hidden:
            details["hidden_records"] = hidden
    return stored

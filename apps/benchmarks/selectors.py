"""Reads of benchmark entries and literature values, with their rules.

Visibility: an entry of a separator follows the separator's visibility; an
entry of a cell follows the cell's and, when the cell names one, its
separator's (a cell's numbers reveal its separator).

Leaderboards rank entries whose completeness is at least
`DEFAULT_MIN_COMPLETENESS` (0.7: most of what decides the number was
reported) and that carry no blocking flag (see `metrics.FLAGS`).

Round robin — "comparable" means: same metric and material family,
temperature within ± 2 °C of each other (σ at 25 °C from an Arrhenius fit
counts as 25 °C), and stack pressure within a factor 2 when both are
stated; from at least two research groups. Spread = (max − min) / median.
"""
from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from apps.accounts.selectors import visible_q
from apps.catalog.models import MaterialFamily

from .metrics import PRESSURE_FACTOR, TEMPERATURE_TOLERANCE_C
from .models import BenchmarkEntry, LiteratureValue, Metric

DEFAULT_MIN_COMPLETENESS = 0.7
#: For these metrics a smaller value ranks higher.
LOWER_IS_BETTER = {
    Metric.SEPARATOR_ASR, Metric.INTERFACIAL_ASR, Metric.ACTIVATION_ENERGY, Metric.IMPEDANCE_GROWTH_PER_CYCLE,
    Metric.IMPEDANCE_GROWTH_PER_HOUR, Metric.ELECTRONIC_CONDUCTIVITY,
}
CONDUCTIVITY_METRICS = {Metric.SIGMA_25C_TOTAL, Metric.SIGMA_25C_BULK, Metric.SIGMA_25C_GRAIN_BOUNDARY}


def entry_visible_q(user) -> Q:
    separator_entry = Q(cell__isnull=True) & visible_q(user, "separator__")
    cell_entry = Q(cell__isnull=False) & visible_q(user, "cell__") & (
        Q(separator__isnull=True) | visible_q(user, "separator__"))
    return separator_entry | cell_entry


def visible_entries(*, user) -> QuerySet[BenchmarkEntry]:
    return (
        BenchmarkEntry.objects.filter(entry_visible_q(user))
        .select_related("separator", "separator__group", "separator__source", "cell", "cell__group", "cell__source",
                        "protocol")
    )


def filtered_entries(*, user, metric: str | None = None, family: str | None = None, route: str | None = None,
                     min_completeness: float = 0.0, include_flagged: bool = True) -> QuerySet[BenchmarkEntry]:
    qs = visible_entries(user=user)
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


def leaderboard(*, user, metric: str, family: str | None = None,
                min_completeness: float = DEFAULT_MIN_COMPLETENESS, route: str | None = None,
                limit: int | None = None) -> list[BenchmarkEntry]:
    """Ranked entries of one metric: complete enough, no blocking flag, best first."""
    qs = filtered_entries(user=user, metric=metric, family=family, route=route,
                          min_completeness=min_completeness, include_flagged=False)
    order = "value" if metric in LOWER_IS_BETTER else "-value"
    entries = list(qs.order_by(order, "pk")[:limit] if limit else qs.order_by(order, "pk"))
    for rank, entry in enumerate(entries, start=1):
        entry.rank = rank
    return entries


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
        values = self._by_family.get(family)
        if not values:
            return None
        below = bisect.bisect_left(values, value)
        equal = bisect.bisect_right(values, value) - below
        return 100.0 * (below + 0.5 * equal) / len(values)


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
        median = self.median
        return (self.maximum - self.minimum) / abs(median) if median else None

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
    if cluster.temperature_c is not None and entry.temperature_c is not None:
        if abs(cluster.temperature_c - entry.temperature_c) > TEMPERATURE_TOLERANCE_C:
            return False
    elif (cluster.temperature_c is None) != (entry.temperature_c is None):
        return False
    p = entry.stack_pressure_mpa
    if p and cluster.pressure_min_mpa:
        low, high = min(p, cluster.pressure_min_mpa), max(p, cluster.pressure_max_mpa)
        if high / low > PRESSURE_FACTOR:
            return False
    return True


def round_robin(*, user, metric: str | None = None, family: str | None = None, min_groups: int = 2,
                include_flagged: bool = False) -> list[RoundRobinGroup]:
    """Spread between groups that measured the same family under comparable conditions."""
    qs = filtered_entries(user=user, metric=metric, family=family, include_flagged=include_flagged).exclude(family="")
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

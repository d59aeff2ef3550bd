"""The figures of the catalog pages: what they plot, read through the apps' selectors (visibility
included), handed to the plot builders of `catalog.plots` and `measurements.plots` as JSON."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Count, F, Q, Value, Window
from django.db.models.functions import Abs, Greatest, Mod, RowNumber

from apps.analysis.models import ConductivityKind, FitProtocol, FitResult, FitStatus
from apps.analysis.selectors import (
    conductivity_points_by_kind, summarised_conductivity_points, visible_arrhenius_fits, visible_fits,
)
from apps.benchmarks.metrics import interfacial_asr
from apps.common import summaries
from apps.common.formatting import format_quantity
from apps.measurements.models import ImpedanceSpectrum
from apps.measurements.plots import figure_json, nyquist_figure
from apps.measurements.selectors import visible_spectra

from . import plots
from .models import Cell, Interface, Separator
from .selectors import visible_cells

MAX_SPECTRA_IN_OVERLAY = 12
MAX_POINTS = 500  # spectra per interfacial-resistance plot, spread over the record; more stops being readable
MAX_ARRHENIUS_POINTS = 600  # measured points per Arrhenius plot; above, one point per kind and temperature


#: Orders the spectra of a record are spread over: a cell's cycles and time (the order of its spectra
#: table), and, on pages spanning several cells, each cell's time.
CELL_ORDER = ("cycle_index", "elapsed_time_h", "pk")
INTERFACIAL_ORDER = ("cell_id", "elapsed_time_h", "cycle_index", "pk")


@dataclass(frozen=True)
class SpreadSpectra:
    """Ids picked per name (in the order) and how many visible spectra they were picked from."""

    ids: dict[str, list[int]]
    total: int


def _picked(rank: int, n: int, total: int) -> bool:
    """Row ``rank`` (1-based) of ``total`` is one of ``n`` spread evenly: where ⌊(rank−1)(n−1)/(total−1)⌋ steps
    up, i.e. rank−1 = ⌈i(total−1)/(n−1)⌉ for i = 0 … n−1 (the first and the last row included)."""
    return total <= n or ((rank - 1) * (n - 1)) % (total - 1) < n - 1


def spread_spectrum_ids(spectra_qs, order: Sequence[str], picks: dict[str, int]) -> SpreadSpectra:
    """Per name, at most n (≥ 2) primary keys spread evenly over the spectra in ``order``, in one query: the
    database numbers the rows and returns only the picked ones (`_picked`), so a record with tens of
    thousands of spectra is never read out."""
    rank = Window(RowNumber(), order_by=[F(field).asc(nulls_last=True) for field in order])
    qs = spectra_qs.order_by().annotate(spread_total=Window(Count("pk")), spread_rank=rank)
    condition = Q(spread_total__lte=max(picks.values()))
    for name, n in picks.items():
        # The rule of `_picked`, evaluated by the database on the numbered rows.
        qs = qs.annotate(**{f"spread_{name}": Mod((F("spread_rank") - 1) * (n - 1), Greatest(F("spread_total") - 1, Value(1)))})
        condition |= Q(**{f"spread_{name}__lt": n - 1})
    rows = sorted(qs.filter(condition).values_list("spread_rank", "pk", "spread_total"))
    total = rows[0][2] if rows else 0
    return SpreadSpectra(
        ids={name: [pk for rank, pk, _ in rows if _picked(rank, n, total)] for name, n in picks.items()}, total=total
    )


def chosen_fits(spectra, user) -> dict[int, FitResult]:
    """One successful fit per spectrum (a queryset or a list of ids): the standard protocol's when there is one, else the newest."""
    spectrum_filter = spectra.values("pk") if hasattr(spectra, "values") else list(spectra)
    fits = (
        visible_fits(user=user)
        .filter(spectrum__in=spectrum_filter, status=FitStatus.SUCCEEDED)
        .order_by("spectrum_id", "-protocol__is_standard", "-updated_at")
    )
    chosen: dict[int, FitResult] = {}
    for fit in fits:
        chosen.setdefault(fit.spectrum_id, fit)
    return chosen


#: What `interfacial_asr` reads of a fit (its roles come from the protocol and `derived`).
_ASR_FIT_FIELDS = ("id", "spectrum_id", "protocol", "parameters", "stderr", "derived", "status", "updated_at")


def _fits_for_asr(spectrum_ids: list[int]) -> dict[int, FitResult]:
    """`chosen_fits` for spectra the caller has already found visible: the same choice, reading only the
    columns the ASR needs (no join back to the spectrum and its cell for each of hundreds of fits, and each
    protocol read once rather than once per fit)."""
    fits = (
        FitResult.objects.filter(spectrum_id__in=spectrum_ids, status=FitStatus.SUCCEEDED)
        .only(*_ASR_FIT_FIELDS)
        .order_by("spectrum_id", "-protocol__is_standard", "-updated_at")
    )
    chosen: dict[int, FitResult] = {}
    for fit in fits:
        chosen.setdefault(fit.spectrum_id, fit)
    protocols = FitProtocol.objects.in_bulk({fit.protocol_id for fit in chosen.values()})
    for fit in chosen.values():
        fit.protocol = protocols[fit.protocol_id]
    return chosen


def interfacial_points(spectra_qs, user) -> list[plots.InterfacialPoint]:
    """ASR of one interface per fitted spectrum (at most MAX_POINTS spectra spread over each cell's time),
    from ``benchmarks.metrics.interfacial_asr`` (halved for symmetric cells), so the pages show the number
    the benchmarks publish."""
    return interfacial_points_of(spread_spectrum_ids(spectra_qs, INTERFACIAL_ORDER, {"asr": MAX_POINTS}).ids["asr"])


def interfacial_points_of(ids: list[int]) -> list[plots.InterfacialPoint]:
    """`interfacial_points` of spectra the caller has already picked among the visible ones, in that order."""
    # Ids of visible spectra: read again as plain values (no visibility joins, arrays or metadata), their
    # few cells once each.
    by_pk = {
        row[0]: row
        for row in ImpedanceSpectrum.objects.filter(pk__in=ids).values_list(
            "pk", "label", "cell_id", "elapsed_time_h", "cycle_index", "stack_pressure_mpa"
        )
    }
    spectra = [by_pk[pk] for pk in ids if pk in by_pk]
    cells = Cell.objects.select_related("separator").in_bulk({row[2] for row in spectra})
    fits = _fits_for_asr([row[0] for row in spectra])
    points = []
    for pk, label, cell_id, elapsed_time_h, cycle_index, stack_pressure_mpa in spectra:
        fit = fits.get(pk)
        cell = cells[cell_id]
        asr = interfacial_asr(fit, cell) if fit else None
        if asr is None:
            continue
        points.append(
            plots.InterfacialPoint(
                label=label or f"Spectrum {pk}",
                cell_label=cell.name,
                spectrum_id=pk,
                asr_ohm_cm2=asr.asr_ohm_cm2,
                asr_stderr_ohm_cm2=asr.stderr_ohm_cm2,
                elapsed_time_h=elapsed_time_h,
                cycle_index=cycle_index,
                stack_pressure_mpa=stack_pressure_mpa,
            )
        )
    return points


def _conductivity_points(separator: Separator, user) -> dict[str, list[tuple[float, float, float | None]]]:
    """(temperature °C, σ, δσ) per conductivity kind, from the chosen fit of each visible spectrum; summarised
    per temperature when the separator has more than MAX_ARRHENIUS_POINTS of them."""
    spectra = visible_spectra(user=user).filter(cell__separator=separator)
    if _summarised(spectra):
        # Sums kept with the separator's benchmark entries: a few rows, not every spectrum.
        points = summarised_conductivity_points(user=user, separator_id=separator.pk)
        if points is not None:
            return points

    def compute():
        points = conductivity_points_by_kind(user=user, spectra=spectra, max_points=MAX_ARRHENIUS_POINTS)
        # Only a summary (more points than drawn) is worth caching: the aggregate then reads every spectrum.
        return points, _summarised(spectra)

    viewer = f"{user.pk}" if user is not None and user.is_authenticated else "anonymous"
    return summaries.cached_summary("separator-arrhenius", separator.pk, viewer, compute)


def _summarised(spectra) -> bool:
    """True when the separator has more spectra than an Arrhenius plot draws (its points were aggregated)."""
    return spectra.order_by()[: MAX_ARRHENIUS_POINTS + 1].count() > MAX_ARRHENIUS_POINTS


def _series_with_fits(separator: Separator, kind: str, points, stored, vtf) -> list[plots.ArrheniusSeries]:
    """The measured points of one kind with the stored Arrhenius line, and the VTF line when there is one."""
    labels = dict(ConductivityKind.choices)
    s = plots.ArrheniusSeries(label=f"{separator.name}: σ {labels.get(kind, kind).lower()}", points=points)
    if stored is not None:
        s.form, s.activation_energy_ev, s.prefactor = stored.form, stored.activation_energy_ev, stored.prefactor
        if stored.activation_energy_ev is not None:
            err = f" ± {stored.activation_energy_stderr_ev:.3f}" if stored.activation_energy_stderr_ev is not None else ""
            s.line_label = f"{labels.get(kind, kind)} fit: Ea = {stored.activation_energy_ev:.3f}{err} eV"
    if vtf is None or not vtf.prefactor or vtf.vtf_b_k is None or vtf.vtf_t0_k is None:
        return [s]
    return [s, plots.ArrheniusSeries(
        label=s.label,
        points=points,
        form="vtf",
        prefactor=vtf.prefactor,
        vtf_b_k=vtf.vtf_b_k,
        vtf_t0_k=vtf.vtf_t0_k,
        line_label=f"{labels.get(kind, kind)} VTF fit: B = {vtf.vtf_b_k:.0f} K, T0 = {vtf.vtf_t0_k:.0f} K",
        show_points=False,
    )]


def arrhenius_series_for(separator: Separator, user) -> list[plots.ArrheniusSeries]:
    """Measured conductivities of the separator's visible spectra, with its stored Arrhenius fits as lines."""
    by_kind = _conductivity_points(separator, user)
    stored = {
        a.kind: a
        for a in visible_arrhenius_fits(user=user)
        .filter(separator=separator, form__in=["sigma_t", "sigma"])
        .order_by("-protocol__is_standard", "-form")
    }
    vtf_fits = {
        a.kind: a
        for a in visible_arrhenius_fits(user=user)
        .filter(separator=separator, form="vtf")
        .order_by("-protocol__is_standard")
    }
    series = []
    for kind, points in by_kind.items():
        series.extend(_series_with_fits(separator, kind, points, stored.get(kind), vtf_fits.get(kind)))
    if not series:
        # Fits computed elsewhere (e.g. imported points) still deserve a plot.
        labels = dict(ConductivityKind.choices)
        for kind, fit in stored.items():
            points = [tuple(p) + (None,) * (3 - len(p)) for p in (fit.points or [])]
            series.append(
                plots.ArrheniusSeries(
                    label=f"{separator.name}: σ {labels.get(kind, kind).lower()}",
                    points=points,
                    form=fit.form,
                    activation_energy_ev=fit.activation_energy_ev,
                    prefactor=fit.prefactor,
                )
            )
    return series


def nearest_25c_spectrum(separator: Separator, user):
    """The visible spectrum of the separator measured closest to 25 °C (with its arrays), or None."""
    # Found as an id first: sorting a separator's tens of thousands of spectra with their arrays costs seconds.
    pk = (
        visible_spectra(user=user)
        .filter(cell__separator=separator)
        .annotate(distance_from_25c=Abs(F("temperature_c") - 25.0))
        .order_by(F("distance_from_25c").asc(nulls_last=True), "pk")
        .values_list("pk", flat=True)
        .first()
    )
    return None if pk is None else visible_spectra(user=user, with_arrays=True).get(pk=pk)


def overlay_label(spectrum) -> str:
    """A spectrum's name in an overlay: its label, then cycle and elapsed time unless the label says them already
    (a label “0 h” does not become “0 h, 0 h”)."""
    label = spectrum.label or f"#{spectrum.pk}"
    parts = [label]
    if spectrum.cycle_index is not None and f"cycle {spectrum.cycle_index}" not in label.lower():
        parts.append(f"cycle {spectrum.cycle_index}")
    if spectrum.elapsed_time_h is not None:
        elapsed = format_quantity(spectrum.elapsed_time_h, None, "duration_h")
        if elapsed not in label and f"{spectrum.elapsed_time_h:g} h" not in label:
            parts.append(elapsed)
    return ", ".join(parts)


def cell_overlay(ids: list[int]) -> list[tuple[str, object, object]]:
    """The overlay traces of spectra the caller has already picked among the visible ones, in that order."""
    fields = ("pk", "label", "cycle_index", "elapsed_time_h", "data", "frequency_grid")
    chosen = ImpedanceSpectrum.objects.only(*fields).in_bulk(ids)
    return [(overlay_label(chosen[pk]), chosen[pk].frequencies_hz, chosen[pk].impedance_ohm) for pk in ids if pk in chosen]


def separator_figures(separator: Separator, user) -> dict[str, str]:
    return {"arrhenius": figure_json(plots.arrhenius_figure(arrhenius_series_for(separator, user), title=f"Arrhenius: {separator.name}"))}


@dataclass(frozen=True)
class CellFigures:
    """A cell's figures (plotly JSON by name) and what they draw of its spectra: `overlay` and `interfacial`
    spectra picked evenly out of the `total` the viewer may see (every one is in the page's table)."""

    figures: dict[str, str]
    total: int
    overlay: int
    interfacial: int

    @property
    def summarised(self) -> bool:
        return self.total > min(self.overlay, self.interfacial) if self.total else False


def _shown_of(n: int, total: int) -> str:
    return f" ({n:,} of {total:,} spectra, spread evenly)" if total > n else ""


def cell_figures(cell: Cell, user) -> CellFigures:
    """The pressure history, an overlay of at most MAX_SPECTRA_IN_OVERLAY spectra and the interfacial
    resistance of at most MAX_POINTS, both spread evenly over the cell's cycles and time: the picks come from
    one query, so the cost does not grow with the cell's spectra."""
    spectra = visible_spectra(user=user).filter(cell=cell)
    spread = spread_spectrum_ids(spectra, CELL_ORDER, {"overlay": MAX_SPECTRA_IN_OVERLAY, "asr": MAX_POINTS})
    overlay_ids, asr_ids = spread.ids["overlay"], spread.ids["asr"]
    points = interfacial_points_of(asr_ids)
    x = "elapsed_time_h" if any(p.elapsed_time_h is not None for p in points) else "cycle_index"
    overlay_title = "Spectra over cycles and time" + _shown_of(len(overlay_ids), spread.total)
    asr_title = "Interfacial resistance over time" + _shown_of(len(asr_ids), spread.total)
    figures = {
        "pressure": figure_json(plots.pressure_history_figure(cell.pressure_steps.all())),
        "spectra": figure_json(nyquist_figure(cell_overlay(overlay_ids), title=overlay_title)),
        "interfacial": figure_json(plots.interfacial_figure(points, x=x, title=asr_title)),
    }
    return CellFigures(figures=figures, total=spread.total, overlay=len(overlay_ids), interfacial=len(asr_ids))


def interface_figures(interface: Interface, user) -> dict[str, str]:
    spectra = visible_spectra(user=user).filter(cell__in=visible_cells(user=user).filter(interfaces=interface).values("pk"))
    points = interfacial_points(spectra, user)
    return {
        "pressure": figure_json(plots.interfacial_figure(points, x="stack_pressure_mpa", title="Interfacial resistance against stack pressure")),
        "time": figure_json(plots.interfacial_figure(points, x="elapsed_time_h", title="Interfacial resistance over time")),
    }

"""Benchmark pages: dashboard, leaderboard per metric, entry detail, reproduce download, the separator page's
accept / withdraw button for other groups' cells (thin)."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from apps.catalog.models import MaterialFamily, ProcessingRoute
from apps.catalog.selectors import visible_cells, visible_separators
from apps.catalog.views import paginate
from apps.common import flags as flag_registry

from . import bundles, comparisons, plots, selectors
from .completeness import checklist_table
from .metrics import PLAUSIBLE_SIGMA_25C_S_PER_CM
from .models import Metric
from .statistics import PRESSURE_FACTOR, TEMPERATURE_TOLERANCE_C

#: Spectra per page of an entry's raw data, and values of a detail shown before it is only counted.
ENTRY_SPECTRA_PER_PAGE = 100
DETAIL_VALUES_SHOWN = 100
LEADERBOARD_METRICS = [
    Metric.SIGMA_25C_TOTAL, Metric.SEPARATOR_ASR, Metric.INTERFACIAL_ASR, Metric.ACTIVATION_ENERGY,
    Metric.SIGMA_25C_BULK, Metric.IMPEDANCE_GROWTH_PER_CYCLE, Metric.CRITICAL_CURRENT_DENSITY,
    Metric.ELECTRONIC_CONDUCTIVITY,
]
OBELIX_CREDIT = (
    "Literature values: OBELiX (Therrien et al., “OBELiX: a curated dataset of crystal structures and "
    "experimentally measured ionic conductivities for lithium solid-state electrolytes”, 2025), licensed "
    "CC BY 4.0. Reported room-temperature values, not re-fitted; thickness, pressure and protocol unknown."
)


def record_url(entry) -> str:
    """The separator's or cell's page, or the entry's own page when the catalog pages are not mounted."""
    try:
        if entry.cell_id:
            return reverse("catalog:cell-detail", args=[entry.cell_id])
        return reverse("catalog:separator-detail", args=[entry.separator_id])
    except NoReverseMatch:
        return reverse("benchmarks:entry", args=[entry.pk])


def _filters(request) -> dict:
    family = request.GET.get("family", "")
    route = request.GET.get("route", "")
    try:
        min_completeness = min(max(float(request.GET.get("min_completeness", "") or 0), 0.0), 1.0)
    except ValueError:
        min_completeness = 0.0
    include_flagged = request.GET.get("include_flagged", "1") != "0"
    return {
        # Released numbers by default; members may look at the live, unreleased entries too.
        "include_unreleased": request.user.is_authenticated and request.GET.get("include_unreleased") == "1",
        "family": family if family in MaterialFamily.values else "",
        "route": route if route in ProcessingRoute.values else "",
        "min_completeness": min_completeness,
        "include_flagged": include_flagged,
    }


def release_url(entry) -> str:
    """The landing page of the release a released number comes from ('' for a live entry)."""
    release = getattr(entry, "release", None)
    if release is None:
        return ""
    try:
        return reverse("releases:detail", args=[release.pk])
    except NoReverseMatch:
        return ""


def _entry_filters(filters: dict) -> dict:
    return {k: v for k, v in filters.items() if k != "include_unreleased"}


def _annotate(entries, distribution: selectors.LiteratureDistribution) -> dict[int, float | None]:
    percentiles = {}
    for entry in entries:
        entry.record_url = record_url(entry)
        entry.release_url = release_url(entry)
        entry.live_pk = getattr(entry, "entry_id", entry.pk)
        entry.flag_list = [(code, flag_registry.get(code).title, flag_registry.is_blocking(code),
                            entry.details.get("flag_notes", {}).get(code, "")) for code in entry.flags]
        entry.percentile = (distribution.percentile(entry.value, entry.family)
                            if entry.metric in selectors.CONDUCTIVITY_METRICS and entry.family else None)
        percentiles[entry.pk] = entry.percentile
    return percentiles


def _leaderboards(*, user, filters: dict, distribution, threshold: float) -> list[dict]:
    ranked = selectors.leaderboards(user=user, metrics=LEADERBOARD_METRICS, family=filters["family"] or None,
                                    route=filters["route"] or None, min_completeness=threshold, limit=10,
                                    released_only=not filters["include_unreleased"])
    boards = []
    for metric in LEADERBOARD_METRICS:
        _annotate(ranked[metric], distribution)
        boards.append({"metric": metric, "label": Metric(metric).label, "entries": ranked[metric]})
    return boards


def dashboard(request):
    filters = _filters(request)
    user = request.user
    entries = selectors.board_entries(user=user, released_only=not filters["include_unreleased"],
                                      **_entry_filters(filters))
    distribution = selectors.LiteratureDistribution()
    percentiles = _annotate(entries, distribution)
    literature = list(selectors.literature_values(family=filters["family"] or None))
    figures = plots.dashboard_figures(entries, literature, urls={e.pk: e.record_url for e in entries},
                                      percentiles=percentiles)
    threshold = max(filters["min_completeness"], selectors.DEFAULT_MIN_COMPLETENESS)
    boards = _leaderboards(user=user, filters=filters, distribution=distribution, threshold=threshold)
    context = {
        "filters": filters,
        "families": MaterialFamily.choices,
        "routes": ProcessingRoute.choices,
        "figures": {name: fig.to_json() for name, fig in figures.items()},
        "n_points": {name: plots.figure_points(fig) for name, fig in figures.items()},
        "n_entries": len(entries),
        "n_literature": len(literature),
        "boards": boards,
        "threshold": threshold,
        "round_robin": selectors.round_robin(user=user, family=filters["family"] or None,
                                             released_only=not filters["include_unreleased"]),
        "flags": sorted(flag_registry.registered().values(), key=lambda f: (not f.blocking, f.title)),
        "checklist": checklist_table(),
        "plausible": [(MaterialFamily(f).label, low, high) for f, (low, high) in PLAUSIBLE_SIGMA_25C_S_PER_CM.items()],
        "credit": OBELIX_CREDIT,
        "temperature_tolerance_c": TEMPERATURE_TOLERANCE_C,
        "pressure_factor": PRESSURE_FACTOR,
    }
    return render(request, "benchmarks/dashboard.html", context)


def leaderboard(request, metric: str):
    if metric not in Metric.values:
        raise Http404("No such metric")
    filters = _filters(request)
    threshold = max(filters["min_completeness"], selectors.DEFAULT_MIN_COMPLETENESS)
    released_only = not filters["include_unreleased"]
    ranked = selectors.leaderboard(user=request.user, metric=metric, family=filters["family"] or None,
                                   route=filters["route"] or None, min_completeness=threshold,
                                   released_only=released_only)
    _annotate(ranked, selectors.LiteratureDistribution())
    excluded = len(selectors.board_entries(user=request.user, released_only=released_only, metric=metric,
                                           family=filters["family"] or None, route=filters["route"] or None)
                   ) - len(ranked)
    return render(request, "benchmarks/leaderboard.html", {
        "metric": metric, "label": Metric(metric).label, "entries": ranked, "threshold": threshold,
        "filters": filters, "families": MaterialFamily.choices, "routes": ProcessingRoute.choices,
        "excluded": excluded, "lower_is_better": metric in selectors.LOWER_IS_BETTER, "credit": OBELIX_CREDIT,
    })


def entry_detail(request, pk: int):
    entry = get_object_or_404(selectors.visible_entries(user=request.user).defer(None), pk=pk)
    distribution = selectors.LiteratureDistribution()
    _annotate([entry], distribution)
    from apps.measurements.selectors import visible_spectra

    # A separator's entry can rest on hundreds of thousands of spectra: they are listed a page at a time, and
    # only a page's are checked for visibility; the details show the first ids of each list and count the rest.
    details = selectors.details_for_viewer([entry], request.user)[entry.pk]
    page, query = paginate(request, entry.record_ids.get("spectrum_ids", []), per_page=ENTRY_SPECTRA_PER_PAGE)
    spectra = list(visible_spectra(user=request.user).filter(pk__in=list(page.object_list)).order_by("pk"))
    for spectrum in spectra:
        try:
            spectrum.url = reverse("measurements:spectrum-detail", args=[spectrum.pk])
        except NoReverseMatch:
            spectrum.url = ""
    return render(request, "benchmarks/entry_detail.html", {
        "entry": entry, "spectra": spectra, "hidden_spectra": len(page.object_list) - len(spectra), "page": page,
        "query": query,
        "n_literature": distribution.count(entry.family) if entry.family else 0,
        "detail_rows": [(k, _shown_value(v)) for k, v in details.items()
                        if k not in ("flag_notes", "spectrum_ids", "cell_ids", "x", "asr_ohm_cm2", "hidden_records")],
        "credit": OBELIX_CREDIT,
    })


def _shown_value(value):
    """A detail as the entry page shows it: a long list of ids is counted, not printed whole."""
    if isinstance(value, list) and len(value) > DETAIL_VALUES_SHOWN:
        return f"{len(value):,} values (the API lists them all)"
    return value


def reproduce(request, pk: int):
    entry = get_object_or_404(selectors.visible_entries(user=request.user), pk=pk)
    data = bundles.reproduce_bundle(entry, user=request.user)
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="assbdb-benchmark-{entry.pk}-{entry.metric}.zip"'
    return response


@login_required
@require_POST
def separator_comparison(request, pk: int, cell_pk: int):
    """The separator page's Accept / Withdraw button: another group's cell counts toward its entries, or stops."""
    separator = get_object_or_404(visible_separators(user=request.user), pk=pk)
    cell = get_object_or_404(visible_cells(user=request.user), pk=cell_pk)
    try:
        if request.POST.get("action") == "withdraw":
            comparisons.withdraw_acceptance(separator=separator, cell=cell, user=request.user)
            messages.success(request, f"Cell “{cell.name}” no longer counts toward this separator's entries.")
        else:
            comparisons.accept_cell(separator=separator, cell=cell, user=request.user, note=request.POST.get("note", ""))
            messages.success(request, f"Cell “{cell.name}” of {cell.group} now counts toward this separator's entries.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except PermissionDenied as error:
        messages.error(request, str(error))
    return redirect("catalog:separator-detail", pk=separator.pk)

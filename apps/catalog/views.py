"""Web pages of the catalog: home, search, compare, and the lists, details and forms of
materials, separators, cells and interfaces. Reads go through selectors, writes through services."""
from __future__ import annotations

import django_filters
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, F, Q
from django.db.models.functions import Abs
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from apps.accounts.selectors import can_edit, visible_q
from apps.analysis.models import ConductivityKind, FitResult, FitStatus
from apps.analysis.selectors import visible_arrhenius_fits, visible_conductivities, visible_fits, visible_jobs
from apps.benchmarks.metrics import interfacial_asr
from apps.benchmarks.models import Metric
from apps.benchmarks.selectors import leaderboard
from apps.jobs.models import Job
from apps.measurements.plots import bode_figure, figure_json, nyquist_figure
from apps.measurements.selectors import visible_spectra

from . import plots
from . import services as catalog_services
from .filters import CellFilterSet, InterfaceFilterSet, MaterialFilterSet, SeparatorFilterSet
from .forms import (
    CellForm,
    ComponentFormSet,
    CompareForm,
    ElectrodeForm,
    EvidenceFormSet,
    InterfaceForm,
    LayerFormSet,
    MaterialForm,
    PressureStepFormSet,
    SearchForm,
    SeparatorForm,
    formset_rows,
)
from .models import (
    Cell,
    Interface,
    MaterialFamily,
    Separator,
    SeparatorComponent,
)
from .selectors import all_materials, all_sources, visible_cells, visible_electrodes, visible_interfaces, visible_separators

PAGE_SIZE = 25
MAX_SPECTRA_IN_OVERLAY = 12
MAX_POINTS = 2000  # per interfacial-resistance plot; beyond this a scatter stops being readable


# ---------------------------------------------------------------- filters

class SeparatorFilter(SeparatorFilterSet):
    """The API's separator filters plus a free-text box."""

    q = django_filters.CharFilter(method="search", label="Name or material")

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value)
            | Q(components__material__name__icontains=value)
            | Q(components__material__formula__icontains=value)
        ).distinct()


class CellFilter(CellFilterSet):
    q = django_filters.CharFilter(method="search", label="Name or separator")

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(separator__name__icontains=value))


class InterfaceFilter(InterfaceFilterSet):
    q = django_filters.CharFilter(method="search", label="Name or material")

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value)
            | Q(material_a__name__icontains=value)
            | Q(material_b__name__icontains=value)
            | Q(interlayer_material__name__icontains=value)
        )


class MaterialFilter(MaterialFilterSet):
    q = django_filters.CharFilter(method="search", label="Name or formula")

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(formula__icontains=value))


# ---------------------------------------------------------------- helpers

def paginate(request, queryset, per_page: int = PAGE_SIZE):
    page = Paginator(queryset, per_page).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


UNIT_SUFFIXES = {"_c": "°C", "_mpa": "MPa", "_um": "µm", "_cm2": "cm²", "_h": "h", "_min": "min", "_hz": "Hz"}


def filter_label(name: str) -> str:
    """A readable label from a filter name: temperature_c_min → “Temperature ≥ (°C)”."""
    bound = ""
    for suffix, sign in (("_min", " ≥"), ("_max", " ≤"), ("_after", " from"), ("_before", " until")):
        if name.endswith(suffix):
            name, bound = name[: -len(suffix)], sign
            break
    unit = ""
    for suffix, text in UNIT_SUFFIXES.items():
        if name.endswith(suffix):
            name, unit = name[: -len(suffix)], f" ({text})"
            break
    words = name.replace("_", " ").strip()
    words = {"doi": "DOI", "kk passed": "Kramers–Kronig passed", "cycle index": "cycle"}.get(words, words)
    return f"{words[:1].upper()}{words[1:]}{bound}{unit}"


def list_context(filterset, page, query: str, primary: list[str]) -> dict:
    """Context of a list page; `primary` filters show first, the others behind “More filters”."""
    for name, field in filterset.form.fields.items():
        if name != "q":
            field.label = filter_label(name)
    more_used = any(
        filterset.data.get(name) not in (None, "") for name in filterset.form.fields if name not in primary and name != "q"
    )
    return {"filter": filterset, "page": page, "query": query, "filter_primary": primary, "filter_more_open": more_used}


def _visible_or_404(queryset, pk: int):
    """The record if the user may see it; hidden and missing records are the same 404."""
    return get_object_or_404(queryset, pk=pk)


def _family_of(separator: Separator) -> str:
    material = separator.primary_material
    return material.get_family_display() if material else "—"


def chosen_fits(spectra, user) -> dict[int, FitResult]:
    """One successful fit per spectrum (a queryset or a list of ids): the standard protocol's when there is one, else the newest."""
    spectrum_filter = spectra.values("pk") if hasattr(spectra, "values") else list(spectra)
    fits = (
        visible_fits(user=user)
        .filter(spectrum__in=spectrum_filter, status=FitStatus.SUCCEEDED)
        .defer("residuals_real", "residuals_imag", "correlations")  # large, and not needed for summaries
        .order_by("spectrum_id", "-protocol__is_standard", "-updated_at")
    )
    chosen: dict[int, FitResult] = {}
    for fit in fits:
        chosen.setdefault(fit.spectrum_id, fit)
    return chosen


def interfacial_points(spectra_qs, user) -> list[plots.InterfacialPoint]:
    """ASR of one interface per fitted spectrum, from ``benchmarks.metrics.interfacial_asr`` (halved for
    symmetric cells), so the pages show the number the benchmarks publish."""
    spectra = list(spectra_qs.select_related("cell", "cell__separator").order_by("cell_id", "elapsed_time_h", "cycle_index", "pk")[:MAX_POINTS])
    fits = chosen_fits([s.pk for s in spectra], user)
    points = []
    for spectrum in spectra:
        fit = fits.get(spectrum.pk)
        asr = interfacial_asr(fit, spectrum.cell) if fit else None
        if asr is None:
            continue
        points.append(
            plots.InterfacialPoint(
                label=spectrum.label or f"Spectrum {spectrum.pk}",
                cell_label=spectrum.cell.name,
                spectrum_id=spectrum.pk,
                asr_ohm_cm2=asr.asr_ohm_cm2,
                asr_stderr_ohm_cm2=asr.stderr_ohm_cm2,
                elapsed_time_h=spectrum.elapsed_time_h,
                cycle_index=spectrum.cycle_index,
                stack_pressure_mpa=spectrum.stack_pressure_mpa,
            )
        )
    return points


def arrhenius_series_for(separator: Separator, user) -> list[plots.ArrheniusSeries]:
    """Measured conductivities of the separator's visible spectra, with its stored Arrhenius fits as lines."""
    spectra = visible_spectra(user=user).filter(cell__separator=separator)
    fits = chosen_fits(spectra, user)
    rows = visible_conductivities(user=user).filter(fit_id__in=[f.pk for f in fits.values()], temperature_c__isnull=False).order_by(
        "kind", "temperature_c"
    )
    by_kind: dict[str, list] = {}
    for c in rows:
        by_kind.setdefault(c.kind, []).append((c.temperature_c, c.conductivity_s_per_cm, c.conductivity_stderr_s_per_cm))
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
    labels = dict(ConductivityKind.choices)
    for kind, points in by_kind.items():
        fit = stored.get(kind)
        s = plots.ArrheniusSeries(label=f"{separator.name}: σ {labels.get(kind, kind).lower()}", points=points)
        if fit is not None:
            s.form, s.activation_energy_ev, s.prefactor = fit.form, fit.activation_energy_ev, fit.prefactor
            if fit.activation_energy_ev is not None:
                err = f" ± {fit.activation_energy_stderr_ev:.3f}" if fit.activation_energy_stderr_ev is not None else ""
                s.line_label = f"{labels.get(kind, kind)} fit: Ea = {fit.activation_energy_ev:.3f}{err} eV"
        series.append(s)
        vtf = vtf_fits.get(kind)
        if vtf is not None and vtf.prefactor and vtf.vtf_b_k is not None and vtf.vtf_t0_k is not None:
            series.append(
                plots.ArrheniusSeries(
                    label=s.label,
                    points=points,
                    form="vtf",
                    prefactor=vtf.prefactor,
                    vtf_b_k=vtf.vtf_b_k,
                    vtf_t0_k=vtf.vtf_t0_k,
                    line_label=f"{labels.get(kind, kind)} VTF fit: B = {vtf.vtf_b_k:.0f} K, T0 = {vtf.vtf_t0_k:.0f} K",
                    show_points=False,
                )
            )
    if not series:
        # Fits computed elsewhere (e.g. imported points) still deserve a plot.
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


def jobs_for_targets(*, user, targets: list[tuple[str, list[int]]], limit: int = 30) -> list[Job]:
    """The newest jobs the user may see about the given records, e.g. [("spectrum", [1, 2]), ("cell", [7])]."""
    condition = Q()
    for target_type, ids in targets:
        if ids:
            condition |= Q(target_type=target_type, target_id__in=ids)
    if not condition:
        return []
    return list(visible_jobs(user=user).filter(condition).order_by("-created_at", "-pk")[:limit])


def _jobs_context(user, targets: list[tuple[str, list[int]]]) -> dict:
    jobs = jobs_for_targets(user=user, targets=targets)
    return {"jobs": jobs, "jobs_active": any(not j.is_finished for j in jobs)}


# ---------------------------------------------------------------- home and search

def home(request):
    user = request.user
    separators = visible_separators(user=user)
    family_counts = (
        separators.filter(components__role=SeparatorComponent.Role.FAST_ION_PHASE)
        .values("components__material__family")
        .annotate(n=Count("pk", distinct=True))
        .order_by("-n")
    )
    families = dict(MaterialFamily.choices)
    spectra = visible_spectra(user=user)
    context = {
        "search_form": SearchForm(),
        "counts": {
            "separators": separators.count(),
            "cells": visible_cells(user=user).count(),
            "interfaces": visible_interfaces(user=user).count(),
            "spectra": spectra.count(),
            "materials": all_materials().count(),
        },
        "families": [(families.get(row["components__material__family"], "Other"), row["n"]) for row in family_counts],
        "latest_spectra": spectra.order_by("-created_at", "-pk")[:8],
        "top_entries": _top_benchmarks(user),
    }
    return render(request, "catalog/home.html", context)


def _top_benchmarks(user) -> list:
    return leaderboard(user=user, metric=Metric.SIGMA_25C_TOTAL, limit=5)


def search(request):
    form = SearchForm(request.GET)
    q = form.cleaned_data["q"].strip() if form.is_valid() else ""
    results: dict[str, list] = {}
    if q:
        user = request.user
        results = {
            "materials": list(all_materials().filter(Q(name__icontains=q) | Q(formula__icontains=q))[:25]),
            "separators": list(
                visible_separators(user=user)
                .filter(
                    Q(name__icontains=q)
                    | Q(components__material__name__icontains=q)
                    | Q(components__material__formula__icontains=q)
                    | Q(source__doi__icontains=q)
                )
                .distinct()[:25]
            ),
            "cells": list(
                visible_cells(user=user)
                .filter(Q(name__icontains=q) | Q(separator__name__icontains=q) | Q(source__doi__icontains=q))
                .distinct()[:25]
            ),
            "interfaces": list(
                visible_interfaces(user=user).filter(Q(name__icontains=q) | Q(source__doi__icontains=q)).distinct()[:25]
            ),
            "sources": list(all_sources().filter(Q(doi__icontains=q) | Q(citation__icontains=q))[:25]),
        }
    total = sum(len(v) for v in results.values())
    return render(request, "catalog/search.html", {"form": form, "q": q, "results": results, "total": total})


# ---------------------------------------------------------------- materials

def material_list(request):
    f = MaterialFilter(request.GET, queryset=all_materials())
    page, query = paginate(request, f.qs)
    return render(request, "catalog/material_list.html", list_context(f, page, query, ["family"]))


@login_required
def material_create(request):
    """Materials are shared reference data: any signed-in user may add one; an existing name is reused."""
    form = MaterialForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            material = catalog_services.get_or_create_material(**form.cleaned_data)
        except ValidationError as error:
            _apply_service_errors(error, form)
        else:
            messages.success(request, f"Material “{material.name}” is available in the forms.")
            return redirect("catalog:material-detail", pk=material.pk)
    return render(request, "catalog/material_form.html", {"form": form})


def material_detail(request, pk: int):
    material = get_object_or_404(all_materials(), pk=pk)
    separators = visible_separators(user=request.user).filter(components__material=material).distinct()[:50]
    return render(request, "catalog/material_detail.html", {"material": material, "separators": separators})


# ---------------------------------------------------------------- separators

def separator_list(request):
    f = SeparatorFilter(request.GET, queryset=visible_separators(user=request.user).annotate(
        n_cells=Count("cells", filter=visible_q(request.user, "cells__"), distinct=True)
    ).order_by("name", "pk"))
    page, query = paginate(request, f.qs)
    return render(request, "catalog/separator_list.html", list_context(f, page, query, ["family", "processing_route", "form"]))


def separator_figures(separator: Separator, user) -> dict[str, str]:
    return {"arrhenius": figure_json(plots.arrhenius_figure(arrhenius_series_for(separator, user), title=f"Arrhenius: {separator.name}"))}


def separator_detail(request, pk: int):
    separator = _visible_or_404(visible_separators(user=request.user), pk)
    cells = visible_cells(user=request.user).filter(separator=separator)
    spectrum_ids = list(visible_spectra(user=request.user).filter(cell__separator=separator).values_list("pk", flat=True)[:200])
    context = {
        "separator": separator,
        "family": _family_of(separator),
        "cells": cells,
        "arrhenius_fits": visible_arrhenius_fits(user=request.user).filter(separator=separator).order_by("kind", "form"),
        "figures": separator_figures(separator, request.user),
        "plots_url": reverse("catalog:separator-plots", args=[separator.pk]),
        "can_edit": can_edit(separator, request.user),
        **_jobs_context(request.user, [("separator", [separator.pk]), ("spectrum", spectrum_ids)]),
    }
    return render(request, "catalog/separator_detail.html", context)


def separator_plots(request, pk: int):
    separator = _visible_or_404(visible_separators(user=request.user), pk)
    return JsonResponse({"figures": separator_figures(separator, request.user)})


def _component_initial(separator: Separator) -> list[dict]:
    return [
        {"material": c.material_id, "role": c.role, "fraction": c.fraction, "fraction_basis": c.fraction_basis}
        for c in separator.components.all()
    ]


def _apply_service_errors(error: ValidationError, form, formsets: dict | None = None) -> None:
    """Put a service's field-level messages on the form field they name; the rest on the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            if field in form.fields:
                form.add_error(field, errors)
            else:
                form.add_error(None, [f"{field.replace('_', ' ')}: {m}" for m in errors])
    else:
        form.add_error(None, error.messages)


def _form_links(kind: str, record) -> dict:
    return {
        "kind": kind,
        "list_url": reverse(f"catalog:{kind}-list"),
        "cancel_url": reverse(f"catalog:{kind}-detail", args=[record.pk]) if record else "",
    }


def _record_form(request, *, kind: str, record, form, formsets: list[tuple[str, str, object]], create, update,
                 extra=lambda form: {}):
    """The create/edit flow shared by separators, cells and interfaces.

    `formsets` are (title, service keyword, formset); `extra(form)` gives
    service arguments that are not plain model fields. Writes go through the
    catalog service; its field-level errors land on the fields they name.
    """
    if request.method == "POST" and form.is_valid() and all(formset.is_valid() for _, _, formset in formsets):
        extra_values = extra(form)
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields if name not in extra_values}
        fields.update({k: v for k, v in form.ownership().items() if k != "group"})
        fields.update(extra_values)
        fields.update({keyword: formset_rows(formset) for _, keyword, formset in formsets})
        try:
            if record is None:
                record = create(user=request.user, group=form.cleaned_data["group"], **fields)
                messages.success(request, f"{kind.capitalize()} “{record.name}” created.")
            else:
                record = update(**{kind: record}, user=request.user, **fields)
                messages.success(request, f"{kind.capitalize()} “{record.name}” saved.")
            return redirect(f"catalog:{kind}-detail", pk=record.pk)
        except ValidationError as error:
            _apply_service_errors(error, form)
        except PermissionDenied as error:
            form.add_error(None, str(error))
    return render(
        request,
        f"catalog/{kind}_form.html",
        {
            "form": form,
            "formsets": [(title, formset) for title, _, formset in formsets],
            "record": record,
            **_form_links(kind, record),
        },
    )


@login_required
def separator_edit(request, pk: int | None = None):
    separator = None
    if pk is not None:
        separator = _visible_or_404(visible_separators(user=request.user), pk)
        if not can_edit(separator, request.user):
            raise PermissionDenied("Only members of the owning group can edit this separator.")
    form = SeparatorForm(request.POST or None, instance=separator)
    form.setup_ownership(request.user, editing=separator is not None)
    components = ComponentFormSet(
        request.POST or None, prefix="components", initial=_component_initial(separator) if separator else None
    )
    return _record_form(
        request, kind="separator", record=separator, form=form,
        formsets=[("Components", "components", components)],
        create=catalog_services.create_separator, update=catalog_services.update_separator,
    )


# ---------------------------------------------------------------- cells

def cell_list(request):
    qs = visible_cells(user=request.user).annotate(
        n_spectra=Count("spectra", filter=visible_q(request.user, "spectra__"), distinct=True)
    ).prefetch_related(None).select_related("separator", "group").order_by("name", "pk")
    f = CellFilter(request.GET, queryset=qs)
    page, query = paginate(request, f.qs)
    return render(request, "catalog/cell_list.html", list_context(f, page, query, ["configuration", "housing", "electrode_contact"]))


def _cell_overlay(spectra_qs, user) -> list[tuple[str, object, object]]:
    """At most MAX_SPECTRA_IN_OVERLAY spectra spread evenly over the cell's cycles and time."""
    ids = list(spectra_qs.order_by("cycle_index", "elapsed_time_h", "measured_at", "pk").values_list("pk", flat=True))
    if len(ids) > MAX_SPECTRA_IN_OVERLAY:
        step = (len(ids) - 1) / (MAX_SPECTRA_IN_OVERLAY - 1)
        ids = [ids[round(i * step)] for i in range(MAX_SPECTRA_IN_OVERLAY)]
    chosen = {s.pk: s for s in visible_spectra(user=user, with_arrays=True).filter(pk__in=ids)}
    traces = []
    for pk in ids:
        s = chosen[pk]
        parts = [s.label or f"#{s.pk}"]
        if s.cycle_index is not None:
            parts.append(f"cycle {s.cycle_index}")
        if s.elapsed_time_h is not None:
            parts.append(f"{s.elapsed_time_h:g} h")
        traces.append((", ".join(parts), s.frequencies_hz, s.impedance_ohm))
    return traces


def cell_figures(cell: Cell, user) -> dict[str, str]:
    spectra = visible_spectra(user=user).filter(cell=cell)
    points = interfacial_points(spectra, user)
    x = "elapsed_time_h" if any(p.elapsed_time_h is not None for p in points) else "cycle_index"
    return {
        "pressure": figure_json(plots.pressure_history_figure(cell.pressure_steps.all())),
        "spectra": figure_json(nyquist_figure(_cell_overlay(spectra, user), title="Spectra over cycles and time")),
        "interfacial": figure_json(plots.interfacial_figure(points, x=x, title="Interfacial resistance over time")),
    }


def cell_detail(request, pk: int):
    cell = _visible_or_404(visible_cells(user=request.user), pk)
    spectra_qs = visible_spectra(user=request.user).filter(cell=cell).order_by("cycle_index", "elapsed_time_h", "pk")
    page, query = paginate(request, spectra_qs, per_page=50)
    layers = cell.layers.select_related("separator", "electrode", "material")
    spectrum_ids = list(spectra_qs.values_list("pk", flat=True)[:200])
    context = {
        "cell": cell,
        "layers": layers,
        "steps": cell.pressure_steps.all(),
        "interfaces": visible_interfaces(user=request.user).filter(cells=cell),
        "separator_visible": cell.separator_id
        and visible_separators(user=request.user).filter(pk=cell.separator_id).exists(),
        "page": page,
        "query": query,
        "figures": cell_figures(cell, request.user),
        "plots_url": reverse("catalog:cell-plots", args=[cell.pk]),
        "can_edit": can_edit(cell, request.user),
        **_jobs_context(request.user, [("cell", [cell.pk]), ("spectrum", spectrum_ids)]),
    }
    return render(request, "catalog/cell_detail.html", context)


def cell_plots(request, pk: int):
    cell = _visible_or_404(visible_cells(user=request.user), pk)
    return JsonResponse({"figures": cell_figures(cell, request.user)})


def _layer_initial(cell: Cell) -> list[dict]:
    return [
        {
            "kind": layer.kind,
            "separator": layer.separator_id,
            "electrode": layer.electrode_id,
            "material": layer.material_id,
            "thickness_um": layer.thickness_um,
            "description": layer.description,
        }
        for layer in cell.layers.all()
    ]


def _step_initial(cell: Cell) -> list[dict]:
    return [
        {
            "phase": s.phase,
            "pressure_mpa": s.pressure_mpa,
            "duration_min": s.duration_min,
            "temperature_c": s.temperature_c,
            "notes": s.notes,
        }
        for s in cell.pressure_steps.all()
    ]


@login_required
def cell_edit(request, pk: int | None = None):
    cell = None
    if pk is not None:
        cell = _visible_or_404(visible_cells(user=request.user), pk)
        if not can_edit(cell, request.user):
            raise PermissionDenied("Only members of the owning group can edit this cell.")
    separators = visible_separators(user=request.user).prefetch_related(None)
    electrodes = visible_electrodes(user=request.user)
    form = CellForm(request.POST or None, instance=cell)
    form.setup_ownership(request.user, editing=cell is not None)
    form.limit_choices(separators=separators, interfaces=visible_interfaces(user=request.user).prefetch_related(None))
    layers = LayerFormSet(
        request.POST or None,
        prefix="layers",
        initial=_layer_initial(cell) if cell else None,
        form_kwargs={"separators": separators, "electrodes": electrodes},
    )
    steps = PressureStepFormSet(request.POST or None, prefix="steps", initial=_step_initial(cell) if cell else None)
    return _record_form(
        request, kind="cell", record=cell, form=form,
        formsets=[("Layer stack (bottom to top)", "layers", layers), ("Stack-pressure history", "pressure_steps", steps)],
        create=catalog_services.create_cell, update=catalog_services.update_cell,
        extra=lambda form: {"interfaces": list(form.cleaned_data.get("interfaces") or [])},
    )


@login_required
def electrode_create(request):
    """A new electrode (composite or metal foil) for cell layer stacks."""
    form = ElectrodeForm(request.POST or None)
    form.setup_ownership(request.user, editing=False)
    if request.method == "POST" and form.is_valid():
        fields = {name: form.cleaned_data[name] for name in ElectrodeForm.Meta.fields}
        fields.update({k: v for k, v in form.ownership().items() if k != "group"})
        try:
            electrode = catalog_services.create_electrode(user=request.user, group=form.cleaned_data["group"], **fields)
        except ValidationError as error:
            _apply_service_errors(error, form)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Electrode “{electrode.name}” is available in the cell form's layer stack.")
            return redirect("catalog:cell-list")
    return render(request, "catalog/electrode_form.html", {"form": form})


# ---------------------------------------------------------------- interfaces

def interface_list(request):
    f = InterfaceFilter(request.GET, queryset=visible_interfaces(user=request.user).prefetch_related(None).annotate(
        n_evidence=Count("evidence", distinct=True)
    ).order_by("name", "pk"))
    page, query = paginate(request, f.qs)
    return render(request, "catalog/interface_list.html", list_context(f, page, query, ["technique", "has_interlayer"]))


def interface_figures(interface: Interface, user) -> dict[str, str]:
    spectra = visible_spectra(user=user).filter(cell__in=visible_cells(user=user).filter(interfaces=interface).values("pk"))
    points = interfacial_points(spectra, user)
    return {
        "pressure": figure_json(plots.interfacial_figure(points, x="stack_pressure_mpa", title="Interfacial resistance against stack pressure")),
        "time": figure_json(plots.interfacial_figure(points, x="elapsed_time_h", title="Interfacial resistance over time")),
    }


def interface_detail(request, pk: int):
    interface = _visible_or_404(visible_interfaces(user=request.user), pk)
    cross = set(interface.cross_validated_assignments)
    rows = list(interface.evidence.all())
    evidence = [{"row": e, "cross_validated": e.assigned_species.strip().lower() in cross} for e in rows]
    # Show an assignment as first entered, not as the lower-cased matching key.
    spelled: dict[str, str] = {}
    for e in sorted(rows, key=lambda e: e.pk):
        spelled.setdefault(e.assigned_species.strip().lower(), e.assigned_species.strip())
    context = {
        "interface": interface,
        "evidence": evidence,
        "cross_validated": sorted(spelled[key] for key in cross),
        "cells": visible_cells(user=request.user).filter(interfaces=interface),
        "figures": interface_figures(interface, request.user),
        "plots_url": reverse("catalog:interface-plots", args=[interface.pk]),
        "can_edit": can_edit(interface, request.user),
    }
    return render(request, "catalog/interface_detail.html", context)


def interface_plots(request, pk: int):
    interface = _visible_or_404(visible_interfaces(user=request.user), pk)
    return JsonResponse({"figures": interface_figures(interface, request.user)})


def _evidence_initial(interface: Interface) -> list[dict]:
    keys = ["technique", "assigned_species", "termination", "measured_value", "computed_value", "value_unit", "notes"]
    return [{k: getattr(e, k) for k in keys} for e in interface.evidence.all()]


@login_required
def interface_edit(request, pk: int | None = None):
    interface = None
    if pk is not None:
        interface = _visible_or_404(visible_interfaces(user=request.user), pk)
        if not can_edit(interface, request.user):
            raise PermissionDenied("Only members of the owning group can edit this interface.")
    form = InterfaceForm(request.POST or None, instance=interface)
    form.setup_ownership(request.user, editing=interface is not None)
    evidence = EvidenceFormSet(request.POST or None, prefix="evidence", initial=_evidence_initial(interface) if interface else None)
    return _record_form(
        request, kind="interface", record=interface, form=form,
        formsets=[("Characterisation evidence", "evidence", evidence)],
        create=catalog_services.create_interface, update=catalog_services.update_interface,
    )


# ---------------------------------------------------------------- compare

def _differing(rows: list[tuple[str, list]]) -> list[dict]:
    return [{"label": label, "values": values, "differs": len({str(v) for v in values}) > 1} for label, values in rows]


def _fmt(value, unit: str = "") -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}{' ' + unit if unit else ''}"
    return f"{value}{' ' + unit if unit else ''}"


def _compare_separators(user, ids: list[int]) -> dict:
    found = {s.pk: s for s in visible_separators(user=user).filter(pk__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise Http404("No such separator.")
    records = [found[i] for i in ids]
    arrhenius: dict[int, dict] = {s.pk: {} for s in records}
    for fit in visible_arrhenius_fits(user=user).filter(separator__in=records, form="sigma_t").order_by("-protocol__is_standard"):
        arrhenius[fit.separator_id].setdefault(fit.kind, fit)

    def ea(s):
        fit = arrhenius[s.pk].get(ConductivityKind.TOTAL)
        if fit is None or fit.activation_energy_ev is None:
            return "—"
        err = f" ± {fit.activation_energy_stderr_ev:.3f}" if fit.activation_energy_stderr_ev is not None else ""
        return f"{fit.activation_energy_ev:.3f}{err} eV"

    def sigma25(s):
        fit = arrhenius[s.pk].get(ConductivityKind.TOTAL)
        return _fmt(fit.sigma_25c_s_per_cm, "S/cm") if fit and fit.sigma_25c_s_per_cm else "—"

    rows = _differing(
        [
            ("Group", [s.group.name for s in records]),
            ("Family", [_family_of(s) for s in records]),
            ("Composition", ["; ".join(str(c) for c in s.components.all()) or "—" for s in records]),
            ("Form", [s.get_form_display() for s in records]),
            ("Processing route", [s.get_processing_route_display() or "—" for s in records]),
            ("Densification pressure", [_fmt(s.densification_pressure_mpa, "MPa") for s in records]),
            ("Densification temperature", [_fmt(s.densification_temperature_c, "°C") for s in records]),
            ("Sintering temperature", [_fmt(s.sintering_temperature_c, "°C") for s in records]),
            ("Atmosphere", [s.processing_atmosphere or "—" for s in records]),
            ("Thickness", [_fmt(s.thickness_um, "µm") for s in records]),
            ("Thickness method", [s.get_thickness_method_display() or "—" for s in records]),
            ("Area", [_fmt(s.area_cm2, "cm²") for s in records]),
            ("Relative density", [_fmt(s.relative_density) for s in records]),
            ("σ total at 25 °C", [sigma25(s) for s in records]),
            ("Ea (total)", [ea(s) for s in records]),
            ("Source", [str(s.source) if s.source else "—" for s in records]),
        ]
    )
    series = []
    for s in records:
        series.extend(arrhenius_series_for(s, user))
    nyquist = []
    for s in records:
        spectrum = (
            visible_spectra(user=user, with_arrays=True)
            .filter(cell__separator=s)
            .annotate(distance_from_25c=Abs(F("temperature_c") - 25.0))
            .order_by(F("distance_from_25c").asc(nulls_last=True), "pk")
            .first()
        )
        if spectrum is not None:
            nyquist.append((f"{s.name}: {spectrum.label or spectrum.pk}", spectrum.frequencies_hz, spectrum.impedance_ohm))
    figures = {
        "nyquist": figure_json(nyquist_figure(nyquist, title="Nyquist (per separator, the spectrum nearest 25 °C)")),
        "arrhenius": figure_json(plots.arrhenius_figure(series, title="Arrhenius")),
    }
    links = [(s.name, reverse("catalog:separator-detail", args=[s.pk])) for s in records]
    return {"rows": rows, "figures": figures, "links": links}


def _compare_spectra(user, ids: list[int]) -> dict:
    found = {s.pk: s for s in visible_spectra(user=user, with_arrays=True).filter(pk__in=ids)}
    if any(i not in found for i in ids):
        raise Http404("No such spectrum.")
    records = [found[i] for i in ids]
    rows = _differing(
        [
            ("Cell", [s.cell.name for s in records]),
            ("Separator", [s.cell.separator.name if s.cell.separator else "—" for s in records]),
            ("Configuration", [s.cell.get_configuration_display() for s in records]),
            ("Temperature", [_fmt(s.temperature_c, "°C") for s in records]),
            ("Stack pressure", [_fmt(s.stack_pressure_mpa, "MPa") for s in records]),
            ("Atmosphere", [s.get_atmosphere_display() or "—" for s in records]),
            ("Cycle", [_fmt(s.cycle_index) for s in records]),
            ("Elapsed time", [_fmt(s.elapsed_time_h, "h") for s in records]),
            ("State of charge", [_fmt(s.state_of_charge) for s in records]),
            ("DC bias", [_fmt(s.dc_bias_v, "V") for s in records]),
            ("AC amplitude", [_fmt(s.ac_amplitude_mv, "mV") for s in records]),
            ("Frequency range", [f"{s.frequency_min_hz:.3g} – {s.frequency_max_hz:.3g} Hz" for s in records]),
            ("Points", [s.n_points for s in records]),
            ("Instrument", [s.instrument or "—" for s in records]),
            ("Group", [s.group.name for s in records]),
        ]
    )
    nyquist = [(s.label or f"Spectrum {s.pk}", s.frequencies_hz, s.impedance_ohm) for s in records]
    separators = []
    for s in records:
        if s.cell.separator_id and s.cell.separator_id not in [x.pk for x in separators]:
            sep = visible_separators(user=user).filter(pk=s.cell.separator_id).first()
            if sep is not None:
                separators.append(sep)
    series = [item for sep in separators for item in arrhenius_series_for(sep, user)]
    figures = {
        "nyquist": figure_json(nyquist_figure(nyquist, title="Nyquist overlay")),
        # Blocking-electrode tails dominate a Nyquist overlay; |Z| and phase on log axes show every decade.
        "bode": figure_json(bode_figure(nyquist)),
        "arrhenius": figure_json(plots.arrhenius_figure(series, title="Arrhenius of their separators")),
    }
    links = [(s.label or f"Spectrum {s.pk}", reverse("measurements:spectrum-detail", args=[s.pk])) for s in records]
    return {"rows": rows, "figures": figures, "links": links}


def compare(request):
    form = CompareForm(request.GET or None)
    context: dict = {"form": form, "ids_text": ", ".join(request.GET.getlist("ids"))}
    if form.is_bound and form.is_valid():
        kind, ids = form.cleaned_data["kind"], form.cleaned_data["ids"]
        builder = _compare_separators if kind == "separator" else _compare_spectra
        context.update(builder(request.user, ids), kind=kind, ids_text=", ".join(str(i) for i in ids))
    context["recent_separators"] = visible_separators(user=request.user).prefetch_related(None).order_by("-created_at")[:30]
    return render(request, "catalog/compare.html", context)

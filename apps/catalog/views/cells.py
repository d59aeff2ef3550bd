"""Cell pages (list, detail with pressure history, spectra and interfacial resistance, plots as JSON,
create and edit) and the electrode form their layer stacks use."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.accounts.references import visible_reference
from apps.accounts.selectors import can_edit
from apps.analysis.selectors import series_model_rows
from apps.measurements.selectors import (
    visible_ccd_tests, visible_dc_polarisations, visible_spectra, visible_spectrum_counts,
)

from .. import services as catalog_services
from ..figures import cell_figures
from ..forms import CellForm, ElectrodeForm, LayerFormSet, PressureStepFormSet
from ..models import Cell
from ..selectors import visible_cells, visible_electrodes, visible_interfaces, visible_separators
from .common import apply_service_errors, jobs_context, list_context, paginate, record_form, visible_or_404
from .list_filters import CellFilter


def cell_list(request):
    qs = visible_cells(user=request.user).prefetch_related(None).select_related("separator", "group").order_by("name", "pk")
    f = CellFilter(request.GET, queryset=qs, request=request)
    page, query = paginate(request, f.qs)
    counts = visible_spectrum_counts(user=request.user, cell_ids=[c.pk for c in page])
    for c in page:
        c.n_spectra = counts.get(c.pk, 0)
    return render(request, "catalog/cell_list.html", list_context(f, page, query, ["configuration", "housing", "electrode_contact"]))


def cell_detail(request, pk: int):
    cell = visible_or_404(visible_cells(user=request.user), pk)
    spectra_qs = visible_spectra(user=request.user).filter(cell=cell).order_by("cycle_index", "elapsed_time_h", "pk")
    figures = cell_figures(cell, request.user)
    # The figures' query counted the same visible spectra.
    page, query = paginate(request, spectra_qs, per_page=50, count=figures.total)
    layers = cell.layers.select_related("separator", "electrode", "material")
    spectrum_ids = spectra_qs  # looked up per job (EXISTS), never read out
    context = {
        "cell": cell,
        "layers": layers,
        "steps": cell.pressure_steps.all(),
        "interfaces": visible_interfaces(user=request.user).filter(cells=cell),
        "separator_visible": visible_reference(request.user, cell.separator) is not None,
        "page": page,
        "query": query,
        "figures": figures.figures,
        "figures_drawn": figures,
        "plots_url": reverse("catalog:cell-plots", args=[cell.pk]),
        "can_edit": can_edit(cell, request.user),
        "dc_polarisations": visible_dc_polarisations(user=request.user).filter(cell=cell).order_by("measured_at", "pk"),
        "ccd_tests": visible_ccd_tests(user=request.user).filter(cell=cell).order_by("measured_at", "pk"),
        "series_models": series_model_rows(spectrum_ids=spectrum_ids),
        **jobs_context(request.user, [("cell", [cell.pk]), ("spectrum", spectrum_ids)]),
    }
    return render(request, "catalog/cell_detail.html", context)


def cell_plots(request, pk: int):
    cell = visible_or_404(visible_cells(user=request.user), pk)
    return JsonResponse({"figures": cell_figures(cell, request.user).figures})


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
        cell = visible_or_404(visible_cells(user=request.user), pk)
        if not can_edit(cell, request.user):
            raise PermissionDenied("Only members of the owning group can edit this cell.")
    separators = visible_separators(user=request.user).prefetch_related(None)
    electrodes = visible_electrodes(user=request.user)
    form = CellForm(request.POST or None, instance=cell)
    form.setup_ownership(request.user, editing=cell is not None)
    form.setup_source(cell)
    form.limit_choices(separators=separators, interfaces=visible_interfaces(user=request.user).prefetch_related(None))
    layers = LayerFormSet(
        request.POST or None,
        prefix="layers",
        initial=_layer_initial(cell) if cell else None,
        form_kwargs={"separators": separators, "electrodes": electrodes},
    )
    steps = PressureStepFormSet(request.POST or None, prefix="steps", initial=_step_initial(cell) if cell else None)
    return record_form(
        request, kind="cell", record=cell, form=form,
        formsets=[("Layer stack (bottom to top)", "layers", layers), ("Stack-pressure history", "pressure_steps", steps)],
        create=catalog_services.create_cell, update=catalog_services.update_cell,
        extra=lambda form: {
            "interfaces": list(form.cleaned_data.get("interfaces") or []),
            "publish_references": bool(form.cleaned_data.get("publish_references")),
            **form.source_values(),
        },
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
            apply_service_errors(error, form)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Electrode “{electrode.name}” is available in the cell form's layer stack.")
            return redirect("catalog:cell-list")
    return render(request, "catalog/electrode_form.html", {"form": form})

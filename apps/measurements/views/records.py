"""Pages and forms of the cell measurements that are not spectra: DC polarisations (electronic conductivity)
and critical-current-density tests."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render

from apps.accounts.selectors import can_edit
from apps.catalog.views import apply_service_errors

from .. import plots
from ..forms import CCDTestForm, DCPolarisationForm
from ..selectors import visible_ccd_tests, visible_dc_polarisations
from ..serializers import electronic_conductivity_reading
from ..services import create_ccd_test, create_dc_polarisation, update_cell_measurement
from .common import writable_cells


def dc_polarisation_detail(request, pk: int):
    dc = get_object_or_404(visible_dc_polarisations(user=request.user).select_related("cell__separator", "group"), pk=pk)
    if dc.time_s:
        figure = plots.dc_polarisation_figure(dc.time_s, dc.current_a, steady_current_a=dc.steady_current_a, voltage_v=dc.voltage_v)
    else:
        figure = plots.message_figure("No current trace was recorded; ΔV and I_ss are listed beside.", "Current during DC polarisation")
    context = {
        "dc": dc,
        "sigma_e": electronic_conductivity_reading(dc, user=request.user),
        "figures": {"current": plots.figure_json(figure)},
        "can_edit": can_edit(dc, request.user),
    }
    return render(request, "measurements/dc_polarisation_detail.html", context)


def ccd_test_detail(request, pk: int):
    test = get_object_or_404(visible_ccd_tests(user=request.user).select_related("cell", "group"), pk=pk)
    steps = test.steps()
    figure = plots.ccd_figure(steps) if steps else plots.message_figure(
        "The cell did not fail: no failing step to draw.", "Current-density steps")
    context = {"test": test, "steps": steps, "figures": {"steps": plots.figure_json(figure)}, "can_edit": can_edit(test, request.user)}
    return render(request, "measurements/ccd_test_detail.html", context)


def _cell_measurement_form(request, pk: int | None, *, selector, form_class, create, detail_url: str, title: str):
    """Create (or, with `pk`, edit) a DC polarisation or CCD test through its measurement service."""
    record = _editable_or_none(request, selector, pk)
    cells = writable_cells(request.user)
    initial = {"cell": int(request.GET["cell"])} if request.GET.get("cell", "").isdigit() else None
    form = form_class(request.POST or None, instance=record, initial=initial, cells=cells)
    if request.method == "POST" and form.is_valid():
        try:
            if record is None:
                record = create(cell=form.cleaned_data["cell"], user=request.user, **form.service_fields())
            else:
                record = update_cell_measurement(
                    record=record, user=request.user, cell=form.cleaned_data["cell"], **form.service_fields()
                )
        except ValidationError as error:
            apply_service_errors(error, form)
        except PermissionDenied as error:
            form.add_error("cell", str(error))
        else:
            messages.success(request, f"{record} saved.")
            return redirect(detail_url, pk=record.pk)
    return render(request, "measurements/cell_measurement_form.html", {"form": form, "title": title, "record": record})


@login_required
def dc_polarisation_edit(request, pk: int | None = None):
    return _cell_measurement_form(
        request, pk, selector=visible_dc_polarisations, form_class=DCPolarisationForm, create=create_dc_polarisation,
        detail_url="measurements:dc-polarisation-detail", title="DC polarisation",
    )


@login_required
def ccd_test_edit(request, pk: int | None = None):
    return _cell_measurement_form(
        request, pk, selector=visible_ccd_tests, form_class=CCDTestForm, create=create_ccd_test,
        detail_url="measurements:ccd-test-detail", title="Critical-current-density test",
    )


def _editable_or_none(request, selector, pk: int | None):
    if pk is None:
        return None
    record = get_object_or_404(selector(user=request.user), pk=pk)
    if not can_edit(record, request.user):
        raise PermissionDenied("Only members of the owning group can edit this record.")
    return record

"""Separator pages: list, detail (with its Arrhenius plot), plots as JSON, create and edit."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse

from apps.accounts.selectors import can_edit, visible_q
from apps.analysis.selectors import visible_arrhenius_fits
from apps.benchmarks import comparisons
from apps.measurements.selectors import visible_spectra

from .. import services as catalog_services
from ..comparison import family_label
from ..figures import separator_figures
from ..forms import ComponentFormSet, SeparatorForm
from ..models import Separator
from ..selectors import visible_cells, visible_separators
from .common import jobs_context, list_context, paginate, record_form, visible_or_404
from .list_filters import SeparatorFilter

CELLS_PER_PAGE = 50


def separator_list(request):
    f = SeparatorFilter(request.GET, queryset=visible_separators(user=request.user).annotate(
        n_cells=Count("cells", filter=visible_q(request.user, "cells__"), distinct=True)
    ).order_by("name", "pk"), request=request)
    page, query = paginate(request, f.qs)
    return render(request, "catalog/separator_list.html", list_context(f, page, query, ["family", "processing_route", "form"]))


def separator_detail(request, pk: int):
    separator = visible_or_404(visible_separators(user=request.user), pk)
    # A separator may carry hundreds of cells: its table is paged, and shows nothing of their layers or steps.
    cells = visible_cells(user=request.user).filter(separator=separator).prefetch_related(None).order_by("name", "pk")
    cells_page, query = paginate(request, cells, per_page=CELLS_PER_PAGE)
    spectrum_ids = visible_spectra(user=request.user).filter(cell__separator=separator)
    context = {
        "separator": separator,
        "family": family_label(separator),
        "page": cells_page,
        "query": query,
        "arrhenius_fits": visible_arrhenius_fits(user=request.user).filter(separator=separator).order_by("kind", "form"),
        "figures": separator_figures(separator, request.user),
        "plots_url": reverse("catalog:separator-plots", args=[separator.pk]),
        "can_edit": can_edit(separator, request.user),
        "round_robin": comparisons.separator_round_robin(separator=separator, user=request.user),
        "accepted": comparisons.acceptances(separator=separator, user=request.user),
        **jobs_context(request.user, [("separator", [separator.pk]), ("spectrum", spectrum_ids)]),
    }
    return render(request, "catalog/separator_detail.html", context)


def separator_plots(request, pk: int):
    separator = visible_or_404(visible_separators(user=request.user), pk)
    return JsonResponse({"figures": separator_figures(separator, request.user)})


def _component_initial(separator: Separator) -> list[dict]:
    return [
        {"material": c.material_id, "role": c.role, "fraction": c.fraction, "fraction_basis": c.fraction_basis}
        for c in separator.components.all()
    ]


@login_required
def separator_edit(request, pk: int | None = None):
    separator = None
    if pk is not None:
        separator = visible_or_404(visible_separators(user=request.user), pk)
        if not can_edit(separator, request.user):
            raise PermissionDenied("Only members of the owning group can edit this separator.")
    form = SeparatorForm(request.POST or None, instance=separator)
    form.setup_ownership(request.user, editing=separator is not None)
    form.setup_source(separator)
    components = ComponentFormSet(
        request.POST or None, prefix="components", initial=_component_initial(separator) if separator else None
    )
    return record_form(
        request, kind="separator", record=separator, form=form,
        formsets=[("Components", "components", components)],
        create=catalog_services.create_separator, update=catalog_services.update_separator,
        extra=lambda form: form.source_values(),
    )

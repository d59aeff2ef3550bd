"""Interface pages: list, detail (evidence and interfacial resistance), plots as JSON, create and edit."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse

from apps.accounts.selectors import can_edit

from .. import services as catalog_services
from ..figures import interface_figures
from ..forms import EvidenceFormSet, InterfaceForm
from ..models import Interface
from ..selectors import visible_cells, visible_interfaces
from .common import list_context, paginate, record_form, visible_or_404
from .list_filters import InterfaceFilter


def interface_list(request):
    f = InterfaceFilter(request.GET, queryset=visible_interfaces(user=request.user).prefetch_related(None).annotate(
        n_evidence=Count("evidence", distinct=True)
    ).order_by("name", "pk"), request=request)
    page, query = paginate(request, f.qs)
    return render(request, "catalog/interface_list.html", list_context(f, page, query, ["technique", "has_interlayer"]))


def interface_detail(request, pk: int):
    interface = visible_or_404(visible_interfaces(user=request.user), pk)
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
    interface = visible_or_404(visible_interfaces(user=request.user), pk)
    return JsonResponse({"figures": interface_figures(interface, request.user)})


def _evidence_initial(interface: Interface) -> list[dict]:
    keys = ["technique", "assigned_species", "termination", "measured_value", "computed_value", "value_unit", "notes"]
    return [{k: getattr(e, k) for k in keys} for e in interface.evidence.all()]


@login_required
def interface_edit(request, pk: int | None = None):
    interface = None
    if pk is not None:
        interface = visible_or_404(visible_interfaces(user=request.user), pk)
        if not can_edit(interface, request.user):
            raise PermissionDenied("Only members of the owning group can edit this interface.")
    form = InterfaceForm(request.POST or None, instance=interface)
    form.setup_ownership(request.user, editing=interface is not None)
    evidence = EvidenceFormSet(request.POST or None, prefix="evidence", initial=_evidence_initial(interface) if interface else None)
    return record_form(
        request, kind="interface", record=interface, form=form,
        formsets=[("Characterisation evidence", "evidence", evidence)],
        create=catalog_services.create_interface, update=catalog_services.update_interface,
    )

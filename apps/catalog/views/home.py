"""Home page and search."""
from __future__ import annotations

from django.db.models import Count, Q
from django.shortcuts import render

from apps.benchmarks.models import Metric
from apps.benchmarks.selectors import leaderboard
from apps.common.pagination import RowCount, count_rows
from apps.measurements.selectors import visible_spectra

from ..forms import SearchForm
from ..models import MaterialFamily, SeparatorComponent
from ..selectors import all_materials, all_sources, visible_cells, visible_interfaces, visible_separators


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
            "separators": RowCount(separators.count(), True),
            "cells": RowCount(visible_cells(user=user).count(), True),
            "interfaces": RowCount(visible_interfaces(user=user).count(), True),
            # Exact up to a limit, then PostgreSQL's estimate: an exact count of a million spectra reads them all.
            "spectra": count_rows(spectra),
            "materials": RowCount(all_materials().count(), True),
        },
        "families": [(families.get(row["components__material__family"], "Other"), row["n"]) for row in family_counts],
        "latest_spectra": spectra.order_by("-created_at", "-pk")[:8],
        "top_entries": _top_benchmarks(user),
    }
    return render(request, "catalog/home.html", context)


def _top_benchmarks(user) -> list:
    """The top of the public σ(25 °C) leaderboard: released numbers, each naming its release."""
    return leaderboard(user=user, metric=Metric.SIGMA_25C_TOTAL, limit=5, released_only=True)


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

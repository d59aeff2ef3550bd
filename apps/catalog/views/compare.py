"""The compare page: separators, cells, interfaces or spectra side by side."""
from __future__ import annotations

from django.shortcuts import render

from ..comparison import compare_cells, compare_interfaces, compare_separators, compare_spectra
from ..forms import CompareForm
from ..selectors import visible_separators


def compare(request):
    form = CompareForm(request.GET or None)
    context: dict = {"form": form, "ids_text": ", ".join(request.GET.getlist("ids"))}
    if form.is_bound and form.is_valid():
        kind, ids = form.cleaned_data["kind"], form.cleaned_data["ids"]
        builder = {"separator": compare_separators, "cell": compare_cells, "interface": compare_interfaces,
                   "spectrum": compare_spectra}[kind]
        context.update(builder(request.user, ids), kind=kind, ids_text=", ".join(str(i) for i in ids))
    context["recent_separators"] = visible_separators(user=request.user).prefetch_related(None).order_by("-created_at")[:30]
    return render(request, "catalog/compare.html", context)

"""Material pages: list, detail, create."""
from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render

from .. import services as catalog_services
from ..forms import MaterialForm
from ..selectors import all_materials, visible_separators
from .common import apply_service_errors, list_context, paginate
from .list_filters import MaterialFilter


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
            apply_service_errors(error, form)
        else:
            messages.success(request, f"Material “{material.name}” is available in the forms.")
            return redirect("catalog:material-detail", pk=material.pk)
    return render(request, "catalog/material_form.html", {"form": form})


def material_detail(request, pk: int):
    material = get_object_or_404(all_materials(), pk=pk)
    separators = visible_separators(user=request.user).filter(components__material=material).distinct()[:50]
    return render(request, "catalog/material_detail.html", {"material": material, "separators": separators})

"""What every catalog page shares: pagination, list filters' labels, the 404 rule for hidden records,
the create/edit flow of records and the jobs panel."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from apps.jobs.models import Job
from apps.analysis.selectors import visible_jobs
from apps.common.pagination import BoundedPaginator

from ..forms import formset_rows

PAGE_SIZE = 25


def paginate(request, queryset, per_page: int = PAGE_SIZE, count: int | None = None):
    """The requested page and the query string without `page`; ``count``, when the caller has already
    counted the rows (e.g. in its figures' query), spares the paginator a second count of them."""
    page = BoundedPaginator(queryset, per_page, known_count=count).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


def list_context(filterset, page, query: str, primary: list[str]) -> dict:
    """Context of a list page; `primary` filters show first, the others behind “More filters” (labels: the FilterSet's own)."""
    more_used = any(
        filterset.data.get(name) not in (None, "") for name in filterset.form.fields if name not in primary and name != "q"
    )
    return {"filter": filterset, "page": page, "query": query, "filter_primary": primary, "filter_more_open": more_used}


def visible_or_404(queryset, pk: int):
    """The record if the user may see it; hidden and missing records are the same 404."""
    return get_object_or_404(queryset, pk=pk)


def apply_service_errors(error: ValidationError, form, formsets: dict | None = None) -> None:
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


def record_form(request, *, kind: str, record, form, formsets: list[tuple[str, str, object]], create, update,
                 extra=lambda form: {}):
    """The create/edit flow shared by separators, cells and interfaces.

    `formsets` are (title, service keyword, formset); `extra(form)` gives
    service arguments that are not plain model fields (it runs in the write's transaction). Writes go through the
    catalog service; its field-level errors land on the fields they name.
    """
    if request.method == "POST" and form.is_valid() and all(formset.is_valid() for _, _, formset in formsets):
        try:
            # One transaction: what extra() writes (a new source) goes away when the record is refused.
            with transaction.atomic():
                extra_values = extra(form)
                fields = {name: form.cleaned_data[name] for name in form.Meta.fields if name not in extra_values}
                fields.update({k: v for k, v in form.ownership().items() if k != "group"})
                fields.update(extra_values)
                fields.update({keyword: formset_rows(formset) for _, keyword, formset in formsets})
                if record is None:
                    record = create(user=request.user, group=form.cleaned_data["group"], **fields)
                    messages.success(request, f"{kind.capitalize()} “{record.name}” created.")
                else:
                    record = update(**{kind: record}, user=request.user, **fields)
                    messages.success(request, f"{kind.capitalize()} “{record.name}” saved.")
            return redirect(f"catalog:{kind}-detail", pk=record.pk)
        except ValidationError as error:
            apply_service_errors(error, form)
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


def jobs_for_targets(*, user, targets: list[tuple[str, list[int]]], limit: int = 30) -> list[Job]:
    """The newest jobs the user may see about the given records, e.g. [("spectrum", [1, 2]), ("cell", [7])].
    Ids may be a queryset of the records instead: then each job is looked up in it by primary key (EXISTS),
    so a separator's tens of thousands of spectra are never read out, only the jobs that name spectra."""
    condition = Q()
    for target_type, ids in targets:
        if isinstance(ids, QuerySet):
            condition |= Q(Exists(ids.filter(pk=OuterRef("target_id"))), target_type=target_type)
        elif ids:
            condition |= Q(target_type=target_type, target_id__in=ids)
    if not condition:
        return []
    return list(visible_jobs(user=user).filter(condition).order_by("-created_at", "-pk")[:limit])


def jobs_context(user, targets: list[tuple[str, list[int]]]) -> dict:
    jobs = jobs_for_targets(user=user, targets=targets)
    return {"jobs": jobs, "jobs_active": any(not j.is_finished for j in jobs)}

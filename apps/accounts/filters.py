"""Searches and filters that match only through records the viewer may see.

`?search=<name of a private separator>` on cells, or `?thickness_um_min=` on
spectra, would otherwise confirm a hidden record's name or numbers one guess
at a time. Every lookup that crosses a relation into an owned record (one with
a group and a visibility) is joined with that record's visibility rule
(`visible_q` with the relation's prefix) in the same condition, so a related
row the viewer cannot see never matches.
"""
from __future__ import annotations

import operator
from functools import reduce

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Exists, OuterRef, Q, QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from rest_framework.filters import SearchFilter
from rest_framework.settings import api_settings

from .models import OwnedRecord
from .selectors import visible_q


def related_visibility_q(model, lookup: str, user) -> Q:
    """`visible_q` of every owned record a lookup path (``cell__separator__name``) passes through on its way."""
    condition = Q()
    prefix = ""
    for name in lookup.split("__"):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            break  # a lookup or transform (icontains, date): the path ends here
        if not field.is_relation or field.related_model is None:
            break
        model = field.related_model
        prefix = f"{prefix}{name}__"
        if issubclass(model, OwnedRecord):
            condition &= visible_q(user, prefix)
    return condition


def _crosses_many(model, lookup: str) -> bool:
    for name in lookup.split("__"):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return False
        if not field.is_relation or field.related_model is None:
            return False
        if field.many_to_many or field.one_to_many:
            return True
        model = field.related_model
    return False


def through_visible(model, lookup: str, value, user) -> Q:
    """``Q(lookup=value)`` matching only through related records `user` may see."""
    return Q(**{lookup: value}) & related_visibility_q(model, lookup, user)


class VisibleSearchFilter(SearchFilter):
    """DRF's search, each related search field matched only through visible records."""

    def filter_queryset(self, request, queryset, view):
        search_fields = self.get_search_fields(view, request)
        search_terms = self.get_search_terms(request)
        if not search_fields or not search_terms:
            return queryset
        model = queryset.model
        lookups = [self.construct_search(str(field), queryset) for field in search_fields]
        user = request.user
        guards = {lookup: related_visibility_q(model, lookup, user) for lookup in lookups}
        conditions = (
            reduce(operator.or_, (Q(**{lookup: term}) & guards[lookup] for lookup in lookups)) for term in search_terms
        )
        base = queryset
        queryset = queryset.filter(reduce(operator.and_, conditions))
        if self.must_call_distinct(queryset, search_fields):
            queryset = base.filter(Exists(queryset.filter(pk=OuterRef("pk"))))
        return queryset


def restrict_filters(filterset, queryset: QuerySet, user) -> QuerySet:
    """The filtered rows, minus those matched only through a related record `user` may not see."""
    model = queryset.model
    for name, value in filterset.form.cleaned_data.items():
        if value in (None, "", [], ()):
            continue
        declared = filterset.filters.get(name)
        field_name = getattr(declared, "field_name", None) or ""
        guard = related_visibility_q(model, field_name, user)
        if not guard:
            continue
        if _crosses_many(model, field_name) and getattr(declared, "method", None) is None:
            # Through a many-valued relation the guard must hold for the same related row the filter
            # matched: one condition in one filter() call joins that row once.
            lookup = f"{field_name}__{declared.lookup_expr}"
            queryset = queryset.filter(Q(**{lookup: value}) & guard).distinct()
        else:
            queryset = queryset.filter(guard)
    return queryset


#: Query parameters that are never a FilterSet's: search, ordering, format and paging.
NON_FILTER_PARAMS = frozenset(
    {api_settings.SEARCH_PARAM, api_settings.ORDERING_PARAM, api_settings.URL_FORMAT_OVERRIDE, "cursor", "page_size"}
)


class VisibleFilterBackend(DjangoFilterBackend):
    """django-filter's backend; a filter through a relation matches only through visible related records."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        params = request.query_params.keys()
        if NON_FILTER_PARAMS.issuperset(params) and not filterset_class.base_filters.keys() & params:
            # No filter named: the FilterSet and its form (deep copies of every filter and form field, a fifth of
            # a list request's time) would leave the rows as they are.
            return queryset
        filterset = filterset_class(**self.get_filterset_kwargs(request, queryset, view))
        if not filterset.is_valid() and self.raise_exception:
            raise translate_validation(filterset.errors)
        return restrict_filters(filterset, filterset.qs, request.user)


class VisibleRelationsMixin:
    """For the pages' FilterSets (built with ``request=``): the same restriction as `VisibleFilterBackend`."""

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        return restrict_filters(self, queryset, getattr(self.request, "user", None))

    def through_visible(self, lookup: str, value) -> Q:
        return through_visible(self.queryset.model, lookup, value, getattr(self.request, "user", None))

"""The list pages' filters: the API's filter sets plus a free-text box.

Built with ``request=``: filters and the text box match through related records only when the
viewer may see them (`apps.accounts.filters`).
"""
from __future__ import annotations

import django_filters
from django.db.models import Q

from apps.accounts.filters import VisibleRelationsMixin

from ..filters import CellFilterSet, InterfaceFilterSet, MaterialFilterSet, SeparatorFilterSet


class SeparatorFilter(VisibleRelationsMixin, SeparatorFilterSet):
    """The API's separator filters plus a free-text box."""

    q = django_filters.CharFilter(method="search", label="Name or material")

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value)
            | Q(components__material__name__icontains=value)
            | Q(components__material__formula__icontains=value)
        ).distinct()


class CellFilter(VisibleRelationsMixin, CellFilterSet):
    q = django_filters.CharFilter(method="search", label="Name or separator")

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | self.through_visible("separator__name__icontains", value))


class InterfaceFilter(VisibleRelationsMixin, InterfaceFilterSet):
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

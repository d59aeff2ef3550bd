"""Filter types shared by the apps' FilterSets."""
import django_filters
from django import forms

MAX_BIGINT = 2**63 - 1


class IntegerFilter(django_filters.NumberFilter):
    """A whole-number filter (ids, counts, years): a value the database cannot hold is a 400, never an overflow."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", -MAX_BIGINT)
        kwargs.setdefault("max_value", MAX_BIGINT)
        super().__init__(*args, **kwargs)


class IdFilter(IntegerFilter):
    """A primary key."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        super().__init__(*args, **kwargs)

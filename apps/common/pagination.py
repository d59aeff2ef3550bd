"""Stable paging and ordering of every list: keyset (cursor) pagination `KeysetPagination` with its key terms
and cursor encoding, `StableOrderingFilter`, which always ends the order on the id, and `BoundedPaginator`,
the numbered pages of the web lists (counted like the API's, and only so deep)."""
from __future__ import annotations

import base64
import binascii
import datetime
import json
import math
from dataclasses import dataclass
from typing import NamedTuple

from django.core.exceptions import EmptyResultSet
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections
from django.db.models import F, Q, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.db.models.expressions import OrderBy
from django.utils.functional import cached_property
from rest_framework import exceptions
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import replace_query_param


@dataclass(frozen=True)
class KeyTerm:
    """One column of a keyset ordering: a field path (relations as their `_id` column), its direction, and
    whether it can be NULL. NULL sorts as the largest value (last ascending, first descending, which is
    PostgreSQL's default), so reversing every term reverses the whole order."""

    path: str
    descending: bool = False
    nullable: bool = False

    def order_by(self) -> OrderBy:
        if self.descending:
            return F(self.path).desc(nulls_first=True) if self.nullable else F(self.path).desc()
        return F(self.path).asc(nulls_last=True) if self.nullable else F(self.path).asc()

    def reversed(self) -> "KeyTerm":
        return KeyTerm(self.path, not self.descending, self.nullable)

    def equal(self, value) -> Q:
        return Q(**{f"{self.path}__isnull": True}) if value is None else Q(**{self.path: value})

    def after(self, value) -> list[Q]:
        """The rows strictly after `value` in this column's order, as index-friendly ranges in order."""
        if self.descending:
            return [Q(**{f"{self.path}__isnull": False})] if value is None else [Q(**{f"{self.path}__lt": value})]
        if value is None:
            return []
        ranges = [Q(**{f"{self.path}__gt": value})]
        return [*ranges, Q(**{f"{self.path}__isnull": True})] if self.nullable else ranges

    def value_of(self, obj):
        for name in self.path.split("__"):
            if obj is None:
                return None
            obj = getattr(obj, name)
        return obj


def _term_of(queryset: QuerySet, term) -> KeyTerm | None:
    """A KeyTerm from an order_by entry ("-name", "cell", F("x").desc()); None for what a keyset cannot use."""
    if isinstance(term, OrderBy) and isinstance(term.expression, F):
        name, descending = term.expression.name, term.descending
    elif isinstance(term, F):
        name, descending = term.name, False
    elif isinstance(term, str) and term != "?":
        name, descending = term.lstrip("-"), term.startswith("-")
    else:
        return None
    if name in queryset.query.annotations:
        return KeyTerm(name, descending, nullable=True)
    model, parts = queryset.model, name.split(LOOKUP_SEP)
    if parts == ["pk"]:
        return KeyTerm("pk", descending)
    field = None
    for index, part in enumerate(parts):
        field = model._meta.get_field(part)
        if field.is_relation and index < len(parts) - 1:
            model = field.related_model
    if field.is_relation:  # order by the foreign key's own column (index-backed), not the related model's ordering
        parts[-1] = field.attname
    if field.primary_key and len(parts) == 1:
        return KeyTerm("pk", descending)
    nullable = field.null or any(
        model_field.null for model_field in _path_fields(queryset.model, parts[:-1])
    )
    return KeyTerm(LOOKUP_SEP.join(parts), descending, nullable)


def _path_fields(model, parts: list[str]) -> list:
    fields = []
    for part in parts:
        field = model._meta.get_field(part)
        fields.append(field)
        model = field.related_model
    return fields


def keyset_ordered(queryset: QuerySet) -> tuple[QuerySet, list[KeyTerm]]:
    """The queryset ordered by its ordering (or the model's), foreign keys by their id, ending on the primary key,
    with NULLs placed the same way on every database; and the terms of that order for a keyset."""
    raw = list(queryset.query.order_by) or list(queryset.model._meta.ordering)
    terms: list[KeyTerm] = []
    for entry in raw:
        term = _term_of(queryset, entry)
        if term is not None and all(t.path != term.path for t in terms):
            terms.append(term)
        if term is not None and term.path == "pk":
            break
    if not terms or terms[-1].path != "pk":
        terms.append(KeyTerm("pk"))
    return queryset.order_by(*(term.order_by() for term in terms)), terms


def keyset_ranges(terms: list[KeyTerm], values: list, *, inclusive: bool = False) -> list[Q]:
    """The rows after the row with `values`, as disjoint ranges that follow each other in the order."""
    ranges = [Q(*(term.equal(value) for term, value in zip(terms, values)))] if inclusive else []
    for depth in range(len(terms) - 1, -1, -1):
        prefix = [term.equal(value) for term, value in zip(terms[:depth], values[:depth])]
        ranges += [Q(*prefix, after) for after in terms[depth].after(values[depth])]
    return ranges


def planner_row_estimate(queryset) -> int:
    """PostgreSQL's estimate of the rows `queryset` matches (EXPLAIN of its ids only: nothing is read); 0 for a
    queryset that matches nothing by construction (`.none()`: Django sends no query, so there is no plan)."""
    if queryset.query.is_empty():
        return 0
    try:
        plan = json.loads(queryset.order_by().values("pk").explain(format="json"))
    except (EmptyResultSet, ValueError):  # a condition Django knows to be always false: no plan either
        return 0
    return int(plan[0]["Plan"]["Plan Rows"])


class RowCount(NamedTuple):
    """How many rows a selection matches, and whether that is a count or PostgreSQL's estimate."""

    n: int
    exact: bool


def count_rows(queryset, *, exact_limit: int = 5_000, trusted_factor: int = 4) -> RowCount:
    """The rows `queryset` matches, and whether that is exact: exact up to `exact_limit` rows (a bounded scan), else
    PostgreSQL's row estimate, since an exact count of a large selection reads every row of it.

    On PostgreSQL the planner's estimate comes first (no rows read): when it is above `trusted_factor` times
    the limit the bounded count is skipped too (planner estimates of filtered lists are within a small factor,
    and even counting `exact_limit` rows reads thousands of them). Other databases count exactly."""
    postgres = connections[queryset.db].vendor == "postgresql"
    estimate = planner_row_estimate(queryset) if postgres else None
    if estimate is not None and estimate > trusted_factor * exact_limit:
        return RowCount(estimate, False)
    exact = queryset.order_by()[: exact_limit + 1].count()
    if exact <= exact_limit:
        return RowCount(exact, True)
    if not postgres:
        return RowCount(queryset.count(), True)
    return RowCount(max(estimate or 0, exact_limit + 1), False)


class CursorJSONEncoder(DjangoJSONEncoder):
    """Dates and times at full precision (DjangoJSONEncoder cuts microseconds, which would skip rows)."""

    def default(self, o):
        if isinstance(o, (datetime.date, datetime.time)):
            return o.isoformat()
        return super().default(o)


class KeysetPagination(BasePagination):
    """Cursor (keyset) pages: `next`/`previous` links carry the position of the page's last/first row, so a page
    costs the same at any depth (no OFFSET). Order: `?ordering=` or the list's default, always ending on the id.

    `count` is exact up to COUNT_EXACT_LIMIT matching rows (`count_exact: true`); beyond it, on PostgreSQL,
    it is the planner's estimate (`count_exact: false`), since an exact count would scan every row.
    """

    page_size = 50
    max_page_size = 500
    page_size_query_param = "page_size"
    cursor_query_param = "cursor"
    COUNT_EXACT_LIMIT = 5_000
    #: An estimate above this many times COUNT_EXACT_LIMIT is returned without any count (planner estimates of
    #: filtered lists are within a small factor; far above the limit a bounded count could only confirm "more").
    ESTIMATE_TRUSTED_FACTOR = 4
    invalid_cursor_message = "Invalid cursor: use the `next` or `previous` link of a page as it is."

    def get_page_size(self, request) -> int:
        try:
            size = int(request.query_params[self.page_size_query_param])
        except (KeyError, ValueError):
            return self.page_size
        return min(size, self.max_page_size) if size > 0 else self.page_size

    def decode_cursor(self, request) -> dict | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if not encoded:
            return None
        try:
            cursor = json.loads(base64.urlsafe_b64decode(encoded.encode("ascii")))
            if not isinstance(cursor, dict) or not isinstance(cursor.get("p"), list):
                raise ValueError
            return cursor
        except (ValueError, TypeError, UnicodeError, binascii.Error):
            raise exceptions.ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from None

    def encode_cursor(self, values: list, *, reverse: bool = False, inclusive: bool = False) -> str:
        cursor = {"p": values, "r": int(reverse)}
        if inclusive:
            cursor["i"] = 1
        text = json.dumps(cursor, cls=CursorJSONEncoder, separators=(",", ":"))
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, base64.urlsafe_b64encode(text.encode()).decode())

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size_now = self.get_page_size(request)
        queryset, terms = keyset_ordered(queryset)
        cursor = self.decode_cursor(request)
        reverse = bool(cursor and cursor.get("r"))
        if cursor is not None and len(cursor["p"]) != len(terms):
            raise exceptions.ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})
        walk_terms = [term.reversed() for term in terms] if reverse else terms
        walk = queryset.order_by(*(term.order_by() for term in walk_terms))
        wanted = self.page_size_now + 1
        if cursor is None:
            rows = list(walk[:wanted])
        else:
            rows = []
            for condition in keyset_ranges(walk_terms, cursor["p"], inclusive=bool(cursor.get("i"))):
                try:
                    rows += walk.filter(condition)[: wanted - len(rows)]
                except (DjangoValidationError, ValueError, TypeError):
                    raise exceptions.ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from None
                if len(rows) >= wanted:
                    break
        more = len(rows) > self.page_size_now
        if cursor is None and not more:
            self.count, self.count_exact = len(rows), True  # the first page holds every match: no count query
        else:
            self.count, self.count_exact = self.estimate_count(queryset)
        rows = rows[: self.page_size_now]
        if reverse:
            rows.reverse()
        position = lambda row: [term.value_of(row) for term in terms]  # noqa: E731
        self.next_link = self.previous_link = None
        if rows:
            if more or reverse:
                self.next_link = self.encode_cursor(position(rows[-1]))
            if cursor is not None and (more or not reverse):
                self.previous_link = self.encode_cursor(position(rows[0]), reverse=True)
        elif cursor is not None and not reverse:
            self.previous_link = self.encode_cursor(cursor["p"], reverse=True, inclusive=True)
        return rows

    def estimate_count(self, queryset) -> tuple[int, bool]:
        return count_rows(queryset, exact_limit=self.COUNT_EXACT_LIMIT, trusted_factor=self.ESTIMATE_TRUSTED_FACTOR)

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.count,
                "count_exact": self.count_exact,
                "next": self.next_link,
                "previous": self.previous_link,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["count", "count_exact", "next", "previous", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "description": f"Matching rows: exact up to {self.COUNT_EXACT_LIMIT}, else an estimate.",
                },
                "count_exact": {"type": "boolean", "description": "false when `count` is the database's estimate."},
                "next": {"type": "string", "nullable": True, "format": "uri", "description": "Next page, or null."},
                "previous": {"type": "string", "nullable": True, "format": "uri", "description": "Previous page."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque position from a page's `next` or `previous` link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page (default {self.page_size}, at most {self.max_page_size}).",
                "schema": {"type": "integer"},
            },
        ]


class StableOrderingFilter(OrderingFilter):
    """`?ordering=` as DRF does it, plus a final tie-break on pk so pages never overlap or skip rows."""

    def filter_queryset(self, request, queryset, view):
        ordering = self.get_ordering(request, queryset, view)
        if not ordering:
            ordering = list(queryset.query.order_by) or list(queryset.model._meta.ordering)
        ordering = list(ordering)
        if not any(str(term).lstrip("-") in {"pk", "id"} for term in ordering):
            ordering.append("pk")
        return queryset.order_by(*ordering)


# Filtering and search come from settings (they apply the visibility rule to related lookups).
API_FILTER_BACKENDS = [*api_settings.DEFAULT_FILTER_BACKENDS, StableOrderingFilter]


class BoundedPaginator(Paginator):
    """Numbered pages for the web lists at any size: the count is `count_rows`'s (exact up to a limit, then
    PostgreSQL's estimate, shown as "about"), and only the first MAX_PAGES pages are numbered, since a page
    reached by OFFSET reads every row before it. Deeper rows are reached by narrowing the filters, or through
    the API's cursor pages, which cost the same at any depth."""

    MAX_PAGES = 100

    def __init__(self, object_list, per_page, *, known_count: int | None = None, **options):
        super().__init__(object_list, per_page, **options)
        if known_count is not None:  # counted by the caller already (e.g. in its figures' query)
            self._counted = RowCount(known_count, True)

    @cached_property
    def _counted(self) -> RowCount:
        if isinstance(self.object_list, QuerySet):
            return count_rows(self.object_list)
        return RowCount(len(self.object_list), True)

    @cached_property
    def count(self) -> int:
        return self._counted.n

    @property
    def count_exact(self) -> bool:
        return self._counted.exact

    @cached_property
    def all_pages(self) -> int:
        """Pages the whole selection fills (from the count, so an estimate when `count_exact` is false)."""
        if self.count == 0 and not self.allow_empty_first_page:
            return 0
        return max(1, math.ceil(max(1, self.count - self.orphans) / self.per_page))

    @cached_property
    def num_pages(self) -> int:
        return min(self.all_pages, self.MAX_PAGES)

    @property
    def truncated(self) -> bool:
        """More rows than the numbered pages show."""
        return self.all_pages > self.MAX_PAGES

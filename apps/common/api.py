"""REST plumbing every app's API shares: one error format, stable pagination and
ordering, the write permission, CSV/JSON exports and the OpenAPI error responses.

Visibility is never decided here: querysets come from each app's selectors,
so a hidden record is simply absent (404). Writes are checked by the default
permission class, `apps.accounts.permissions.GroupMemberWritePermission` (settings).
"""
from __future__ import annotations

import base64
import binascii
import csv
import datetime
import io
import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.exceptions import NON_FIELD_ERRORS, FieldError
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.db.models.expressions import OrderBy
from django.http import Http404, JsonResponse, StreamingHttpResponse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import BasePagination
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import exception_handler as drf_exception_handler


logger = logging.getLogger(__name__)

EXPORT_CHUNK_ROWS = 2000


# --------------------------------------------------------------------------- errors


class ErrorBodySerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status code, repeated.")
    code = serializers.CharField(help_text="Machine-readable reason, e.g. invalid, not_found, permission_denied.")
    message = serializers.CharField(help_text="What went wrong, in plain words.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Per input field (dotted path for nested items, e.g. components[1].fraction): its messages.",
    )


class ErrorSerializer(serializers.Serializer):
    """The one error format of the API: every 4xx/5xx answer has this body."""

    error = ErrorBodySerializer()


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """{"components": [{}, {"fraction": ["…"]}]} → {"components[1].fraction": ["…"]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # DRF reports list items as {index: errors}
                out.update(flatten_errors(value, f"{prefix}[{key}]"))
                continue
            key = "non_field_errors" if key == NON_FIELD_ERRORS else str(key)
            out.update(flatten_errors(value, f"{prefix}.{key}" if prefix else key))
    elif isinstance(detail, (list, tuple)):
        if all(not isinstance(item, (dict, list, tuple)) for item in detail):
            if detail:
                out.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if item:
                    out.update(flatten_errors(item, f"{prefix}[{index}]"))
    elif detail is not None and str(detail):
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def error_body(status_code: int, code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"status": status_code, "code": code, "message": message, "fields": fields or {}}}


def _validation_message(fields: dict[str, list[str]]) -> str:
    if not fields:
        return "Invalid input."
    general = fields.get("non_field_errors")
    if general:
        return general[0]
    name, messages = next(iter(fields.items()))
    more = f" (and {len(fields) - 1} more field{'s' if len(fields) > 2 else ''})" if len(fields) > 1 else ""
    return f"Invalid input: {name}: {messages[0]}{more}"


def django_validation_detail(exc: DjangoValidationError) -> dict | list:
    if hasattr(exc, "error_dict"):
        return exc.message_dict
    return {"non_field_errors": exc.messages}


def api_exception_handler(exc, context):
    """Every error as {"error": {"status", "code", "message", "fields"}}; unexpected ones logged, answered 500."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(django_validation_detail(exc))
    elif isinstance(exc, RequestDataTooBig):
        from .parsers import PayloadTooLarge, too_large_message

        exc = PayloadTooLarge(too_large_message())
    elif isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        exc = exceptions.ValidationError({"non_field_errors": [str(exc)]})
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None:
        view = context.get("view")
        logger.exception("Unhandled error in %s", type(view).__name__ if view else "API view", exc_info=exc)
        return Response(
            error_body(500, "server_error", "The server failed to answer this request; the error has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_errors(exc.detail)
        body = error_body(response.status_code, "invalid", _validation_message(fields), fields)
    else:
        detail = getattr(exc, "detail", None)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", None) or "error"
        if isinstance(exc, exceptions.Throttled):
            code = exc.default_code  # "throttled", or "locked_out" for a sign-in lockout
        message = str(detail) if detail is not None else str(exc)
        body = error_body(response.status_code, str(code), message)
    response.data = body
    return response


def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/ answer in the API's error format, not with an HTML page."""
    return JsonResponse(
        error_body(404, "not_found", f"No API endpoint at {request.path}. See /api/docs/ for the list."), status=404
    )


# --------------------------------------------------------------------------- schema


class ApiSchema(AutoSchema):
    """drf-spectacular schema that documents the shared error responses on every operation."""

    ERROR_RESPONSES = {
        "400": "Invalid input; `fields` names each offending field.",
        "401": "Authentication credentials were missing or wrong.",
        "403": "Authenticated, but not a member of the owning group.",
        "404": "No such record, or not visible to you.",
        "429": "Too many requests; retry after the time in the Retry-After header.",
    }

    def get_operation_id(self):
        """A list's `export/` keeps the id it had when it answered a bare array (`…_export_list`)."""
        operation_id = super().get_operation_id()
        if getattr(self.view, "action", None) == "export" and operation_id.endswith("_retrieve"):
            return operation_id.removesuffix("_retrieve") + "_list"
        return operation_id

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in self.ERROR_RESPONSES.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(response=ErrorSerializer, description=description),
                    code,
                    ("application/json",),
                    direction,
                )
        return responses


# --------------------------------------------------------------------------- pagination, ordering


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
    COUNT_EXACT_LIMIT = 10_000
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
        self.count, self.count_exact = self.estimate_count(queryset)
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
        """Exact when at most COUNT_EXACT_LIMIT rows match (a bounded scan); else PostgreSQL's row estimate."""
        exact = queryset.order_by()[: self.COUNT_EXACT_LIMIT + 1].count()
        if exact <= self.COUNT_EXACT_LIMIT or connections[queryset.db].vendor != "postgresql":
            if exact > self.COUNT_EXACT_LIMIT:
                return queryset.count(), True
            return exact, True
        plan = json.loads(queryset.order_by().explain(format="json"))
        estimate = int(plan[0]["Plan"]["Plan Rows"])
        return max(estimate, self.COUNT_EXACT_LIMIT + 1), False

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


# --------------------------------------------------------------------------- CSV / JSON export


def flatten_row(row: dict, prefix: str = "") -> dict:
    """Nested objects become dotted columns; lists become one JSON cell."""
    flat: dict = {}
    for key, value in row.items():
        name = f"{prefix}{key}" if prefix else key
        kind = type(value)
        if value is None:
            flat[name] = ""
        elif kind is float:
            flat[name] = value if math.isfinite(value) else ""
        elif kind is dict or isinstance(value, dict):
            flat.update(flatten_row(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            flat[name] = json.dumps(finite_or_none(value), cls=JSONEncoder, ensure_ascii=False)
        else:
            flat[name] = value
    return flat


def rows_to_csv(rows: Iterable[dict], header: list[str] | None = None) -> str:
    return "".join(iter_csv(rows, header))


def iter_csv(
    rows: Iterable[dict], header: list[str] | None = None, empty_header: list[str] = (), lines_per_chunk: int = 500
) -> Iterator[str]:
    """CSV text of `rows` (dicts, flattened) in pieces of `lines_per_chunk` lines; the header is the first row's
    columns (`empty_header` if there are no rows)."""
    columns = list(header) if header else None
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    pending = 0
    for row in rows:
        flat = flatten_row(row)
        if columns is None:
            columns = list(flat)
        if pending == 0:
            writer.writerow(columns)
        writer.writerow([flat.get(column, "") for column in columns])
        pending += 1
        if pending % lines_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if pending == 0 and (columns or empty_header):
        writer.writerow(columns or empty_header)
    if buffer.tell():
        yield buffer.getvalue()


def finite_or_none(value):
    """The same structure with NaN and ±inf replaced by None: JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(item) for item in value]
    return value


class FiniteJSONRenderer(JSONRenderer):
    """JSON in which a non-finite number (a failed or degenerate fit's) reads as null instead of breaking the answer."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return super().render(finite_or_none(data), accepted_media_type, renderer_context)


class CSVRenderer(BaseRenderer):
    """text/csv of a list of objects (or of a page's `results`), nested fields as dotted columns."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if isinstance(data, (str, bytes)):
            return data.encode(self.charset) if isinstance(data, str) else data
        rows = data["results"] if isinstance(data, dict) and isinstance(data.get("results"), list) else data
        if isinstance(rows, dict):
            rows = [rows]
        return rows_to_csv(rows).encode(self.charset)


class AnyMediaRenderer(BaseRenderer):
    """Lets a file download accept any `Accept` header; the view answers with the file itself."""

    media_type = "*/*"
    format = "file"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


def export_parameter() -> OpenApiParameter:
    return OpenApiParameter(
        "format", str, OpenApiParameter.QUERY, enum=["csv", "json"], description="csv (default) or json."
    )


def export_schema(serializer_class, what: str):
    """OpenAPI description of an `export` action that answers CSV or a JSON document."""
    return extend_schema(
        summary=f"Export {what} as CSV or JSON",
        description=(
            f"Every {what} matching the same filters, search and ordering as the list, unpaginated, "
            "streamed as a download. Only records visible to you are included. A complete file ends with "
            "its row count: CSV with the line `# end of export: N rows`, JSON with `\"count\": N` after "
            "`results`; a file without that ending was cut off."
        ),
        parameters=[export_parameter()],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/json"): inline_serializer(
                f"{serializer_class.__name__.removesuffix('Serializer')}Export",
                fields={
                    "results": serializer_class(many=True),
                    "count": serializers.IntegerField(help_text="Rows in `results`; written last."),
                },
            ),
        },
    )


EXPORT_TRAILER = "# end of export: {count} rows\n"


class ExportMixin:
    """Adds `GET …/export/?format=csv|json`: the filtered list, all rows, streamed as a file.

    Rows come from one server-side cursor (PostgreSQL: a named cursor inside a read-only transaction) in the
    list's keyset order, serialised in chunks, so memory stays flat at any size. A complete export ends with
    its row count (CSV: a `# end of export: N rows` line; JSON: `"count": N` closing the document), so a
    client can tell a file cut off by a timeout or a dropped connection.
    """

    export_filename = "export"

    def get_export_serializer_class(self):
        return self.get_serializer_class()

    def get_export_queryset(self):
        return self.filter_queryset(self.get_queryset())

    # Serializer fields whose value is a plain column reached another way (e.g. a SerializerMethodField).
    export_value_paths: dict[str, str] = {}

    def _export_rows(self, queryset, counter: list[int]) -> Iterator[dict]:
        serializer_class = self.get_export_serializer_class()
        context = self.get_serializer_context()
        ordered, _ = keyset_ordered(queryset)
        plan = values_plan(serializer_class(context=context), ordered, self.export_value_paths)
        with _read_transaction(ordered.db):
            if plan is not None:
                yield from _rows_from_values(ordered, plan, counter)
                return
            chunk = []
            for record in ordered.iterator(chunk_size=EXPORT_CHUNK_ROWS):
                chunk.append(record)
                if len(chunk) == EXPORT_CHUNK_ROWS:
                    yield from serializer_class(chunk, many=True, context=context).data
                    counter[0] += len(chunk)
                    chunk = []
            if chunk:
                yield from serializer_class(chunk, many=True, context=context).data
                counter[0] += len(chunk)

    @action(detail=False, methods=["get"], renderer_classes=[CSVRenderer, FiniteJSONRenderer], pagination_class=None)
    def export(self, request, *args, **kwargs):
        queryset = self.get_export_queryset()
        counter = [0]
        rows = self._export_rows(queryset, counter)
        if request.accepted_renderer.format == "json":
            content, media_type, extension = _iter_json_document(rows, counter), "application/json", "json"
        else:
            columns = list(self.get_export_serializer_class()().fields)
            content = _with_csv_trailer(iter_csv(rows, empty_header=columns), counter)
            media_type, extension = "text/csv; charset=utf-8", "csv"
        response = StreamingHttpResponse(content, content_type=media_type)
        response["Content-Disposition"] = f'attachment; filename="{self.export_filename}.{extension}"'
        return response


ExportColumn = tuple[str, str, "Callable | None"]
# Fields whose answer is the column's value as read (others convert: float(), isoformat(), …, as the list does).
AS_READ_FIELDS = (serializers.ReadOnlyField, serializers.ChoiceField)


def values_plan(serializer, queryset: QuerySet, value_paths: dict[str, str]) -> list[ExportColumn] | None:
    """(name, ORM path, to_representation) per field when every field of `serializer` is one column (so rows can
    be read as tuples, ~50x faster than model instances through the serializer); None when one is not."""
    plan: list[ExportColumn] = []
    for name, field in serializer.fields.items():
        if field.write_only:
            continue
        if name in value_paths:
            plan.append((name, value_paths[name], None))
            continue
        unsupported = (
            serializers.SerializerMethodField, serializers.BaseSerializer, serializers.ManyRelatedField,
            serializers.HiddenField, serializers.HyperlinkedRelatedField,
        )
        if isinstance(field, unsupported) or field.source == "*":
            return None
        path = field.source.replace(".", LOOKUP_SEP)
        # A foreign key's id is already what a primary-key field answers.
        as_read = isinstance(field, serializers.RelatedField) or type(field) in AS_READ_FIELDS
        plan.append((name, path, None if as_read else field.to_representation))
    try:
        queryset.values_list(*(path for _, path, _ in plan))
    except FieldError:  # a property or method, not a column
        return None
    return plan


def _rows_from_values(queryset: QuerySet, plan: list[ExportColumn], counter: list[int]) -> Iterator[dict]:
    names = [name for name, _, _ in plan]
    converters = [convert for _, _, convert in plan]
    rows = queryset.values_list(*(path for _, path, _ in plan)).iterator(chunk_size=EXPORT_CHUNK_ROWS)
    for values in rows:
        yield {
            name: value if value is None or convert is None else convert(value)
            for name, value, convert in zip(names, values, converters)
        }
        counter[0] += 1


@contextmanager
def _read_transaction(alias: str):
    """On PostgreSQL a transaction, so `.iterator()` streams from a plain named cursor (outside one, Django
    declares it WITH HOLD, which makes PostgreSQL compute the whole result before the first row). SQLite
    reads without one: its transactions here take the write lock."""
    if connections[alias].vendor == "postgresql":
        with transaction.atomic(using=alias):
            yield
    else:
        yield


def _json_row(row: dict) -> str:
    try:
        return json.dumps(row, cls=JSONEncoder, ensure_ascii=False, allow_nan=False)
    except ValueError:  # NaN or ±inf somewhere: JSON has no such numbers
        return json.dumps(finite_or_none(row), cls=JSONEncoder, ensure_ascii=False)


def _with_csv_trailer(lines: Iterable[str], counter: list[int]) -> Iterator[str]:
    yield from lines
    yield EXPORT_TRAILER.format(count=counter[0])


def _iter_json_document(rows: Iterable[dict], counter: list[int]) -> Iterator[str]:
    """`{"results": [...], "count": N}`, written as rows arrive: cut anywhere, it is not valid JSON."""
    parts = ['{"results":[']
    for index, row in enumerate(rows):
        parts.append(("," if index else "") + _json_row(row))
        if len(parts) >= 500:
            yield "".join(parts)
            parts = []
    parts.append(f'],"count":{counter[0]}}}')
    yield "".join(parts)


# --------------------------------------------------------------------------- base viewsets


class ApiViewMixin:
    """Pagination, filters, ordering and error format shared by every viewset (write permission: settings)."""

    pagination_class = KeysetPagination
    renderer_classes = [FiniteJSONRenderer, BrowsableAPIRenderer]
    filter_backends = API_FILTER_BACKENDS
    # Ids are 64-bit integers: anything else is not a route (a JSON 404), never a database overflow.
    lookup_value_regex = r"[0-9]{1,18}"

    def handle_exception(self, exc):
        """Errors are always JSON, also where the answer would have been CSV or a file."""
        response = super().handle_exception(exc)
        self.request.accepted_renderer = FiniteJSONRenderer()
        self.request.accepted_media_type = FiniteJSONRenderer.media_type
        return response

"""Streamed CSV/JSON exports of a filtered list: `ExportMixin` (the `export/` action), its OpenAPI description
(`export_schema`, `export_parameter`), the values-list fast path (`values_plan`) and the streaming helpers that
end a complete file with its row count."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django.core.exceptions import FieldError
from django.db import connections, transaction
from django.db.models import Expression, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.utils.encoders import JSONEncoder

from .formatting import rounded_row
from .pagination import keyset_ordered
from .renderers import CSVRenderer, FiniteJSONRenderer, finite_or_none, iter_csv

EXPORT_CHUNK_ROWS = 2000


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
            "`results`; a file without that ending was cut off. " + ROUNDING_NOTE
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
ROUNDING_NOTE = (
    "A value exported beside its uncertainty (a standard error such as `stderr` or `…_stderr_…`) is rounded to "
    "it: the uncertainty to two significant digits, the value and its interval bounds to the same decimal place "
    "(as on the pages, in the stored unit). Values without an uncertainty keep full precision; the list and "
    "detail endpoints answer full precision throughout."
)


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
    # Uncertainty column → {column rounded to it: formatting.VALUE or formatting.BOUND} (see `rounded_row`).
    export_uncertainties: dict[str, dict[str, str]] = {}

    def _export_rounded(self, rows: Iterator[dict]) -> Iterator[dict]:
        if not self.export_uncertainties:
            yield from rows
            return
        for row in rows:
            yield rounded_row(row, self.export_uncertainties)

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
        rows = self._export_rounded(self._export_rows(queryset, counter))
        if request.accepted_renderer.format == "json":
            content, media_type, extension = _iter_json_document(rows, counter), "application/json", "json"
        else:
            columns = list(self.get_export_serializer_class()().fields)
            content = _with_csv_trailer(iter_csv(rows, empty_header=columns), counter)
            media_type, extension = "text/csv; charset=utf-8", "csv"
        response = StreamingHttpResponse(content, content_type=media_type)
        response["Content-Disposition"] = f'attachment; filename="{self.export_filename}.{extension}"'
        return response


# (name, ORM path or expression, conversion of the value read)
ExportColumn = tuple[str, "str | Expression", "Callable | None"]
# Fields whose answer is the column's value as read (others convert: float(), isoformat(), …, as the list does).
AS_READ_FIELDS = (serializers.ReadOnlyField, serializers.ChoiceField)


def values_plan(serializer, queryset: QuerySet, value_paths: dict) -> list[ExportColumn] | None:
    """(name, ORM path, to_representation) per field when every field of `serializer` is one column (so rows can
    be read as tuples, ~50x faster than model instances through the serializer); None when one is not. A field
    with a `values_expression(model)` (a reference the viewer may not see) is read through that expression."""
    plan: list[ExportColumn] = []
    for name, field in serializer.fields.items():
        if field.write_only:
            continue
        if name in value_paths:  # a path, or (path, converter) for a method field read from one column
            path, convert = value_paths[name] if isinstance(value_paths[name], tuple) else (value_paths[name], None)
            plan.append((name, path, convert))
            continue
        guarded = getattr(field, "values_expression", None)
        if guarded is not None:  # a reference that may be hidden from the viewer: the field says how, in SQL
            as_read = isinstance(field, serializers.RelatedField) or type(field) in AS_READ_FIELDS
            plan.append((name, guarded(queryset.model), None if as_read else field.to_representation))
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

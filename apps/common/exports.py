"""Streamed CSV/JSON exports of a filtered list: `ExportMixin` (the `export/` action), its OpenAPI description
(`export_schema`, `export_parameter`), the values-list fast path (`values_plan`) and the streaming helpers that
end a complete file with its row count.

Rows travel in chunks of `EXPORT_CHUNK_ROWS`, one fetch of the server-side cursor each. On the values-list path a
chunk stays a table of columns (`ColumnChunk`) from the fetch to the file: converted, rounded to uncertainties
(`rounding.rounded_columns`) and written by `csv.writer.writerows` a column or a chunk at a time, with no dict
per row for CSV. The bytes are the same as writing row by row (`iter_csv`, `rounded_row`): chunks holding what
only the row-by-row rules handle (nested objects, lists) take that way.
"""
from __future__ import annotations

import csv
import datetime
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.exceptions import FieldError
from django.db import connections, transaction
from django.db.models import Expression, JSONField, QuerySet
from django.db.models.expressions import Col
from django.db.models.constants import LOOKUP_SEP
from django.db.models.sql.constants import MULTI
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.settings import api_settings
from rest_framework.utils.encoders import JSONEncoder

from .pagination import keyset_ordered
from .renderers import CSVRenderer, FiniteJSONRenderer, finite_or_none, flatten_row
from .rounding import rounded_columns, rounded_row
from .serializers import EXACT_REPRESENTATIONS

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
    # Uncertainty column → {column rounded to it: rounding.VALUE or rounding.BOUND} (see `rounded_row`).
    export_uncertainties: dict[str, dict[str, str]] = {}

    def _export_chunks(self, queryset, counter: list[int]) -> Iterator[ColumnChunk | list[dict]]:
        """The rows in the list's keyset order, rounded to their uncertainties, a chunk at a time: columns on the
        values-list path, serialised dicts otherwise. `counter` counts the rows handed out."""
        serializer_class = self.get_export_serializer_class()
        context = self.get_serializer_context()
        ordered, _ = keyset_ordered(queryset)
        plan = values_plan(serializer_class(context=context), ordered, self.export_value_paths)
        with _read_transaction(ordered.db):
            if plan is not None:
                for chunk in _value_chunks(ordered, plan):
                    if self.export_uncertainties:
                        chunk = chunk.rounded(self.export_uncertainties)
                    counter[0] += chunk.length
                    yield chunk
                return
            chunk = []
            for record in ordered.iterator(chunk_size=EXPORT_CHUNK_ROWS):
                chunk.append(record)
                if len(chunk) == EXPORT_CHUNK_ROWS:
                    yield self._serialized(serializer_class(chunk, many=True, context=context).data)
                    counter[0] += len(chunk)
                    chunk = []
            if chunk:
                yield self._serialized(serializer_class(chunk, many=True, context=context).data)
                counter[0] += len(chunk)

    def _serialized(self, rows: list[dict]) -> list[dict]:
        if not self.export_uncertainties:
            return list(rows)
        return [rounded_row(row, self.export_uncertainties) for row in rows]

    @action(detail=False, methods=["get"], renderer_classes=[CSVRenderer, FiniteJSONRenderer], pagination_class=None)
    def export(self, request, *args, **kwargs):
        queryset = self.get_export_queryset()
        counter = [0]
        chunks = self._export_chunks(queryset, counter)
        if request.accepted_renderer.format == "json":
            content, media_type, extension = _iter_json_document(chunks, counter), "application/json", "json"
        else:
            columns = list(self.get_export_serializer_class()().fields)
            content = _with_csv_trailer(_iter_csv_chunks(chunks, empty_header=columns), counter)
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


@dataclass
class ColumnChunk:
    """Rows held as columns: `columns[i]` holds the values of `names[i]`, one per row."""

    names: list[str]
    columns: list[list]

    @property
    def length(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def rows(self) -> list[dict]:
        return [dict(zip(self.names, values)) for values in zip(*self.columns)]

    def rounded(self, uncertainties: dict[str, dict[str, str]]) -> ColumnChunk:
        """Each row as `rounded_row(row, uncertainties)` makes it (see `rounding.rounded_columns`)."""
        table = rounded_columns(dict(zip(self.names, self.columns)), uncertainties)
        return ColumnChunk(list(table), list(table.values()))


def _iso_datetimes(column: list, field: serializers.DateTimeField) -> list | None:
    """`field.to_representation` of each value, for DRF's ISO 8601 output with a time zone: the zone is looked up
    once per column instead of once per value. None when the field is set up otherwise."""
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    overridden = (type(field).enforce_timezone is not serializers.DateTimeField.enforce_timezone
                  or type(field).default_timezone is not serializers.DateTimeField.default_timezone)
    if output_format is None or output_format.lower() != "iso-8601" or overridden:
        return None
    zone = field.timezone if hasattr(field, "timezone") else field.default_timezone()
    if zone is None:
        return None
    out = []
    for value in column:
        if value is not None and type(value) is datetime.datetime and value.utcoffset() is not None:
            try:
                text = value.astimezone(zone).isoformat()
            except OverflowError:  # the field says so in its own words
                out.append(field.to_representation(value))
                continue
            out.append(text[:-6] + "Z" if text.endswith("+00:00") else text)
        else:
            out.append(None if value is None else field.to_representation(value))
    return out


def _represented(column: list, convert: Callable) -> list:
    method = getattr(convert, "__func__", None)
    kind = EXACT_REPRESENTATIONS.get(method)  # skipped when the value already is of that type
    if kind is not None and set(map(type, column)) <= {kind, type(None)}:
        return column
    if method is serializers.DateTimeField.to_representation:
        converted = _iso_datetimes(column, convert.__self__)
        if converted is not None:
            return converted
    return [value if value is None else convert(value) for value in column]


def _json_column(values: list, function: Callable, expression, connection) -> list:
    """`JSONField.from_db_value` over a column: the texts decoded as one JSON array (one parser call per chunk,
    not per value); value by value when a text does not decode alone or the field has its own decoder."""
    field = getattr(expression, "output_field", None)
    texts = [value for value in values if value is not None]
    if getattr(field, "decoder", True) is None and isinstance(expression, Col) and all(type(t) is str for t in texts):
        try:
            decoded = json.loads("[" + ",".join(texts) + "]")
        except json.JSONDecodeError:
            decoded = None
        if decoded is not None and len(decoded) == len(texts):
            position = iter(decoded)
            return [None if value is None else next(position) for value in values]
    return [function(value, expression, connection) for value in values]


def _value_chunks(queryset: QuerySet, plan: list[ExportColumn]) -> Iterator[ColumnChunk]:
    """The plan's columns, a fetch of `EXPORT_CHUNK_ROWS` rows at a time (the server-side cursor `.iterator()`
    uses), with Django's converters and the fields' representations applied per column."""
    names = [name for name, _, _ in plan]
    representations = [convert for _, _, convert in plan]
    values = queryset.values_list(*(path for _, path, _ in plan))
    connection = connections[values.db]
    compiler = values.query.get_compiler(values.db)
    chunked = not connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
    results = compiler.execute_sql(MULTI, chunked_fetch=chunked, chunk_size=EXPORT_CHUNK_ROWS)
    converters = compiler.get_converters([selected[0] for selected in compiler.select[: compiler.col_count]])
    for rows in results:
        columns = [list(column) for column in zip(*rows)]
        for index, (functions, expression) in converters.items():
            for function in functions:
                if getattr(function, "__func__", None) is JSONField.from_db_value:
                    columns[index] = _json_column(columns[index], function, expression, connection)
                else:
                    columns[index] = [function(value, expression, connection) for value in columns[index]]
        for index, convert in enumerate(representations):
            if convert is not None:
                columns[index] = _represented(columns[index], convert)
        yield ColumnChunk(names, columns)


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


def _json_row(row: dict, encode: Callable[[dict], str]) -> str:
    try:
        return encode(row)
    except ValueError:  # NaN or ±inf somewhere: JSON has no such numbers
        return json.dumps(finite_or_none(row), cls=JSONEncoder, ensure_ascii=False)


def _nested(column: list) -> bool:
    """Whether a value of `column` is one `flatten_row` spreads or encodes (an object or a list)."""
    return any(issubclass(kind, (dict, list, tuple)) for kind in set(map(type, column)))


def _csv_cells(column: list) -> list:
    """`column` as `flatten_row` hands its values to the CSV writer: a non-finite float as an empty cell (None is
    written empty by the writer itself)."""
    kinds = set(map(type, column))
    if float not in kinds:
        return column
    if kinds <= {float, int, bool, type(None)}:
        try:
            if math.isfinite(sum(filter(None, column))):  # NaN and ±inf make the sum non-finite
                return column
        except OverflowError:
            pass
    return [value if type(value) is not float or math.isfinite(value) else "" for value in column]


def _flattened(name: str, value) -> dict:
    """flatten_row({name: value})."""
    if isinstance(value, dict):
        return flatten_row(value, f"{name}.")
    return flatten_row({name: value})


_PLAIN_TYPES = (str, int, float, bool, type(None))


def _one_level(column: list) -> bool:
    """Whether every value is a plain value or a dict of plain values (no lists, no deeper objects)."""
    kinds = set(map(type, column))
    if not kinds <= {dict, *_PLAIN_TYPES}:
        return False
    return all(type(item) in _PLAIN_TYPES for value in column if type(value) is dict for item in value.values())


def _plain_cell(value):
    """A plain value as `flatten_row` writes it: None and non-finite floats empty."""
    if value is None or (type(value) is float and not math.isfinite(value)):
        return ""
    return value


def _one_level_cells(column: list, key: str | None) -> list:
    """The cells of column `name.key` (or of `name` itself when key is None) as `flatten_row` gives them from a
    column of plain values and one-level dicts: a row without that key, or of the other shape, is empty."""
    if key is None:
        return [_plain_cell(value) if type(value) is not dict else "" for value in column]
    return [_plain_cell(value[key]) if type(value) is dict and key in value else "" for value in column]


def _csv_table(chunk: ColumnChunk, header: list[str]) -> list[list]:
    """The cells of `chunk` under `header`, a column each: per row what `flatten_row(row).get(column, "")` gives
    (nested objects as dotted columns, a column the row lacks empty)."""
    cells: dict[str, list] = {}
    for name, column in zip(chunk.names, chunk.columns):
        if not _nested(column):
            cells[name] = _csv_cells(column)
            continue
        keys = [key for key in header if key == name or key.startswith(f"{name}.")]
        if _one_level(column):  # dicts of plain values (a fit's parameters): a cell list per key
            for key in keys:
                cells[key] = _one_level_cells(column, key[len(name) + 1:] if key != name else None)
            continue
        flats = [_flattened(name, value) for value in column]
        for key in keys:
            cells[key] = [flat.get(key, "") for flat in flats]
    empty = [""] * chunk.length
    return [cells.get(key, empty) for key in header]


def _iter_csv_chunks(chunks: Iterable[ColumnChunk | list[dict]], empty_header: list[str] = ()) -> Iterator[str]:
    """CSV text of the chunks' rows, byte for byte what `iter_csv` writes for them one by one: the header is the
    first row's columns (`empty_header` if there are no rows); nested objects are dotted columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = None
    for chunk in chunks:
        if isinstance(chunk, ColumnChunk):
            if not chunk.length:
                continue
            if header is None:
                header = list(flatten_row(dict(zip(chunk.names, (column[0] for column in chunk.columns)))))
                writer.writerow(header)
            writer.writerows(zip(*_csv_table(chunk, header)))
        else:
            for row in chunk:
                flat = flatten_row(row)
                if header is None:
                    header = list(flat)
                    writer.writerow(header)
                writer.writerow([flat.get(column, "") for column in header])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if header is None and empty_header:
        writer.writerow(empty_header)
        yield buffer.getvalue()


def _with_csv_trailer(lines: Iterable[str], counter: list[int]) -> Iterator[str]:
    yield from lines
    yield EXPORT_TRAILER.format(count=counter[0])


def _iter_json_document(chunks: Iterable[ColumnChunk | list[dict]], counter: list[int]) -> Iterator[str]:
    """`{"results": [...], "count": N}`, written as rows arrive: cut anywhere, it is not valid JSON."""
    encode = JSONEncoder(ensure_ascii=False, allow_nan=False).encode  # what json.dumps(row, cls=…) does, built once
    yield '{"results":['
    separator = ""
    for chunk in chunks:
        rows = chunk.rows() if isinstance(chunk, ColumnChunk) else chunk
        if rows:
            yield separator + ",".join(_json_row(row, encode) for row in rows)
            separator = ","
    yield f'],"count":{counter[0]}}}'

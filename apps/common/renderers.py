"""Output formats: rows flattened to CSV (`flatten_row`, `iter_csv`, `rows_to_csv`), non-finite numbers as
null (`finite_or_none`), and the renderers `FiniteJSONRenderer`, `CSVRenderer` and `AnyMediaRenderer`."""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator

from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.utils.encoders import JSONEncoder


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
        if self.strict:
            # Strict JSON (DRF's default) refuses NaN and ±inf: only an answer holding one is walked and rendered again.
            try:
                return super().render(data, accepted_media_type, renderer_context)
            except ValueError:
                pass
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

"""API request bodies with bounds: JSON is size-checked while it is read and depth-checked before it is parsed.

A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE answers 413, one nested deeper than MAX_JSON_DEPTH
answers 400 — never a RecursionError or a worker holding an unbounded body.
"""
from __future__ import annotations

import io
import re

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"
    default_detail = "The request body is larger than this server accepts."


def too_large_message(size_bytes: int | None = None) -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    size = f" ({size_bytes / 1048576:.1f} MB)" if size_bytes else ""
    return (
        f"The request body{size} is larger than the {limit / 1048576:.0f} MB this server accepts "
        f"(DATA_UPLOAD_MAX_MEMORY_SIZE, from MAX_UPLOAD_MB)."
    )


def json_depth(raw: bytes) -> int:
    """Deepest nesting of arrays and objects in a JSON text, brackets inside strings ignored."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser behind a size limit (read at most limit + 1 bytes) and a nesting limit."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = (stream.read() if limit is None else stream.read(limit + 1)) if stream is not None else b""
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge(too_large_message())
        max_depth = settings.MAX_JSON_DEPTH
        depth = json_depth(raw)
        if depth > max_depth:
            raise exceptions.ParseError(
                f"JSON parse error - the body is nested {depth} levels deep; at most {max_depth} are accepted."
            )
        return super().parse(io.BytesIO(raw), media_type, parser_context)

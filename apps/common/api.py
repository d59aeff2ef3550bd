"""REST plumbing every app's API shares: one error format, stable pagination and
ordering, the write permission, CSV/JSON exports and the OpenAPI error responses.

Visibility is never decided here: querysets come from each app's selectors,
so a hidden record is simply absent (404), and only writes are checked here,
against `apps.accounts.selectors.can_edit`.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections.abc import Iterable, Iterator

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse, StreamingHttpResponse
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import exception_handler as drf_exception_handler

from apps.accounts.models import Membership, ResearchGroup
from apps.accounts.selectors import can_edit

logger = logging.getLogger(__name__)

EXPORT_CHUNK_ROWS = 500


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
            code = "throttled"
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


class StablePageNumberPagination(PageNumberPagination):
    """Pages of `page_size` rows (default 50, at most 500); the order always ends on the primary key."""

    page_size_query_param = "page_size"
    max_page_size = 500


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


# --------------------------------------------------------------------------- permissions


class GroupMemberWritePermission(BasePermission):
    """Reads: whatever the selector returned. Writes: authenticated members of the record's group."""

    message = "Only members of the group that owns this record may change it."

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS or bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj) -> bool:
        return request.method in SAFE_METHODS or can_edit(obj, request.user)


def require_group_member(user, group: ResearchGroup) -> None:
    """Raise 403 unless `user` may write records owned by `group`."""
    if user.is_superuser or Membership.objects.filter(user=user, group=group).exists():
        return
    raise exceptions.PermissionDenied(f"You are not a member of the group “{group.name}”.")


# --------------------------------------------------------------------------- CSV / JSON export


def flatten_row(row: dict, prefix: str = "") -> dict:
    """Nested objects become dotted columns; lists become one JSON cell."""
    flat: dict = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_row(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            flat[name] = json.dumps(finite_or_none(value), cls=JSONEncoder, ensure_ascii=False)
        else:
            flat[name] = "" if finite_or_none(value) is None else value
    return flat


def _csv_line(values: Iterable) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(list(values))
    return buffer.getvalue()


def rows_to_csv(rows: Iterable[dict], header: list[str] | None = None) -> str:
    return "".join(iter_csv(rows, header))


def iter_csv(rows: Iterable[dict], header: list[str] | None = None, empty_header: list[str] = ()) -> Iterator[str]:
    """CSV lines of `rows` (dicts, flattened); the header is the first row's columns (`empty_header` if none)."""
    columns = list(header) if header else None
    wrote_header = False
    for row in rows:
        flat = flatten_row(row)
        if columns is None:
            columns = list(flat)
        if not wrote_header:
            yield _csv_line(columns)
            wrote_header = True
        yield _csv_line(flat.get(column, "") for column in columns)
    if not wrote_header and (columns or empty_header):
        yield _csv_line(columns or empty_header)


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
    """OpenAPI description of an `export` action that answers CSV or a JSON array."""
    return extend_schema(
        summary=f"Export {what} as CSV or JSON",
        description=(
            f"Every {what} matching the same filters, search and ordering as the list, unpaginated, "
            "as a download. Only records visible to you are included."
        ),
        parameters=[export_parameter()],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/json"): serializer_class(many=True),
        },
    )


class ExportMixin:
    """Adds `GET …/export/?format=csv|json`: the filtered list, all pages, streamed as a file."""

    export_filename = "export"

    def get_export_serializer_class(self):
        return self.get_serializer_class()

    def _export_rows(self, queryset) -> Iterator[dict]:
        serializer_class = self.get_export_serializer_class()
        context = self.get_serializer_context()
        start = 0
        while True:
            chunk = list(queryset[start : start + EXPORT_CHUNK_ROWS])
            if not chunk:
                return
            yield from serializer_class(chunk, many=True, context=context).data
            start += EXPORT_CHUNK_ROWS

    @action(detail=False, methods=["get"], renderer_classes=[CSVRenderer, FiniteJSONRenderer], pagination_class=None)
    def export(self, request, *args, **kwargs):
        queryset = self.filter_queryset(self.get_queryset())
        rows = self._export_rows(queryset)
        if request.accepted_renderer.format == "json":
            content, media_type, extension = _iter_json_array(rows), "application/json", "json"
        else:
            columns = list(self.get_export_serializer_class()().fields)
            content, media_type, extension = iter_csv(rows, empty_header=columns), "text/csv; charset=utf-8", "csv"
        response = StreamingHttpResponse(content, content_type=media_type)
        response["Content-Disposition"] = f'attachment; filename="{self.export_filename}.{extension}"'
        return response


def _iter_json_array(rows: Iterable[dict]) -> Iterator[str]:
    yield "["
    for index, row in enumerate(rows):
        yield ("," if index else "") + json.dumps(finite_or_none(row), cls=JSONEncoder, ensure_ascii=False)
    yield "]"


# --------------------------------------------------------------------------- base viewsets


class ApiViewMixin:
    """Pagination, filters, ordering and write permission shared by every viewset."""

    pagination_class = StablePageNumberPagination
    renderer_classes = [FiniteJSONRenderer, BrowsableAPIRenderer]
    filter_backends = API_FILTER_BACKENDS
    permission_classes = [GroupMemberWritePermission]
    # Ids are 64-bit integers: anything else is not a route (a JSON 404), never a database overflow.
    lookup_value_regex = r"[0-9]{1,18}"

    def handle_exception(self, exc):
        """Errors are always JSON, also where the answer would have been CSV or a file."""
        response = super().handle_exception(exc)
        self.request.accepted_renderer = FiniteJSONRenderer()
        self.request.accepted_media_type = FiniteJSONRenderer.media_type
        return response

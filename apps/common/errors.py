"""The API's one error format: the error serializers (also used by the schema), `error_body`, the flattening
of nested validation errors to dotted field paths, DRF's exception handler (settings: EXCEPTION_HANDLER) and
the JSON 404 for unknown paths under /api/."""
from __future__ import annotations

import logging

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


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

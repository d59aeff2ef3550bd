"""Request limits (413 before a large body is read) and the development server's static gzip."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.middleware.gzip import GZipMiddleware

from .errors import error_body

FORM_OVERHEAD_BYTES = 1024 * 1024  # the form fields and multipart boundaries around an uploaded file


def body_limit_bytes(content_type: str) -> int:
    """Largest body accepted: an upload of MAX_UPLOAD_MB with its form, else DATA_UPLOAD_MAX_MEMORY_SIZE."""
    if content_type.startswith("multipart/form-data"):
        return int(settings.MAX_UPLOAD_MB) * 1024 * 1024 + FORM_OVERHEAD_BYTES
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


class RequestLimitsMiddleware:
    """A Content-Length above the limit answers 413 at once: a 1 GB upload is never read, by anyone.

    Bodies within the limit are still bounded while they stream (Django's upload handlers for files,
    apps.common.parsers.BoundedJSONParser for JSON).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = body_limit_bytes(request.content_type or "")
        if length > limit:
            message = (
                f"The request body is {length / 1048576:.1f} MB; this server accepts at most "
                f"{limit / 1048576:.0f} MB (MAX_UPLOAD_MB = {settings.MAX_UPLOAD_MB})."
            )
            if request.path.startswith("/api/"):
                return JsonResponse(error_body(413, "too_large", message), status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class StaticGZipMiddleware(GZipMiddleware):
    """Gzip static files on the fly (the development server has no precompressed copies; production serves the
    ones collectstatic wrote). Pages and API answers are left alone, as in production."""

    def process_response(self, request, response):
        if not request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return response
        return super().process_response(request, response)

"""Middleware of the development server."""
from django.conf import settings
from django.middleware.gzip import GZipMiddleware


class StaticGZipMiddleware(GZipMiddleware):
    """Gzip static files on the fly (the development server has no precompressed copies; production serves the
    ones collectstatic wrote). Pages and API answers are left alone, as in production."""

    def process_response(self, request, response):
        if not request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
            return response
        return super().process_response(request, response)

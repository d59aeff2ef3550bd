"""REST plumbing every app's API shares: `ApiViewMixin`, the base of every viewset (pagination, filters,
ordering, renderers, the error format). The parts live by noun in `errors`, `schema`, `pagination`, `renderers`
and `exports` of `apps.common`; their public names are re-exported here, so `from apps.common.api import …`
and the settings paths (`apps.common.api.ApiSchema`, `apps.common.api.api_exception_handler`) keep working.

Visibility is never decided here: querysets come from each app's selectors,
so a hidden record is simply absent (404). Writes are checked by the default
permission class, `apps.accounts.permissions.GroupMemberWritePermission` (settings).
"""
from __future__ import annotations

from rest_framework.renderers import BrowsableAPIRenderer

from .errors import (
    ErrorBodySerializer,
    ErrorSerializer,
    api_exception_handler,
    api_not_found,
    django_validation_detail,
    error_body,
    flatten_errors,
)
from .exports import (
    AS_READ_FIELDS,
    EXPORT_CHUNK_ROWS,
    EXPORT_TRAILER,
    ExportColumn,
    ExportMixin,
    export_parameter,
    export_schema,
    values_plan,
)
from .pagination import (
    API_FILTER_BACKENDS,
    CursorJSONEncoder,
    KeysetPagination,
    KeyTerm,
    StableOrderingFilter,
    keyset_ordered,
    keyset_ranges,
)
from .renderers import (
    AnyMediaRenderer,
    CSVRenderer,
    FiniteJSONRenderer,
    finite_or_none,
    flatten_row,
    iter_csv,
    rows_to_csv,
)
from .schema import ApiSchema

__all__ = [
    "API_FILTER_BACKENDS", "AS_READ_FIELDS", "EXPORT_CHUNK_ROWS", "EXPORT_TRAILER", "AnyMediaRenderer", "ApiSchema",
    "ApiViewMixin", "CSVRenderer", "CursorJSONEncoder", "ErrorBodySerializer", "ErrorSerializer", "ExportColumn",
    "ExportMixin", "FiniteJSONRenderer", "KeyTerm", "KeysetPagination", "StableOrderingFilter",
    "api_exception_handler", "api_not_found", "django_validation_detail", "error_body", "export_parameter",
    "export_schema", "finite_or_none", "flatten_errors", "flatten_row", "iter_csv", "keyset_ordered",
    "keyset_ranges", "rows_to_csv", "values_plan",
]


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

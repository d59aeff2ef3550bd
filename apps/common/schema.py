"""OpenAPI generation shared by every app: `ApiSchema` (settings: DEFAULT_SCHEMA_CLASS) documents the shared
error responses on every operation."""
from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

from .errors import ErrorSerializer


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

"""Serializer fields shared by the apps' API serializers."""
from __future__ import annotations

import copy
from collections.abc import Callable

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.common import flags as flag_registry


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer, with the fields it builds from the model made once per class and copied for each
    instance. DRF builds them anew every time a serializer is made (for each nested serializer of each request:
    model field introspection, uniqueness lookups), a tenth of a small API read's time. The fields depend only on
    the class (its `Meta` and declared fields), never on the request, and DRF copies declared fields the same way.
    """

    def get_fields(self):
        built = type(self).__dict__.get("_fields_built_once")  # the class's own, never a parent's
        if built is None:
            built = super().get_fields()
            type(self)._fields_built_once = built
        return copy.deepcopy(built)


@extend_schema_field(OpenApiTypes.INT)
class VisiblePrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A reference by id to a record the requesting user can see (the selector decides); others read as absent."""

    def __init__(self, selector: Callable, **kwargs):
        self.selector = selector
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return self.selector(user=getattr(request, "user", None))


@extend_schema_field({
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "code": {"type": "string"},
            "title": {"type": "string"},
            "severity": {"type": "string", "enum": list(flag_registry.SEVERITIES)},
        },
        "required": ["code", "title", "severity"],
    },
})
class FlagsField(serializers.Field):
    """Stored flag codes as ``[{"code", "title", "severity"}]`` from the flag registry (read-only)."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        kwargs.setdefault("help_text", "Quality flags: code, the title a person reads, and whether it blocks "
                                       "leaderboards (blocks_leaderboard) or informs (informative).")
        super().__init__(**kwargs)

    def to_representation(self, value):
        return flag_registry.describe(value or [])


def reject_nul_characters(value, path: str = "") -> None:
    """Raise a validation error naming where a NUL character hides in nested JSON (databases refuse them)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError(f"{path or 'value'}: NUL characters are not allowed.")
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_nul_characters(str(key), f"{path}.{key}" if path else str(key))
            reject_nul_characters(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            reject_nul_characters(item, f"{path}[{index}]")


class CompletenessSerializer(serializers.Serializer):
    score = serializers.FloatField(help_text="Reporting completeness, 0–1, from the documented checklist.")
    missing = serializers.ListField(child=serializers.CharField(), help_text="What was not reported.")


class CompletenessMixin(serializers.Serializer):
    """Adds the record's reporting-completeness score and missing items (detail views: one record at a time)."""

    completeness = serializers.SerializerMethodField()

    @extend_schema_field(CompletenessSerializer)
    def get_completeness(self, record):
        if _completeness_provider is None:
            raise RuntimeError("no completeness provider registered (apps.benchmarks registers it when it loads)")
        score, missing = _completeness_provider(record)
        return {"score": round(score, 4), "missing": list(missing)}


#: record → (score 0–1, missing items). The checklist is the benchmarks app's; it registers it when it loads.
_completeness_provider: Callable | None = None


def register_completeness_provider(provider: Callable) -> None:
    global _completeness_provider
    _completeness_provider = provider

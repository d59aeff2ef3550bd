"""Serializer fields shared by the apps' API serializers."""
from __future__ import annotations

import copy
from collections.abc import Callable

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import fields as drf_fields
from rest_framework import relations, serializers

from apps.common import flags as flag_registry


class ModelSerializer(serializers.ModelSerializer):
    """DRF's ModelSerializer, with the fields it builds from the model made once per class and copied for each
    instance, and a shorter path from a model instance to its representation.

    DRF builds the fields anew every time a serializer is made (for each nested serializer of each request: model
    field introspection, uniqueness lookups), a tenth of a small API read's time. The fields depend only on the
    class (its `Meta` and declared fields), never on the request, and DRF copies declared fields the same way.

    `to_representation` gives what DRF's gives, field for field (`representation_plan`); it only skips DRF's
    general attribute walk for the fields where that walk cannot change the value.
    """

    def get_fields(self):
        return _fields_from_templates(self, super().get_fields)

    def to_representation(self, instance):
        plan = self.__dict__.get("_representation_plan")
        if plan is None:
            plan = self._representation_plan = representation_plan(self)
        if not isinstance(instance, self.Meta.model):
            return super().to_representation(instance)
        ret = {}
        for name, kind, target, convert in plan:
            if kind is _METHOD:
                ret[name] = target(instance)
                continue
            if kind is _FOREIGN_KEY:
                ret[name] = getattr(instance, target)  # what DRF's pk-only relation gives: the column itself
                continue
            if kind is _ATTRIBUTE:
                value = _plain_attribute(instance, target)
                if value is not _FALLBACK:
                    ret[name] = None if value is None else convert(value)
                    continue
            field = convert if kind is _FIELD else self.fields[name]
            _represent_as_drf(field, instance, ret)
        return ret


class Serializer(serializers.Serializer):
    """DRF's Serializer with its declared fields copied as `ModelSerializer` copies them (plain fields shallowly),
    for serializers made once per row or per nested value."""

    def get_fields(self):
        return _fields_from_templates(self, lambda: self._declared_fields)


_ATTRIBUTE, _FOREIGN_KEY, _METHOD, _FIELD = "attribute", "foreign key", "method", "field"
_FALLBACK = object()
#: DRF representations that only make a value of one type (float(x), int(x), str(x)): the serializers here and
#: the exports' column path apply the type itself, or skip it where the value already is one.
EXACT_REPRESENTATIONS = {
    drf_fields.IntegerField.to_representation: int,
    drf_fields.CharField.to_representation: str,
    drf_fields.FloatField.to_representation: float,
}


def _fields_from_templates(serializer: serializers.Serializer, make_fields: Callable[[], dict]) -> dict:
    """The serializer's fields, copied from templates made once per class (the class's own, never a parent's):
    `make_fields()` builds them the first time; plain fields are copied shallowly, fields holding fields deeply."""
    cls = type(serializer)
    templates = cls.__dict__.get("_field_templates")
    if templates is None:
        templates = {name: (field, _holds_fields(field)) for name, field in make_fields().items()}
        cls._field_templates = templates
    return {name: copy.deepcopy(field) if deep else _shallow_copy(field) for name, (field, deep) in templates.items()}


def _holds_fields(field: serializers.Field) -> bool:
    """Whether a field template must be deep-copied for each serializer: fields that hold other fields (nested
    serializers, lists, many relations) bind those to themselves, as DRF's deep copy does. A plain field is copied
    shallowly (DRF's deep copy calls its constructor again)."""
    return isinstance(field, (serializers.BaseSerializer, relations.ManyRelatedField)) or any(
        hasattr(field, name) for name in ("child", "child_relation")
    )


def _shallow_copy(field: serializers.Field) -> serializers.Field:
    """`copy.copy` of an unbound field, without the pickling protocol's detour."""
    clone = object.__new__(type(field))
    clone.__dict__.update(field.__dict__)
    return clone


def representation_plan(serializer: serializers.Serializer) -> list[tuple]:
    """(name, kind, target, converter) for each readable field, in order: how `ModelSerializer.to_representation`
    reads it. Kinds: a model attribute (walked with getattr, else DRF's own path), a foreign key read through DRF's
    pk-only optimisation (its column), a `SerializerMethodField` (the bound method), and any other field (DRF's
    `get_attribute` and `to_representation`). How a field is read is worked out once per serializer class and
    field kind (`_reading_of`); only the binding to this serializer's fields is per instance."""
    readings = type(serializer).__dict__.get("_readings")
    if readings is None:
        readings = type(serializer)._readings = {}
    plan = []
    for field in serializer._readable_fields:
        key = (field.field_name, type(field), field.source, getattr(field, "method_name", None),
               getattr(field, "pk_field", None) is None)
        reading = readings.get(key)
        if reading is None:
            reading = readings[key] = _reading_of(serializer.Meta.model, field)
        kind, target, converter = reading
        if kind is _METHOD:
            target = getattr(serializer, target)
        elif kind is _FIELD:
            converter = field
        elif kind is _ATTRIBUTE and converter is None:
            converter = field.to_representation
        plan.append((field.field_name, kind, target, converter))
    return plan


def _reading_of(model, field: serializers.Field) -> tuple:
    """(kind, target, converter) of one bound field: the method's name, the attribute path or the foreign key's
    column, and `int`, `str` or `float` where DRF's representation is exactly that (None: the field's own)."""
    field_type = type(field)
    drf_walk = field_type.get_attribute is drf_fields.Field.get_attribute
    if drf_walk and isinstance(field, serializers.SerializerMethodField):
        if field_type.to_representation is serializers.SerializerMethodField.to_representation:
            return _METHOD, field.method_name, None
    elif drf_walk and field.source_attrs:
        return _ATTRIBUTE, tuple(field.source_attrs), EXACT_REPRESENTATIONS.get(field_type.to_representation)
    elif field_type is relations.PrimaryKeyRelatedField and field.pk_field is None and len(field.source_attrs) == 1:
        try:
            model_field = model._meta.get_field(field.source_attrs[0])
        except FieldDoesNotExist:
            model_field = None
        if model_field is not None and model_field.many_to_one and model_field.concrete:
            return _FOREIGN_KEY, model_field.attname, None
    return _FIELD, None, None


def _plain_attribute(instance, attrs: tuple):
    """getattr along `attrs` through model instances; `_FALLBACK` wherever DRF's walk could differ (a missing or
    None step, a related row that does not exist, a dict, a callable)."""
    value = instance
    for attr in attrs:
        if not isinstance(value, models.Model):
            return _FALLBACK
        try:
            value = getattr(value, attr)
        except Exception:  # noqa: BLE001 - DRF's walk decides what each error means
            return _FALLBACK
        if callable(value):
            return _FALLBACK
    return value


def _represent_as_drf(field, instance, ret: dict) -> None:
    """One field as DRF's `Serializer.to_representation` writes it (or leaves it out)."""
    try:
        attribute = field.get_attribute(instance)
    except drf_fields.SkipField:
        return
    check_for_none = attribute.pk if isinstance(attribute, relations.PKOnlyObject) else attribute
    ret[field.field_name] = None if check_for_none is None else field.to_representation(attribute)


@extend_schema_field(OpenApiTypes.INT)
class VisiblePrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """A reference by id to a record the requesting user can see (the selector decides); others read as absent."""

    def __init__(self, selector: Callable, **kwargs):
        self.selector = selector
        super().__init__(**kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        # Only the referenced row is read: what the selector prefetches for lists (a cell's layers, steps and
        # interfaces: three queries) would be fetched for nothing.
        return self.selector(user=getattr(request, "user", None)).prefetch_related(None)


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

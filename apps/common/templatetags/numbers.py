"""Template side of `apps.common.formatting`: numbers with units, flag and role titles.

Loaded in every template (a builtin, see TEMPLATES in settings):
    {{ c.thickness_um|quantity:"thickness" }}                       → 800 µm
    {% measured c.conductivity_s_per_cm c.conductivity_stderr_s_per_cm "conductivity" %}  → 0.451 ± 0.014 mS/cm
    {% unit_value e.value e.stderr e.unit %}                        → by the unit's quantity
    {% unit_interval e.ci_low e.ci_high e.stderr e.unit %}          → 0.42 – 0.48 mS/cm
    {{ "conductivity"|display_unit }}                               → mS/cm (for column titles)
    {{ code|flag_title }}  {{ role|role_title }}
"""
from django import template

from apps.common import formatting, titles

register = template.Library()


@register.filter
def quantity(value, name: str = "conductivity") -> str:
    """A value without uncertainty, in the quantity's display unit."""
    return formatting.format_quantity(value, None, name)


@register.simple_tag
def measured(value, uncertainty, name: str, exact: bool = False) -> str:
    """A value rounded to its uncertainty, in the quantity's display unit."""
    return formatting.format_quantity(value, uncertainty, name, exact=exact)


@register.simple_tag
def unit_value(value, uncertainty, unit: str) -> str:
    """A value stored beside its unit string (benchmark entries, fitted parameters)."""
    return formatting.format_unit_value(value, uncertainty, unit)


@register.simple_tag
def unit_interval(low, high, uncertainty, unit: str) -> str:
    """A 95 % interval stored beside its unit string, bounds to the decimal place of the value's uncertainty."""
    return formatting.format_interval(low, high, uncertainty, unit)


@register.filter
def number(value, digits: int = formatting.DEFAULT_DIGITS) -> str:
    """A dimensionless number, `digits` significant digits."""
    return formatting.format_number(value, int(digits))


@register.filter
def display_unit(name: str) -> str:
    """The display unit of a quantity, for a column title."""
    return formatting.quantity(name).unit


@register.filter
def flag_title(code) -> str:
    """The human title of a fit or benchmark flag; an unknown code is spelled out, never shown bare."""
    return titles.title("flag", code)


@register.filter
def role_title(code) -> str:
    """The title of an element role or an arc origin ("grain_boundary" → "Grain boundary"); empty stays empty."""
    return titles.title("role", code)


@register.simple_tag
def filter_label(filterset, field) -> str:
    """The label a FilterSet gives a field's filter (its own or `FILTER_LABELS`'), whatever the form field says."""
    filter_ = getattr(filterset, "filters", {}).get(field.name)
    return str(filter_.label) if filter_ is not None and filter_.label else str(field.label)


@register.filter
def name_title(name) -> str:
    """Words for a unit-bearing key (a benchmark entry's details): ``temperature_min_c`` → ``Temperature (lowest)``."""
    return formatting.name_title(str(name))


@register.filter
def named_value(value, name) -> str:
    """A value formatted by the unit its key names: ``{{ value|named_value:key }}``."""
    return formatting.format_named_value(str(name), value)

"""Writes of catalog records: separators, cells, interfaces, electrodes, materials, sources.

Every function takes keyword arguments, runs in one transaction, validates
with the model's ``full_clean()`` (a ``ValidationError`` keyed by field name)
and checks that the user is a member of the group the record belongs to
(``PermissionDenied`` otherwise). Nested rows (components, layers, pressure
steps, evidence) are written with their parent and replaced as a whole on
update, positions assigned in the order given.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction

from apps.accounts.models import Membership, ResearchGroup
from apps.accounts.references import require_visible_dependents, require_visible_references
from apps.accounts.selectors import visible_q

from .models import (
    Cell,
    CellLayer,
    Electrode,
    Interface,
    InterfaceEvidence,
    Material,
    MaterialFamily,
    PressureStep,
    Separator,
    SeparatorComponent,
    Source,
)
from .signals import geometry_changed

# Fields a caller never sets directly: ownership goes through `group`, bookkeeping is automatic.
_PROTECTED = {"id", "pk", "group", "created_by", "created_at", "updated_at"}
_FRACTION_TOLERANCE = 1e-6
DOI_PATTERN = re.compile(r"^10\.\d{4,9}/\S+$")


# ----------------------------------------------------------------------------- permission and validation


def _is_member(user, group: ResearchGroup) -> bool:
    if not user or not user.is_authenticated:
        return False
    return user.is_superuser or Membership.objects.filter(user=user, group=group).exists()


def _require_member(user, group: ResearchGroup) -> None:
    if not isinstance(group, ResearchGroup):
        raise ValidationError({"group": "A research group is required."})
    if not _is_member(user, group):
        raise PermissionDenied(f"{user or 'An anonymous user'} is not a member of {group} and cannot write its records.")


def _check_field_names(model: type[models.Model], fields: dict[str, Any], nested: Iterable[str] = ()) -> None:
    unknown = []
    for name in fields:
        if name in _PROTECTED or name in nested:
            unknown.append(name)
            continue
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            unknown.append(name)
            continue
        if field.many_to_many or field.one_to_many or not field.concrete:
            unknown.append(name)
    if unknown:
        raise ValidationError({name: f"{model.__name__} has no writable field {name!r}." for name in unknown})


def _require_visible(record: models.Model | None, user, field: str) -> None:
    """A record may point only at records its author can see."""
    if record is None or not hasattr(record, "visibility"):
        return
    if not type(record)._default_manager.filter(visible_q(user), pk=record.pk).exists():
        raise ValidationError({field: f"{type(record).__name__} {record.pk} does not exist or is not visible to you."})


def _nested_error(parameter: str, position: int, exc: ValidationError) -> ValidationError:
    messages = []
    for name, errors in exc.message_dict.items():
        where = f"item {position + 1}" if name == "__all__" else f"item {position + 1}, {name}"
        messages.extend(f"{where}: {message}" for message in errors)
    return ValidationError({parameter: messages})


def _resolve(model: type[models.Model], value: Any, parameter: str, position: int, name: str):
    """A foreign key given as an instance, a primary key or None."""
    if value is None or isinstance(value, model):
        return value
    is_pk = isinstance(value, int) and not isinstance(value, bool) or (isinstance(value, str) and value.strip().isdigit())
    found = model._default_manager.filter(pk=int(value)).first() if is_pk else None
    if found is None and model is Material and isinstance(value, str):
        found = Material.objects.filter(name__iexact=value.strip()).first()
    if found is None:
        raise ValidationError({parameter: f"item {position + 1}, {name}: no {model.__name__} {value!r}."})
    return found


def _constraint_fields(constraint) -> set[str]:
    condition = getattr(constraint, "condition", None)
    if condition is None:
        return set(getattr(constraint, "fields", ()) or ())
    names: set[str] = set()
    pending = [condition]
    while pending:
        node = pending.pop()
        for child in getattr(node, "children", ()):
            if isinstance(child, tuple):
                names.add(child[0].split("__")[0])
            else:
                pending.append(child)
    return names


def full_clean_by_field(record: models.Model, **kwargs: Any) -> None:
    """``record.full_clean()``, with a violated single-field check constraint reported under that field's name.

    Django reports database constraints under ``__all__``; a form or an API
    client needs to know which field to correct.
    """
    try:
        record.full_clean(**kwargs)
    except ValidationError as exc:
        if not hasattr(exc, "error_dict") or "__all__" not in exc.error_dict:
            raise
        by_name = {c.name: _constraint_fields(c) for c in record._meta.constraints}
        errors: dict[str, list] = {k: list(v) for k, v in exc.error_dict.items() if k != "__all__"}
        for error in exc.error_dict["__all__"]:
            message = " ".join(error.messages)
            fields = next((f for name, f in by_name.items() if name in message and len(f) == 1), None)
            if fields:
                field = next(iter(fields))
                label = record._meta.get_field(field).verbose_name
                errors.setdefault(field, []).append(ValidationError(f"{label} is out of range ({message})"))
            else:
                errors.setdefault("__all__", []).append(error)
        raise ValidationError(errors) from None


def _exposure(record: models.Model) -> tuple:
    return record.group_id, record.visibility, record.embargo_until


def _stored_exposure(record: models.Model) -> tuple | None:
    if record.pk is None:
        return None
    row = type(record)._default_manager.filter(pk=record.pk).values_list("group_id", "visibility", "embargo_until")
    return row.first()


def _save_owned(record: models.Model, *, user, group: ResearchGroup, is_new: bool) -> None:
    before = None if is_new else _stored_exposure(record)
    record.group = group
    if is_new and user is not None and user.is_authenticated:
        record.created_by = user
    full_clean_by_field(record)
    record.save()
    if before is not None and before != _exposure(record):
        # Visibility follows references: a record referenced by others may not drop below them.
        require_visible_dependents(record, user=user)


def _apply(record: models.Model, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        setattr(record, name, value)


# ----------------------------------------------------------------------------- shared reference data


@transaction.atomic
def get_or_create_material(
    *, name: str, formula: str = "", family: str = MaterialFamily.OTHER, description: str = ""
) -> Material:
    """The material called ``name`` (case-insensitive), created if new; an existing one gains a missing formula."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A material needs a name."})
    material = Material.objects.filter(name__iexact=name).first()
    if material is not None:
        if formula and not material.formula:
            material.formula = formula
            material.full_clean()
            material.save(update_fields=["formula"])
        return material
    material = Material(name=name, formula=formula, family=family, description=description)
    material.full_clean()
    try:
        with transaction.atomic():
            material.save()
    except IntegrityError:  # created concurrently under the same name
        return Material.objects.get(name__iexact=name)
    return material


def normalise_doi(doi: str) -> str:
    """DOI without resolver prefix, lower-case (DOIs are case-insensitive)."""
    doi = (doi or "").strip()
    doi = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", doi, flags=re.IGNORECASE)
    return doi.lower()


@transaction.atomic
def get_or_create_source(*, doi: str, citation: str = "", year: int | None = None, url: str = "") -> Source:
    """The source with this DOI (any spelling: ``doi:``, ``https://doi.org/`` …), created if new."""
    normalised = normalise_doi(doi)
    if not DOI_PATTERN.match(normalised):
        raise ValidationError({"doi": f"{doi!r} is not a DOI (expected 10.<registrant>/<suffix>)."})
    source = Source.objects.filter(doi=normalised).first()
    if source is not None:
        changed = []
        for name, value in (("citation", citation), ("year", year), ("url", url)):
            if value and not getattr(source, name):
                setattr(source, name, value)
                changed.append(name)
        if changed:
            source.full_clean()
            source.save(update_fields=changed)
        return source
    source = Source(doi=normalised, citation=citation, year=year, url=url or f"https://doi.org/{normalised}")
    source.full_clean()
    source.save()
    return source


# ----------------------------------------------------------------------------- separators


def _write_components(separator: Separator, components: list[dict[str, Any]]) -> None:
    rows = []
    totals: dict[str, float] = {}
    for position, item in enumerate(components):
        if not isinstance(item, dict):
            raise ValidationError({"components": f"item {position + 1}: must be an object."})
        unknown = set(item) - {"material", "role", "fraction", "fraction_basis"}
        if unknown:
            raise ValidationError({"components": f"item {position + 1}: unknown field(s) {', '.join(sorted(unknown))}."})
        data = dict(item)
        data["material"] = _resolve(Material, data.get("material"), "components", position, "material")
        if data["material"] is None:
            raise ValidationError({"components": f"item {position + 1}, material: a material is required."})
        row = SeparatorComponent(separator=separator, **data)
        try:
            full_clean_by_field(row, exclude=["separator"])
        except ValidationError as exc:
            raise _nested_error("components", position, exc) from None
        if row.fraction is not None:
            totals[row.fraction_basis] = totals.get(row.fraction_basis, 0.0) + row.fraction
        rows.append(row)
    for basis, total in totals.items():
        if total > 1.0 + _FRACTION_TOLERANCE:
            raise ValidationError({"components": f"{basis} fractions add up to {total:.3g}; they cannot exceed 1."})
    separator.components.all().delete()
    SeparatorComponent.objects.bulk_create(rows)


@transaction.atomic
def create_separator(*, user, group: ResearchGroup, components: list[dict[str, Any]], **fields: Any) -> Separator:
    """A new separator of ``group`` with its components (material, role, fraction, fraction_basis)."""
    _require_member(user, group)
    _check_field_names(Separator, fields)
    separator = Separator(**fields)
    _save_owned(separator, user=user, group=group, is_new=True)
    _write_components(separator, list(components or []))
    return separator


@transaction.atomic
def update_separator(
    *, separator: Separator, user, components: list[dict[str, Any]] | None = None, **fields: Any
) -> Separator:
    """Change fields; ``components`` (when given) replaces every component. Geometry changes re-queue analysis."""
    _require_member(user, separator.group)
    new_group = fields.pop("group", separator.group)
    if new_group != separator.group:
        _require_member(user, new_group)
    _check_field_names(Separator, fields)
    geometry_changed = any(
        name in fields and fields[name] != getattr(separator, name) for name in ("thickness_um", "area_cm2")
    )
    _apply(separator, fields)
    _save_owned(separator, user=user, group=new_group, is_new=False)
    if components is not None:
        _write_components(separator, list(components))
    if geometry_changed:
        _requeue_analysis(separator=separator, user=user)
    return separator


def _requeue_analysis(*, user, separator: Separator | None = None, cell: Cell | None = None) -> None:
    """Conductivities depend on thickness and area: have them recomputed once the change commits."""
    target = {"separator_id": separator.pk} if separator is not None else {"cell_id": cell.pk}
    transaction.on_commit(lambda: geometry_changed.send(sender=Separator if separator is not None else Cell,
                                                        user=user, **target))


# ----------------------------------------------------------------------------- electrodes


@transaction.atomic
def create_electrode(*, user, group: ResearchGroup, **fields: Any) -> Electrode:
    _require_member(user, group)
    _check_field_names(Electrode, fields)
    electrode = Electrode(**fields)
    _save_owned(electrode, user=user, group=group, is_new=True)
    return electrode


@transaction.atomic
def update_electrode(*, electrode: Electrode, user, **fields: Any) -> Electrode:
    _require_member(user, electrode.group)
    new_group = fields.pop("group", electrode.group)
    if new_group != electrode.group:
        _require_member(user, new_group)
    _check_field_names(Electrode, fields)
    _apply(electrode, fields)
    _save_owned(electrode, user=user, group=new_group, is_new=False)
    return electrode


# ----------------------------------------------------------------------------- interfaces


def _write_evidence(interface: Interface, evidence: list[dict[str, Any]]) -> None:
    allowed = {
        "technique",
        "assigned_species",
        "termination",
        "measured_value",
        "computed_value",
        "value_unit",
        "notes",
        "source",
    }
    rows = []
    for position, item in enumerate(evidence):
        if not isinstance(item, dict):
            raise ValidationError({"evidence": f"item {position + 1}: must be an object."})
        unknown = set(item) - allowed
        if unknown:
            raise ValidationError({"evidence": f"item {position + 1}: unknown field(s) {', '.join(sorted(unknown))}."})
        data = dict(item)
        data["source"] = _resolve(Source, data.get("source"), "evidence", position, "source")
        row = InterfaceEvidence(interface=interface, **data)
        try:
            full_clean_by_field(row, exclude=["interface"])
        except ValidationError as exc:
            raise _nested_error("evidence", position, exc) from None
        rows.append(row)
    interface.evidence.all().delete()
    InterfaceEvidence.objects.bulk_create(rows)


@transaction.atomic
def create_interface(*, user, group: ResearchGroup, evidence: list[dict[str, Any]], **fields: Any) -> Interface:
    """A new interface with its characterisation evidence (technique, assigned species, values)."""
    _require_member(user, group)
    _check_field_names(Interface, fields)
    interface = Interface(**fields)
    _save_owned(interface, user=user, group=group, is_new=True)
    _write_evidence(interface, list(evidence or []))
    return interface


@transaction.atomic
def update_interface(
    *, interface: Interface, user, evidence: list[dict[str, Any]] | None = None, **fields: Any
) -> Interface:
    _require_member(user, interface.group)
    new_group = fields.pop("group", interface.group)
    if new_group != interface.group:
        _require_member(user, new_group)
    _check_field_names(Interface, fields)
    _apply(interface, fields)
    _save_owned(interface, user=user, group=new_group, is_new=False)
    if evidence is not None:
        _write_evidence(interface, list(evidence))
    return interface


# ----------------------------------------------------------------------------- cells


def _write_layers(cell: Cell, layers: list[dict[str, Any]], user) -> None:
    allowed = {"kind", "separator", "electrode", "material", "thickness_um", "description"}
    rows = []
    for position, item in enumerate(layers):
        if not isinstance(item, dict):
            raise ValidationError({"layers": f"item {position + 1}: must be an object."})
        unknown = set(item) - allowed
        if unknown:
            raise ValidationError({"layers": f"item {position + 1}: unknown field(s) {', '.join(sorted(unknown))}."})
        data = dict(item)
        data["separator"] = _resolve(Separator, data.get("separator"), "layers", position, "separator")
        data["electrode"] = _resolve(Electrode, data.get("electrode"), "layers", position, "electrode")
        data["material"] = _resolve(Material, data.get("material"), "layers", position, "material")
        for name in ("separator", "electrode"):
            try:
                _require_visible(data[name], user, name)
            except ValidationError as exc:
                raise _nested_error("layers", position, exc) from None
        row = CellLayer(cell=cell, position=position, **data)
        try:
            full_clean_by_field(row, exclude=["cell"], validate_unique=False)
        except ValidationError as exc:
            raise _nested_error("layers", position, exc) from None
        if row.kind == CellLayer.Kind.SEPARATOR and row.separator is None and row.material is None:
            raise ValidationError({"layers": f"item {position + 1}: a separator layer names a separator or a material."})
        if row.kind == CellLayer.Kind.ELECTRODE and row.electrode is None and row.material is None:
            raise ValidationError({"layers": f"item {position + 1}: an electrode layer names an electrode or a material."})
        rows.append(row)
    cell.layers.all().delete()
    CellLayer.objects.bulk_create(rows)


def _write_pressure_steps(cell: Cell, steps: list[dict[str, Any]]) -> None:
    allowed = {"phase", "pressure_mpa", "duration_min", "temperature_c", "notes"}
    rows = []
    for position, item in enumerate(steps):
        if not isinstance(item, dict):
            raise ValidationError({"pressure_steps": f"item {position + 1}: must be an object."})
        unknown = set(item) - allowed
        if unknown:
            raise ValidationError(
                {"pressure_steps": f"item {position + 1}: unknown field(s) {', '.join(sorted(unknown))}."}
            )
        row = PressureStep(cell=cell, position=position, **item)
        try:
            full_clean_by_field(row, exclude=["cell"], validate_unique=False)
        except ValidationError as exc:
            raise _nested_error("pressure_steps", position, exc) from None
        rows.append(row)
    cell.pressure_steps.all().delete()
    PressureStep.objects.bulk_create(rows)


def _set_interfaces(cell: Cell, interfaces: Iterable, user) -> None:
    resolved = []
    for position, value in enumerate(interfaces):
        interface = _resolve(Interface, value, "interfaces", position, "interface")
        try:
            _require_visible(interface, user, "interfaces")
        except ValidationError as exc:
            raise _nested_error("interfaces", position, exc) from None
        resolved.append(interface)
    cell.interfaces.set(resolved)


def _default_separator(fields: dict[str, Any], layers: list[dict[str, Any]]) -> None:
    """A cell whose stack has exactly one separator layer takes it as its separator when none is named."""
    if fields.get("separator") is not None:
        return
    named = [item.get("separator") for item in layers if isinstance(item, dict) and item.get("separator") is not None]
    if len(named) == 1:
        fields["separator"] = named[0]


@transaction.atomic
def create_cell(
    *,
    user,
    group: ResearchGroup,
    layers: list[dict[str, Any]],
    pressure_steps: list[dict[str, Any]],
    interfaces: Iterable = (),
    publish_references: bool = False,
    **fields: Any,
) -> Cell:
    """A new cell with its ordered layer stack (bottom first), pressure history (first step first) and interfaces.

    The cell may not be more visible than its separator, electrodes and interfaces
    (`apps.accounts.references`); ``publish_references`` publishes them with it.
    """
    _require_member(user, group)
    layers = list(layers or [])
    _check_field_names(Cell, fields)
    _default_separator(fields, layers)
    if fields.get("separator") is not None:
        fields["separator"] = _resolve(Separator, fields["separator"], "separator", 0, "separator")
        _require_visible(fields["separator"], user, "separator")
    cell = Cell(**fields)
    _save_owned(cell, user=user, group=group, is_new=True)
    _write_layers(cell, layers, user)
    _write_pressure_steps(cell, list(pressure_steps or []))
    _set_interfaces(cell, interfaces or (), user)
    require_visible_references(cell, user=user, publish_references=publish_references)
    return cell


@transaction.atomic
def update_cell(
    *,
    cell: Cell,
    user,
    layers: list[dict[str, Any]] | None = None,
    pressure_steps: list[dict[str, Any]] | None = None,
    interfaces: Iterable | None = None,
    publish_references: bool = False,
    **fields: Any,
) -> Cell:
    """Change fields; each of ``layers``, ``pressure_steps``, ``interfaces`` given replaces the old set whole.

    ``publish_references``: publish the separator, electrodes and interfaces the cell would otherwise be
    more visible than (else that is refused, naming them).
    """
    _require_member(user, cell.group)
    new_group = fields.pop("group", cell.group)
    if new_group != cell.group:
        _require_member(user, new_group)
    _check_field_names(Cell, fields)
    exposure_before = _stored_exposure(cell)
    if fields.get("separator") is not None:
        fields["separator"] = _resolve(Separator, fields["separator"], "separator", 0, "separator")
        if fields["separator"] != cell.separator:
            _require_visible(fields["separator"], user, "separator")
    area_changed = "active_area_cm2" in fields and fields["active_area_cm2"] != cell.active_area_cm2
    separator_changed = "separator" in fields and fields["separator"] != cell.separator
    leads_changed = "lead_resistance_ohm" in fields and fields["lead_resistance_ohm"] != cell.lead_resistance_ohm
    _apply(cell, fields)
    _save_owned(cell, user=user, group=new_group, is_new=False)
    if layers is not None:
        _write_layers(cell, list(layers), user)
    if pressure_steps is not None:
        _write_pressure_steps(cell, list(pressure_steps))
    if interfaces is not None:
        _set_interfaces(cell, interfaces, user)
    references_given = "separator" in fields or layers is not None or interfaces is not None
    if publish_references or references_given or exposure_before != _exposure(cell):
        require_visible_references(cell, user=user, publish_references=publish_references)
    if area_changed or separator_changed or leads_changed:
        _requeue_analysis(cell=cell, user=user)
    return cell

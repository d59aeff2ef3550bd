"""Protocol writes: user protocols, new versions and the background re-fit under a protocol, and the
standard protocol a spectrum gets (the choice rule itself lives in ``apps/analysis/protocols.py``)."""
from __future__ import annotations

import hashlib
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.selectors import groups_of
from apps.jobs.models import Job
from apps.jobs.services import dispatch_job, new_job
from apps.measurements.models import ImpedanceSpectrum

from .. import protocols as protocol_rules
from ..models import ArrheniusFit, ElementRole, FitProtocol
from .common import AnalysisError

PROTOCOL_FIT_FIELDS = (
    "circuit", "weighting", "frequency_min_hz", "frequency_max_hz", "bounds", "element_roles", "applies_to",
)
PROTOCOL_EDITABLE_FIELDS = PROTOCOL_FIT_FIELDS + ("description", "is_standard")


def validate_circuit(circuit: str) -> None:
    """Raise ValidationError(circuit=...) naming the position of a syntax error."""
    from apps.analysis.eis.circuits import parse_circuit

    try:
        parse_circuit(circuit)
    except ValueError as exc:
        raise ValidationError({"circuit": f"Circuit {circuit!r}: {exc}"}) from exc


def _validate_protocol_fields(fields: dict[str, Any]) -> None:
    from apps.analysis.eis.circuits import parse_circuit

    validate_circuit(fields["circuit"])
    names = parse_circuit(fields["circuit"]).parameter_names
    element_names = {n.split("_")[0] for n in names}
    errors: dict[str, str] = {}
    for name, pair in (fields.get("bounds") or {}).items():
        if name not in names:
            errors["bounds"] = f"bounds name {name!r}, which is not a parameter of the circuit ({', '.join(names)})"
        elif not (isinstance(pair, (list, tuple)) and len(pair) == 2 and float(pair[0]) < float(pair[1])):
            errors["bounds"] = f"bounds of {name} must be [low, high] with low < high"
    for name, role in (fields.get("element_roles") or {}).items():
        if name not in element_names:
            errors["element_roles"] = f"role given for {name!r}, which is not an element of the circuit"
        elif role not in ElementRole.values:
            errors["element_roles"] = f"unknown role {role!r} for {name}"
    if errors:
        raise ValidationError(errors)


def protocol_is_used(protocol: FitProtocol) -> bool:
    return protocol.fits.exists() or ArrheniusFit.objects.filter(protocol=protocol).exists()


def _may_manage_protocol(protocol: FitProtocol, user) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    if protocol.is_standard or protocol.group_id is None:
        return False  # standard protocols change only through staff
    return groups_of(user).filter(pk=protocol.group_id).exists()


def _check_changes(changes: dict, user) -> None:
    unknown = set(changes) - set(PROTOCOL_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({k: "This field cannot be changed." for k in sorted(unknown)})
    if "is_standard" in changes and not user.is_superuser:
        raise ValidationError({"is_standard": "Only staff decide which protocols are standard."})


@transaction.atomic
def create_protocol(
    *, user, group, name: str, circuit: str, element_roles: dict | None = None, bounds: dict | None = None,
    weighting: str = "modulus", frequency_min_hz: float | None = None, frequency_max_hz: float | None = None,
    description: str = "", applies_to: list | None = None,
) -> FitProtocol:
    """A user protocol owned by ``group`` (the user must be a member); version 1."""
    if not (user and user.is_authenticated and (user.is_superuser or groups_of(user).filter(pk=group.pk).exists())):
        raise ValidationError({"group": "You can only create protocols for a group you belong to."})
    fields = {
        "circuit": circuit.strip(), "element_roles": element_roles or {}, "bounds": bounds or {},
        "weighting": weighting, "frequency_min_hz": frequency_min_hz, "frequency_max_hz": frequency_max_hz,
        "applies_to": applies_to or [],
    }
    _validate_protocol_fields(fields)
    if FitProtocol.objects.filter(name=name).exists():
        raise ValidationError({"name": f"A protocol named {name!r} exists; make a new version of it instead."})
    protocol = FitProtocol(name=name, version=1, description=description, group=group, created_by=user, **fields)
    protocol.full_clean()
    protocol.save()
    return protocol


@transaction.atomic
def update_protocol(*, protocol: FitProtocol, user, **changes) -> FitProtocol:
    """Edit a protocol that has not been used yet; a used one is immutable (ValidationError)."""
    if not _may_manage_protocol(protocol, user):
        raise ValidationError("You may not change this protocol.")
    _check_changes(changes, user)
    if protocol_is_used(protocol) and any(k in PROTOCOL_FIT_FIELDS for k in changes):
        raise ValidationError(
            f"{protocol} has been used for fits and is immutable; create a new version "
            f"(create_protocol_version) to change it."
        )
    for key, value in changes.items():
        setattr(protocol, key, value)
    _validate_protocol_fields({k: getattr(protocol, k) for k in PROTOCOL_FIT_FIELDS})
    protocol.full_clean()
    protocol.save()
    return protocol


@transaction.atomic
def create_protocol_version(*, base: FitProtocol, user, refit: bool = True, **changes) -> FitProtocol:
    """A copy of ``base`` with ``changes`` as version (newest version of the name) + 1.

    With ``refit`` (the default) every spectrum the new version applies to is re-fitted in
    the background once the version is committed (``refit_protocol``: one job with progress).
    """
    if not _may_manage_protocol(base, user):
        raise ValidationError("You may not make a new version of this protocol.")
    _check_changes(changes, user)
    latest = FitProtocol.objects.select_for_update().filter(name=base.name).order_by("-version").first()
    fields = {k: getattr(base, k) for k in PROTOCOL_EDITABLE_FIELDS}
    fields.update(changes)
    _validate_protocol_fields(fields)
    protocol = FitProtocol(
        name=base.name, version=latest.version + 1, group=base.group, created_by=user if user.is_authenticated else None,
        **fields,
    )
    protocol.full_clean()
    protocol.save()
    if refit:
        transaction.on_commit(lambda: refit_protocol(protocol=protocol, user=user if user.is_authenticated else None))
    return protocol


@transaction.atomic
def refit_protocol(*, protocol: FitProtocol, user=None) -> Job:
    """Queue a re-fit of every spectrum the protocol applies to (fanned out in chunks, with progress)."""
    job = new_job(
        kind=Job.Kind.REFIT_PROTOCOL, target_type="protocol", target_id=protocol.pk, target_label=str(protocol),
        user=user, group_id=protocol.group_id,
    )
    dispatch_job(job)
    return job


def refit_candidates(protocol: FitProtocol) -> list[int]:
    """Ids of the spectra a protocol applies to.

    Standard protocol: spectra of cells whose configuration it applies to
    (each chunk then keeps only those the selection rule gives this name).
    Other protocols: spectra fitted under any version of the same name.
    """
    if protocol.is_standard:
        configurations = list(protocol.applies_to or [])
        qs = ImpedanceSpectrum.objects.filter(cell__configuration__in=configurations)
    else:
        qs = ImpedanceSpectrum.objects.filter(fits__protocol__name=protocol.name).distinct()
    return list(qs.order_by("pk").values_list("pk", flat=True))


def latest_standard_protocol(name: str) -> FitProtocol:
    protocol = FitProtocol.objects.filter(name=name, is_standard=True).order_by("-version").first()
    if protocol is None:
        raise AnalysisError(f"The standard protocol {name!r} is not installed (run `manage.py migrate`).")
    return protocol


def standard_protocol_name_for(spectrum: ImpedanceSpectrum) -> str:
    cell = spectrum.cell
    return protocol_rules.select_standard_protocol_name(
        configuration=cell.configuration,
        polymer_separator=protocol_rules.is_polymer_separator(cell.separator),
        frequencies_hz=spectrum.frequencies_hz,
        impedance_ohm=spectrum.impedance_ohm,
    )


def standard_protocol_for(spectrum: ImpedanceSpectrum) -> FitProtocol:
    """The newest version of the standard protocol the rule picks for this spectrum."""
    return latest_standard_protocol(standard_protocol_name_for(spectrum))


def custom_protocol(*, circuit: str, spectrum: ImpedanceSpectrum, user) -> FitProtocol:
    """The group's protocol for a circuit typed in by a user (one per group and circuit)."""
    circuit = circuit.strip()
    max_circuit = FitProtocol._meta.get_field("circuit").max_length
    if len(circuit) > max_circuit:
        raise ValidationError({"circuit": f"A circuit has at most {max_circuit} characters; this one has {len(circuit)}."})
    validate_circuit(circuit)
    user_groups = groups_of(user)
    group = user_groups.filter(pk=spectrum.group_id).first() or user_groups.first()
    if group is None:
        raise ValidationError({"circuit": "Custom circuits belong to a research group; you are in none."})
    existing = (
        FitProtocol.objects.filter(group=group, circuit=circuit, is_standard=False, name__startswith="Custom ")
        .order_by("-version").first()
    )
    if existing is not None:
        return existing
    name = f"Custom {circuit} ({group.slug})"
    if len(name) > FitProtocol._meta.get_field("name").max_length:
        digest = hashlib.sha1(circuit.encode()).hexdigest()[:10]
        name = f"Custom circuit {digest} ({group.slug[:80]})"
    protocol, _ = FitProtocol.objects.get_or_create(
        name=name, version=1,
        defaults={
            "circuit": circuit, "group": group, "created_by": user,
            "description": f"Circuit {circuit} entered by {user.get_username()} for group {group}.",
        },
    )
    return protocol


def named_protocol(*, circuit: str, spectrum: ImpedanceSpectrum, user, name: str, base: FitProtocol | None,
                   window: tuple[float | None, float | None]) -> FitProtocol:
    """The group's protocol ``name`` (a hand fit) with this circuit and frequency window, weighting, bounds and
    roles taken from ``base`` when it started from one: reused when identical, else the next version."""
    validate_circuit(circuit.strip())
    group = groups_of(user).filter(pk=spectrum.group_id).first() or groups_of(user).first()
    if group is None:
        raise ValidationError({"circuit": "Custom fits belong to a research group; you are in none."})
    full_name = f"{name.strip()[:80]} ({group.slug})"[: FitProtocol._meta.get_field("name").max_length]
    fields = {
        "circuit": circuit.strip(), "frequency_min_hz": window[0], "frequency_max_hz": window[1],
        "weighting": base.weighting if base else FitProtocol._meta.get_field("weighting").default,
        "bounds": dict(base.bounds) if base else {}, "element_roles": dict(base.element_roles) if base else {},
    }
    _validate_protocol_fields(fields)
    versions = FitProtocol.objects.filter(name=full_name).order_by("-version")
    for existing in versions:
        if all(getattr(existing, k) == v for k, v in fields.items()):
            return existing
    latest = versions.first()
    if latest is not None and latest.group_id != group.pk:
        raise ValidationError({"name": f"The name {name!r} is taken by another group's protocol."})
    protocol = FitProtocol(name=full_name, version=(latest.version + 1) if latest else 1, group=group, created_by=user,
                           description=f"Hand fit by {user.get_username()} on spectrum {spectrum.pk}.", **fields)
    protocol.full_clean()
    protocol.save()
    return protocol

"""Every write of the analysis app: fits, Kramers–Kronig checks, conductivities,
Arrhenius fits, protocols, and the background jobs that run them.

How a spectrum is analysed (``queue_analysis`` → task → ``run_job``):

1. Kramers–Kronig check (``validate_spectrum``): one row per spectrum.
2. Fit under the standard protocol the rule in ``protocols.py`` picks
   (``fit_spectrum``): one row per spectrum and protocol, succeeded or
   failed with its reason; derived resistances, effective capacitances,
   arc assignments and flags; conductivities per kind with propagated error.
   The cell's ``lead_resistance_ohm`` (short circuit of the empty cell) is
   taken off the bare high-frequency intercept when that intercept counts as
   sample (``_lead_correction``), never off an element fitted as "series".
3. When a job ends, follow-ups are queued once per separator (debounced:
   at most one queued Arrhenius job per separator; it steps aside while
   analyses of that separator are still pending, and the last one to
   finish queues it again), and after the Arrhenius fit the separator's
   and its cells' benchmark entries are recomputed.

Every row is written with ``update_or_create`` on a key the database keeps
unique, so running any job twice leaves the same rows.
"""
from __future__ import annotations

import datetime
import hashlib
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from apps.accounts.selectors import can_edit, can_view, groups_of
from apps.catalog.models import Cell, Separator
from apps.measurements.models import ImpedanceSpectrum

from . import protocols as protocol_rules
from .models import (
    ArrheniusFit,
    ArrheniusForm,
    Conductivity,
    ElementRole,
    FitProtocol,
    FitResult,
    FitStatus,
    Job,
    KramersKronigCheck,
)

logger = logging.getLogger(__name__)

#: A job started this many times without finishing (worker killed, time limit) is failed.
MAX_ATTEMPTS = 5
#: A queued job sent this many times and never started is failed.
MAX_DISPATCHES = 5
#: Spectra per re-fit chunk task.
REFIT_CHUNK_SIZE = 25
#: Seconds between progress writes of a running chunk.
PROGRESS_EVERY_S = 0.5
#: Seconds a follow-up (Arrhenius, benchmarks) waits, so one upload's spectra are grouped.
FOLLOWUP_DELAY_S = 3
#: rms of the relative residuals above which a fit is flagged "poor_chi_square".
POOR_FIT_RMS_RELATIVE_RESIDUAL = 0.02
#: Relative distance to a bound that counts as "at the bound".
AT_BOUND_TOLERANCE = 1e-3

UNFINISHED = (Job.State.QUEUED, Job.State.RUNNING)
FINISHED = (Job.State.SUCCEEDED, Job.State.FAILED, Job.State.CANCELLED)
_ROLES_NOT_CHECKED_AT_BOUND = {"series", "inductance"}


class AnalysisError(Exception):
    """A job cannot do its work; the message is shown to people as the job's error."""


def stale_running_after() -> datetime.timedelta:
    """A running job whose heartbeat is older than this lost its worker (hard limit + margin)."""
    return datetime.timedelta(seconds=int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 360)) + 120)


def stale_queued_after() -> datetime.timedelta:
    return datetime.timedelta(seconds=int(getattr(settings, "ANALYSIS_STALE_QUEUED_S", 1800)))


def engine_version() -> str:
    from apps.analysis import eis

    return str(getattr(eis, "ENGINE_VERSION", "") or "unversioned")


# ---------------------------------------------------------------------------
# Protocols
# ---------------------------------------------------------------------------

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


def _custom_protocol(*, circuit: str, spectrum: ImpedanceSpectrum, user) -> FitProtocol:
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


# ---------------------------------------------------------------------------
# Kramers–Kronig
# ---------------------------------------------------------------------------


def _json_safe(value):
    """Non-finite floats become null: PostgreSQL's jsonb refuses NaN and Infinity."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _finite_list(values) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, float).ravel()]


def validate_spectrum(*, spectrum_id: int) -> KramersKronigCheck:
    """Lin-KK test of the spectrum; one row per spectrum (update_or_create).

    The numerics run outside any transaction, so parallel workers hold the
    database's write lock only for the write itself.
    """
    from apps.analysis.eis.kramers_kronig import kramers_kronig_test

    spectrum = ImpedanceSpectrum.objects.get(pk=spectrum_id)
    try:
        f, z = spectrum.frequencies_hz, spectrum.impedance_ohm
        # A blocking electrode's spike is a series capacitance, outside the RC elements of Lin-KK.
        kk = kramers_kronig_test(f, z, add_capacitance=protocol_rules.has_capacitive_tail(f, z))
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        raise AnalysisError(f"Kramers–Kronig test of spectrum {spectrum_id} impossible: {exc}") from exc
    with transaction.atomic():
        check, _ = KramersKronigCheck.objects.update_or_create(
            spectrum=spectrum,
            defaults={
                "n_elements": int(kk.m), "mu": float(kk.mu), "max_abs_residual": float(kk.max_abs_residual),
                "threshold": float(kk.threshold), "passed": bool(kk.passed),
                "systematic_residual": float(kk.systematic_residual), "noise_level": float(kk.noise_level),
                "residuals_real": _finite_list(kk.residuals_real), "residuals_imag": _finite_list(kk.residuals_imag),
                "engine_version": engine_version(),
            },
        )
    return check


# ---------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------


def _blocks(circuit) -> list[tuple[Any, ...]]:
    """R‖CPE (or R‖C) blocks in series at the top level, as (R element, capacitive element)."""
    from apps.analysis.eis.circuits import Element, Parallel, Series

    root = circuit.root
    children = root.children if isinstance(root, Series) else (root,)
    blocks = []
    for child in children:
        if isinstance(child, Parallel) and len(child.children) == 2 and all(isinstance(c, Element) for c in child.children):
            r = [c for c in child.children if c.type.symbol == "R"]
            cap = [c for c in child.children if c.type.symbol in ("CPE", "C")]
            if len(r) == 1 and len(cap) == 1:
                blocks.append((r[0], cap[0]))
    return blocks


def _time_constant_s(r_ohm: float, cap_element, params: dict) -> float:
    if cap_element.type.symbol == "C":
        return r_ohm * params[cap_element.name]
    q, n = params[f"{cap_element.name}_Q"], params[f"{cap_element.name}_n"]
    return (r_ohm * q) ** (1.0 / n) if n > 0 else math.inf


def _canonical_order(circuit, params: dict) -> list[int]:
    """Permutation of parameter indices that numbers identical R‖CPE blocks by increasing τ.

    The fit cannot tell two identical blocks apart; the protocols' roles
    assume the first-numbered block is the faster (higher-frequency) arc.
    """
    names = circuit.parameter_names
    perm = list(range(len(names)))
    by_shape: dict[tuple, list] = {}
    for r, cap in _blocks(circuit):
        by_shape.setdefault((cap.type.symbol,), []).append((r, cap))
    for blocks in by_shape.values():
        if len(blocks) < 2:
            continue
        taus = [_time_constant_s(params[r.name], cap, params) for r, cap in blocks]
        order = sorted(range(len(blocks)), key=lambda i: taus[i])
        for slot, source in enumerate(order):
            if slot == source:
                continue
            for target_el, source_el in zip(blocks[slot], blocks[source]):
                for t_name, s_name in zip(target_el.parameter_names, source_el.parameter_names):
                    perm[names.index(t_name)] = names.index(s_name)
    return perm


@dataclass
class _Derived:
    derived: dict
    flags: list[str]
    resistances: dict[str, tuple[float, float]]  # kind -> (R ohm, stderr ohm)


def _geometry(spectrum: ImpedanceSpectrum) -> tuple[float | None, float | None, float, float, str]:
    """(thickness cm, area cm², thickness stderr cm, area stderr cm², reason when missing)."""
    cell = spectrum.cell
    separator = cell.separator
    if separator is None:
        return None, None, 0.0, 0.0, "the cell names no separator"
    if not separator.thickness_um:
        return None, None, 0.0, 0.0, f"separator {separator.name!r} has no thickness"
    area = cell.active_area_cm2 or separator.area_cm2
    if not area:
        return None, None, 0.0, 0.0, f"neither cell {cell.name!r} nor separator {separator.name!r} states an area"
    thickness_stderr_cm = (separator.thickness_stderr_um or 0.0) * 1e-4
    return separator.thickness_um * 1e-4, float(area), thickness_stderr_cm, 0.0, ""


_EXPECTED_ASSIGNMENT = {
    "bulk": {"bulk"},
    "grain_boundary": {"grain_boundary", "surface_layer"},
    "interface": {"grain_boundary", "surface_layer", "electrode"},
    "electrode": {"surface_layer", "electrode"},
}


def _derive(*, circuit, protocol: FitProtocol, params: dict, stderr: dict, covariance: np.ndarray,
            rms_residual: float, converged: bool, bounds: dict, spectrum: ImpedanceSpectrum) -> _Derived:
    from apps.analysis.eis import derived as eis_derived

    roles = protocol.element_roles or {}
    names = circuit.parameter_names
    thickness_cm, area_cm2, _, _, missing = _geometry(spectrum)
    flags: list[str] = []
    details: dict[str, str] = {}
    elements: dict[str, dict] = {}
    capacitive_of = {r.name: cap for r, cap in _blocks(circuit)}

    for element in circuit.elements:
        if element.type.symbol != "R":
            continue
        r = params[element.name]
        entry: dict[str, Any] = {
            "role": roles.get(element.name, ""), "resistance_ohm": r, "resistance_stderr_ohm": stderr.get(element.name),
        }
        cap = capacitive_of.get(element.name)
        if cap is not None and r > 0:
            if cap.type.symbol == "C":
                c_eff = params[cap.name]
            else:
                c_eff = eis_derived.effective_capacitance_rq(r, params[f"{cap.name}_Q"], params[f"{cap.name}_n"])
            tau = _time_constant_s(r, cap, params)
            entry.update({
                "capacitive_element": cap.name, "capacitance_f": c_eff, "time_constant_s": tau,
                "apex_frequency_hz": 1.0 / (2 * math.pi * tau) if tau > 0 else None,
            })
            if thickness_cm and area_cm2 and c_eff > 0 and math.isfinite(c_eff):
                assignment = eis_derived.assign_arc(c_eff, thickness_cm, area_cm2)
                entry["capacitance_normalised_f_per_cm"] = c_eff * thickness_cm / area_cm2
                entry["assignment"] = assignment
        elements[element.name] = entry

    # The bulk-beyond layout (bare intercept = bulk, one arc = grain boundary) is chosen from the shape;
    # when the fitted arc has a bulk capacitance (Irvine, Sinclair & West 1990) the arc *is* the bulk —
    # its apex merely sits near the top of the window — and the intercept is only leads and contacts.
    reassigned = _bulk_arc_mislabelled(elements, capacitive_of)
    if reassigned:
        intercept, arc = reassigned
        elements[arc]["role"] = "bulk"
        note = f"{arc} has a bulk capacitance ({elements[arc]['capacitance_normalised_f_per_cm']:.2g} F/cm): it is bulk"
        if intercept is not None:
            elements[intercept]["role"] = "series"
            note += f", and {intercept} (under a tenth of it) is leads and contacts"
        flags.append("roles_reassigned_by_capacitance")
        details["roles_reassigned_by_capacitance"] = note
    for name, entry in elements.items():
        role, assignment = entry["role"], entry.get("assignment")
        if assignment and role in _EXPECTED_ASSIGNMENT and assignment not in _EXPECTED_ASSIGNMENT[role]:
            flags.append("assignment_at_odds_with_role")
            details.setdefault("assignment_at_odds_with_role", "")
            details["assignment_at_odds_with_role"] += (
                f"{name} is fitted as {role} but its capacitance "
                f"({entry['capacitance_normalised_f_per_cm']:.2g} F/cm) suggests {assignment}. "
            )

    # An arc fitted where the electrode spike is larger than the whole arc is not seen in the data:
    # its R is free (a blocking cell's spike hides any small R‖CPE beneath it), so it is not counted
    # in a conductivity, whatever its role.
    hidden = _arcs_hidden_by_electrode(circuit, roles, params, elements)
    if hidden:
        flags.append("arc_hidden_under_electrode_spike")
        details["arc_hidden_under_electrode_spike"] = "; ".join(
            f"{name} ({elements[name]['role']}, {params[name]:.3g} Ω) lies under the electrode spike "
            f"and is left out of the conductivity" for name in hidden
        )
        for name in hidden:
            elements[name]["hidden_under_electrode_spike"] = True

    # The cell's measured lead (short-circuit) resistance sits in the bare high-frequency intercept; when
    # that intercept is counted as sample (bulk / total) it is taken off before σ. A protocol that fits the
    # leads as their own "series" element needs no correction.
    leads = _lead_correction(spectrum, elements, capacitive_of, hidden)
    if leads is not None:
        name, r_leads = leads
        corrected = params[name] - r_leads
        elements[name]["lead_resistance_subtracted_ohm"] = r_leads
        if corrected <= 0:
            flags.append("lead_resistance_exceeds_intercept")
            details["lead_resistance_exceeds_intercept"] = (
                f"the cell's lead resistance ({r_leads:.3g} Ω) is not below the fitted intercept {name} "
                f"({params[name]:.3g} Ω): the intercept is taken as leads only"
            )
            corrected = 0.0
        elements[name]["sample_resistance_ohm"] = corrected

    # Resistances per conductivity kind, with the error of the sum from the covariance.
    resistances: dict[str, tuple[float, float]] = {}
    for kind, kind_roles in protocol_rules.CONDUCTIVITY_ROLES.items():
        members = [n for n in elements if elements[n]["role"] in kind_roles and n not in hidden]
        if not members:
            continue
        g = np.zeros(len(names))
        for n in members:
            g[names.index(n)] = 1.0
        value = float(sum(elements[n].get("sample_resistance_ohm", params[n]) for n in members))
        variance = float(g @ covariance @ g) if covariance is not None and covariance.size else 0.0
        resistances[kind] = (value, math.sqrt(variance) if variance > 0 and math.isfinite(variance) else 0.0)

    at_bound = []
    for name in names:
        element_name = name.split("_")[0]
        role = elements[element_name]["role"] if element_name in elements else roles.get(element_name)
        if role in _ROLES_NOT_CHECKED_AT_BOUND:
            continue
        low, high = bounds[name]
        value = params[name]
        if circuit.log_scale[names.index(name)]:
            near = value <= low * (1 + AT_BOUND_TOLERANCE) or value >= high * (1 - AT_BOUND_TOLERANCE)
        else:
            span = AT_BOUND_TOLERANCE * (high - low)
            # n = 1 is the ideal capacitor, a physical limit rather than a fitting bound.
            physical_top = name.endswith("_n") and high == 1.0
            near = value <= low + span or (value >= high - span and not physical_top)
        if near:
            at_bound.append(f"{name} = {value:.4g} (bounds {low:g} … {high:g})")
    if at_bound:
        flags.append("parameter_at_bound")
        details["parameter_at_bound"] = "; ".join(at_bound)
    if rms_residual > POOR_FIT_RMS_RELATIVE_RESIDUAL:
        flags.append("poor_chi_square")
        details["poor_chi_square"] = (
            f"rms relative residual {rms_residual:.2%} exceeds {POOR_FIT_RMS_RELATIVE_RESIDUAL:.0%}"
        )
    if not converged:
        flags.append("not_converged")
        details["not_converged"] = "the optimiser stopped before meeting its tolerance"
    kk = KramersKronigCheck.objects.filter(spectrum_id=spectrum.pk).first()
    if kk is not None and not kk.passed:
        flags.append("kk_failed")
        details["kk_failed"] = kk.failure_text

    derived = {
        "elements": elements,
        "resistances_ohm": {k: {"value": v, "stderr": e} for k, (v, e) in resistances.items()},
        "thickness_cm": thickness_cm,
        "area_cm2": area_cm2,
        "cell_constant_per_cm": (thickness_cm / area_cm2) if thickness_cm and area_cm2 else None,
        "rms_relative_residual": rms_residual,
        "flag_details": details,
    }
    if missing:
        derived["conductivity_skipped"] = f"No conductivity: {missing}."
    return _Derived(derived=derived, flags=sorted(set(flags)), resistances=resistances)


def _lead_correction(spectrum: ImpedanceSpectrum, elements: dict, capacitive_of: dict,
                     hidden: list[str]) -> tuple[str, float] | None:
    """(intercept resistor, lead resistance Ω) when the cell states its lead resistance and the fit has exactly
    one bare resistor (no capacitive partner: the high-frequency intercept) counted in a conductivity."""
    r_leads = getattr(spectrum.cell, "lead_resistance_ohm", None)
    if not r_leads or r_leads <= 0:
        return None
    conductivity_roles = set().union(*protocol_rules.CONDUCTIVITY_ROLES.values())
    bare = [
        n for n, e in elements.items()
        if n not in capacitive_of and n not in hidden and e["role"] in conductivity_roles
    ]
    return (bare[0], float(r_leads)) if len(bare) == 1 else None


def _bulk_arc_mislabelled(elements: dict, capacitive_of: dict) -> tuple[str | None, str] | None:
    """(intercept or None, arc) when the only bulk resistance is a bare intercept and the only grain-boundary
    arc has a bulk capacitance: the arc is bulk; the intercept is named when it is at most a tenth of the
    arc (leads, not sample). None when nothing is to be reassigned."""
    bare_bulk = [n for n, e in elements.items() if e["role"] == "bulk" and n not in capacitive_of]
    bulk_arcs = [n for n, e in elements.items() if e["role"] == "bulk" and n in capacitive_of]
    gb_arcs = [n for n, e in elements.items() if e["role"] == "grain_boundary" and n in capacitive_of]
    if not (len(bare_bulk) == 1 and not bulk_arcs and len(gb_arcs) == 1):
        return None
    intercept, arc = bare_bulk[0], gb_arcs[0]
    if elements[arc].get("assignment") != "bulk":
        return None
    # Nothing is faster than the bulk, so the intercept is bulk too (the arc is the tail of a bulk arc
    # whose apex lies above the window) — unless it is small beside the arc: then it is leads and contacts.
    small = elements[intercept]["resistance_ohm"] <= protocol_rules.BULK_OFFSET_SHARE * elements[arc]["resistance_ohm"]
    return intercept if small else None, arc


def _arcs_hidden_by_electrode(circuit, roles: dict, params: dict, elements: dict) -> list[str]:
    """Names of the conductivity arcs (R of an R‖CPE) buried under the electrode elements' impedance."""
    from apps.analysis.eis import derived as eis_derived
    from apps.analysis.eis.circuits import circuit_impedance

    electrode = [el for el in circuit.elements if roles.get(el.name) == "electrode"]
    if not electrode:
        return []
    conductivity_roles = set().union(*protocol_rules.CONDUCTIVITY_ROLES.values())
    hidden = []
    for name, entry in elements.items():
        f_apex = entry.get("apex_frequency_hz")
        if entry["role"] not in conductivity_roles or not f_apex or not math.isfinite(f_apex):
            continue
        z_series = sum(
            circuit_impedance(el.name, {p: params[p] for p in el.parameter_names}, np.array([f_apex]))[0]
            for el in electrode
        )
        if eis_derived.arc_hidden_by_series_impedance(params[name], abs(z_series)):
            hidden.append(name)
    return hidden


def _fit_bounds(circuit, protocol: FitProtocol) -> dict[str, tuple[float, float]]:
    bounds = {n: tuple(b) for n, b in zip(circuit.parameter_names, circuit.bounds)}
    for name, pair in (protocol.bounds or {}).items():
        bounds[name] = (float(pair[0]), float(pair[1]))
    return bounds


def _store_failed_fit(spectrum: ImpedanceSpectrum, protocol: FitProtocol, reason: str) -> FitResult:
    fit, _ = FitResult.objects.update_or_create(
        spectrum=spectrum, protocol=protocol,
        defaults={
            "status": FitStatus.FAILED, "error": reason, "parameters": {}, "stderr": {}, "correlations": [],
            "chi_square": None, "reduced_chi_square": None, "residuals_real": [], "residuals_imag": [],
            "converged": False, "derived": {}, "flags": [], "engine_version": engine_version(),
        },
    )
    fit.conductivities.all().delete()
    return fit


def fit_spectrum(*, spectrum_id: int, protocol_id: int, initial_values: dict | None = None,
                 fixed: dict | None = None) -> FitResult:
    """Fit one spectrum under one protocol; store succeeded or failed (with reason) and its conductivities.

    ``initial_values``/``fixed`` (a hand fit's starting and held values) are recorded in ``derived["hand_fit"]``.
    The fit runs outside any transaction; the fit row and its conductivities are written in one.
    """
    spectrum = ImpedanceSpectrum.objects.select_related("cell", "cell__separator").get(pk=spectrum_id)
    protocol = FitProtocol.objects.get(pk=protocol_id)
    return _fit_loaded(spectrum, protocol, initial_values=initial_values, fixed=fixed)


def _fit_loaded(spectrum: ImpedanceSpectrum, protocol: FitProtocol, *, initial_values: dict | None = None,
                fixed: dict | None = None) -> FitResult:
    from apps.analysis.eis.circuits import parse_circuit
    from apps.analysis.eis.fitting import fit_circuit

    try:
        circuit = parse_circuit(protocol.circuit)
        bounds = _fit_bounds(circuit, protocol)
        window = None
        if protocol.frequency_min_hz is not None or protocol.frequency_max_hz is not None:
            window = (protocol.frequency_min_hz or 0.0, protocol.frequency_max_hz or math.inf)
        result = fit_circuit(
            spectrum.frequencies_hz, spectrum.impedance_ohm, circuit,
            weighting=protocol.weighting, bounds=protocol.bounds or None, frequency_window_hz=window,
            initial_guess=initial_values or None, fixed=fixed or None,
        )
        values = np.array([result.parameters[n] for n in circuit.parameter_names], float)
        if not np.all(np.isfinite(values)):
            raise ValueError("the fit returned non-finite parameters")
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        with transaction.atomic():
            return _store_failed_fit(spectrum, protocol, f"Fit of {protocol} failed: {exc}")

    names = circuit.parameter_names
    perm = _canonical_order(circuit, result.parameters)
    errors = np.array([result.stderr[n] for n in names], float)
    params = {n: float(values[perm[i]]) for i, n in enumerate(names)}
    stderr = {n: (float(errors[perm[i]]) if math.isfinite(errors[perm[i]]) else None) for i, n in enumerate(names)}
    covariance = np.asarray(result.covariance, float)[np.ix_(perm, perm)]
    correlations = np.asarray(result.correlations, float)[np.ix_(perm, perm)]
    residuals = np.concatenate([np.asarray(result.residuals_real), np.asarray(result.residuals_imag)])
    rms = float(np.sqrt(np.mean(residuals**2))) if residuals.size else 0.0
    d = _derive(
        circuit=circuit, protocol=protocol, params=params, stderr={k: v or 0.0 for k, v in stderr.items()},
        covariance=np.nan_to_num(covariance), rms_residual=rms, converged=result.converged, bounds=bounds,
        spectrum=spectrum,
    )
    if initial_values or fixed:
        d.derived["hand_fit"] = {"initial_values": initial_values or {}, "fixed": fixed or {}}
    with transaction.atomic():
        fit, _ = FitResult.objects.update_or_create(
            spectrum=spectrum, protocol=protocol,
            defaults={
                "status": FitStatus.SUCCEEDED, "error": "", "parameters": params, "stderr": _json_safe(stderr),
                "correlations": [_finite_list(row) for row in correlations],
                "chi_square": float(result.chi_square), "reduced_chi_square": float(result.reduced_chi_square),
                "residuals_real": _finite_list(result.residuals_real),
                "residuals_imag": _finite_list(result.residuals_imag),
                "converged": bool(result.converged), "derived": _json_safe(d.derived), "flags": d.flags,
                "engine_version": engine_version(),
            },
        )
        compute_conductivities(fit=fit, resistances=d.resistances)
    return fit


@transaction.atomic
def compute_conductivities(*, fit: FitResult, resistances: dict[str, tuple[float, float]]) -> list[Conductivity]:
    """σ = L/(R·A) per kind (bulk, grain boundary, total) with propagated error; stale kinds removed."""
    from apps.analysis.eis import derived as eis_derived

    spectrum = fit.spectrum
    thickness_cm, area_cm2, thickness_stderr_cm, area_stderr_cm2, missing = _geometry(spectrum)
    rows: list[Conductivity] = []
    if not missing:
        for kind, (r_ohm, r_stderr) in resistances.items():
            if not (r_ohm > 0 and math.isfinite(r_ohm)):
                continue
            sigma = eis_derived.conductivity(
                r_ohm, thickness_cm, area_cm2, resistance_stderr_ohm=r_stderr,
                thickness_stderr_cm=thickness_stderr_cm, area_stderr_cm2=area_stderr_cm2,
            )
            values = {
                "spectrum": spectrum, "resistance_ohm": r_ohm, "resistance_stderr_ohm": r_stderr,
                "conductivity_s_per_cm": sigma.value_s_per_cm,
                "conductivity_stderr_s_per_cm": sigma.stderr_s_per_cm if math.isfinite(sigma.stderr_s_per_cm) else None,
                "temperature_c": spectrum.temperature_c, "thickness_um": thickness_cm * 1e4, "area_cm2": area_cm2,
            }
            rows.append(Conductivity(fit=fit, kind=kind, **values))
    # One read and at most three writes instead of a get-or-create per kind: the same rows (and
    # primary keys) as update_or_create, with less time holding the database's write lock.
    existing = {c.kind: c for c in fit.conductivities.all()}
    to_update, to_create = [], []
    for row in rows:
        old = existing.pop(row.kind, None)
        if old is None:
            to_create.append(row)
        else:
            row.pk = old.pk
            to_update.append(row)
    if existing:
        Conductivity.objects.filter(pk__in=[c.pk for c in existing.values()]).delete()
    if to_update:
        Conductivity.objects.bulk_update(to_update, [
            "spectrum", "resistance_ohm", "resistance_stderr_ohm", "conductivity_s_per_cm",
            "conductivity_stderr_s_per_cm", "temperature_c", "thickness_um", "area_cm2",
        ])
    if to_create:
        Conductivity.objects.bulk_create(to_create)
    return rows


@dataclass
class AnalysisOutcome:
    kk: KramersKronigCheck | None
    fit: FitResult
    kk_error: str = ""


def analyse_spectrum(*, spectrum_id: int) -> AnalysisOutcome:
    """Kramers–Kronig check, then the fit under the spectrum's standard protocol (with conductivities)."""
    kk_error = ""
    try:
        kk = validate_spectrum(spectrum_id=spectrum_id)
    except AnalysisError as exc:
        kk, kk_error = None, str(exc)
    spectrum = ImpedanceSpectrum.objects.select_related("cell", "cell__separator").get(pk=spectrum_id)
    protocol = standard_protocol_for(spectrum)
    fit = fit_spectrum(spectrum_id=spectrum_id, protocol_id=protocol.pk)
    return AnalysisOutcome(kk=kk, fit=fit, kk_error=kk_error)


# ---------------------------------------------------------------------------
# Arrhenius
# ---------------------------------------------------------------------------

def _vtf_row_fields(temperatures_c: np.ndarray, sigma: np.ndarray) -> dict:
    from apps.analysis.eis import derived as eis_derived

    vtf = eis_derived.fit_vtf(temperatures_c, sigma)
    t_k = temperatures_c + 273.15
    model = np.log(vtf.a) - 0.5 * np.log(t_k) - vtf.b_k / (t_k - vtf.t0_k)
    y = np.log(sigma)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum((y - model) ** 2)) / ss_tot if ss_tot > 0 else 1.0
    t25 = 298.15
    sigma_25 = vtf.a * t25**-0.5 * math.exp(-vtf.b_k / (t25 - vtf.t0_k)) if t25 > vtf.t0_k else None
    return {
        "activation_energy_ev": vtf.pseudo_activation_energy_ev,
        "activation_energy_stderr_ev": vtf.pseudo_activation_energy_stderr_ev,
        "prefactor": vtf.a, "vtf_b_k": vtf.b_k, "vtf_t0_k": vtf.t0_k, "sigma_25c_s_per_cm": sigma_25,
        "sigma_25c_ci_low_s_per_cm": None, "sigma_25c_ci_high_s_per_cm": None, "r_squared": r2,
    }


#: Cell configurations whose spectra measure the separator alone (None: not stated).
BLOCKING_CONFIGURATIONS = ("blocking", None, "")
#: Distinct temperatures nearest 25 °C (in 1/T) a polymer's local Arrhenius fit uses.
ARRHENIUS_LOCAL_POINTS = 3


def _points_around(temperatures_c: np.ndarray, n_temperatures: int, at_c: float = 25.0) -> np.ndarray:
    """Indices of the points at the ``n_temperatures`` distinct temperatures nearest ``at_c`` in 1/T."""
    distinct = np.unique(np.round(temperatures_c, 3))
    distance = np.abs(1.0 / (distinct + 273.15) - 1.0 / (at_c + 273.15))
    chosen = distinct[np.argsort(distance, kind="stable")[:n_temperatures]]
    return np.flatnonzero(np.isin(np.round(temperatures_c, 3), chosen))


@transaction.atomic
def fit_arrhenius_series(*, separator_id: int) -> list[ArrheniusFit]:
    """Arrhenius fits of a separator from its cells' succeeded standard fits that have a temperature.

    Per standard protocol and conductivity kind with at least 3 distinct
    temperatures: both the σT and the σ form; for polymer or hybrid
    separators with at least 4 temperatures also VTF. Rows no longer
    supported by the data are removed.
    """
    from apps.analysis.eis import derived as eis_derived

    separator = Separator.objects.prefetch_related("components__material").get(pk=separator_id)
    # One standard fit per spectrum: the most recent (a spectrum re-analysed under a new
    # version, or whose shape now picks another protocol, counts once).
    latest_fit_of: dict[int, int] = {}
    for spectrum_id, fit_id in (
        FitResult.objects.filter(
            spectrum__cell__separator_id=separator_id, status=FitStatus.SUCCEEDED, protocol__is_standard=True,
            spectrum__temperature_c__isnull=False,
        )
        .order_by("spectrum_id", "updated_at", "pk")
        .values_list("spectrum_id", "pk")
    ):
        latest_fit_of[spectrum_id] = fit_id
    rows = (
        Conductivity.objects.filter(fit_id__in=list(latest_fit_of.values()))
        .values_list("fit__protocol_id", "kind", "spectrum__temperature_c", "conductivity_s_per_cm",
                     "conductivity_stderr_s_per_cm", "spectrum__cell__configuration")
        .order_by("kind", "spectrum__temperature_c", "pk")
    )
    # A blocking cell is the measurement made for the separator's conductivity. A symmetric cell's
    # or a full cell's high-frequency intercept also holds leads and contact resistance, and such
    # cells are usually measured at one temperature many times, which would outweigh the series:
    # they count only for a kind no blocking cell gives a temperature series of.
    blocking_temperatures: dict[str, set[float]] = {}
    for _, kind, t_c, _, _, configuration in rows:
        if configuration in BLOCKING_CONFIGURATIONS:
            blocking_temperatures.setdefault(kind, set()).add(round(t_c, 3))
    rows = [
        row[:5] for row in rows
        if row[5] in BLOCKING_CONFIGURATIONS or len(blocking_temperatures.get(row[1], ())) < 3
    ]
    # The pellet protocols share the meaning of their kinds, and a heated pellet's bulk arc leaves
    # the window (the rule then switches protocol): a kind's series spans the standard protocols.
    # The row is filed under the protocol that gave most of its points.
    by_kind: dict[str, list[tuple[float, float, float | None]]] = {}
    protocols_of: dict[str, list[int]] = {}
    for protocol_id, kind, t_c, sigma, sigma_se in rows:
        by_kind.setdefault(kind, []).append((t_c, sigma, sigma_se))
        protocols_of.setdefault(kind, []).append(protocol_id)
    series: dict[tuple[int, str], list[tuple[float, float, float | None]]] = {}
    for kind, points in by_kind.items():
        ids = protocols_of[kind]
        main_protocol = max(sorted(set(ids)), key=ids.count)
        series[(main_protocol, kind)] = points

    polymer = protocol_rules.is_polymer_separator(separator)
    kept: list[int] = []
    fits: list[ArrheniusFit] = []
    for (protocol_id, kind), points in series.items():
        t = np.array([p[0] for p in points], float)
        sigma = np.array([p[1] for p in points], float)
        se = [p[2] for p in points]
        n_temperatures = len(set(np.round(t, 3)))
        if n_temperatures < 3:
            continue
        stderr = np.array(se, float) if all(s is not None and s > 0 for s in se) else None
        base = {
            "temperature_min_c": float(t.min()), "temperature_max_c": float(t.max()), "n_points": int(t.size),
            "extrapolated_25c": not (t.min() <= 25.0 <= t.max()), "points": _json_safe([list(p) for p in points]),
            "engine_version": engine_version(),
        }
        forms: dict[str, dict] = {}
        # A polymer's σ(T) is curved (glass transition, melting of crystalline PEO near 60 °C): a
        # straight line through the whole series misses σ(25 °C) by a factor of two or three. Its
        # Arrhenius forms are fitted to the points around 25 °C (an apparent, local Ea), and its
        # σ(25 °C) is read from the measured points (interpolated in ln σ against 1/T).
        local = _points_around(t, ARRHENIUS_LOCAL_POINTS) if polymer else np.arange(t.size)
        sigma_25_measured = eis_derived.interpolate_log_conductivity(t, sigma) if polymer else None
        for form in (ArrheniusForm.SIGMA_T, ArrheniusForm.SIGMA):
            try:
                res = eis_derived.fit_arrhenius(
                    t[local], sigma[local], None if stderr is None else stderr[local], form=str(form)
                )
            except ValueError as exc:
                logger.info("Arrhenius %s of separator %s (%s) skipped: %s", form, separator_id, kind, exc)
                continue
            forms[form] = {
                "activation_energy_ev": res.activation_energy_ev,
                "activation_energy_stderr_ev": res.activation_energy_stderr_ev,
                "prefactor": res.prefactor, "vtf_b_k": None, "vtf_t0_k": None,
                "sigma_25c_s_per_cm": res.sigma_25c_s_per_cm,
                "sigma_25c_ci_low_s_per_cm": res.sigma_25c_ci95_s_per_cm[0],
                "sigma_25c_ci_high_s_per_cm": res.sigma_25c_ci95_s_per_cm[1], "r_squared": res.r_squared,
                "temperature_min_c": float(t[local].min()), "temperature_max_c": float(t[local].max()),
                "n_points": int(local.size),
            }
        if polymer and n_temperatures >= 4:
            try:
                forms[ArrheniusForm.VTF] = _vtf_row_fields(t, sigma)
            except (ValueError, RuntimeError) as exc:
                logger.info("VTF of separator %s (%s) skipped: %s", separator_id, kind, exc)
        if sigma_25_measured is not None:
            for values in forms.values():
                values.update({
                    "sigma_25c_s_per_cm": sigma_25_measured, "sigma_25c_ci_low_s_per_cm": None,
                    "sigma_25c_ci_high_s_per_cm": None,
                })
        for form, values in forms.items():
            clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}
            row, _ = ArrheniusFit.objects.update_or_create(
                separator=separator, protocol_id=protocol_id, kind=kind, form=form, defaults={**base, **clean},
            )
            kept.append(row.pk)
            fits.append(row)
    ArrheniusFit.objects.filter(separator=separator, protocol__is_standard=True).exclude(pk__in=kept).delete()
    return fits


# ---------------------------------------------------------------------------
# Benchmarks hook
# ---------------------------------------------------------------------------


def recompute_benchmarks(*, separator_ids: list[int], cell_ids: list[int]) -> int:
    """Recompute the benchmark entries of these separators and cells (the benchmarks app's service)."""
    try:
        from apps.benchmarks.services import recompute_entries
    except ImportError as exc:
        raise AnalysisError(f"Benchmark entries cannot be recomputed: the benchmarks service is missing ({exc}).")
    return int(recompute_entries(separator_ids=separator_ids, cell_ids=cell_ids) or 0)


# ---------------------------------------------------------------------------
# Jobs: creation, dispatch, execution
# ---------------------------------------------------------------------------


def _task_for(kind: str):
    from . import tasks

    return {
        Job.Kind.ANALYSE_SPECTRUM: tasks.analyse_spectrum,
        Job.Kind.VALIDATE_SPECTRUM: tasks.validate_spectrum,
        Job.Kind.FIT_SPECTRUM: tasks.fit_spectrum,
        Job.Kind.FIT_ARRHENIUS: tasks.fit_arrhenius_series,
        Job.Kind.REFIT_PROTOCOL: tasks.refit_protocol,
        Job.Kind.REFIT_CHUNK: tasks.refit_chunk,
        Job.Kind.RECOMPUTE_BENCHMARKS: tasks.recompute_benchmarks,
    }[kind]


def dispatch_job(job: Job, *, countdown: float | None = None) -> None:
    """Send the job to the broker once the current transaction commits."""
    task_id = str(uuid.uuid4())
    Job.objects.filter(pk=job.pk).update(
        celery_task_id=task_id, dispatched_at=timezone.now(), dispatches=F("dispatches") + 1
    )
    job.celery_task_id = task_id
    task = _task_for(job.kind)
    job_id = job.pk

    def send() -> None:
        task.apply_async(args=[job_id], task_id=task_id, countdown=countdown)

    transaction.on_commit(send)


def _new_job(
    *, kind: str, target_type: str, target_id: int, target_label: str = "", params: dict | None = None,
    user=None, group_id: int | None = None, parent: Job | None = None, total: int = 1,
) -> Job:
    return Job.objects.create(
        kind=kind, target_type=target_type, target_id=target_id, target_label=target_label[:200],
        params=params or {}, progress_total=max(total, 1), progress_done=0, parent=parent, group_id=group_id,
        created_by=user if user is not None and user.is_authenticated else None,
    )


@transaction.atomic
def queue_analysis(*, spectrum_ids: list[int], user=None) -> list[Job]:
    """One analysis job per spectrum (KK, standard fit, conductivities), sent on commit.

    Call it inside ``transaction.on_commit`` of the transaction that stored the spectra.
    """
    spectra = ImpedanceSpectrum.objects.filter(pk__in=list(spectrum_ids)).select_related("cell").defer("data")
    jobs = []
    for spectrum in spectra.order_by("pk"):
        job = _new_job(
            kind=Job.Kind.ANALYSE_SPECTRUM, target_type="spectrum", target_id=spectrum.pk,
            target_label=f"{spectrum.label or 'spectrum ' + str(spectrum.pk)} ({spectrum.cell.name})",
            user=user, group_id=spectrum.group_id,
        )
        dispatch_job(job)
        jobs.append(job)
    return jobs


@transaction.atomic
def request_fit(*, spectrum: ImpedanceSpectrum, user, protocol: FitProtocol | None = None,
                circuit: str | None = None, name: str | None = None,
                frequency_window_hz: tuple[float | None, float | None] | None = None,
                initial_values: dict[str, float] | None = None, fixed: dict[str, float] | None = None) -> Job:
    """Queue a fit of one spectrum under a protocol, a custom circuit, or its standard protocol.

    A hand fit names itself (``name``) and may set a frequency window (Hz, either end open): with a circuit
    it becomes the group's protocol of that name, circuit and window (a new version when those change).
    ``initial_values`` (starting values) and ``fixed`` (values held constant) go to this fit only.
    Members of the spectrum's group only: the fit is stored with the spectrum, for everyone who sees it.
    """
    if not can_view(spectrum, user):
        raise ValidationError("You cannot see this spectrum.")
    if not can_edit(spectrum, user):
        raise PermissionDenied("Only members of the spectrum's group may fit it.")
    if protocol is not None and circuit:
        raise ValidationError("Give a protocol or a circuit, not both.")
    if name or frequency_window_hz:
        protocol = _named_protocol(circuit=circuit or (protocol.circuit if protocol else ""), spectrum=spectrum,
                                   user=user, name=name or f"Hand fit {circuit or protocol.circuit}",
                                   base=protocol, window=frequency_window_hz or (None, None))
    elif circuit:
        protocol = _custom_protocol(circuit=circuit, spectrum=spectrum, user=user)
    elif protocol is None:
        protocol = standard_protocol_for(ImpedanceSpectrum.objects.select_related("cell__separator").get(pk=spectrum.pk))
    else:
        from .selectors import visible_protocols

        if not visible_protocols(user=user).filter(pk=protocol.pk).exists():
            raise ValidationError({"protocol": "You cannot use this protocol."})
    params = {"protocol_id": protocol.pk}
    if initial_values:
        params["initial_values"] = {str(k): float(v) for k, v in initial_values.items()}
    if fixed:
        params["fixed"] = {str(k): float(v) for k, v in fixed.items()}
    job = _new_job(
        kind=Job.Kind.FIT_SPECTRUM, target_type="spectrum", target_id=spectrum.pk,
        target_label=f"{spectrum.label or 'spectrum ' + str(spectrum.pk)} under {protocol}",
        params=params, user=user, group_id=spectrum.group_id,
    )
    dispatch_job(job)
    return job


def _named_protocol(*, circuit: str, spectrum: ImpedanceSpectrum, user, name: str, base: FitProtocol | None,
                    window: tuple[float | None, float | None]) -> FitProtocol:
    """The group's protocol ``name`` with this circuit and window: reused when identical, else a new version."""
    validate_circuit(circuit.strip())
    group = groups_of(user).filter(pk=spectrum.group_id).first() or groups_of(user).first()
    if group is None:
        raise ValidationError({"circuit": "Custom fits belong to a research group; you are in none."})
    full_name = f"{name.strip()[:80]} ({group.slug})"[: FitProtocol._meta.get_field("name").max_length]
    fields = {
        "circuit": circuit.strip(), "frequency_min_hz": window[0], "frequency_max_hz": window[1],
        "weighting": base.weighting if base else "modulus", "bounds": dict(base.bounds) if base else {},
        "element_roles": dict(base.element_roles) if base else {},
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


@transaction.atomic
def refit_protocol(*, protocol: FitProtocol, user=None) -> Job:
    """Queue a re-fit of every spectrum the protocol applies to (fanned out in chunks, with progress)."""
    job = _new_job(
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


def _followups_for_spectra(spectrum_ids) -> dict:
    cells = Cell.objects.filter(spectra__pk__in=list(spectrum_ids)).values_list("pk", "separator_id").distinct()
    separator_ids = sorted({s for _, s in cells if s is not None})
    cell_ids = sorted({c for c, s in cells if s is None})
    return {"separator_ids": separator_ids, "cell_ids": cell_ids}


def _ensure_queued(*, kind: str, target_type: str, target_id: int, target_label: str, group_id: int | None,
                   params: dict | None = None) -> Job:
    """At most one queued job of this kind per target: the debounce of follow-ups."""
    existing = Job.objects.filter(kind=kind, target_type=target_type, target_id=target_id, state=Job.State.QUEUED).first()
    if existing is not None:
        return existing
    job = _new_job(kind=kind, target_type=target_type, target_id=target_id, target_label=target_label,
                   params=params, group_id=group_id)
    dispatch_job(job, countdown=FOLLOWUP_DELAY_S)
    return job


def queue_followups(*, separator_ids=(), cell_ids=()) -> list[Job]:
    """Arrhenius (then benchmarks) per separator; benchmarks directly for cells without a separator."""
    jobs = []
    with transaction.atomic():
        for separator in Separator.objects.filter(pk__in=list(separator_ids)).only("pk", "name", "group_id"):
            jobs.append(_ensure_queued(
                kind=Job.Kind.FIT_ARRHENIUS, target_type="separator", target_id=separator.pk,
                target_label=separator.name, group_id=separator.group_id,
            ))
        for cell in Cell.objects.filter(pk__in=list(cell_ids)).only("pk", "name", "group_id"):
            jobs.append(_ensure_queued(
                kind=Job.Kind.RECOMPUTE_BENCHMARKS, target_type="cell", target_id=cell.pk, target_label=cell.name,
                group_id=cell.group_id,
            ))
    return jobs


def _pending_analyses_of_separator(separator_id: int, *, exclude_job_id: int) -> int:
    spectra = ImpedanceSpectrum.objects.filter(cell__separator_id=separator_id).values("pk")
    per_spectrum = Job.objects.filter(
        kind__in=[Job.Kind.ANALYSE_SPECTRUM, Job.Kind.FIT_SPECTRUM], state__in=UNFINISHED,
        target_type="spectrum", target_id__in=spectra,
    )
    chunks = Job.objects.filter(kind=Job.Kind.REFIT_CHUNK, state__in=UNFINISHED)
    return per_spectrum.exclude(pk=exclude_job_id).count() + chunks.exclude(pk=exclude_job_id).count()


class Deferred(Exception):
    """The job steps aside (cancelled with this reason); a later job does its work."""


# Executors: each takes the running Job and returns (result summary, follow-ups).

def _execute_analyse(job: Job) -> tuple[dict, dict]:
    outcome = analyse_spectrum(spectrum_id=job.target_id)
    followups = _followups_for_spectra([job.target_id]) if outcome.fit.protocol.is_standard else {}
    result = {
        "fit_id": outcome.fit.pk, "protocol": str(outcome.fit.protocol), "fit_status": outcome.fit.status,
        "kk_passed": outcome.kk.passed if outcome.kk else None,
    }
    if outcome.kk_error:
        result["kk_error"] = outcome.kk_error
    if outcome.fit.status == FitStatus.FAILED:
        raise _FailedWithResult(outcome.fit.error, result, followups)
    return result, followups


def _execute_validate(job: Job) -> tuple[dict, dict]:
    check = validate_spectrum(spectrum_id=job.target_id)
    return {"kk_passed": check.passed, "max_abs_residual": check.max_abs_residual}, {}


def _execute_fit(job: Job) -> tuple[dict, dict]:
    protocol_id = job.params.get("protocol_id")
    if protocol_id is None:
        protocol_id = standard_protocol_for(
            ImpedanceSpectrum.objects.select_related("cell__separator").get(pk=job.target_id)
        ).pk
    fit = fit_spectrum(spectrum_id=job.target_id, protocol_id=protocol_id,
                       initial_values=job.params.get("initial_values"), fixed=job.params.get("fixed"))
    followups = _followups_for_spectra([job.target_id]) if fit.protocol.is_standard else {}
    result = {"fit_id": fit.pk, "protocol": str(fit.protocol), "fit_status": fit.status}
    if fit.status == FitStatus.FAILED:
        raise _FailedWithResult(fit.error, result, followups)
    return result, followups


def _execute_arrhenius(job: Job) -> tuple[dict, dict]:
    pending = _pending_analyses_of_separator(job.target_id, exclude_job_id=job.pk)
    if pending:
        raise Deferred(f"{pending} analysis job(s) of this separator still pending; the last one re-queues this fit.")
    fits = fit_arrhenius_series(separator_id=job.target_id)
    separator = Separator.objects.only("pk", "name", "group_id").get(pk=job.target_id)
    _ensure_queued(
        kind=Job.Kind.RECOMPUTE_BENCHMARKS, target_type="separator", target_id=separator.pk,
        target_label=separator.name, group_id=separator.group_id,
    )
    return {"arrhenius_fits": len(fits)}, {}


def _execute_benchmarks(job: Job) -> tuple[dict, dict]:
    if job.target_type == "separator":
        cell_ids = list(Cell.objects.filter(separator_id=job.target_id).values_list("pk", flat=True))
        n = recompute_benchmarks(separator_ids=[job.target_id], cell_ids=cell_ids)
    else:
        n = recompute_benchmarks(separator_ids=[], cell_ids=[job.target_id])
    return {"entries": n}, {}


def _execute_refit(job: Job, *, dispatch: bool = True) -> tuple[dict, dict] | None:
    if job.children.exists():
        # Run again (worker lost after the fan-out): the chunks exist and carry on by themselves.
        _finish_parent_if_done(job.pk)
        return None
    protocol = FitProtocol.objects.get(pk=job.target_id)
    ids = refit_candidates(protocol)
    if not ids:
        return {"spectra": 0}, {}
    with transaction.atomic():
        Job.objects.filter(pk=job.pk).update(progress_total=len(ids), progress_done=0)
        for start in range(0, len(ids), REFIT_CHUNK_SIZE):
            chunk = ids[start : start + REFIT_CHUNK_SIZE]
            child = _new_job(
                kind=Job.Kind.REFIT_CHUNK, target_type="protocol", target_id=protocol.pk,
                target_label=f"{protocol}: spectra {start + 1}–{start + len(chunk)} of {len(ids)}",
                params={"spectrum_ids": chunk}, parent=job, group_id=job.group_id, total=len(chunk),
            )
            if dispatch:
                dispatch_job(child)
    return None  # stays running; the last chunk to finish completes it


def refit_in_process(*, protocol: FitProtocol, user=None, progress: Callable[[Job], None] | None = None) -> Job:
    """Re-fit everything ``protocol`` applies to in this process (no worker needed), chunk by chunk.

    The same jobs and services as ``refit_protocol``; ``progress`` is called with the
    parent job after each chunk (``progress_done`` of ``progress_total``).
    """
    parent = _new_job(
        kind=Job.Kind.REFIT_PROTOCOL, target_type="protocol", target_id=protocol.pk, target_label=str(protocol),
        user=user, group_id=protocol.group_id, params={"in_process": True},
    )
    parent = _start_job(parent.pk, None)
    outcome = _execute_refit(parent, dispatch=False)
    if outcome is not None:
        finish_job(job_id=parent.pk, state=Job.State.SUCCEEDED, result=outcome[0])
    for child_id in Job.objects.filter(parent=parent).order_by("pk").values_list("pk", flat=True):
        run_job(job_id=child_id)
        if progress is not None:
            progress(Job.objects.get(pk=parent.pk))
    # Follow-ups (Arrhenius, then benchmarks) were also sent to the broker; run them here so the
    # command leaves finished results behind. A worker that later receives them finds them done.
    for _ in range(3):
        pending = Job.objects.filter(
            kind__in=[Job.Kind.FIT_ARRHENIUS, Job.Kind.RECOMPUTE_BENCHMARKS], state=Job.State.QUEUED,
            created_at__gte=parent.created_at,
        ).order_by("pk")
        if not pending.exists():
            break
        for job_id in list(pending.values_list("pk", flat=True)):
            run_job(job_id=job_id)
    return Job.objects.get(pk=parent.pk)


def _execute_chunk(job: Job) -> tuple[dict, dict]:
    protocol = FitProtocol.objects.get(pk=job.target_id)
    counts = {"succeeded": 0, "failed": 0, "not_applicable": 0}
    touched: list[int] = []
    spectrum_ids = list(job.params.get("spectrum_ids", []))
    loaded = ImpedanceSpectrum.objects.select_related("cell", "cell__separator").prefetch_related(
        "cell__separator__components__material"
    ).in_bulk(spectrum_ids)
    reported_at = 0.0
    for position, spectrum_id in enumerate(spectrum_ids, start=1):
        spectrum = loaded.get(spectrum_id)
        if spectrum is None:
            counts["not_applicable"] += 1
        elif protocol.is_standard and standard_protocol_name_for(spectrum) != protocol.name:
            counts["not_applicable"] += 1
        else:
            fit = _fit_loaded(spectrum, protocol)
            counts["succeeded" if fit.status == FitStatus.SUCCEEDED else "failed"] += 1
            touched.append(spectrum_id)
        if position < len(spectrum_ids) and time.monotonic() - reported_at < PROGRESS_EVERY_S:
            continue
        reported_at = time.monotonic()
        # Absolute positions, not increments: a chunk run again (retry, redelivery) counts the same.
        now = timezone.now()
        Job.objects.filter(pk=job.pk).update(progress_done=position, heartbeat_at=now)
        if job.parent_id:
            done = Job.objects.filter(parent_id=job.parent_id).aggregate(done=Sum("progress_done"))["done"] or 0
            Job.objects.filter(pk=job.parent_id).update(
                progress_done=Least(done, F("progress_total")), heartbeat_at=now
            )
    followups = _followups_for_spectra(touched) if protocol.is_standard and touched else {}
    return counts, followups


class _FailedWithResult(Exception):
    def __init__(self, message: str, result: dict, followups: dict):
        super().__init__(message)
        self.result = result
        self.followups = followups


EXECUTORS: dict[str, Callable[[Job], Any]] = {
    Job.Kind.ANALYSE_SPECTRUM: _execute_analyse,
    Job.Kind.VALIDATE_SPECTRUM: _execute_validate,
    Job.Kind.FIT_SPECTRUM: _execute_fit,
    Job.Kind.FIT_ARRHENIUS: _execute_arrhenius,
    Job.Kind.REFIT_PROTOCOL: _execute_refit,
    Job.Kind.REFIT_CHUNK: _execute_chunk,
    Job.Kind.RECOMPUTE_BENCHMARKS: _execute_benchmarks,
}


def _start_job(job_id: int, celery_task_id: str | None) -> Job | None:
    """Mark the job running; None if it is already finished (a duplicate delivery) or unknown."""
    now = timezone.now()
    updated = Job.objects.filter(pk=job_id, state__in=UNFINISHED).update(
        state=Job.State.RUNNING, started_at=Coalesce(F("started_at"), now), heartbeat_at=now,
        attempts=F("attempts") + 1, **({"celery_task_id": celery_task_id} if celery_task_id else {}),
    )
    return Job.objects.get(pk=job_id) if updated else None


def finish_job(*, job_id: int, state: str, error: str = "", result: dict | None = None) -> None:
    """Record the end of a job (and complete its parent if it was the last child)."""
    now = timezone.now()
    fields: dict[str, Any] = {"state": state, "error": error[:5000], "finished_at": now, "heartbeat_at": now}
    if state == Job.State.SUCCEEDED:
        fields["progress_done"] = F("progress_total")
    if result is not None:
        fields["result"] = result
    Job.objects.filter(pk=job_id).update(**fields)
    parent_id = Job.objects.filter(pk=job_id).values_list("parent_id", flat=True).first()
    if parent_id:
        _finish_parent_if_done(parent_id)


def _finish_parent_if_done(parent_id: int) -> None:
    children = Job.objects.filter(parent_id=parent_id)
    if children.filter(state__in=UNFINISHED).exists():
        return
    totals: dict[str, int] = {}
    failed_chunks = []
    for child in children:
        for key, value in (child.result or {}).items():
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
        if child.state == Job.State.FAILED:
            failed_chunks.append(f"{child.target_label}: {child.error}")
    totals["spectra"] = sum(c.progress_total for c in children)
    error = ""
    state = Job.State.SUCCEEDED
    if failed_chunks:
        state = Job.State.FAILED
        error = f"{len(failed_chunks)} chunk(s) failed. " + " | ".join(failed_chunks)[:4000]
    Job.objects.filter(pk=parent_id, state__in=UNFINISHED).update(
        state=state, error=error, result=totals, finished_at=timezone.now(), heartbeat_at=timezone.now(),
        progress_done=F("progress_total"),
    )


def run_job(*, job_id: int, celery_task_id: str | None = None) -> Job | None:
    """Run a job by id: safe to call twice (a finished job is left alone).

    Engine and data problems end the job as failed with a readable reason;
    database and broker errors propagate so that the task retries them.
    """
    job = _start_job(job_id, celery_task_id)
    if job is None:
        return None
    if job.attempts > MAX_ATTEMPTS:
        finish_job(job_id=job.pk, state=Job.State.FAILED, error=(
            f"Gave up after {MAX_ATTEMPTS} attempts: the job was started repeatedly without finishing "
            f"(worker killed or time limit reached)."
        ))
        return Job.objects.get(pk=job.pk)
    followups: dict = {}
    try:
        outcome = EXECUTORS[job.kind](job)
    except Deferred as exc:
        finish_job(job_id=job.pk, state=Job.State.CANCELLED, error=str(exc))
    except _FailedWithResult as exc:
        finish_job(job_id=job.pk, state=Job.State.FAILED, error=str(exc), result=exc.result)
        followups = exc.followups
    except (AnalysisError, ImpedanceSpectrum.DoesNotExist, FitProtocol.DoesNotExist, Separator.DoesNotExist,
            Cell.DoesNotExist) as exc:
        finish_job(job_id=job.pk, state=Job.State.FAILED, error=_readable(exc, job))
    else:
        if outcome is not None:
            result, followups = outcome
            finish_job(job_id=job.pk, state=Job.State.SUCCEEDED, result=result)
    if followups:
        queue_followups(**followups)
    return Job.objects.get(pk=job.pk)


def _readable(exc: Exception, job: Job) -> str:
    if isinstance(exc, AnalysisError):
        return str(exc)
    what = type(exc).__name__.replace("DoesNotExist", "").lower() or "record"
    return f"The {what} this job refers to no longer exists ({job.target_type} {job.target_id})."


def fail_job(*, job_id: int, error: str) -> None:
    """Mark an unfinished job failed (time limit, retries exhausted, unexpected error)."""
    if Job.objects.filter(pk=job_id, state__in=UNFINISHED).exists():
        finish_job(job_id=job_id, state=Job.State.FAILED, error=error)


# ---------------------------------------------------------------------------
# Sweep: dead workers and lost messages
# ---------------------------------------------------------------------------


@dataclass
class SweepReport:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def sweep_jobs(*, now: datetime.datetime | None = None) -> SweepReport:
    """Re-send jobs left running by a dead worker and queued jobs never picked up; fail them after the caps."""
    now = now or timezone.now()
    report = SweepReport()
    open_parents = Job.objects.filter(state__in=UNFINISHED, parent__isnull=False).values("parent_id")
    stale_running = Job.objects.filter(
        state=Job.State.RUNNING, heartbeat_at__lt=now - stale_running_after()
    ).exclude(pk__in=open_parents)
    for job in stale_running:
        with transaction.atomic():
            if job.attempts >= MAX_ATTEMPTS:
                finish_job(job_id=job.pk, state=Job.State.FAILED, error=(
                    f"Gave up after {job.attempts} attempts: the worker running this job stopped answering "
                    f"(killed, out of memory, or past the hard time limit of "
                    f"{getattr(settings, 'CELERY_TASK_TIME_LIMIT', 360)} s; last heartbeat "
                    f"{job.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC)."
                ))
                report.failed.append(job.pk)
                continue
            Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(state=Job.State.QUEUED)
            dispatch_job(job)
            report.requeued.append(job.pk)
    stale_queued = Job.objects.filter(state=Job.State.QUEUED).filter(
        Q(dispatched_at__lt=now - stale_queued_after()) | Q(dispatched_at__isnull=True, created_at__lt=now - stale_queued_after())
    )
    for job in stale_queued:
        with transaction.atomic():
            if job.dispatches >= MAX_DISPATCHES:
                finish_job(job_id=job.pk, state=Job.State.FAILED, error=(
                    f"No worker picked this job up after {job.dispatches} dispatches; is a worker running?"
                ))
                report.failed.append(job.pk)
                continue
            dispatch_job(job)
            report.requeued.append(job.pk)
    return report

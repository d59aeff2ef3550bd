"""Fits of a spectrum under a protocol: run the engine, read the fit (``eis.interpretation``), store the
row and its conductivities (the whole analysis of one spectrum is in ``spectrum_analysis``).

The cell's ``lead_resistance_ohm`` (short circuit of the empty cell) is taken off the bare
high-frequency intercept when that intercept counts as sample, never off an element fitted
as "series" (see ``interpret_fit``).
"""
from __future__ import annotations

import math

import numpy as np
from django.db import transaction

from apps.measurements.models import ImpedanceSpectrum

from .. import protocol_bounds
from .. import protocols as protocol_rules
from ..eis.circuits import parse_circuit
from ..eis.fitting import fit_circuit
from ..eis.interpretation import FitInput, Geometry, canonical_order, interpret_fit
from ..models import FitProtocol, FitResult, FitStatus, KramersKronigCheck
from .common import AnalysisError, _json_safe, engine_version
from .conductivities import spectrum_geometry, store_conductivities


def _fit_bounds(circuit, protocol: FitProtocol) -> dict[str, tuple[float, float]]:
    bounds = {n: tuple(b) for n, b in zip(circuit.parameter_names, circuit.bounds)}
    for name, pair in (protocol.bounds or {}).items():
        bounds[name] = (float(pair[0]), float(pair[1]))
    return bounds


def _failed_fields(reason: str) -> dict:
    return {
        "status": FitStatus.FAILED, "error": reason, "parameters": {}, "stderr": {}, "chi_square": None,
        "reduced_chi_square": None, "converged": False, "derived": {}, "flags": [], "engine_version": engine_version(),
    }


def fit_spectrum(*, spectrum_id: int, protocol_id: int, initial_values: dict | None = None,
                 fixed: dict | None = None) -> FitResult:
    """Fit one spectrum under one protocol; store succeeded or failed (with reason) and its conductivities.

    ``initial_values``/``fixed`` (a hand fit's starting and held values) go to the engine and are recorded
    in ``derived["hand_fit"]``. The fit runs outside any transaction; the fit row and its conductivities are
    written in one.
    """
    spectrum = ImpedanceSpectrum.objects.select_related("cell", "cell__separator").get(pk=spectrum_id)
    protocol = FitProtocol.objects.get(pk=protocol_id)
    return fit_loaded(spectrum, protocol, initial_values=initial_values, fixed=fixed)


def fit_loaded(spectrum: ImpedanceSpectrum, protocol: FitProtocol, *, initial_values: dict | None = None,
               fixed: dict | None = None) -> FitResult:
    return fit_many([spectrum], protocol, initial_values=initial_values, fixed=fixed)[0]


def fit_many(spectra: list[ImpedanceSpectrum], protocol: FitProtocol, *, initial_values: dict | None = None,
             fixed: dict | None = None, seeds: dict[int, dict[str, float]] | None = None) -> list[FitResult]:
    """Fit loaded spectra (with cell and separator) under one protocol and store every result at once: one
    read of their Kramers–Kronig verdicts, then in one transaction one upsert of the fit rows on (spectrum,
    protocol) and one of their conductivities on (fit, kind), whatever the number of spectra.

    ``seeds``: parameters by spectrum id tried as the engine's first start (``selectors.previous_fit_parameters``)."""
    verdicts = KramersKronigCheck.objects.only(
        "spectrum", "passed", "verdict", "reason", "systematic_residual", "max_abs_residual", "threshold", "noise_level"
    ).in_bulk([s.pk for s in spectra], field_name="spectrum_id")
    seeds = seeds or {}
    computed = [(spectrum, *_fit_fields(spectrum, protocol, verdicts.get(spectrum.pk), initial_values, fixed,
                                        seeds.get(spectrum.pk)))
                for spectrum in spectra]
    return store_fits(protocol, computed)


def store_fits(protocol: FitProtocol, computed: list[tuple[ImpedanceSpectrum, dict, dict]]) -> list[FitResult]:
    """Upsert fit rows of one protocol (``computed``: spectrum, row fields, resistances per kind) and their
    conductivities, one statement each, in one transaction."""
    fits = [FitResult(spectrum=spectrum, protocol=protocol, **fields) for spectrum, fields, _ in computed]
    update_fields = sorted({name for _, fields, _ in computed for name in fields} | {"updated_at"})
    with transaction.atomic():
        FitResult.objects.bulk_create(
            fits, update_conflicts=True, unique_fields=["spectrum", "protocol"], update_fields=update_fields
        )
        if any(fit.pk is None for fit in fits):  # a backend that does not return upserted keys
            keys = dict(FitResult.objects.filter(protocol=protocol, spectrum__in=[s.pk for s, _, _ in computed])
                        .values_list("spectrum_id", "pk"))
            for fit in fits:
                fit.pk = keys[fit.spectrum_id]
        store_conductivities([(fit, resistances) for fit, (_, _, resistances) in zip(fits, computed)])
    return fits


def _fit_fields(spectrum: ImpedanceSpectrum, protocol: FitProtocol, kk: KramersKronigCheck | None,
                initial_values: dict | None = None, fixed: dict | None = None,
                seed_parameters: dict | None = None) -> tuple[dict, dict[str, tuple[float, float]]]:
    """The fit row's fields and the resistances per conductivity kind (none for a failed fit)."""
    try:
        result = run_engine(spectrum, protocol, initial_values=initial_values, fixed=fixed,
                            seed_parameters=seed_parameters)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        return _failed_fields(f"Fit of {protocol} failed: {exc}"), {}
    return fields_from_engine(spectrum, protocol, kk, result, initial_values=initial_values, fixed=fixed)


def run_engine(spectrum: ImpedanceSpectrum, protocol: FitProtocol, *, initial_values: dict | None = None,
               fixed: dict | None = None, seed_parameters=None):
    """The engine's fit of a spectrum under a protocol (``eis.fitting.FitResult``); raises ValueError,
    ArithmeticError or LinAlgError when it cannot fit. ``seed_parameters``: extra starts (e.g. the
    neighbouring temperature's result)."""
    circuit = parse_circuit(protocol.circuit)
    window = protocol.frequency_window_hz
    result = fit_circuit(
        spectrum.frequencies_hz, spectrum.impedance_ohm, circuit,
        weighting=protocol.weighting, bounds=protocol.bounds or None, frequency_window_hz=window,
        initial_guess=initial_values or None, fixed=fixed or None, seed_parameters=seed_parameters or None,
        bound_policy=protocol_bounds.bound_policy(is_standard=protocol.is_standard),
    )
    values = np.array([result.parameters[n] for n in circuit.parameter_names], float)
    if not np.all(np.isfinite(values)):
        raise ValueError("the fit returned non-finite parameters")
    return result


def fields_from_engine(spectrum: ImpedanceSpectrum, protocol: FitProtocol, kk: KramersKronigCheck | None, result,
                       *, initial_values: dict | None = None, fixed: dict | None = None) -> tuple[dict, dict]:
    """The fit row's fields and resistances per kind from an engine result (read by ``interpret_fit``)."""
    circuit = parse_circuit(protocol.circuit)
    bounds = _fit_bounds(circuit, protocol)
    values = np.array([result.parameters[n] for n in circuit.parameter_names], float)
    names = circuit.parameter_names
    perm = canonical_order(circuit, result.parameters)
    stored_name = {names[perm[i]]: n for i, n in enumerate(names)}  # the engine's name -> the canonical one
    for finding in result.bound_findings:  # a released bound is the physical limit for the reading
        if finding.relaxed:
            name = stored_name[finding.parameter]
            low, high = bounds[name]
            bounds[name] = (finding.physical_limit, high) if finding.side == "lower" else (low, finding.physical_limit)
    errors = np.array([result.stderr[n] for n in names], float)
    params = {n: float(values[perm[i]]) for i, n in enumerate(names)}
    stderr = {n: (float(errors[perm[i]]) if math.isfinite(errors[perm[i]]) else None) for i, n in enumerate(names)}
    covariance = np.asarray(result.covariance, float)[np.ix_(perm, perm)]
    residuals = np.concatenate([np.asarray(result.residuals_real), np.asarray(result.residuals_imag)])
    rms = float(np.sqrt(np.mean(residuals**2))) if residuals.size else 0.0
    thickness_cm, area_cm2, _, _, missing = spectrum_geometry(spectrum)
    reading = interpret_fit(FitInput(
        circuit=circuit, parameters=params, stderr={k: (math.nan if v is None else v) for k, v in stderr.items()},
        covariance=np.nan_to_num(covariance), roles=protocol.element_roles or {}, bounds=bounds,
        geometry=Geometry(
            thickness_cm=thickness_cm, area_cm2=area_cm2, missing=missing,
            lead_resistance_ohm=getattr(spectrum.cell, "lead_resistance_ohm", None),
        ),
        conductivity_roles=protocol_rules.CONDUCTIVITY_ROLES, bulk_offset_share=protocol_rules.BULK_OFFSET_SHARE,
        rms_residual=rms, converged=result.converged,
        kk_failure=kk.failure_text if kk is not None and kk.failed else None,
        kk_insufficient_data=(kk.reason or "too few points") if kk is not None and kk.insufficient_data else None,
        temperature_known=spectrum.temperature_c is not None,
    ))
    reading_fields = _json_safe(reading.as_fields())
    if initial_values or fixed:  # a hand fit: what it started from and held, beside the result
        hand_fit = {"initial_values": initial_values or {}, "fixed": fixed or {}}
        reading_fields["derived"] = {**reading_fields.get("derived", {}), "hand_fit": hand_fit}
    if result.bound_findings:
        _add_bound_findings(reading_fields, result.bound_findings, params, stored_name)
    fields = {
        "status": FitStatus.SUCCEEDED, "error": "", "parameters": params, "stderr": _json_safe(stderr),
        "chi_square": float(result.chi_square), "reduced_chi_square": float(result.reduced_chi_square),
        "converged": bool(result.converged),
        **reading_fields,
        "engine_version": engine_version(),
    }
    return fields, dict(reading.resistances)


def _add_bound_findings(reading_fields: dict, findings, params: dict, stored_name: dict) -> None:
    """Store the bounds that held a parameter in ``derived["bound_findings"]`` under the stored (canonical)
    names and flag them (``parameter_held_by_bound``, with the cost released; see ``protocol_bounds``)."""
    entries = [protocol_bounds.finding_fields(f, name=stored_name[f.parameter], value=params[stored_name[f.parameter]])
               for f in findings]
    derived = {**reading_fields.get("derived", {}), "bound_findings": _json_safe(entries)}
    details = {**derived.get("flag_details", {}),
               "parameter_held_by_bound": " ".join(protocol_bounds.finding_text(e) for e in entries)}
    reading_fields["derived"] = {**derived, "flag_details": details}
    reading_fields["flags"] = sorted({*reading_fields.get("flags", []), "parameter_held_by_bound"})


"""Fits of a spectrum under a protocol: run the engine, read the fit (``eis.interpretation``), store the
row and its conductivities; and the whole analysis of one spectrum (KK check, then the standard fit).

The cell's ``lead_resistance_ohm`` (short circuit of the empty cell) is taken off the bare
high-frequency intercept when that intercept counts as sample, never off an element fitted
as "series" (see ``interpret_fit``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from django.db import transaction

from apps.measurements.models import ImpedanceSpectrum

from .. import protocols as protocol_rules
from ..eis.circuits import parse_circuit
from ..eis.fitting import fit_circuit
from ..eis.interpretation import FitInput, Geometry, canonical_order, interpret_fit
from ..models import FitProtocol, FitResult, FitStatus, KramersKronigCheck
from .common import AnalysisError, _finite_list, _json_safe, engine_version
from .conductivities import compute_conductivities, spectrum_geometry
from .kramers_kronig import validate_spectrum
from .protocols import standard_protocol_for


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


def fit_spectrum(*, spectrum_id: int, protocol_id: int) -> FitResult:
    """Fit one spectrum under one protocol; store succeeded or failed (with reason) and its conductivities.

    The fit runs outside any transaction; the fit row and its conductivities are written in one.
    """
    spectrum = ImpedanceSpectrum.objects.select_related("cell", "cell__separator").get(pk=spectrum_id)
    protocol = FitProtocol.objects.get(pk=protocol_id)
    return fit_loaded(spectrum, protocol)


def fit_loaded(spectrum: ImpedanceSpectrum, protocol: FitProtocol) -> FitResult:
    try:
        circuit = parse_circuit(protocol.circuit)
        bounds = _fit_bounds(circuit, protocol)
        window = None
        if protocol.frequency_min_hz is not None or protocol.frequency_max_hz is not None:
            window = (protocol.frequency_min_hz or 0.0, protocol.frequency_max_hz or math.inf)
        result = fit_circuit(
            spectrum.frequencies_hz, spectrum.impedance_ohm, circuit,
            weighting=protocol.weighting, bounds=protocol.bounds or None, frequency_window_hz=window,
        )
        values = np.array([result.parameters[n] for n in circuit.parameter_names], float)
        if not np.all(np.isfinite(values)):
            raise ValueError("the fit returned non-finite parameters")
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        with transaction.atomic():
            return _store_failed_fit(spectrum, protocol, f"Fit of {protocol} failed: {exc}")

    names = circuit.parameter_names
    perm = canonical_order(circuit, result.parameters)
    errors = np.array([result.stderr[n] for n in names], float)
    params = {n: float(values[perm[i]]) for i, n in enumerate(names)}
    stderr = {n: (float(errors[perm[i]]) if math.isfinite(errors[perm[i]]) else None) for i, n in enumerate(names)}
    covariance = np.asarray(result.covariance, float)[np.ix_(perm, perm)]
    correlations = np.asarray(result.correlations, float)[np.ix_(perm, perm)]
    residuals = np.concatenate([np.asarray(result.residuals_real), np.asarray(result.residuals_imag)])
    rms = float(np.sqrt(np.mean(residuals**2))) if residuals.size else 0.0
    thickness_cm, area_cm2, _, _, missing = spectrum_geometry(spectrum)
    kk = KramersKronigCheck.objects.filter(spectrum_id=spectrum.pk).first()
    reading = interpret_fit(FitInput(
        circuit=circuit, parameters=params, stderr={k: (math.nan if v is None else v) for k, v in stderr.items()},
        covariance=np.nan_to_num(covariance), roles=protocol.element_roles or {}, bounds=bounds,
        geometry=Geometry(
            thickness_cm=thickness_cm, area_cm2=area_cm2, missing=missing,
            lead_resistance_ohm=getattr(spectrum.cell, "lead_resistance_ohm", None),
        ),
        conductivity_roles=protocol_rules.CONDUCTIVITY_ROLES, bulk_offset_share=protocol_rules.BULK_OFFSET_SHARE,
        rms_residual=rms, converged=result.converged,
        kk_failure=kk.failure_text if kk is not None and not kk.passed else None,
        temperature_known=spectrum.temperature_c is not None,
    ))
    with transaction.atomic():
        fit, _ = FitResult.objects.update_or_create(
            spectrum=spectrum, protocol=protocol,
            defaults={
                "status": FitStatus.SUCCEEDED, "error": "", "parameters": params, "stderr": _json_safe(stderr),
                "correlations": [_finite_list(row) for row in correlations],
                "chi_square": float(result.chi_square), "reduced_chi_square": float(result.reduced_chi_square),
                "residuals_real": _finite_list(result.residuals_real),
                "residuals_imag": _finite_list(result.residuals_imag),
                "converged": bool(result.converged),
                **_json_safe(reading.as_fields()),
                "engine_version": engine_version(),
            },
        )
        compute_conductivities(fit=fit, resistances=dict(reading.resistances))
    return fit


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

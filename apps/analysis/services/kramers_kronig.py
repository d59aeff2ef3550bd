"""The Kramers–Kronig check of a spectrum (Lin-KK, Schönleber et al. 2014), one row per spectrum."""
from __future__ import annotations

import numpy as np
from django.db import transaction

from apps.measurements.models import ImpedanceSpectrum

from .. import protocols as protocol_rules
from ..models import KramersKronigCheck
from .common import AnalysisError, engine_version


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
                "verdict": kk.verdict, "reason": kk.reason[:200],
                "systematic_residual": float(kk.systematic_residual), "noise_level": float(kk.noise_level),
                "engine_version": engine_version(),
            },
        )
    return check

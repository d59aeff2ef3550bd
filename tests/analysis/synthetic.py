"""Synthetic spectra with known truth for the analysis tests (closed forms via the engine's evaluator)."""
import numpy as np

from apps.analysis.eis.circuits import circuit_impedance
from apps.measurements.models import ImpedanceSpectrum

PELLET = "R0-p(R1,CPE1)-p(R2,CPE2)-CPE3"
BULK_BEYOND = "R0-p(R1,CPE1)-CPE2"
SYMMETRIC = "L0-R0-p(R1,CPE1)-p(R2,CPE2)"

# A garnet pellet, 0.08 cm thick, 0.785 cm²: bulk C' ≈ 1e-12 F/cm, grain boundary ≈ 1e-10 F/cm.
PELLET_TRUTH = {
    "R0": 2.0, "R1": 1.0e5, "CPE1_Q": 1.0e-11, "CPE1_n": 0.97, "R2": 3.0e5, "CPE2_Q": 1.5e-9, "CPE2_n": 0.88,
    "CPE3_Q": 2.0e-7, "CPE3_n": 0.85,
}
BULK_BEYOND_TRUTH = {"R0": 800.0, "R1": 3000.0, "CPE1_Q": 5e-9, "CPE1_n": 0.85, "CPE2_Q": 2e-6, "CPE2_n": 0.8}
SYMMETRIC_TRUTH = {
    "L0": 1e-7, "R0": 50.0, "R1": 200.0, "CPE1_Q": 1e-7, "CPE1_n": 0.9, "R2": 500.0, "CPE2_Q": 1e-4, "CPE2_n": 0.8,
}


def spectrum_arrays(circuit: str, truth: dict, *, f_max_hz: float = 1e7, f_min_hz: float = 0.1, n: int = 71,
                    noise: float = 0.0, seed: int = 0):
    f = np.logspace(np.log10(f_max_hz), np.log10(f_min_hz), n)
    z = circuit_impedance(circuit, truth, f)
    if noise:
        rng = np.random.default_rng(seed)
        z = z + noise * np.abs(z) * (rng.normal(size=n) + 1j * rng.normal(size=n))
    return f, z


def set_spectrum(spectrum: ImpedanceSpectrum, f, z) -> ImpedanceSpectrum:
    spectrum.set_arrays(f, z)
    spectrum.save()
    return spectrum

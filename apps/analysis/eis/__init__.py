"""EIS analysis engine: circuits, fitting, Kramers–Kronig, DRT and derived
quantities. Pure numpy/scipy; imports no Django, so it can be used, tested
and benchmarked on its own."""

from .circuits import Circuit, CircuitSyntaxError, circuit_impedance, parse_circuit
from .derived import (
    EPSILON_0_F_PER_CM,
    K_B_EV_PER_K,
    ArrheniusResult,
    Conductivity,
    VTFResult,
    area_specific_resistance,
    assign_arc,
    brug_capacitance,
    conductivity,
    effective_capacitance_rq,
    electronic_conductivity,
    fit_arrhenius,
    fit_vtf,
    relative_permittivity,
)
from .drt import DRTResult, compute_drt
from .fitting import BoundFinding, FitError, FitResult, evaluate_fit, fit_circuit
from .kramers_kronig import DEFAULT_KK_THRESHOLD, KramersKronigResult, kramers_kronig_test
from .model_choice import ModelChoice, SeriesChoice, choose_series_model, compare_models

# 1.1.0: noise-aware Kramers–Kronig verdict (smoothed residual against max(0.4 %, 4.5·σ̂/3)).
# 1.2.0: search stops on evidence (agreeing starts, budget 40), seeds from neighbours, bound findings;
#        KK limit capped at 1.5 % and "insufficient_data" verdict; DRT λ by GCV (1-SE rule, interior),
#        peaks with prominence; model choice by information criterion per spectrum and series.
# 1.3.0: per-coordinate LM step cap and gain-ratio damping; an element off at the optimum no longer
#        blocks the stop (re-enabled and refitted first); mirror starts run once; hopeless starts abandoned.
ENGINE_VERSION = "1.3.0"

__all__ = [
    "ENGINE_VERSION",
    "Circuit", "CircuitSyntaxError", "circuit_impedance", "parse_circuit",
    "BoundFinding", "FitError", "FitResult", "evaluate_fit", "fit_circuit",
    "ModelChoice", "SeriesChoice", "choose_series_model", "compare_models",
    "DEFAULT_KK_THRESHOLD", "KramersKronigResult", "kramers_kronig_test",
    "DRTResult", "compute_drt",
    "EPSILON_0_F_PER_CM", "K_B_EV_PER_K", "ArrheniusResult", "Conductivity", "VTFResult",
    "area_specific_resistance", "assign_arc", "brug_capacitance", "conductivity",
    "effective_capacitance_rq", "electronic_conductivity", "fit_arrhenius", "fit_vtf",
    "relative_permittivity",
]

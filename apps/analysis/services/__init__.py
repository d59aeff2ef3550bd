"""Every write of the analysis app, one module per noun; ``from apps.analysis import services`` sees them all.

- ``protocols``: user protocols, new versions, re-fits under a protocol, the standard protocol of a spectrum.
- ``kramers_kronig``: the Lin-KK check of a spectrum.
- ``fits``: a fit under a protocol (read by ``eis.interpretation``).
- ``model_choice``: the circuit chosen by evidence (BIC) per spectrum and across a cell's series.
- ``spectrum_analysis``: the analysis of a spectrum (KK check, then the standard fit or the family's choice).
- ``conductivities``: σ = L/(R·A) per kind with propagated error.
- ``arrhenius``: Arrhenius and VTF fits of a separator's temperature series.
- ``queueing``: analysis work queued as Job rows (``apps.jobs``); the executors are in ``apps/analysis/jobs.py``.

Every row is written with ``update_or_create`` on a key the database keeps
unique, so running any job twice leaves the same rows.
"""
from .arrhenius import ARRHENIUS_LOCAL_POINTS, BLOCKING_CONFIGURATIONS, fit_arrhenius_series
from .common import AnalysisError, _finite_list, _json_safe, engine_version
from .conductivities import compute_conductivities, refresh_conductivity_summary
from .fits import fit_spectrum
from .kramers_kronig import validate_spectrum
from .spectrum_analysis import AnalysisOutcome, analyse_spectrum
from .protocols import (
    PROTOCOL_EDITABLE_FIELDS,
    PROTOCOL_FIT_FIELDS,
    create_protocol,
    create_protocol_version,
    latest_standard_protocol,
    protocol_is_used,
    refit_candidates,
    refit_protocol,
    standard_protocol_for,
    standard_protocol_name_for,
    update_protocol,
    validate_circuit,
)
from .queueing import queue_analysis, queue_followups, request_fit

__all__ = [
    "ARRHENIUS_LOCAL_POINTS", "BLOCKING_CONFIGURATIONS", "fit_arrhenius_series",
    "AnalysisError", "_finite_list", "_json_safe", "engine_version",
    "compute_conductivities",
    "refresh_conductivity_summary",
    "AnalysisOutcome", "analyse_spectrum", "fit_spectrum",
    "validate_spectrum",
    "PROTOCOL_EDITABLE_FIELDS", "PROTOCOL_FIT_FIELDS", "create_protocol", "create_protocol_version",
    "latest_standard_protocol", "protocol_is_used", "refit_candidates", "refit_protocol", "standard_protocol_for",
    "standard_protocol_name_for", "update_protocol", "validate_circuit",
    "queue_analysis", "queue_followups", "request_fit",
]

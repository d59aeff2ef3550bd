"""What every analysis service shares: the error shown as a job's reason, the engine version, JSON hygiene."""
from __future__ import annotations

import math

import numpy as np

from apps.jobs.registry import JobError


class AnalysisError(JobError):
    """A job cannot do its work; the message is shown to people as the job's error."""


def engine_version() -> str:
    from apps.analysis import eis

    return str(getattr(eis, "ENGINE_VERSION", "") or "unversioned")


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

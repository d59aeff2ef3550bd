"""Which function runs a job of each kind: filled by the apps that own the work.

An app registers its kinds when it is ready (``apps/<app>/jobs.py``, imported
from its ``AppConfig.ready``)::

    @register_job_kind("analyse_spectrum", label="Analyse spectrum")
    def analyse_spectrum(job: Job) -> JobOutcome:
        ...

The jobs app runs whatever is registered and imports no other app.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


class JobError(Exception):
    """A job cannot do its work; the message is shown to people as the job's error."""


class Deferred(Exception):
    """The job steps aside (cancelled with this reason); a later job does its work."""


@dataclass(frozen=True)
class JobOutcome:
    """What a finished job produced: a summary for the Job row, and what to queue after it.

    ``followup`` runs after the job is recorded (follow-up jobs queued by name, never by import).
    """

    result: dict
    followup: Callable[[], Any] | None = None


class JobFailed(Exception):
    """The job ran and failed, with a summary of what it got to and follow-ups that still apply."""

    def __init__(self, message: str, result: dict, followup: Callable[[], Any] | None = None):
        super().__init__(message)
        self.result = result
        self.followup = followup


#: An executor takes the running Job and returns its outcome, or None when the job stays
#: running (its children finish it).
Executor = Callable[[Any], "JobOutcome | None"]


@dataclass(frozen=True)
class JobKind:
    kind: str
    label: str
    execute: Executor


_KINDS: dict[str, JobKind] = {}


def register_job_kind(kind: str, *, label: str) -> Callable[[Executor], Executor]:
    """Decorator: ``execute`` runs jobs of ``kind``. Registering a kind twice with another function is an error."""

    def decorator(execute: Executor) -> Executor:
        existing = _KINDS.get(kind)
        if existing is not None and existing.execute is not execute and (
            existing.execute.__module__, existing.execute.__qualname__
        ) != (execute.__module__, execute.__qualname__):
            raise ValueError(f"Job kind {kind!r} is already registered by {existing.execute.__module__}.")
        _KINDS[kind] = JobKind(kind=kind, label=label, execute=execute)
        return execute

    return decorator


def job_kind(kind: str) -> JobKind:
    """The registration of ``kind``; JobError naming the kinds known when none is registered."""
    try:
        return _KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(_KINDS)) or "none"
        raise JobError(f"No handler is registered for jobs of kind {kind!r} (registered: {known}).") from None


def registered_kinds() -> dict[str, JobKind]:
    return dict(_KINDS)

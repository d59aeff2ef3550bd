"""A throwaway job kind, so the jobs app is tested without any other app's work."""
from types import SimpleNamespace

import pytest

from apps.jobs import registry
from apps.jobs.registry import JobOutcome

KIND = "test_kind"


@pytest.fixture
def job_kind(monkeypatch):
    """Registers ``test_kind``; its executor records each call and runs ``behave(job)`` (default: succeeds)."""
    state = SimpleNamespace(kind=KIND, calls=[], behave=lambda job: JobOutcome({"ran": 1}))

    def execute(job):
        state.calls.append(job.pk)
        return state.behave(job)

    monkeypatch.setitem(registry._KINDS, KIND, registry.JobKind(kind=KIND, label="Test kind", execute=execute))
    return state

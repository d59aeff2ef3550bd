"""Fixtures for the analysis pipeline tests: cells with a known geometry and a way to run queued jobs."""
import pytest

from tests.factories import CellFactory, SeparatorFactory


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Run what a block queues: on-commit dispatches execute eagerly (tasks are eager in tests)."""

    def runner():
        return django_capture_on_commit_callbacks(execute=True)

    return runner


@pytest.fixture
def unit_cell(db):
    """A blocking cell whose cell constant is 0.1 cm / 1 cm²: σ = 1e-4 S/cm for R = 1000 Ω."""
    separator = SeparatorFactory(thickness_um=1000.0, area_cm2=1.0, thickness_stderr_um=None)
    return CellFactory(separator=separator, group=separator.group, active_area_cm2=1.0)

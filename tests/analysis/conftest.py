"""Fixtures for the analysis pipeline tests: cells with a known geometry."""
import pytest


@pytest.fixture
def unit_cell(db):
    """A blocking cell whose cell constant is 0.1 cm / 1 cm²: σ = 1e-4 S/cm for R = 1000 Ω."""
    from tests.factories import CellFactory, SeparatorFactory  # here, so the pure eis tests run with -p no:django

    separator = SeparatorFactory(thickness_um=1000.0, area_cm2=1.0, thickness_stderr_um=None)
    return CellFactory(separator=separator, group=separator.group, active_area_cm2=1.0)

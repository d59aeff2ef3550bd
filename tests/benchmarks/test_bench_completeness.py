"""Reporting completeness: edge cases of the weighted checklist."""
import pytest

from apps.benchmarks.completeness import CELL_CHECKLIST, SEPARATOR_CHECKLIST, SPECTRUM_CHECKLIST, combined_completeness
from apps.benchmarks.services import completeness
from tests.benchmarks.bench_factories import FitFactory
from tests.factories import (
    CellFactory,
    InterfaceFactory,
    PressureStepFactory,
    SeparatorFactory,
    SourceFactory,
    SpectrumFactory,
)

pytestmark = pytest.mark.django_db


def bare_separator():
    return SeparatorFactory(with_component=False, processing_route="", densification_pressure_mpa=None,
                            sintering_temperature_c=None, thickness_um=None, area_cm2=None, relative_density=None)


def test_empty_separator_scores_zero_with_every_item_missing():
    result = completeness(bare_separator())
    assert result.score == 0.0
    applicable = [i.label for i in SEPARATOR_CHECKLIST if i.key not in ("densification", "inorganic_fraction")]
    assert result.missing == applicable


def test_fully_reported_separator_scores_one():
    separator = SeparatorFactory(thickness_method="micrometer", thickness_measured_when="after_densification",
                                 source=SourceFactory())
    result = completeness(separator)
    assert result.score == 1.0
    assert result.missing == []


def test_partly_reported_separator_scores_by_weight():
    separator = SeparatorFactory(thickness_method="micrometer", thickness_measured_when="after_densification",
                                 source=SourceFactory(), relative_density=None)
    result = completeness(separator)
    total = sum(i.weight for i in SEPARATOR_CHECKLIST if i.key != "inorganic_fraction")
    assert result.score == pytest.approx((total - 2) / total, abs=1e-4)
    assert result.missing == ["Relative density or porosity"]


def test_densification_item_does_not_apply_to_solution_cast_membranes():
    separator = SeparatorFactory(processing_route="solution_casting", densification_pressure_mpa=None)
    keys = {o.key for o in completeness(separator).checklist}
    assert "densification" not in keys


def test_blocking_cell_is_not_asked_for_interface_preparation():
    cell = CellFactory(configuration="blocking")
    assert "interface_preparation" not in {o.key for o in completeness(cell).checklist}


def test_symmetric_cell_without_prepared_interface_misses_it():
    cell = CellFactory(configuration="symmetric", electrode_contact="li")
    cell.interfaces.add(InterfaceFactory(group=cell.group))
    assert "Interface preparation" in completeness(cell).missing


def test_complete_cell_scores_one():
    cell = CellFactory(source=SourceFactory(), lead_resistance_ohm=0.8)
    PressureStepFactory(cell=cell, phase="measurement", pressure_mpa=10)
    assert completeness(cell).score == 1.0


def test_spectrum_without_conditions_lists_them_missing():
    spectrum = SpectrumFactory(temperature_c=None, stack_pressure_mpa=None)
    missing = completeness(spectrum).missing
    assert "Measurement temperature" in missing and "Stack pressure during the spectrum" in missing
    assert "Fit under a standard protocol" in missing


def test_spectrum_with_standard_fit_gets_the_protocol_item():
    fit = FitFactory()
    assert "Fit under a standard protocol" not in completeness(fit.spectrum).missing


def test_combined_completeness_counts_the_share_of_spectra_reporting_an_item():
    cell = CellFactory()
    spectra = [SpectrumFactory(cell=cell, group=cell.group, ac_amplitude_mv=10), SpectrumFactory(cell=cell, group=cell.group)]
    result = combined_completeness(separators=[cell.separator], cells=[cell], spectra=spectra)
    ac = next(o for o in result.checklist if o.key == "spectrum.ac_amplitude")
    assert ac.fraction == 0.5
    assert "AC amplitude (reported for 50%)" in result.missing


def test_completeness_rejects_other_records():
    with pytest.raises(TypeError):
        completeness(object())


def test_every_checklist_item_says_why_it_matters():
    for item in (*SEPARATOR_CHECKLIST, *CELL_CHECKLIST, *SPECTRUM_CHECKLIST):
        assert item.weight in (1, 2, 3) and len(item.why) > 20


def test_cell_without_lead_resistance_misses_it():
    cell = CellFactory(source=SourceFactory())
    PressureStepFactory(cell=cell, phase="measurement", pressure_mpa=10)
    assert completeness(cell).missing == ["Lead (short-circuit) resistance of the empty cell"]

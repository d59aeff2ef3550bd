"""Records of one group in every visibility, for the web page tests."""
import pytest

from apps.accounts.models import Visibility
from tests.factories import (
    CCDTestFactory,
    CellFactory,
    DCPolarisationFactory,
    InterfaceEvidenceFactory,
    InterfaceFactory,
    PressureStepFactory,
    SeparatorFactory,
    SpectrumFactory,
)


def make_records(group, visibility, creator=None):
    """A separator, a cell on it, a spectrum of that cell and an interface, all with one visibility."""
    separator = SeparatorFactory(group=group, visibility=visibility, created_by=creator)
    cell = CellFactory(group=group, visibility=visibility, separator=separator, created_by=creator)
    PressureStepFactory(cell=cell, position=0, phase="densification", pressure_mpa=370.0, duration_min=5)
    PressureStepFactory(cell=cell, position=1, phase="measurement", pressure_mpa=10.0, duration_min=60)
    spectrum = SpectrumFactory(group=group, visibility=visibility, cell=cell, created_by=creator)
    interface = InterfaceFactory(group=group, visibility=visibility, created_by=creator)
    InterfaceEvidenceFactory(interface=interface, technique="xps", assigned_species="Li2CO3")
    InterfaceEvidenceFactory(interface=interface, technique="nmr", assigned_species="li2co3")
    InterfaceEvidenceFactory(interface=interface, technique="dft", assigned_species="LiOH")
    cell.interfaces.add(interface)
    dc = DCPolarisationFactory(group=group, visibility=visibility, cell=cell, created_by=creator,
                               time_s=[0.0, 60.0, 3600.0], current_a=[4e-7, 2e-8, 2e-9])
    ccd = CCDTestFactory(group=group, visibility=visibility, cell=cell, created_by=creator)
    return {"separator": separator, "cell": cell, "spectrum": spectrum, "interface": interface, "dc": dc, "ccd": ccd}


@pytest.fixture
def records(group):
    return {v: make_records(group, v) for v in Visibility.values}


def page_urls(r) -> dict[str, str]:
    """Every page and plot-data endpoint of one set of records."""
    s, c, sp, i = r["separator"].pk, r["cell"].pk, r["spectrum"].pk, r["interface"].pk
    return {
        "separator": f"/separators/{s}/",
        "separator-plots": f"/separators/{s}/plots/",
        "cell": f"/cells/{c}/",
        "cell-plots": f"/cells/{c}/plots/",
        "interface": f"/interfaces/{i}/",
        "interface-plots": f"/interfaces/{i}/plots/",
        "spectrum": f"/spectra/{sp}/",
        "spectrum-plots": f"/spectra/{sp}/plots/",
        "spectrum-csv": f"/spectra/{sp}/download/csv/",
        "spectrum-json": f"/spectra/{sp}/download/json/",
        "dc-polarisation": f"/dc-polarisations/{r['dc'].pk}/",
        "ccd-test": f"/ccd-tests/{r['ccd'].pk}/",
    }


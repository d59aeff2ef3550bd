"""The benchmark tests' variants of the shared factories: fits under a standard two-arc protocol,
plus the measurement rows only these tests build by hand."""
import factory

from apps.analysis.models import KramersKronigCheck
from apps.measurements.models import CriticalCurrentDensityTest, DCPolarisation
from tests import factories
from tests.factories import CellFactory, FitProtocolFactory, OwnedFactory, SpectrumFactory


class StandardProtocolFactory(FitProtocolFactory):
    name = "Blocking pellet (test)"
    circuit = "R0-p(R1,C1)-p(R2,C2)"
    element_roles = {"R0": "series", "R1": "bulk", "C1": "bulk", "R2": "grain_boundary", "C2": "grain_boundary"}
    is_standard = True


class FitFactory(factories.FitResultFactory):
    protocol = factory.SubFactory(StandardProtocolFactory)
    parameters = factory.LazyFunction(lambda: {"R0": 5.0, "R1": 1000.0, "C1": 1e-11, "R2": 500.0, "C2": 1e-9})
    stderr = factory.LazyFunction(lambda: {"R0": 0.1, "R1": 10.0, "C1": 1e-13, "R2": 5.0, "C2": 1e-11})
    chi_square = None
    reduced_chi_square = None
    engine_version = "1.0.0"


class ConductivityFactory(factories.ConductivityFactory):
    fit = factory.SubFactory(FitFactory)
    resistance_stderr_ohm = 10.0
    conductivity_s_per_cm = 1e-4
    conductivity_stderr_s_per_cm = 1e-6


class KramersKronigCheckFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KramersKronigCheck

    spectrum = factory.SubFactory(SpectrumFactory)
    n_elements = 10
    mu = 0.5
    max_abs_residual = 0.002
    threshold = 0.01
    passed = True
    verdict = factory.LazyAttribute(lambda check: "passed" if check.passed else "failed")
    engine_version = "1.0.0"


class ArrheniusFitFactory(factories.ArrheniusFitFactory):
    protocol = factory.SubFactory(StandardProtocolFactory)
    activation_energy_ev = 0.4
    sigma_25c_s_per_cm = 2e-4
    sigma_25c_ci_low_s_per_cm = 1.8e-4
    sigma_25c_ci_high_s_per_cm = 2.2e-4
    temperature_min_c = 20.0
    points = factory.LazyFunction(list)
    engine_version = "1.0.0"


class DCPolarisationFactory(OwnedFactory):
    class Meta:
        model = DCPolarisation

    cell = factory.SubFactory(CellFactory, group=factory.SelfAttribute("..group"))
    voltage_v = 0.5
    steady_current_a = 1e-9
    temperature_c = 25.0


class CCDTestFactory(OwnedFactory):
    class Meta:
        model = CriticalCurrentDensityTest

    cell = factory.SubFactory(CellFactory, group=factory.SelfAttribute("..group"), configuration="symmetric",
                              electrode_contact="li")
    temperature_c = 25.0
    stack_pressure_mpa = 5.0
    initial_current_density_ma_per_cm2 = 0.1
    step_ma_per_cm2 = 0.1
    capacity_per_half_cycle_mah_per_cm2 = 0.1
    failure_rule = "voltage_drop"
    critical_current_density_ma_per_cm2 = 0.8


class LiteratureValueFactory(factories.LiteratureValueFactory):
    external_id = factory.Sequence(lambda n: f"t{n}")
    composition = "Li7La3Zr2O12"
    family_reported = "garnet"
    conductivity_s_per_cm = 1e-4
    doi = "10.1000/literature"

"""Factories for the analysis and benchmark rows the benchmark tests build by hand.

Kept beside the benchmark tests (not appended to tests/factories.py) so that
they cannot clash with factories other apps add there under the same names.
"""
import factory

from apps.analysis.models import ArrheniusFit, Conductivity, FitResult, KramersKronigCheck
from apps.benchmarks.models import LiteratureValue
from apps.measurements.models import CriticalCurrentDensityTest, DCPolarisation
from tests.factories import CellFactory, FitProtocolFactory, OwnedFactory, SeparatorFactory, SpectrumFactory


class StandardProtocolFactory(FitProtocolFactory):
    name = "Blocking pellet (test)"
    circuit = "R0-p(R1,C1)-p(R2,C2)"
    element_roles = {"R0": "series", "R1": "bulk", "C1": "bulk", "R2": "grain_boundary", "C2": "grain_boundary"}
    is_standard = True


class FitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FitResult

    spectrum = factory.SubFactory(SpectrumFactory)
    protocol = factory.SubFactory(StandardProtocolFactory)
    status = "succeeded"
    parameters = factory.LazyFunction(lambda: {"R0": 5.0, "R1": 1000.0, "C1": 1e-11, "R2": 500.0, "C2": 1e-9})
    stderr = factory.LazyFunction(lambda: {"R0": 0.1, "R1": 10.0, "C1": 1e-13, "R2": 5.0, "C2": 1e-11})
    residuals_real = factory.LazyFunction(lambda: [0.001, -0.001, 0.002])
    residuals_imag = factory.LazyFunction(lambda: [-0.001, 0.001, 0.0])
    converged = True
    engine_version = "1.0.0"


class ConductivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conductivity

    fit = factory.SubFactory(FitFactory)
    spectrum = factory.SelfAttribute("fit.spectrum")
    kind = "total"
    resistance_ohm = 1000.0
    resistance_stderr_ohm = 10.0
    conductivity_s_per_cm = 1e-4
    conductivity_stderr_s_per_cm = 1e-6
    temperature_c = 25.0
    thickness_um = 800.0
    area_cm2 = 0.785


class KramersKronigCheckFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KramersKronigCheck

    spectrum = factory.SubFactory(SpectrumFactory)
    n_elements = 10
    mu = 0.5
    max_abs_residual = 0.002
    threshold = 0.01
    passed = True
    engine_version = "1.0.0"


class ArrheniusFitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ArrheniusFit

    separator = factory.SubFactory(SeparatorFactory)
    protocol = factory.SubFactory(StandardProtocolFactory)
    kind = "total"
    form = "sigma_t"
    activation_energy_ev = 0.4
    activation_energy_stderr_ev = 0.01
    sigma_25c_s_per_cm = 2e-4
    sigma_25c_ci_low_s_per_cm = 1.8e-4
    sigma_25c_ci_high_s_per_cm = 2.2e-4
    temperature_min_c = 20.0
    temperature_max_c = 80.0
    n_points = 5
    r_squared = 0.999
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


class LiteratureValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LiteratureValue

    external_id = factory.Sequence(lambda n: f"t{n}")
    composition = "Li7La3Zr2O12"
    family_reported = "garnet"
    family = "garnet"
    conductivity_s_per_cm = 1e-4
    doi = "10.1000/literature"

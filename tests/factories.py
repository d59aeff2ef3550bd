"""factory_boy factories for every model that tests create."""
import datetime
import hashlib

import factory
import numpy as np
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from apps.accounts.models import Membership, ResearchGroup, Visibility
from apps.analysis.models import ArrheniusFit, Conductivity, FitProtocol, FitResult, FitStatus
from apps.jobs.models import Job
from apps.benchmarks.models import BenchmarkEntry, LiteratureValue, Metric, split_record_ids
from apps.catalog.models import (
    Cell,
    CellLayer,
    Electrode,
    Interface,
    InterfaceEvidence,
    Material,
    MaterialFamily,
    PressureStep,
    Separator,
    SeparatorComponent,
    Source,
)
from apps.measurements.models import (
    CriticalCurrentDensityTest,
    DCPolarisation,
    ImpedanceSpectrum,
    RawFile,
    raw_file_path,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"researcher{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("correct horse battery")


class ResearchGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ResearchGroup

    name = factory.Sequence(lambda n: f"Solid-State Ionics Lab {n}")
    slug = factory.Sequence(lambda n: f"ssi-lab-{n}")
    institution = "Example University"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    group = factory.SubFactory(ResearchGroupFactory)
    role = Membership.Role.MEMBER


class OwnedFactory(factory.django.DjangoModelFactory):
    group = factory.SubFactory(ResearchGroupFactory)
    visibility = Visibility.PUBLIC
    embargo_until = None


class MaterialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Material
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Li7La3Zr2O12-variant-{n}")
    formula = "Li6.4La3Zr1.4Ta0.6O12"
    family = MaterialFamily.GARNET


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    doi = factory.Sequence(lambda n: f"10.1000/assb.{n}")
    citation = factory.Sequence(lambda n: f"A. Author et al., J. Solid State Ionics {n} (2024)")
    year = 2024


class SeparatorFactory(OwnedFactory):
    class Meta:
        model = Separator
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"LLZTO pellet {n}")
    form = Separator.Form.PELLET
    processing_route = "sintering"
    densification_pressure_mpa = 300.0
    sintering_temperature_c = 1150.0
    thickness_um = 800.0
    area_cm2 = 0.785
    relative_density = 0.95

    @factory.post_generation
    def with_component(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            SeparatorComponent.objects.create(
                separator=obj, material=MaterialFactory(), role=SeparatorComponent.Role.FAST_ION_PHASE, fraction=1.0
            )


class ElectrodeFactory(OwnedFactory):
    class Meta:
        model = Electrode

    name = factory.Sequence(lambda n: f"Li foil {n}")
    kind = Electrode.Kind.ANODE
    is_metal_foil = True
    thickness_um = 50.0


class CellFactory(OwnedFactory):
    class Meta:
        model = Cell

    name = factory.Sequence(lambda n: f"Au|LLZTO|Au cell {n}")
    configuration = Cell.Configuration.BLOCKING
    housing = Cell.Housing.DIE
    electrode_contact = Cell.ElectrodeContact.AU
    separator = factory.SubFactory(SeparatorFactory, group=factory.SelfAttribute("..group"))
    active_area_cm2 = 0.785


class CellLayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CellLayer

    cell = factory.SubFactory(CellFactory)
    position = factory.Sequence(lambda n: n)
    kind = CellLayer.Kind.SEPARATOR


class PressureStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PressureStep

    cell = factory.SubFactory(CellFactory)
    position = factory.Sequence(lambda n: n)
    phase = PressureStep.Phase.MEASUREMENT
    pressure_mpa = 10.0


class InterfaceFactory(OwnedFactory):
    class Meta:
        model = Interface

    name = factory.Sequence(lambda n: f"Li|LLZTO interface {n}")
    material_a = factory.SubFactory(MaterialFactory, name="Li", formula="Li", family=MaterialFamily.OTHER)
    material_b = factory.SubFactory(MaterialFactory)


class InterfaceEvidenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InterfaceEvidence

    interface = factory.SubFactory(InterfaceFactory)
    technique = InterfaceEvidence.Technique.XPS
    assigned_species = "Li2CO3"


def rc_spectrum(
    r_ohm: float = 1000.0, c_f: float = 1e-9, r0_ohm: float = 10.0, n_points: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz, 1e6 … 1e-1) and Z (Ω) of R0-p(R,C): a closed form for tests."""
    f = np.logspace(6, -1, n_points)
    z = r0_ohm + r_ohm / (1 + 1j * 2 * np.pi * f * r_ohm * c_f)
    return f, z


class SpectrumFactory(OwnedFactory):
    class Meta:
        model = ImpedanceSpectrum

    cell = factory.SubFactory(CellFactory, group=factory.SelfAttribute("..group"))
    label = factory.Sequence(lambda n: f"EIS {n}")
    temperature_c = 25.0
    stack_pressure_mpa = 10.0

    @factory.lazy_attribute
    def data(self):
        return ImpedanceSpectrum.pack(*rc_spectrum())

    n_points = 50
    frequency_min_hz = 0.1
    frequency_max_hz = 1e6
    measured_at = factory.LazyFunction(lambda: datetime.datetime(2026, 1, 15, 12, 0, tzinfo=datetime.timezone.utc))


class DCPolarisationFactory(OwnedFactory):
    class Meta:
        model = DCPolarisation

    cell = factory.SubFactory(CellFactory, group=factory.SelfAttribute("..group"))
    voltage_v = 0.5
    steady_current_a = 2e-9
    initial_current_a = 4e-7
    duration_h = 10.0
    temperature_c = 25.0


class CCDTestFactory(OwnedFactory):
    class Meta:
        model = CriticalCurrentDensityTest

    cell = factory.SubFactory(CellFactory, group=factory.SelfAttribute("..group"))
    temperature_c = 25.0
    initial_current_density_ma_per_cm2 = 0.1
    step_ma_per_cm2 = 0.1
    capacity_per_half_cycle_mah_per_cm2 = 0.1
    failure_rule = CriticalCurrentDensityTest.FailureRule.VOLTAGE_DROP
    critical_current_density_ma_per_cm2 = 0.5


class FitProtocolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FitProtocol
        django_get_or_create = ["name", "version"]

    name = factory.Sequence(lambda n: f"test protocol {n}")
    version = 1
    circuit = "R0-p(R1,C1)"
    element_roles = {"R0": "series", "R1": "total", "C1": "total"}


# Analysis results, benchmark entries, literature values, jobs and raw files.
class RawFileFactory(OwnedFactory):
    """A raw file whose bytes really are in the (test) file storage."""

    class Meta:
        model = RawFile

    class Params:
        content = factory.Sequence(lambda n: f"freq,zreal,zimag\n# raw file {n}\n".encode())

    sha256 = factory.LazyAttribute(lambda o: hashlib.sha256(o.content).hexdigest())
    original_name = factory.Sequence(lambda n: f"pellet-{n}.csv")
    size_bytes = factory.LazyAttribute(lambda o: len(o.content))
    format = "csv"
    parser_version = "1.0.0"
    cell = None

    @factory.lazy_attribute
    def file(self):
        name = raw_file_path(self, self.original_name)
        if not default_storage.exists(name):
            default_storage.save(name, ContentFile(self.content))
        return name


class FitResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FitResult

    spectrum = factory.SubFactory(SpectrumFactory)
    protocol = factory.SubFactory(FitProtocolFactory)
    status = FitStatus.SUCCEEDED
    parameters = factory.LazyFunction(lambda: {"R0": 10.0, "R1": 1000.0, "C1": 1e-9})
    stderr = factory.LazyFunction(lambda: {"R0": 0.1, "R1": 5.0, "C1": 1e-11})
    chi_square = 1e-4
    reduced_chi_square = 2e-6
    converged = True
    engine_version = "test"


class ConductivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conductivity

    fit = factory.SubFactory(FitResultFactory)
    spectrum = factory.SelfAttribute("fit.spectrum")
    kind = "total"
    resistance_ohm = 1000.0
    resistance_stderr_ohm = 5.0
    conductivity_s_per_cm = 1.02e-4
    conductivity_stderr_s_per_cm = 5e-7
    temperature_c = 25.0
    thickness_um = 800.0
    area_cm2 = 0.785


class ArrheniusFitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ArrheniusFit

    separator = factory.SubFactory(SeparatorFactory)
    protocol = factory.SubFactory(FitProtocolFactory)
    kind = "total"
    form = "sigma_t"
    activation_energy_ev = 0.42
    activation_energy_stderr_ev = 0.01
    sigma_25c_s_per_cm = 1e-4
    temperature_min_c = 0.0
    temperature_max_c = 80.0
    n_points = 5
    r_squared = 0.999
    points = factory.LazyFunction(lambda: [[25.0, 1e-4, 1e-6]])
    engine_version = "test"


class BenchmarkEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BenchmarkEntry

    separator = factory.SubFactory(SeparatorFactory)
    cell = None
    metric = Metric.SIGMA_25C_TOTAL
    family = "garnet"
    value = 1e-4
    unit = "S/cm"
    stderr = 1e-6
    temperature_c = 25.0
    thickness_um = 800.0
    completeness_score = 0.8

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """``details`` may name whole id lists, as the computation hands them over; they are stored apart."""
        if "details" in kwargs and "record_ids" not in kwargs:
            kwargs["details"], kwargs["record_ids"] = split_record_ids(kwargs["details"])
        return super()._create(model_class, *args, **kwargs)


class LiteratureValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LiteratureValue

    external_id = factory.Sequence(lambda n: f"lit-{n}")
    composition = factory.Sequence(lambda n: f"Li7La3Zr2O12-{n}")
    family_reported = "Garnet"
    family = "garnet"
    conductivity_s_per_cm = 3e-4
    doi = "10.1000/obelix.1"


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    kind = Job.Kind.FIT_SPECTRUM
    state = Job.State.RUNNING
    target_type = "spectrum"
    target_id = 1
    progress_done = 3
    progress_total = 4


def publish_release(*, separators=(), cells=(), spectra=(), user=None, group=None, **fields):
    """Publish a release of the given records through the service (as a member of their group)."""
    from apps.releases.services import release_publish

    records = [*separators, *cells, *spectra]
    group = group or records[0].group
    if user is None:
        user = MembershipFactory(group=group).user
    fields.setdefault("title", "Released pellets")
    fields.setdefault("authors", [{"name": "Carberry, Josiah", "orcid": "0000-0002-1825-0097"}])
    return release_publish(user=user, group=group, separator_ids=[s.pk for s in separators],
                           cell_ids=[c.pk for c in cells], spectrum_ids=[s.pk for s in spectra], **fields)

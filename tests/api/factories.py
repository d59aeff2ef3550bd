"""Factories for the rows the API tests need beyond tests/factories.py: raw files, results, entries, jobs."""
import hashlib

import factory
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from apps.analysis.models import ArrheniusFit, Conductivity, FitResult, FitStatus, Job
from apps.benchmarks.models import BenchmarkEntry, LiteratureValue, Metric
from apps.measurements.models import RawFile, raw_file_path
from tests.factories import FitProtocolFactory, OwnedFactory, SeparatorFactory, SpectrumFactory


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
    residuals_real = factory.LazyFunction(lambda: [0.001] * 50)
    residuals_imag = factory.LazyFunction(lambda: [-0.001] * 50)
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

"""Every list endpoint runs the same number of queries for a page of 5 rows as for a page of 50."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.accounts.models import Visibility
from tests.factories import (
    ArrheniusFitFactory,
    BenchmarkEntryFactory,
    ConductivityFactory,
    FitResultFactory,
    JobFactory,
    LiteratureValueFactory,
    RawFileFactory,
)
from tests.factories import (
    CellFactory,
    CellLayerFactory,
    ElectrodeFactory,
    InterfaceEvidenceFactory,
    InterfaceFactory,
    MaterialFactory,
    PressureStepFactory,
    SeparatorFactory,
    SourceFactory,
    SpectrumFactory,
)

pytestmark = pytest.mark.django_db

SMALL, LARGE = 5, 50


def _cell(group):
    cell = CellFactory(group=group, visibility=Visibility.GROUP, source=SourceFactory())
    CellLayerFactory(cell=cell, position=0, separator=cell.separator)
    PressureStepFactory(cell=cell, position=0, phase="densification", pressure_mpa=300)
    PressureStepFactory(cell=cell, position=1, phase="measurement", pressure_mpa=10)
    cell.interfaces.add(InterfaceFactory(group=group))
    SpectrumFactory(group=group, cell=cell)
    return cell


def _interface(group):
    interface = InterfaceFactory(group=group, visibility=Visibility.GROUP, interlayer_material=MaterialFactory())
    InterfaceEvidenceFactory(interface=interface, technique="nmr")
    InterfaceEvidenceFactory(interface=interface, technique="dft")
    return interface


# list URL basename → builder of one row owned by `group` (seen by its members)
BUILDERS = {
    "separator": lambda g: SeparatorFactory(group=g, visibility=Visibility.GROUP, source=SourceFactory()),
    "electrode": lambda g: ElectrodeFactory(group=g, active_material=MaterialFactory()),
    "interface": _interface,
    "cell": _cell,
    "spectrum": lambda g: SpectrumFactory(group=g, visibility=Visibility.GROUP, raw_file=RawFileFactory(group=g)),
    "rawfile": lambda g: RawFileFactory(group=g, visibility=Visibility.GROUP),
    "fit": lambda g: FitResultFactory(spectrum__group=g),
    "conductivity": lambda g: ConductivityFactory(fit__spectrum__group=g),
    "arrheniusfit": lambda g: ArrheniusFitFactory(separator__group=g),
    "benchmarkentry": lambda g: BenchmarkEntryFactory(separator__group=g, separator__source=SourceFactory()),
    "literaturevalue": lambda g: LiteratureValueFactory(),
    "job": lambda g: JobFactory(group=g),
    "material": lambda g: MaterialFactory(),
    "source": lambda g: SourceFactory(),
}


def _queries_for_page(client, url: str, size: int) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"page_size": size})
    assert response.status_code == 200, response.content
    return len(captured.captured_queries), len(response.json()["results"])


@pytest.mark.parametrize("basename", list(BUILDERS))
def test_list_query_count_does_not_grow_with_page_size(client_for, group, basename, django_assert_max_num_queries):
    for _ in range(LARGE):
        BUILDERS[basename](group)
    client = client_for("member")
    url = reverse(f"api:{basename}-list")
    small_count, small_rows = _queries_for_page(client, url, SMALL)
    assert small_rows == SMALL
    with django_assert_max_num_queries(small_count):
        response = client.get(url, {"page_size": LARGE})
    assert len(response.json()["results"]) >= LARGE


def test_group_list_query_count_does_not_grow_with_page_size(client_for, django_assert_max_num_queries):
    from tests.factories import MembershipFactory

    for _ in range(LARGE):
        MembershipFactory()
    client = client_for("member")
    small_count, _ = _queries_for_page(client, reverse("api:group-list"), SMALL)
    with django_assert_max_num_queries(small_count):
        client.get(reverse("api:group-list"), {"page_size": LARGE})


@pytest.mark.parametrize("basename", ["separator", "spectrum", "benchmarkentry"])
def test_export_query_count_does_not_grow_with_rows(client_for, group, basename, django_assert_max_num_queries):
    """Exports read in chunks: 5 rows and 50 rows cost the same queries."""
    client = client_for("member")
    url = reverse(f"api:{basename}-export")
    for _ in range(SMALL):
        BUILDERS[basename](group)
    with CaptureQueriesContext(connection) as captured:
        b"".join(client.get(url, {"format": "csv"}).streaming_content)
    for _ in range(LARGE - SMALL):
        BUILDERS[basename](group)
    with django_assert_max_num_queries(len(captured.captured_queries)):
        rows = b"".join(client.get(url, {"format": "csv"}).streaming_content).decode().strip().splitlines()
    assert len(rows) == LARGE + 2  # header, rows, trailer


@pytest.mark.parametrize("standard", [True, False])
def test_spectrum_detail_reads_its_fits_once(client, standard, django_assert_num_queries):
    """The spectrum (with its cell, KK check and references), then its visible fits with their protocols; the
    completeness checklist's "fit under a standard protocol" reads those fits."""
    fit = FitResultFactory(spectrum__visibility=Visibility.PUBLIC, spectrum__cell__visibility=Visibility.PUBLIC,
                           protocol__is_standard=standard)
    with django_assert_num_queries(2):
        response = client.get(reverse("api:spectrum-detail", args=[fit.spectrum_id]))
    assert [row["id"] for row in response.json()["fits"]] == [fit.pk]
    missing = response.json()["completeness"]["missing"]
    assert any("standard protocol" in item for item in missing) is not standard

"""Compare, search and the jobs page / status endpoint."""
import json

import pytest

from apps.accounts.models import Visibility
from apps.jobs.models import Job
from tests.factories import MaterialFactory, SeparatorFactory, SourceFactory, SpectrumFactory


def test_compare_two_separators_highlights_differing_rows(client, group):
    a = SeparatorFactory(group=group, thickness_um=500.0, processing_route="sintering")
    b = SeparatorFactory(group=group, thickness_um=800.0, processing_route="sintering")
    response = client.get(f"/compare/?kind=separator&ids={a.pk}&ids={b.pk}")
    rows = {row["label"]: row for row in response.context["rows"]}
    assert rows["Thickness"]["differs"] and rows["Thickness"]["values"] == ["500 µm", "800 µm"]
    assert not rows["Processing route"]["differs"]
    assert [name for name, _ in response.context["links"]] == [a.name, b.name]
    assert b'class="differs"' in response.content


def test_compare_spectra_overlays_both_on_one_nyquist(client, group):
    s1 = SpectrumFactory(group=group, temperature_c=25.0)
    s2 = SpectrumFactory(group=group, temperature_c=60.0)
    response = client.get(f"/compare/?kind=spectrum&ids={s1.pk},{s2.pk}")
    nyquist = json.loads(response.context["figures"]["nyquist"])
    assert [t["name"] for t in nyquist["data"]] == [s1.label, s2.label]
    bode = json.loads(response.context["figures"]["bode"])
    assert {t["name"] for t in bode["data"]} == {s1.label, s2.label}
    assert {r["label"]: r["differs"] for r in response.context["rows"]}["Temperature"]


@pytest.mark.parametrize("ids,message", [("1", "you picked 1"), ("1,2,3,4,5,6,7", "you picked 7"), ("1,x", "is not a record number")])
def test_compare_needs_two_to_six_numbers(client, ids, message, db):
    response = client.get(f"/compare/?kind=separator&ids={ids}")
    assert response.status_code == 200
    assert message in response.content.decode()
    assert "rows" not in response.context


def test_compare_with_a_hidden_record_is_404(client, group, outsider):
    shown = SeparatorFactory(group=group, visibility=Visibility.PUBLIC)
    hidden = SeparatorFactory(group=group, visibility=Visibility.PRIVATE)
    client.force_login(outsider)
    assert client.get(f"/compare/?kind=separator&ids={shown.pk}&ids={hidden.pk}").status_code == 404


def test_search_finds_material_separator_and_doi(client, group):
    material = MaterialFactory(name="Li6PS5Cl", formula="Li6PS5Cl", family="argyrodite")
    source = SourceFactory(doi="10.1021/acsenergylett.9b01234")
    separator = SeparatorFactory(group=group, name="argyrodite pellet", source=source)
    assert material.name in client.get("/search/?q=PS5").content.decode()
    results = client.get("/search/?q=9b01234").context["results"]
    assert results["separators"] == [separator] and results["sources"] == [source]


def test_search_hides_records_the_user_may_not_see(client, group):
    SeparatorFactory(group=group, name="secret pellet", visibility=Visibility.PRIVATE)
    assert client.get("/search/?q=secret").context["total"] == 0


def test_home_counts_only_visible_records(client, group):
    SeparatorFactory(group=group, visibility=Visibility.PUBLIC)
    SeparatorFactory(group=group, visibility=Visibility.GROUP)
    counts = client.get("/").context["counts"]
    assert counts["separators"] == (1, True)  # (rows, exact): exact at this size


def _job(group, state="running", done=3, total=10):
    return Job.objects.create(
        kind=Job.Kind.ANALYSE_SPECTRUM, state=state, target_type="spectrum", target_id=1, group=group,
        progress_done=done, progress_total=total,
    )


def test_job_status_reports_progress_of_visible_jobs_only(client, member, group):
    mine = _job(group)
    other = _job(SeparatorFactory().group)
    client.force_login(member)
    payload = client.get(f"/jobs/status/?ids={mine.pk},{other.pk}").json()
    assert [j["id"] for j in payload["jobs"]] == [mine.pk]
    assert payload["jobs"][0]["progress_percent"] == 30
    assert payload["all_finished"] is False


def test_job_status_all_finished_when_done(client, member, group):
    job = _job(group, state="succeeded", done=10)
    client.force_login(member)
    assert client.get(f"/jobs/status/?ids={job.pk}").json()["all_finished"] is True


def test_jobs_page_lists_visible_jobs_with_progress_bars(client, member, group):
    job = _job(group)
    client.force_login(member)
    body = client.get("/jobs/").content.decode()
    assert f'data-job-id="{job.pk}"' in body and "<progress" in body


def test_spectrum_page_shows_running_job_and_polls(client, member, group):
    spectrum = SpectrumFactory(group=group)
    Job.objects.create(kind=Job.Kind.FIT_SPECTRUM, state="running", target_type="spectrum", target_id=spectrum.pk, group=group)
    client.force_login(member)
    response = client.get(f"/spectra/{spectrum.pk}/")
    assert response.context["jobs_active"] is True
    assert b'data-active="true"' in response.content


def test_compare_cells_overlays_pressure_histories_and_marks_differences(client, group):
    from tests.factories import CCDTestFactory, CellFactory, PressureStepFactory

    a = CellFactory(group=group, visibility="public", name="Cell at 5 MPa")
    b = CellFactory(group=group, visibility="public", name="Cell at 50 MPa")
    for cell, pressure in ((a, 5.0), (b, 50.0)):
        PressureStepFactory(cell=cell, position=0, phase="densification", pressure_mpa=370.0, duration_min=5)
        PressureStepFactory(cell=cell, position=1, phase="measurement", pressure_mpa=pressure, duration_min=60)
    CCDTestFactory(group=group, visibility="public", cell=b, critical_current_density_ma_per_cm2=0.9)
    response = client.get(f"/compare/?kind=cell&ids={a.pk},{b.pk}")
    assert response.status_code == 200
    rows = {r["label"]: r for r in response.context["rows"]}
    assert rows["Measurement pressure"]["values"] == ["5 MPa", "50 MPa"] and rows["Measurement pressure"]["differs"]
    assert not rows["Densification pressure"]["differs"]
    assert rows["CCD"]["values"] == ["—", "0.9 mA/cm²"]
    pressure = json.loads(response.context["figures"]["pressure"])
    assert [t["name"] for t in pressure["data"]] == ["Cell at 5 MPa", "Cell at 50 MPa"]
    assert pressure["data"][0]["x"] == [0, 5, 5, 65]  # cumulative minutes
    assert pressure["layout"]["xaxis"]["title"]["text"] == "Cumulative time (min)"


def test_long_pressure_history_is_drawn_in_hours(client, group):
    from tests.factories import CellFactory, PressureStepFactory

    cells = [CellFactory(group=group, visibility="public") for _ in range(2)]
    for cell in cells:
        PressureStepFactory(cell=cell, position=0, phase="densification", pressure_mpa=370.0, duration_min=30)
        PressureStepFactory(cell=cell, position=1, phase="cycling", pressure_mpa=5.0, duration_min=48 * 60)
    figure = json.loads(client.get(f"/compare/?kind=cell&ids={cells[0].pk},{cells[1].pk}").context["figures"]["pressure"])
    assert figure["data"][0]["x"] == [0, 0.5, 0.5, 48.5]
    assert figure["layout"]["xaxis"]["title"]["text"] == "Cumulative time (h)"


def test_pressure_history_without_durations_is_drawn_against_whole_step_numbers(client, group):
    from tests.factories import CellFactory, PressureStepFactory

    cells = [CellFactory(group=group, visibility="public") for _ in range(2)]
    for cell in cells:
        for position in range(3):
            PressureStepFactory(cell=cell, position=position, phase="measurement", pressure_mpa=10.0 * (position + 1),
                                duration_min=None)
    figure = json.loads(client.get(f"/compare/?kind=cell&ids={cells[0].pk},{cells[1].pk}").context["figures"]["pressure"])
    assert figure["data"][0]["x"] == [1.0, 2.0, 2.0, 3.0, 3.0, 4.0]
    assert (figure["layout"]["xaxis"]["title"]["text"], figure["layout"]["xaxis"]["dtick"]) == ("Step number", 1)


def test_compare_interfaces_puts_evidence_side_by_side(client, group):
    from tests.factories import InterfaceEvidenceFactory, InterfaceFactory

    a = InterfaceFactory(group=group, visibility="public", name="Li|LLZTO bare")
    b = InterfaceFactory(group=group, visibility="public", name="Li|Al2O3|LLZTO")
    InterfaceEvidenceFactory(interface=a, technique="xps", assigned_species="Li2CO3")
    InterfaceEvidenceFactory(interface=a, technique="nmr", assigned_species="Li2CO3")
    InterfaceEvidenceFactory(interface=b, technique="xps", assigned_species="LiAlO2", measured_value=74.2, value_unit="eV")
    response = client.get(f"/compare/?kind=interface&ids={a.pk},{b.pk}")
    rows = {r["label"]: r["values"] for r in response.context["rows"]}
    assert rows["Evidence: XPS"] == ["Li2CO3 ✓ cross-validated", "LiAlO2: measured 74.2 eV"]
    assert rows["Evidence: NMR"] == ["Li2CO3 ✓ cross-validated", "—"]
    assert rows["Cross-validated"] == ["li2co3", "—"]


def test_compare_spectra_shows_each_fit_with_errors_and_chi_square(client, group):
    from tests.factories import FitResultFactory

    fits = [FitResultFactory(spectrum=SpectrumFactory(group=group, visibility="public", cell__visibility="public"),
                             protocol__circuit="R0-p(R1,C1)", parameters={"R0": 10.0, "R1": r1, "C1": 1e-9})
            for r1 in (1000.0, 2500.0)]
    response = client.get(f"/compare/?kind=spectrum&ids={fits[0].spectrum_id},{fits[1].spectrum_id}")
    rows = {r["label"]: r for r in response.context["rows"]}
    assert rows["R1"]["values"] == ["1.0000 ± 0.0050 kΩ", "2.5000 ± 0.0050 kΩ"] and rows["R1"]["differs"]
    assert not rows["R0"]["differs"] and rows["Circuit"]["values"] == ["R0-p(R1,C1)"] * 2
    assert rows["χ² (reduced)"]["values"][0] == "1 × 10⁻⁴ (2 × 10⁻⁶)"


@pytest.mark.parametrize("kind", ["cell", "interface"])
def test_compare_cells_or_interfaces_with_a_hidden_one_is_404(client, group, outsider, kind):
    from tests.factories import CellFactory, InterfaceFactory

    factory = CellFactory if kind == "cell" else InterfaceFactory
    shown, hidden = factory(group=group, visibility="public"), factory(group=group, visibility="private")
    client.force_login(outsider)
    assert client.get(f"/compare/?kind={kind}&ids={shown.pk},{hidden.pk}").status_code == 404

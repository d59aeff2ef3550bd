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
    assert counts["separators"] == 1


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

"""Releases: frozen numbers, byte-identical archives, versions, retraction, deletion and the audit trail."""
import hashlib
import io
import json
import zipfile

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils.html import escape
from rest_framework.test import APIClient

from apps.accounts.models import Visibility
from apps.analysis.models import Conductivity, FitResult
from apps.benchmarks import services as benchmark_services
from apps.benchmarks.models import BenchmarkEntry, Metric
from apps.common.formatting import format_unit_value
from apps.jobs.models import Job
from apps.measurements.models import ImpedanceSpectrum, RawFile
from apps.releases import services
from apps.releases.models import Release, ReleasedEntry, Retraction
from tests.benchmarks.bench_factories import ConductivityFactory, FitFactory
from tests.benchmarks.test_bench_views import complete_cell, sigma_entry
from tests.factories import (
    CellFactory,
    JobFactory,
    MembershipFactory,
    RawFileFactory,
    SeparatorFactory,
    SpectrumFactory,
    publish_release,
)

pytestmark = pytest.mark.django_db


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def download(client, release) -> bytes:
    response = client.get(reverse("releases:archive", args=[release.pk]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


@pytest.fixture
def released(group, member):
    """A complete public cell of `group` whose separator is released by `member`."""
    cell = complete_cell(group=group)
    release = publish_release(separators=[cell.separator], user=member, licence="CC0-1.0",
                              source_dois=["https://doi.org/10.1021/ACS.chemmater.6b00579"])
    return cell, release


# --- the archive ---------------------------------------------------------------------------


def test_archive_is_byte_identical_on_every_download_and_rebuilds_from_its_manifest(client, released):
    cell, release = released
    first, second = download(client, release), download(client, release)
    assert first == second
    assert hashlib.sha256(first).hexdigest() == release.archive_sha256
    rebuilt, manifest = services.rebuild_archive(release)
    assert rebuilt == first
    assert manifest == release.manifest
    archive = zipfile.ZipFile(io.BytesIO(first))
    for path, sha in release.manifest.items():
        assert hashlib.sha256(archive.read(path)).hexdigest() == sha
    names = archive.namelist()
    spectrum = cell.spectra.get()
    assert f"spectra/spectrum-{spectrum.pk}.csv" in names
    assert {"fits.csv", "fits.json", "entries.csv", "entries.json", "ro-crate-metadata.json", "datacite.json",
            "manifest-sha256.txt"} <= set(names)


def test_release_holds_raw_files_byte_for_byte(client, group, member):
    cell = complete_cell(group=group)
    raw = RawFileFactory(group=group, cell=cell, content=b"freq,zr,zi\n1,2,3\n")
    ImpedanceSpectrum.objects.filter(cell=cell).update(raw_file=raw)
    release = publish_release(cells=[cell], user=member)
    archive = zipfile.ZipFile(io.BytesIO(download(client, release)))
    raw_members = [name for name in archive.namelist() if name.startswith("raw/")]
    assert [archive.read(name) for name in raw_members] == [b"freq,zr,zi\n1,2,3\n"]


def test_release_metadata_carries_licence_authors_sources_and_citation(released):
    _, release = released
    assert release.licence == "CC0-1.0"
    assert release.source_dois == ["10.1021/acs.chemmater.6b00579"]
    assert release.authors == [{"name": "Carberry, Josiah", "orcid": "0000-0002-1825-0097"}]
    assert "Carberry, Josiah" in release.citation and "(version 1)" in release.citation
    assert reverse("releases:detail", args=[release.pk]) in release.citation


# --- frozen numbers --------------------------------------------------------------------------


def test_a_later_upload_changes_no_released_number(client, released):
    cell, release = released
    frozen = {(e.metric, e.separator_id, e.cell_id): (e.value, e.stderr, e.ci_low, e.ci_high)
              for e in ReleasedEntry.objects.filter(release=release)}
    archive_before = download(client, release)
    live_before = sigma_entry(cell).value

    later = SpectrumFactory(cell=cell, group=cell.group, temperature_c=25.0, stack_pressure_mpa=10.0,
                            ac_amplitude_mv=10, equilibration_time_min=30, atmosphere="argon", points_per_decade=10)
    ConductivityFactory(fit=FitFactory(spectrum=later), conductivity_s_per_cm=9e-4)
    benchmark_services.recompute_entries(separator_ids=[cell.separator_id], cell_ids=[cell.pk])

    assert sigma_entry(cell).value != pytest.approx(live_before)  # the live entry moved …
    after = {(e.metric, e.separator_id, e.cell_id): (e.value, e.stderr, e.ci_low, e.ci_high)
             for e in ReleasedEntry.objects.filter(release=release)}
    assert after == frozen  # … the released numbers did not
    assert download(client, release) == archive_before
    page = client.get(reverse("benchmarks:leaderboard", args=[Metric.SIGMA_25C_TOTAL])).content.decode()
    released = ReleasedEntry.objects.get(release=release, metric=Metric.SIGMA_25C_TOTAL, cell=None)
    shown = format_unit_value(released.value, released.stderr, released.unit)  # the page's one number rule
    assert escape(shown) in page and release.label in page


def test_a_new_version_leaves_the_old_archive_untouched(client, released, member):
    cell, first = released
    old_bytes = download(client, first)
    second = publish_release(separators=[cell.separator], user=member, previous=first, title="Pellets, more data")
    assert (second.dataset_key, second.version) == (first.dataset_key, 2)
    assert download(client, first) == old_bytes
    assert hashlib.sha256(old_bytes).hexdigest() == Release.objects.get(pk=first.pk).archive_sha256
    page = client.get(reverse("releases:detail", args=[first.pk])).content.decode()
    assert reverse("releases:detail", args=[second.pk]) in page


def test_publication_makes_the_released_records_public(group, member):
    cell = complete_cell(group=group, visibility="group")
    publish_release(separators=[cell.separator], user=member)
    cell.refresh_from_db()
    assert cell.visibility == Visibility.PUBLIC
    assert ImpedanceSpectrum.objects.filter(cell=cell).exclude(visibility=Visibility.PUBLIC).count() == 0


# --- bad input -------------------------------------------------------------------------------


def test_releasing_a_record_one_cannot_see_is_refused_and_changes_nothing(group, member):
    uploader = MembershipFactory(group=group).user  # private records are seen by their uploader and owners only
    hidden = SeparatorFactory(group=group, visibility=Visibility.PRIVATE, created_by=uploader)
    with pytest.raises(PermissionDenied, match=f"cannot see separator {hidden.pk}"):
        publish_release(separators=[hidden], user=member)
    hidden.refresh_from_db()
    assert hidden.visibility == Visibility.PRIVATE and not Release.objects.exists()


def test_releasing_another_groups_record_is_refused(group, member):
    foreign = SeparatorFactory(visibility=Visibility.PUBLIC)
    response = api(member).post(reverse("api:release-list"), {
        "group": group.pk, "title": "x", "authors": [{"name": "A"}], "separators": [foreign.pk]}, format="json")
    assert response.status_code == 400
    assert "another group" in response.json()["error"]["message"]


@pytest.mark.parametrize("field, value, message", [
    ("licence", "CC-BY", "is not an SPDX licence identifier"),
    ("authors", [{"name": "Carberry, Josiah", "orcid": "0000-0002-1825-0098"}], "bad checksum"),
    ("authors", [], "at least one author"),
    ("source_dois", ["not-a-doi"], "is not a DOI"),
])
def test_bad_release_input_answers_400_naming_the_field(group, member, field, value, message):
    separator = SeparatorFactory(group=group)
    payload = {"group": group.pk, "title": "LLZTO", "authors": [{"name": "A"}], "separators": [separator.pk],
               field: value}
    response = api(member).post(reverse("api:release-list"), payload, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert field in error["fields"] and message in " ".join(error["fields"][field])
    assert not Release.objects.exists()


# --- retraction --------------------------------------------------------------------------------


def test_retraction_takes_the_entry_off_the_public_leaderboard_in_the_same_request_cycle(client, released, member):
    cell, release = released
    board = reverse("benchmarks:leaderboard", args=[Metric.SIGMA_25C_TOTAL])
    assert cell.separator.name in client.get(board).content.decode()
    client.force_login(member)
    response = client.post(reverse("releases:record-retract", args=["separator", cell.separator_id]),
                           {"reason": "Thickness was misread: 0.8 mm, not 0.5 mm."})
    assert response.status_code == 302
    client.logout()
    assert cell.separator.name not in client.get(board).content.decode()
    assert cell.separator.name not in client.get(reverse("benchmarks:dashboard")).content.decode()
    record_page = client.get(reverse("catalog:separator-detail", args=[cell.separator_id]))
    assert record_page.status_code == 200 and "Thickness was misread" in record_page.content.decode()
    assert "Thickness was misread" in client.get(reverse("releases:detail", args=[release.pk])).content.decode()


def test_retracted_records_also_leave_the_members_live_leaderboard(client, released, member):
    cell, _ = released
    services.record_retract(user=member, record=cell.separator, reason="Wrong thickness.")
    client.force_login(member)
    board = client.get(reverse("benchmarks:leaderboard", args=[Metric.SIGMA_25C_TOTAL]), {"include_unreleased": "1"})
    assert cell.separator.name not in board.content.decode()


@pytest.mark.parametrize("reason", ["", "   "])
def test_retracting_without_a_reason_is_refused(released, member, reason):
    cell, _ = released
    response = api(member).post(reverse("api:retraction-list"),
                                {"kind": "separator", "object_id": cell.separator_id, "reason": reason}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["fields"]
    assert not Retraction.objects.exists()


def test_an_unreleased_record_is_deleted_not_retracted(group, member):
    separator = SeparatorFactory(group=group)
    response = api(member).post(reverse("api:retraction-list"),
                                {"kind": "separator", "object_id": separator.pk, "reason": "x"}, format="json")
    assert response.status_code == 400
    assert "not in any release" in response.json()["error"]["message"]


# --- deletion ----------------------------------------------------------------------------------


@pytest.mark.parametrize("resource, target", [("separator", "separator"), ("cell", "cell"), ("spectrum", "spectrum")])
def test_deleting_a_released_record_is_refused_naming_the_release(released, member, resource, target):
    cell, release = released
    record = {"separator": cell.separator, "cell": cell, "spectrum": cell.spectra.first()}[target]
    response = api(member).delete(reverse(f"api:{resource}-detail", args=[record.pk]))
    assert response.status_code == 403
    assert release.label in response.json()["error"]["message"]
    assert type(record).objects.filter(pk=record.pk).exists()


def test_web_delete_of_a_released_record_names_the_release(client, released, member):
    cell, release = released
    client.force_login(member)
    url = reverse("releases:record-delete", args=["cell", cell.pk])
    response = client.post(url)
    assert response.status_code == 403 and release.label in response.content.decode()
    assert type(cell).objects.filter(pk=cell.pk).exists()


def test_deleting_a_cell_cascades_and_removes_raw_files_nobody_else_uses(group, member, django_capture_on_commit_callbacks):
    cell = CellFactory(group=group)
    raw = RawFileFactory(group=group, cell=cell, content=b"only this cell\n")
    shared_bytes = b"the same bytes in two groups\n"
    shared = RawFileFactory(group=group, cell=cell, content=shared_bytes)
    other_group_copy = RawFileFactory(content=shared_bytes)  # same content-addressed path, another group
    spectrum = SpectrumFactory(cell=cell, group=group, raw_file=raw)
    SpectrumFactory(cell=cell, group=group, raw_file=shared)
    conductivity = ConductivityFactory(fit=FitFactory(spectrum=spectrum))
    job = JobFactory(target_type="spectrum", target_id=spectrum.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(member).delete(reverse("api:cell-detail", args=[cell.pk]))
    assert response.status_code == 204, response.content
    assert not ImpedanceSpectrum.objects.filter(cell_id=cell.pk).exists()
    assert not FitResult.objects.filter(pk=conductivity.fit_id).exists()
    assert not Conductivity.objects.filter(pk=conductivity.pk).exists()
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not RawFile.objects.filter(pk__in=[raw.pk, shared.pk]).exists()
    assert not default_storage.exists(raw.file.name)
    assert default_storage.exists(other_group_copy.file.name)  # still named by the other group's row


def test_web_delete_asks_for_confirmation_first(client, group, member):
    separator = SeparatorFactory(group=group)
    CellFactory(group=group, separator=separator)
    client.force_login(member)
    url = reverse("releases:record-delete", args=["separator", separator.pk])
    page = client.get(url)
    assert page.status_code == 200 and "1 cells" in page.content.decode()
    assert type(separator).objects.filter(pk=separator.pk).exists()
    assert client.post(url).status_code == 302
    assert not type(separator).objects.filter(pk=separator.pk).exists()


# --- audit trail -------------------------------------------------------------------------------


def test_audit_trail_lists_every_field_change_of_an_edit(group, member):
    separator = SeparatorFactory(group=group, thickness_um=500.0, relative_density=0.9, name="pellet A")
    response = api(member).patch(reverse("api:separator-detail", args=[separator.pk]),
                                 {"thickness_um": 640.0, "relative_density": 0.95, "name": "pellet A2"}, format="json")
    assert response.status_code == 200, response.content
    history = api(member).get(reverse("api:separator-history", args=[separator.pk])).json()
    edit = history[0]
    assert edit["action"] == "update" and edit["actor"] == member.username
    changes = {c["field"]: (c["before"], c["after"]) for c in edit["changes"]}
    assert changes == {"thickness_um": ("500.0", "640.0"), "relative_density": ("0.9", "0.95"),
                       "name": ("pellet A", "pellet A2")}


def test_release_and_retraction_appear_in_the_record_history(client, released, member):
    cell, release = released
    services.record_retract(user=member, record=cell, reason="Leak in the die.")
    history = api(member).get(reverse("api:cell-history", args=[cell.pk])).json()
    events = [h["event"] for h in history]
    assert events[:2] == ["retract", "release"]
    assert history[0]["changes"] == [{"field": "retraction", "before": None, "after": "Leak in the die."}]
    client.force_login(member)
    page = client.get(reverse("catalog:cell-detail", args=[cell.pk])).content.decode()
    assert "Leak in the die." in page and "History" in page


def test_unreleased_numbers_are_shown_only_to_logged_in_users_who_ask(client, group, member):
    cell = complete_cell(group=group)  # public, analysed, not released
    board = reverse("benchmarks:leaderboard", args=[Metric.SIGMA_25C_TOTAL])
    assert cell.separator.name not in client.get(board, {"include_unreleased": "1"}).content.decode()
    client.force_login(member)
    assert cell.separator.name not in client.get(board).content.decode()
    assert cell.separator.name in client.get(board, {"include_unreleased": "1"}).content.decode()


def test_home_page_top_entries_name_their_release(client, released):
    cell, release = released
    body = client.get("/").content.decode()
    assert cell.separator.name in body and release.label in body


def test_dashboard_points_name_their_release(client, released):
    _, release = released
    figure = json.loads(client.get(reverse("benchmarks:dashboard")).context["figures"]["conductivity"])
    texts = [text for trace in figure["data"] for text in (trace.get("text") or [])]
    assert any(f"Released in {release.label}" in text for text in texts)


@pytest.mark.parametrize("limit", [None, 1])
def test_leaderboards_of_released_numbers_read_at_once_rank_as_one_leaderboard_per_metric(group, member, limit):
    from apps.benchmarks import selectors as bench_selectors

    cells = [complete_cell(group=group) for _ in range(2)]
    publish_release(separators=[c.separator for c in cells], user=member)
    metrics = list(Metric.values)
    together = bench_selectors.leaderboards(user=member, metrics=metrics, min_completeness=0.0, limit=limit,
                                            released_only=True)
    one_by_one = {m: bench_selectors.leaderboard(user=member, metric=m, min_completeness=0.0, limit=limit,
                                                 released_only=True) for m in metrics}
    assert any(one_by_one.values())
    assert {m: [(e.pk, e.rank) for e in board] for m, board in together.items()} == \
           {m: [(e.pk, e.rank) for e in board] for m, board in one_by_one.items()}

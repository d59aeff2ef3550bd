"""Visibility follows references (issue 17): a record never shows more of another record than the viewer may see
of it — a job never names a hidden target, a public cell never gives its hidden separator's id."""
import csv
import io
import json

import pytest
from django.urls import reverse

from apps.accounts.models import Visibility
from apps.accounts.references import PRIVATE_LABEL
from tests.factories import (
    BenchmarkEntryFactory,
    CellFactory,
    CellLayerFactory,
    DCPolarisationFactory,
    JobFactory,
    SeparatorFactory,
    SpectrumFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def private_spectrum_job(group, uploader):
    """A group job about a member's private spectrum, labelled as the queue labels it."""
    spectrum = SpectrumFactory(group=group, created_by=uploader, visibility=Visibility.PRIVATE,
                               label="zqsecret spectrum", cell__group=group, cell__visibility=Visibility.GROUP)
    job = JobFactory(group=group, created_by=uploader, target_type="spectrum", target_id=spectrum.pk,
                     target_label=f"{spectrum.label} ({spectrum.cell.name})")
    return spectrum, job


def _job_from_api(client, job):
    return client.get(reverse("api:job-detail", args=[job.pk])).json()


def test_group_job_about_a_private_spectrum_shows_a_generic_label_to_other_members(
    client_for, private_spectrum_job
):
    spectrum, job = private_spectrum_job
    body = _job_from_api(client_for("member"), job)
    assert (body["target_id"], body["target_label"]) == (None, PRIVATE_LABEL)
    listed = client_for("member").get(reverse("api:job-list")).json()["results"]
    assert [(j["target_id"], j["target_label"]) for j in listed] == [(None, PRIVATE_LABEL)]


def test_group_job_about_a_private_spectrum_names_it_to_those_who_see_it(client_for, private_spectrum_job):
    spectrum, job = private_spectrum_job
    body = _job_from_api(client_for("owner"), job)  # the group's owners see its private records
    assert (body["target_id"], body["target_label"]) == (spectrum.pk, job.target_label)


def test_a_hidden_job_target_is_neither_searchable_nor_filterable(client_for, private_spectrum_job):
    spectrum, _ = private_spectrum_job
    member = client_for("member")
    assert member.get(reverse("api:job-list"), {"search": "zqsecret"}).json()["count"] == 0
    assert member.get(reverse("api:job-list"), {"target_id": spectrum.pk}).json()["count"] == 0
    assert client_for("owner").get(reverse("api:job-list"), {"search": "zqsecret"}).json()["count"] == 1


def test_job_pages_and_status_do_not_name_a_hidden_target(client, member, private_spectrum_job):
    spectrum, job = private_spectrum_job
    client.force_login(member)
    page = client.get("/jobs/").content.decode()
    assert "zqsecret" not in page and PRIVATE_LABEL in page
    assert f"/spectra/{spectrum.pk}/" not in page
    status = client.get(reverse("analysis:job-status"), {"ids": str(job.pk)}).json()["jobs"]
    assert [(j["target_id"], j["target_label"]) for j in status] == [(None, PRIVATE_LABEL)]


def test_group_refit_lists_only_the_spectra_the_viewer_sees(client_for, group, uploader, private_spectrum_job):
    hidden, _ = private_spectrum_job
    shared = SpectrumFactory(group=group, visibility=Visibility.GROUP, cell__group=group,
                             cell__visibility=Visibility.GROUP)
    job = JobFactory(group=group, created_by=uploader, target_type="protocol", target_label="refit",
                     params={"spectrum_ids": [shared.pk, hidden.pk]})
    assert _job_from_api(client_for("member"), job)["params"]["spectrum_ids"] == [shared.pk]
    assert _job_from_api(client_for("owner"), job)["params"]["spectrum_ids"] == [shared.pk, hidden.pk]


@pytest.fixture
def public_cell_on_private_separator(group, uploader):
    separator = SeparatorFactory(group=group, created_by=uploader, visibility=Visibility.PRIVATE,
                                 thickness_um=777.123, name="zqhidden separator")
    cell = CellFactory(group=group, created_by=uploader, visibility=Visibility.PUBLIC, separator=separator)
    CellLayerFactory(cell=cell, position=0, kind="separator", separator=separator)
    return cell, separator


@pytest.mark.parametrize(("role", "sees"), [("anonymous", False), ("outsider", False), ("member", False),
                                            ("owner", True)])
def test_public_cell_gives_its_separator_id_only_to_those_who_see_it(
    client_for, public_cell_on_private_separator, role, sees
):
    cell, separator = public_cell_on_private_separator
    expected = separator.pk if sees else None
    client = client_for(role)
    body = client.get(reverse("api:cell-detail", args=[cell.pk])).json()
    assert body["separator"] == expected
    assert [layer["separator"] for layer in body["layers"]] == [expected]
    export = b"".join(client.get(reverse("api:cell-export"), {"format": "json"}).streaming_content)
    (row,) = json.loads(export)["results"]
    assert row["separator"] == expected


def test_spectrum_export_leaves_a_hidden_separator_out(client_for, public_cell_on_private_separator, group):
    cell, separator = public_cell_on_private_separator
    SpectrumFactory(group=group, cell=cell, visibility=Visibility.PUBLIC)
    for role, expected in [("outsider", ""), ("owner", str(separator.pk))]:
        response = client_for(role).get(reverse("api:spectrum-export"), {"format": "csv"})
        text = b"".join(response.streaming_content).decode().rsplit("# end of export", 1)[0]
        (row,) = list(csv.DictReader(io.StringIO(text)))
        assert row["separator"] == expected, role


def test_electronic_conductivity_of_a_cell_on_a_hidden_separator_is_not_shown(
    client_for, public_cell_on_private_separator, group
):
    cell, _ = public_cell_on_private_separator
    dc = DCPolarisationFactory(cell=cell, group=group, visibility=Visibility.PUBLIC)
    url = reverse("api:dcpolarisation-detail", args=[dc.pk])
    assert client_for("outsider").get(url).json()["electronic_conductivity"] is None  # it would tell L
    assert client_for("owner").get(url).json()["electronic_conductivity"]["thickness_um"] == 777.123


def test_cell_history_does_not_give_a_hidden_separator_id_to_members(client_for, public_cell_on_private_separator):
    cell, separator = public_cell_on_private_separator
    member_view = client_for("member").get(reverse("api:cell-history", args=[cell.pk])).json()
    owner_view = client_for("owner").get(reverse("api:cell-history", args=[cell.pk])).json()

    def separator_changes(history):
        return [c["after"] for entry in history for c in entry["changes"] if c["field"] == "separator"]

    assert separator_changes(owner_view) == [str(separator.pk)]
    assert separator_changes(member_view) == [PRIVATE_LABEL]


def test_a_cell_entry_on_a_hidden_separator_is_seen_only_with_it(client_for, public_cell_on_private_separator):
    """Its thickness and family are the separator's: the entry is hidden with it (no reference to blank out)."""
    from tests.factories import BenchmarkEntryFactory

    cell, separator = public_cell_on_private_separator
    entry = BenchmarkEntryFactory(separator=separator, cell=cell, metric="interfacial_asr", unit="Ω·cm²",
                                  value=12.0, thickness_um=777.123)
    url = reverse("api:benchmarkentry-detail", args=[entry.pk])
    assert [client_for(role).get(url).status_code for role in ("anonymous", "outsider", "member")] == [404] * 3
    assert client_for("owner").get(url).json()["thickness_um"] == 777.123


def test_an_entrys_details_name_only_the_spectra_and_cells_the_viewer_sees(client_for, group, uploader):
    separator = SeparatorFactory(group=group, visibility=Visibility.PUBLIC)
    public = SpectrumFactory(group=group, visibility=Visibility.PUBLIC,
                             cell__group=group, cell__separator=separator, cell__visibility=Visibility.PUBLIC)
    private = SpectrumFactory(group=group, created_by=uploader, visibility=Visibility.PRIVATE, cell=public.cell)
    hidden_cell = CellFactory(group=group, separator=separator, visibility=Visibility.GROUP)
    entry = BenchmarkEntryFactory(separator=separator, details={
        "spectrum_ids": [public.pk, private.pk], "cell_ids": [public.cell_id, hidden_cell.pk], "n_spectra": 2,
    })
    url = reverse("api:benchmarkentry-detail", args=[entry.pk])
    outsider = client_for("outsider").get(url).json()["details"]
    assert outsider == {"spectrum_ids": [public.pk], "cell_ids": [public.cell_id], "n_spectra": 2, "hidden_records": 2}
    listed = client_for("anonymous").get(reverse("api:benchmarkentry-list")).json()["results"]
    assert [e["details"]["spectrum_ids"] for e in listed] == [[public.pk]]
    owner = client_for("owner").get(url).json()["details"]
    assert owner["spectrum_ids"] == [public.pk, private.pk] and "hidden_records" not in owner

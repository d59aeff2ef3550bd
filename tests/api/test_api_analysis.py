"""Fit requests (202 + job URL), jobs with progress, protocols and re-fits."""
import pytest
from django.urls import reverse

from apps.accounts.models import Visibility
from apps.analysis.models import FitProtocol, FitResult
from apps.jobs.models import Job
from tests.api.conftest import ROLES
from tests.factories import JobFactory
from tests.factories import FitProtocolFactory, ResearchGroupFactory, SpectrumFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def spectrum(group):
    return SpectrumFactory(group=group, visibility=Visibility.PUBLIC, cell__visibility=Visibility.PUBLIC)


def fit_url(spectrum) -> str:
    return reverse("api:spectrum-fit", args=[spectrum.pk])


def test_fit_request_answers_202_with_the_url_of_a_queued_job(client_for, spectrum, standard_protocols):
    protocol = standard_protocols.first()
    response = client_for("member").post(fit_url(spectrum), {"protocol": protocol.pk}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["job_url"].endswith(reverse("api:job-detail", args=[body["job"]["id"]]))
    assert response["Location"] == body["job_url"]
    job = Job.objects.get(pk=body["job"]["id"])
    assert (job.kind, job.target_id, job.params["protocol_id"]) == ("fit_spectrum", spectrum.pk, protocol.pk)
    assert body["job"]["state"] == "queued"


def test_fit_with_own_circuit_runs_and_the_job_reports_success(client_for, spectrum, django_capture_on_commit_callbacks):
    client = client_for("member")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(fit_url(spectrum), {"circuit": "R0-p(R1,C1)"}, format="json")
    assert response.status_code == 202
    job = client.get(response.json()["job_url"]).json()
    assert job["state"] == "succeeded", job["error"]
    assert job["progress"]["fraction"] == 1.0 and job["is_finished"]
    fit = FitResult.objects.get(spectrum=spectrum, protocol__circuit="R0-p(R1,C1)")
    assert fit.parameters["R1"] == pytest.approx(1000.0, rel=1e-3)  # the factory's spectrum is R0 + R1||C1, R1 = 1 kΩ


@pytest.mark.parametrize("role,visibility,expected", [
    ("anonymous", Visibility.PUBLIC, 401),
    ("outsider", Visibility.PUBLIC, 403),
    ("outsider", Visibility.GROUP, 404),
    ("member", Visibility.GROUP, 202),
    ("owner", Visibility.PRIVATE, 202),
    ("member", Visibility.PRIVATE, 404),
])
def test_fit_request_is_for_members_of_the_spectrum_group(client_for, group, role, visibility, expected):
    spectrum = SpectrumFactory(group=group, visibility=visibility, cell__visibility=Visibility.PUBLIC)
    response = client_for(role).post(fit_url(spectrum), {"circuit": "R0-p(R1,C1)"}, format="json")
    assert response.status_code == expected
    assert Job.objects.filter(target_id=spectrum.pk).exists() == (expected == 202)


def test_fit_request_with_a_malformed_circuit_names_the_circuit_field(client_for, spectrum):
    response = client_for("member").post(fit_url(spectrum), {"circuit": "R0-p(R1,"}, format="json")
    assert response.status_code == 400
    assert "circuit" in response.json()["error"]["fields"]
    assert not Job.objects.exists()


@pytest.mark.parametrize("payload", [{}, {"protocol": 1, "circuit": "R0"}])
def test_fit_request_needs_exactly_one_of_protocol_and_circuit(client_for, spectrum, payload):
    response = client_for("member").post(fit_url(spectrum), payload, format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()["error"]["fields"]


def test_fit_under_another_group_protocol_is_refused(client_for, spectrum):
    foreign = FitProtocolFactory(group=ResearchGroupFactory())
    response = client_for("member").post(fit_url(spectrum), {"protocol": foreign.pk}, format="json")
    assert response.status_code == 400
    assert "protocol" in response.json()["error"]["fields"]


@pytest.mark.parametrize("role", ROLES)
def test_job_of_a_group_is_seen_by_its_members_only(client_for, group, role):
    job = JobFactory(group=group, progress_done=3, progress_total=4)
    response = client_for(role).get(reverse("api:job-detail", args=[job.pk]))
    if role in {"member", "owner"}:
        assert response.status_code == 200
        assert response.json()["progress"] == {"done": 3, "total": 4, "fraction": 0.75}
        assert response.json()["state"] == "running"
    else:
        assert response.status_code == 404


def test_anonymous_job_list_is_empty(client_for, group):
    JobFactory(group=group)
    assert client_for("anonymous").get(reverse("api:job-list")).json()["count"] == 0


PROTOCOL = {"name": "hybrid v-test", "circuit": "R0-p(R1,CPE1)-CPE2", "element_roles": {"R1": "total", "CPE1": "total"}}


@pytest.mark.parametrize("role,expected", [("anonymous", 401), ("outsider", 403), ("member", 201), ("owner", 201)])
def test_protocol_creation_needs_membership_of_its_group(client_for, group, role, expected):
    response = client_for(role).post(reverse("api:protocol-list"), {**PROTOCOL, "group": group.pk}, format="json")
    assert response.status_code == expected, response.content
    assert FitProtocol.objects.filter(name=PROTOCOL["name"]).exists() == (expected == 201)


def test_protocol_with_a_malformed_circuit_is_refused(client_for, group):
    response = client_for("member").post(
        reverse("api:protocol-list"), {**PROTOCOL, "circuit": "R0-q(R1)", "group": group.pk}, format="json"
    )
    assert response.status_code == 400
    assert "circuit" in response.json()["error"]["fields"]


def test_new_protocol_version_keeps_the_old_one(client_for, group):
    base = FitProtocolFactory(group=group, circuit="R0-p(R1,C1)")
    response = client_for("member").post(
        reverse("api:protocol-versions", args=[base.pk]),
        {"circuit": "R0-p(R1,CPE1)", "element_roles": {"R0": "series", "R1": "total", "CPE1": "total"}},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert (response.json()["version"], response.json()["circuit"]) == (2, "R0-p(R1,CPE1)")
    base.refresh_from_db()
    assert base.circuit == "R0-p(R1,C1)"


@pytest.mark.parametrize("role,expected", [("anonymous", 401), ("outsider", 404), ("member", 202), ("owner", 202)])
def test_refit_of_a_group_protocol_is_for_its_members(client_for, group, role, expected):
    protocol = FitProtocolFactory(group=group)
    response = client_for(role).post(reverse("api:protocol-refit", args=[protocol.pk]))
    assert response.status_code == expected
    if expected == 202:
        assert Job.objects.get(pk=response.json()["job"]["id"]).kind == Job.Kind.REFIT_PROTOCOL


def test_standard_protocol_refit_is_refused_to_ordinary_members(client_for, standard_protocols):
    standard = standard_protocols.first()
    response = client_for("member").post(reverse("api:protocol-refit", args=[standard.pk]))
    assert response.status_code == 403


def test_unused_protocol_can_be_edited_by_its_group(client_for, group):
    protocol = FitProtocolFactory(group=group)
    response = client_for("member").patch(
        reverse("api:protocol-detail", args=[protocol.pk]), {"description": "for thin films"}, format="json"
    )
    assert response.status_code == 200, response.content
    protocol.refresh_from_db()
    assert protocol.description == "for thin films"


def test_used_protocol_refuses_a_new_circuit(client_for, group):
    from tests.factories import FitResultFactory

    protocol = FitProtocolFactory(group=group, circuit="R0-p(R1,C1)")
    FitResultFactory(protocol=protocol, spectrum__group=group)
    response = client_for("member").patch(
        reverse("api:protocol-detail", args=[protocol.pk]), {"circuit": "R0-p(R1,CPE1)", "element_roles": {}},
        format="json",
    )
    assert response.status_code == 400
    assert "new version" in response.json()["error"]["message"]
    protocol.refresh_from_db()
    assert protocol.circuit == "R0-p(R1,C1)"


@pytest.mark.parametrize("role,expected", [("anonymous", 401), ("outsider", 404), ("member", 200)])
def test_protocol_edit_is_for_its_group(client_for, group, role, expected):
    protocol = FitProtocolFactory(group=group)
    response = client_for(role).patch(
        reverse("api:protocol-detail", args=[protocol.pk]), {"description": "x"}, format="json"
    )
    assert response.status_code == expected

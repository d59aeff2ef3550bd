"""Permission matrix: (anonymous, outsider, member, owner) × (public, group, private, embargoed) over every endpoint.

Records are created by a third group member (the uploader), so "private" is
seen by the group's owners only among the four roles. Hidden records answer
404, never 403, and never appear in lists, counts, nested lists or exports.
"""
import pytest
from django.urls import reverse

from apps.accounts.models import ApiToken, Visibility
from apps.accounts.services import create_api_token
from apps.catalog.models import Material
from tests.api.conftest import ROLES, future_day
from tests.factories import (
    ArrheniusFitFactory,
    BenchmarkEntryFactory,
    CCDTestFactory,
    DCPolarisationFactory,
    ConductivityFactory,
    FitResultFactory,
    RawFileFactory,
)
from tests.factories import (
    CellFactory,
    ElectrodeFactory,
    InterfaceEvidenceFactory,
    InterfaceFactory,
    MaterialFactory,
    SeparatorFactory,
    SpectrumFactory,
)

pytestmark = pytest.mark.django_db

STATES = ["public", "group", "private", "embargoed"]
SEEN_BY = {
    "public": set(ROLES),
    "group": {"member", "owner"},
    "private": {"owner"},
    "embargoed": {"member", "owner"},
}


def ownership(state: str) -> dict:
    return {
        "public": {"visibility": Visibility.PUBLIC, "embargo_until": None},
        "group": {"visibility": Visibility.GROUP, "embargo_until": None},
        "private": {"visibility": Visibility.PRIVATE, "embargo_until": None},
        "embargoed": {"visibility": Visibility.PUBLIC, "embargo_until": future_day()},
    }[state]


def spectrum_in(state, group, uploader):
    """A spectrum in `state` on a public cell: its own visibility decides."""
    return SpectrumFactory(group=group, created_by=uploader, cell__visibility=Visibility.PUBLIC, **ownership(state))


def separator_in(state, group, uploader):
    return SeparatorFactory(group=group, created_by=uploader, **ownership(state))


# resource (URL basename) → (route prefix, builder of a record in a state)
RESOURCES = {
    "separator": lambda s, g, u: separator_in(s, g, u),
    "electrode": lambda s, g, u: ElectrodeFactory(group=g, created_by=u, **ownership(s)),
    "interface": lambda s, g, u: InterfaceFactory(group=g, created_by=u, **ownership(s)),
    "cell": lambda s, g, u: CellFactory(group=g, created_by=u, separator__visibility=Visibility.PUBLIC, **ownership(s)),
    "spectrum": lambda s, g, u: spectrum_in(s, g, u),
    "rawfile": lambda s, g, u: RawFileFactory(group=g, created_by=u, **ownership(s)),
    "dcpolarisation": lambda s, g, u: DCPolarisationFactory(
        group=g, created_by=u, cell__visibility=Visibility.PUBLIC, **ownership(s)),
    "ccdtest": lambda s, g, u: CCDTestFactory(group=g, created_by=u, cell__visibility=Visibility.PUBLIC, **ownership(s)),
    "fit": lambda s, g, u: FitResultFactory(spectrum=spectrum_in(s, g, u)),
    "conductivity": lambda s, g, u: ConductivityFactory(fit__spectrum=spectrum_in(s, g, u)),
    "arrheniusfit": lambda s, g, u: ArrheniusFitFactory(separator=separator_in(s, g, u)),
    "benchmarkentry": lambda s, g, u: BenchmarkEntryFactory(separator=separator_in(s, g, u)),
}
EXPORTABLE = [name for name in RESOURCES if name != "rawfile"]


def ids_in_list(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("resource", list(RESOURCES))
def test_list_holds_a_record_only_for_those_who_may_see_it(client_for, group, uploader, resource, state, role):
    record = RESOURCES[resource](state, group, uploader)
    response = client_for(role).get(reverse(f"api:{resource}-list"), {"page_size": 500})
    seen = role in SEEN_BY[state]
    assert (record.pk in ids_in_list(response)) == seen
    assert response.json()["count"] == (1 if seen else 0)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("resource", list(RESOURCES))
def test_detail_answers_200_if_visible_else_404(client_for, group, uploader, resource, state, role):
    record = RESOURCES[resource](state, group, uploader)
    response = client_for(role).get(reverse(f"api:{resource}-detail", args=[record.pk]))
    expected = 200 if role in SEEN_BY[state] else 404
    assert response.status_code == expected
    if expected == 404:
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("resource", EXPORTABLE)
def test_list_export_holds_only_visible_records(client_for, group, uploader, resource, state, role):
    record = RESOURCES[resource](state, group, uploader)
    response = client_for(role).get(reverse(f"api:{resource}-export"), {"format": "json"})
    assert response.status_code == 200
    rows = __import__("json").loads(b"".join(response.streaming_content))["results"]
    assert ([row["id"] for row in rows] == [record.pk]) == (role in SEEN_BY[state])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
def test_public_cell_lists_only_the_spectra_the_viewer_may_see(client_for, group, uploader, state, role):
    spectrum = spectrum_in(state, group, uploader)
    client = client_for(role)
    nested = client.get(reverse("api:cell-spectra", args=[spectrum.cell_id]))
    detail = client.get(reverse("api:cell-detail", args=[spectrum.cell_id]))
    seen = role in SEEN_BY[state]
    assert (spectrum.pk in ids_in_list(nested)) == seen
    assert nested.json()["count"] == detail.json()["n_spectra"] == (1 if seen else 0)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
def test_hidden_cell_hides_its_public_spectra(client_for, group, uploader, state, role):
    spectrum = SpectrumFactory(group=group, visibility=Visibility.PUBLIC, cell__created_by=uploader,
                               cell__visibility=ownership(state)["visibility"],
                               cell__embargo_until=ownership(state)["embargo_until"])
    response = client_for(role).get(reverse("api:spectrum-detail", args=[spectrum.pk]))
    assert response.status_code == (200 if role in SEEN_BY[state] else 404)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
def test_spectrum_detail_nests_only_fits_of_visible_spectra(client_for, group, uploader, state, role):
    fit = FitResultFactory(spectrum=spectrum_in(state, group, uploader))
    response = client_for(role).get(reverse("api:spectrum-detail", args=[fit.spectrum_id]))
    if role in SEEN_BY[state]:
        assert [f["id"] for f in response.json()["fits"]] == [fit.pk]
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
def test_separator_detail_nests_its_components(client_for, group, uploader, state, role):
    separator = separator_in(state, group, uploader)
    response = client_for(role).get(reverse("api:separator-detail", args=[separator.pk]))
    if role in SEEN_BY[state]:
        component = separator.components.get()
        assert response.json()["components"][0]["material_name"] == component.material.name
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_spectrum_export_only_for_those_who_may_see_it(client_for, group, uploader, state, role, fmt):
    spectrum = spectrum_in(state, group, uploader)
    response = client_for(role).get(reverse("api:spectrum-spectrum-export", args=[spectrum.pk]), {"format": fmt})
    if role in SEEN_BY[state]:
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment;")
        assert str(spectrum.pk) in response["Content-Disposition"]
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
def test_fit_export_only_for_those_who_may_see_its_spectrum(client_for, group, uploader, state, role):
    fit = FitResultFactory(spectrum=spectrum_in(state, group, uploader))
    response = client_for(role).get(reverse("api:fit-fit-export", args=[fit.pk]), {"format": "csv"})
    if role in SEEN_BY[state]:
        assert response.status_code == 200
        assert response.content.decode().splitlines()[1].startswith("R0,10.0,0.1")
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
def test_raw_file_download_only_for_those_who_may_see_it(client_for, group, uploader, state, role):
    raw = RawFileFactory(group=group, created_by=uploader, content=b"f,z1,z2\n1,2,3\n", **ownership(state))
    response = client_for(role).get(reverse("api:rawfile-download", args=[raw.pk]))
    if role in SEEN_BY[state]:
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == b"f,z1,z2\n1,2,3\n"
        assert raw.original_name in response["Content-Disposition"]
    else:
        assert response.status_code == 404


# ----------------------------------------------------------------------------- writes

WRITABLE = ["separator", "electrode", "interface", "cell"]


def create_payload(resource: str, group) -> dict:
    material = MaterialFactory()
    if resource == "separator":
        return {"name": "new pellet", "group": group.pk, "thickness_um": 500,
                "components": [{"material": material.pk, "role": "fast_ion_phase", "fraction": 1.0}]}
    if resource == "electrode":
        return {"name": "Li foil", "group": group.pk, "kind": "anode", "is_metal_foil": True}
    if resource == "interface":
        lithium = Material.objects.get_or_create(name="Li metal", defaults={"formula": "Li"})[0]
        return {"name": "Li|LLZTO", "group": group.pk, "material_a": lithium.pk, "material_b": material.pk,
                "evidence": [{"technique": "xps", "assigned_species": "Li2CO3"}]}
    separator = SeparatorFactory(group=group, visibility=Visibility.PUBLIC)
    return {"name": "Au|LLZTO|Au", "group": group.pk, "configuration": "blocking",
            "layers": [{"kind": "separator", "separator": separator.pk}],
            "pressure_steps": [{"phase": "measurement", "pressure_mpa": 10}]}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("resource", WRITABLE)
def test_create_needs_membership_of_the_group_given(client_for, group, resource, role):
    response = client_for(role).post(reverse(f"api:{resource}-list"), create_payload(resource, group), format="json")
    expected = {"anonymous": 401, "outsider": 403, "member": 201, "owner": 201}[role]
    assert response.status_code == expected, response.content
    if expected == 201:
        assert response.json()["group"] == group.pk
    else:
        assert response.json()["error"]["status"] == expected


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("resource", WRITABLE)
def test_update_by_members_only_and_hidden_records_answer_404(client_for, group, uploader, resource, state, role):
    record = RESOURCES[resource](state, group, uploader)
    response = client_for(role).patch(
        reverse(f"api:{resource}-detail", args=[record.pk]), {"name": "renamed"}, format="json"
    )
    if role == "anonymous":
        expected = 401
    elif role not in SEEN_BY[state]:
        expected = 404
    else:
        expected = 200 if role in {"member", "owner"} else 403
    assert response.status_code == expected, response.content
    record.refresh_from_db()
    assert (record.name == "renamed") == (expected == 200)


MEASUREMENT_PAYLOADS = {
    "dcpolarisation": {"voltage_v": 0.5, "steady_current_a": 3e-9, "time_s": [0, 60, 3600],
                       "current_a": [4e-7, 2e-8, 3e-9]},
    "ccdtest": {"initial_current_density_ma_per_cm2": 0.1, "step_ma_per_cm2": 0.1,
                "capacity_per_half_cycle_mah_per_cm2": 0.1, "failure_rule": "voltage_drop",
                "critical_current_density_ma_per_cm2": 0.4},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("resource", list(MEASUREMENT_PAYLOADS))
def test_cell_measurement_create_needs_membership_of_the_cells_group(client_for, group, resource, role):
    cell = CellFactory(group=group, visibility=Visibility.PUBLIC)
    payload = {"cell": cell.pk, **MEASUREMENT_PAYLOADS[resource]}
    response = client_for(role).post(reverse(f"api:{resource}-list"), payload, format="json")
    expected = {"anonymous": 401, "outsider": 403, "member": 201, "owner": 201}[role]
    assert response.status_code == expected, response.content
    if expected == 201:
        body = response.json()
        assert (body["cell"], body["group"], body["visibility"]) == (cell.pk, group.pk, cell.visibility)


@pytest.mark.parametrize("resource", list(MEASUREMENT_PAYLOADS))
def test_cell_measurement_on_a_hidden_cell_is_refused_as_absent(client_for, group, resource):
    cell = CellFactory(group=group, visibility=Visibility.PRIVATE)
    payload = {"cell": cell.pk, **MEASUREMENT_PAYLOADS[resource]}
    response = client_for("outsider").post(reverse(f"api:{resource}-list"), payload, format="json")
    assert response.status_code == 400
    assert "cell" in str(response.json()["error"])


def test_interface_evidence_backed_by_two_techniques_is_cross_validated(client_for, group):
    interface = InterfaceFactory(group=group)
    InterfaceEvidenceFactory(interface=interface, technique="nmr", assigned_species="Li2CO3")
    InterfaceEvidenceFactory(interface=interface, technique="dft", assigned_species="li2co3 ")
    InterfaceEvidenceFactory(interface=interface, technique="xps", assigned_species="LiOH")
    body = client_for("anonymous").get(reverse("api:interface-detail", args=[interface.pk])).json()
    flags = {(e["technique"], e["cross_validated"]) for e in body["evidence"]}
    assert flags == {("nmr", True), ("dft", True), ("xps", False)}
    assert body["cross_validated_assignments"] == ["li2co3"]


@pytest.mark.parametrize("accept", ["*/*", "application/octet-stream", "text/plain"])
def test_raw_file_download_answers_whatever_the_client_accepts(client_for, group, accept):
    raw = RawFileFactory(group=group, visibility=Visibility.PUBLIC, content=b"1,2,3\n")
    response = client_for("anonymous").get(reverse("api:rawfile-download", args=[raw.pk]), HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"1,2,3\n"


@pytest.mark.parametrize("resource", WRITABLE)
def test_member_who_makes_a_record_private_gets_200_and_then_no_longer_sees_it(client_for, group, uploader, resource):
    record = RESOURCES[resource]("group", group, uploader)
    client = client_for("member")
    url = reverse(f"api:{resource}-detail", args=[record.pk])
    response = client.patch(url, {"visibility": "private"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["visibility"] == "private"
    assert client.get(url).status_code == 404
    assert client_for("owner").get(url).status_code == 200


def test_cell_detail_exposes_the_lead_resistance(client_for, group):
    cell = CellFactory(group=group, visibility=Visibility.PUBLIC, lead_resistance_ohm=1.25)
    response = client_for("anonymous").get(reverse("api:cell-detail", args=[cell.pk]))
    assert response.status_code == 200
    assert response.json()["lead_resistance_ohm"] == 1.25


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
def test_raw_file_lookup_by_sha256_finds_only_visible_files(client_for, group, uploader, state, role):
    raw = RawFileFactory(group=group, created_by=uploader, content=b"f,z1,z2\n1,2,3\n", **ownership(state))
    response = client_for(role).get(reverse("api:rawfile-list"), {"sha256": raw.sha256.upper()})
    assert ids_in_list(response) == ([raw.pk] if role in SEEN_BY[state] else [])


# ----------------------------------------------------------------------------- API tokens: each user's own only


@pytest.fixture
def member_token(users):
    return create_api_token(user=users["member"], name="member's script").token


@pytest.mark.parametrize("role", ROLES)
def test_token_list_holds_only_your_own_tokens(client_for, member_token, role):
    response = client_for(role).get(reverse("api:apitoken-list"))
    if role == "anonymous":
        assert response.status_code == 401
    else:
        assert ids_in_list(response) == ([member_token.pk] if role == "member" else [])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method", ["get", "delete"])
def test_token_detail_and_revoke_only_by_its_user(client_for, member_token, role, method):
    response = getattr(client_for(role), method)(reverse("api:apitoken-detail", args=[member_token.pk]))
    expected = {"anonymous": 401, "outsider": 404, "owner": 404, "member": 200 if method == "get" else 204}[role]
    assert response.status_code == expected
    assert ApiToken.objects.filter(pk=member_token.pk).exists() == (expected != 204)


@pytest.mark.parametrize("role", ROLES)
def test_token_create_needs_a_login(client_for, role):
    response = client_for(role).post(reverse("api:apitoken-list"), {"name": "x"}, format="json")
    assert response.status_code == (401 if role == "anonymous" else 201)


# ----------------------------------------------------------------------------- delete, history, releases, retractions

DELETABLE = {**{name: RESOURCES[name] for name in WRITABLE}, "spectrum": RESOURCES["spectrum"]}


def _write_expectation(role: str, state: str, allowed: int) -> int:
    if role == "anonymous":
        return 401
    if role not in SEEN_BY[state]:
        return 404
    return allowed if role in {"member", "owner"} else 403


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("resource", list(DELETABLE))
def test_delete_by_members_only_and_hidden_records_answer_404(client_for, group, uploader, resource, state, role):
    record = DELETABLE[resource](state, group, uploader)
    response = client_for(role).delete(reverse(f"api:{resource}-detail", args=[record.pk]))
    expected = _write_expectation(role, state, 204)
    assert response.status_code == expected, response.content
    assert type(record).objects.filter(pk=record.pk).exists() == (expected != 204)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("resource", list(DELETABLE))
def test_history_for_members_only_and_hidden_records_answer_404(client_for, group, uploader, resource, state, role):
    record = DELETABLE[resource](state, group, uploader)
    response = client_for(role).get(reverse(f"api:{resource}-history", args=[record.pk]))
    if role not in SEEN_BY[state]:
        assert response.status_code == 404
    elif role in {"member", "owner"}:
        assert response.status_code == 200
        assert response.json()[-1]["action"] == "create"
    else:
        assert response.status_code == 403


def _published(group, uploader):
    from tests.factories import publish_release

    return publish_release(separators=[separator_in("group", group, uploader)], user=uploader)


@pytest.mark.parametrize("role", ROLES)
def test_a_published_release_and_its_archive_are_public(client_for, group, uploader, role):
    release = _published(group, uploader)
    client = client_for(role)
    assert ids_in_list(client.get(reverse("api:release-list"))) == [release.pk]
    assert client.get(reverse("api:release-detail", args=[release.pk])).json()["citation"] == release.citation
    archive = client.get(reverse("api:release-archive", args=[release.pk]))
    assert archive.status_code == 200
    assert __import__("hashlib").sha256(b"".join(archive.streaming_content)).hexdigest() == release.archive_sha256


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
def test_release_create_needs_membership_and_a_record_one_can_see(client_for, group, uploader, state, role):
    separator = separator_in(state, group, uploader)
    payload = {"group": group.pk, "title": "LLZTO", "authors": [{"name": "A. Author"}], "separators": [separator.pk]}
    response = client_for(role).post(reverse("api:release-list"), payload, format="json")
    if role == "anonymous":
        expected = 401
    elif role == "outsider":
        expected = 403  # not a member of the group
    else:
        expected = 201 if role in SEEN_BY[state] else 403  # a record one cannot see is never released
    assert response.status_code == expected, response.content
    from apps.releases.models import Release

    assert Release.objects.exists() == (expected == 201)


@pytest.mark.parametrize("role", ROLES)
def test_retraction_by_members_only(client_for, group, uploader, role):
    release = _published(group, uploader)
    separator_id = release.records.get(kind="separator").object_id
    payload = {"kind": "separator", "object_id": separator_id, "reason": "Thickness was misread."}
    response = client_for(role).post(reverse("api:retraction-list"), payload, format="json")
    expected = {"anonymous": 401, "outsider": 403, "member": 201, "owner": 201}[role]
    assert response.status_code == expected, response.content
    assert ids_in_list(client_for("anonymous").get(reverse("api:retraction-list"))) == (
        [response.json()["id"]] if expected == 201 else [])

"""One error format for every failure; API tokens for scripts; throttling."""
import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from apps.accounts.models import Visibility
from apps.common.api import flatten_errors
from tests.factories import MaterialFactory, SeparatorFactory, UserFactory

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"status", "code", "message", "fields"}
    assert (error["status"], error["code"]) == (status, code)
    assert error["message"]
    return error


def test_validation_error_names_each_field(client_for, group):
    response = client_for("member").post(
        reverse("api:separator-list"), {"name": "", "group": group.pk, "thickness_um": "thick"}, format="json"
    )
    error = assert_error(response, 400, "invalid")
    assert set(error["fields"]) == {"name", "thickness_um"}
    assert error["message"].startswith("Invalid input: ")


def test_nested_validation_error_names_the_item_and_field(client_for, group):
    payload = {"name": "p", "group": group.pk, "components": [
        {"material": MaterialFactory().pk, "role": "fast_ion_phase", "fraction": 0.5},
        {"material": MaterialFactory().pk, "role": "binder", "fraction": 7},
    ]}
    error = assert_error(client_for("member").post(reverse("api:separator-list"), payload, format="json"), 400, "invalid")
    assert list(error["fields"]) == ["components[1].fraction"]


def test_service_validation_error_arrives_in_the_same_format(client_for, group):
    """Fractions that add up to more than 1 are refused by the catalog service, not the serializer."""
    payload = {"name": "p", "group": group.pk, "components": [
        {"material": MaterialFactory().pk, "role": "fast_ion_phase", "fraction": 0.7, "fraction_basis": "weight"},
        {"material": MaterialFactory().pk, "role": "binder", "fraction": 0.6, "fraction_basis": "weight"},
    ]}
    error = assert_error(client_for("member").post(reverse("api:separator-list"), payload, format="json"), 400, "invalid")
    assert "components" in error["fields"]
    assert "add up to" in error["fields"]["components"][0]


@pytest.mark.parametrize("role,status,code", [
    ("anonymous", 401, "not_authenticated"),
    ("outsider", 403, "permission_denied"),
])
def test_refused_write_answers_in_the_error_format(client_for, group, role, status, code):
    separator = SeparatorFactory(group=group, visibility=Visibility.PUBLIC)
    response = client_for(role).patch(reverse("api:separator-detail", args=[separator.pk]), {"name": "x"}, format="json")
    assert_error(response, status, code)


def test_unknown_api_path_answers_json_404(client):
    error = assert_error(client.get("/api/v1/no-such-thing/"), 404, "not_found")
    assert "/api/v1/no-such-thing/" in error["message"]


def test_id_that_is_not_a_number_answers_json_404(client):
    assert_error(client.get("/api/v1/separators/abc/"), 404, "not_found")


def test_wrong_method_answers_405_in_the_error_format(client_for):
    assert_error(client_for("member").delete(reverse("api:material-list")), 405, "method_not_allowed")


def test_filter_value_of_the_wrong_type_is_a_400_naming_the_filter(client):
    error = assert_error(client.get(reverse("api:spectrum-list"), {"temperature_c_min": "warm"}), 400, "invalid")
    assert "temperature_c_min" in error["fields"]


def test_out_of_range_id_filter_is_a_400_not_an_overflow(client):
    error = assert_error(client.get(reverse("api:spectrum-list"), {"cell": str(10**30)}), 400, "invalid")
    assert "cell" in error["fields"]


def test_export_error_is_json_even_when_csv_was_asked_for(client):
    response = client.get(reverse("api:separator-export"), {"format": "csv", "visibility": "secret"})
    assert_error(response, 400, "invalid")


def test_anonymous_clients_are_throttled_with_retry_after(client, monkeypatch):
    from rest_framework.throttling import AnonRateThrottle

    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/minute", "user": "100/minute"})
    url = reverse("api:material-list")
    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    response = client.get(url)
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


def test_flatten_errors_turns_nested_lists_into_dotted_paths():
    detail = {"layers": [{}, {"separator": ["gone"]}], "steps": {2: {"phase": ["bad"]}}, "__all__": ["clash"], "name": "blank"}
    assert flatten_errors(detail) == {"layers[1].separator": ["gone"], "steps[2].phase": ["bad"], "non_field_errors": ["clash"], "name": ["blank"]}


# ----------------------------------------------------------------------------- tokens (more in test_api_tokens.py)


def test_password_guessing_for_tokens_is_throttled(member):
    """20 a minute per address, whatever the usernames (one username alone is locked sooner: test_signin_hardening)."""
    client = APIClient()
    statuses = [
        client.post(reverse("api:auth-token"), {"username": f"{member.username}-{i}", "password": f"guess{i}"}, format="json")
        .status_code
        for i in range(21)
    ]
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429

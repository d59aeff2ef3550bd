"""Named API tokens: several per account side by side, scopes, expiry, revocation, only hashes stored."""
import datetime
import hashlib
import importlib

import pytest
from django.apps import apps as django_apps
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.accounts import services
from apps.accounts.models import ApiToken
from tests.api.test_api_errors_and_auth import assert_error
from tests.factories import MaterialFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"


def script(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def login(user, **options) -> dict:
    response = APIClient().post(
        reverse("api:auth-token"), {"username": user.username, "password": PASSWORD, **options}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_token_from_username_and_password_authenticates_scripts(member):
    body = login(member, name="notebook")
    assert (body["name"], body["scope"], body["username"]) == ("notebook", "read_write", member.username)
    assert body["token"].startswith(body["prefix"])
    assert script(body["token"]).get(reverse("api:group-list")).json()["results"][0]["my_role"] == "member"


def test_two_tokens_of_one_account_work_side_by_side(member):
    first, second = login(member, name="harvester")["token"], login(member, name="notebook")["token"]
    assert first != second
    for key in (first, second, first):
        assert script(key).get(reverse("api:apitoken-list")).status_code == 200
    assert sorted(row["name"] for row in script(first).get(reverse("api:apitoken-list")).json()["results"]) == [
        "harvester", "notebook",
    ]  # fmt: skip


def test_revoking_one_token_leaves_the_other_working(member):
    first, second = login(member, name="a"), login(member, name="b")
    response = script(second["token"]).delete(reverse("api:apitoken-detail", args=[first["id"]]))
    assert response.status_code == 204
    assert_error(script(first["token"]).get(reverse("api:separator-list")), 401, "authentication_failed")
    assert script(second["token"]).get(reverse("api:separator-list")).status_code == 200


def test_delete_auth_token_revokes_only_the_token_of_the_request(member):
    first, second = login(member)["token"], login(member)["token"]
    assert script(first).delete(reverse("api:auth-token")).status_code == 204
    assert_error(script(first).get(reverse("api:separator-list")), 401, "authentication_failed")
    assert script(second).get(reverse("api:separator-list")).status_code == 200


def test_another_users_token_cannot_be_seen_or_revoked(member, outsider):
    mine = login(member)
    theirs = login(outsider)["token"]
    assert script(theirs).get(reverse("api:apitoken-list")).json()["count"] == 1
    assert_error(script(theirs).delete(reverse("api:apitoken-detail", args=[mine["id"]])), 404, "not_found")
    assert script(mine["token"]).get(reverse("api:separator-list")).status_code == 200


@pytest.mark.parametrize(
    ("method", "url_name", "payload"),
    [
        ("post", "api:material-list", {"name": "LiPON", "family": "other"}),
        ("post", "api:apitoken-list", {"name": "escalation"}),
        ("post", "api:auth-token", {}),
    ],
)
def test_read_scope_token_gets_403_on_writes(member, method, url_name, payload):
    key = login(member, name="dashboard", scope="read")["token"]
    response = getattr(script(key), method)(reverse(url_name), payload, format="json")
    error = assert_error(response, 403, "read_only_token")
    assert "read-only" in error["message"] and "dashboard" in error["message"]
    assert ApiToken.objects.filter(user=member).count() == 1


def test_read_scope_token_reads(member):
    MaterialFactory()
    key = login(member, scope="read")["token"]
    assert script(key).get(reverse("api:material-list")).json()["count"] == 1


def test_expired_token_gets_401_naming_the_expiry(member):
    issued = services.create_api_token(user=member, name="old", expires_at=timezone.now() + datetime.timedelta(hours=1))
    ApiToken.objects.filter(pk=issued.token.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    error = assert_error(script(issued.key).get(reverse("api:separator-list")), 401, "authentication_failed")
    assert "expired" in error["message"]


def test_expiry_in_days_is_set_and_listed(member):
    body = login(member, expires_in_days=30)
    expires = datetime.datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (timezone.now() + datetime.timedelta(days=30))) < datetime.timedelta(minutes=1)
    assert body["is_expired"] is False


def test_expiry_in_the_past_is_refused(member):
    response = script(login(member)["token"]).post(
        reverse("api:apitoken-list"), {"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, format="json"
    )
    assert set(assert_error(response, 400, "invalid")["fields"]) == {"expires_at"}


def test_only_a_hash_of_the_key_is_stored(member):
    body = login(member)
    row = ApiToken.objects.get(pk=body["id"])
    assert row.key_hash == hashlib.sha256(body["token"].encode()).hexdigest()
    stored = [str(value) for value in ApiToken.objects.filter(pk=row.pk).values().get().values()]
    assert body["token"] not in stored
    assert "token" not in script(body["token"]).get(reverse("api:apitoken-detail", args=[row.pk])).json()


def test_last_use_is_recorded(member):
    body = login(member)
    assert body["last_used_at"] is None
    script(body["token"]).get(reverse("api:separator-list"))
    assert ApiToken.objects.get(pk=body["id"]).last_used_at is not None


def test_legacy_drf_token_is_migrated_to_a_hashed_row_and_keeps_working(member):
    legacy = Token.objects.create(user=member)
    migration = importlib.import_module("apps.accounts.migrations.0003_hash_legacy_tokens")
    migration.hash_legacy_tokens(django_apps, None)
    assert not Token.objects.exists()
    row = ApiToken.objects.get(user=member)
    assert (row.scope, row.prefix) == ("read_write", legacy.key[:12])
    assert script(legacy.key).get(reverse("api:group-list")).json()["results"][0]["my_role"] == "member"


def test_wrong_password_gets_no_token(member):
    response = APIClient().post(reverse("api:auth-token"), {"username": member.username, "password": "nope"}, format="json")
    assert_error(response, 401, "authentication_failed")
    assert not ApiToken.objects.exists()


def test_token_request_without_credentials_names_the_missing_fields():
    error = assert_error(APIClient().post(reverse("api:auth-token"), {}, format="json"), 400, "invalid")
    assert set(error["fields"]) == {"username", "password"}


def test_session_user_can_get_a_token_without_a_password():
    client = APIClient()
    client.force_login(UserFactory())
    assert client.post(reverse("api:auth-token")).status_code == 201


def test_token_list_needs_a_login():
    assert_error(APIClient().get(reverse("api:apitoken-list")), 401, "not_authenticated")

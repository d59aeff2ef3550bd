"""Login, logout, API tokens and group membership management."""
import re

import pytest
from rest_framework.exceptions import AuthenticationFailed

from apps.accounts.authentication import ApiTokenAuthentication
from apps.accounts.models import ApiToken, Membership
from tests.factories import UserFactory


def test_login_with_password_then_logout_by_post(client, member):
    response = client.post("/login/", {"username": member.username, "password": "correct horse battery"})
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200
    assert client.get("/logout/").status_code == 405  # logging out is a POST
    client.post("/logout/")
    assert client.get("/account/").status_code == 302


def test_wrong_password_explained(client, member):
    response = client.post("/login/", {"username": member.username, "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def _create_token(client, **fields) -> str:
    response = client.post("/account/token/create/", {"name": "notebook", "scope": "read_write", **fields})
    assert response.status_code == 200, response.content
    return re.search(r'<code id="api-token">([^<]+)</code>', response.content.decode()).group(1)


def test_created_key_is_shown_once_then_only_its_prefix(client, member):
    client.force_login(member)
    key = _create_token(client, name="harvester")
    row = ApiToken.objects.get(user=member)
    page = client.get("/account/").content.decode()
    assert key not in page
    assert "harvester" in page and row.prefix in page


def test_two_tokens_then_revoke_one_on_the_account_page(client, member):
    client.force_login(member)
    first, second = _create_token(client, name="a"), _create_token(client, name="b")
    assert ApiToken.objects.filter(user=member).count() == 2
    client.post(f"/account/tokens/{ApiToken.objects.get(name='a').pk}/revoke/")
    assert list(ApiToken.objects.filter(user=member).values_list("name", flat=True)) == ["b"]
    assert _api_user(second) == member
    with pytest.raises(AuthenticationFailed):
        _api_user(first)


def test_another_users_token_cannot_be_revoked(client, member, outsider):
    client.force_login(outsider)
    _create_token(client)
    client.force_login(member)
    response = client.post(f"/account/tokens/{ApiToken.objects.get(user=outsider).pk}/revoke/")
    assert response.status_code == 404
    assert ApiToken.objects.filter(user=outsider).exists()


def test_token_form_errors_are_shown(client, member):
    client.force_login(member)
    response = client.post("/account/token/create/", {"name": "", "scope": "admin"})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_read_only_token_with_expiry_from_the_page(client, member):
    client.force_login(member)
    _create_token(client, scope="read", expires_in_days=7)
    row = ApiToken.objects.get(user=member)
    assert row.scope == "read" and row.expires_at is not None


def _api_user(key: str):
    user, _ = ApiTokenAuthentication().authenticate_credentials(key)
    return user


def test_owner_adds_member_by_username_and_changes_role(client, owner, group):
    newcomer = UserFactory(username="newcomer")
    client.force_login(owner)
    client.post(f"/account/groups/{group.slug}/members/add/", {f"g{group.pk}-username": "newcomer", f"g{group.pk}-role": "member"})
    membership = Membership.objects.get(group=group, user=newcomer)
    assert membership.role == "member"
    client.post(f"/account/members/{membership.pk}/role/", {"role": "owner"})
    membership.refresh_from_db()
    assert membership.role == "owner"
    client.post(f"/account/members/{membership.pk}/remove/")
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_unknown_username_reported(client, owner, group):
    client.force_login(owner)
    response = client.post(
        f"/account/groups/{group.slug}/members/add/", {f"g{group.pk}-username": "ghost", f"g{group.pk}-role": "member"}, follow=True
    )
    assert "No user is called “ghost”" in response.content.decode()


@pytest.mark.parametrize("action", ["add", "role", "remove"])
def test_plain_member_cannot_manage_membership(client, member, owner, group, action):
    UserFactory(username="someone")
    client.force_login(member)
    owner_membership = Membership.objects.get(user=owner, group=group)
    if action == "add":
        client.post(f"/account/groups/{group.slug}/members/add/", {f"g{group.pk}-username": "someone", f"g{group.pk}-role": "owner"})
        assert not Membership.objects.filter(user__username="someone").exists()
    elif action == "role":
        client.post(f"/account/members/{owner_membership.pk}/role/", {"role": "member"})
        owner_membership.refresh_from_db()
        assert owner_membership.role == "owner"
    else:
        client.post(f"/account/members/{owner_membership.pk}/remove/")
        assert Membership.objects.filter(pk=owner_membership.pk).exists()


def test_outsider_gets_404_for_another_groups_memberships(client, outsider, owner, group):
    client.force_login(outsider)
    membership = Membership.objects.get(user=owner, group=group)
    assert client.post(f"/account/members/{membership.pk}/remove/").status_code == 404
    assert client.post(f"/account/groups/{group.slug}/members/add/", {}).status_code == 404


def test_last_owner_cannot_step_down(client, owner, group):
    client.force_login(owner)
    membership = Membership.objects.get(user=owner, group=group)
    response = client.post(f"/account/members/{membership.pk}/role/", {"role": "member"}, follow=True)
    membership.refresh_from_db()
    assert membership.role == "owner"
    assert "at least one owner" in response.content.decode()

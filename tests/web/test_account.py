"""Login, logout, API tokens and group membership management."""
import pytest
from rest_framework.authtoken.models import Token

from apps.accounts.models import Membership
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


def test_create_then_replace_then_revoke_api_token(client, member):
    client.force_login(member)
    client.post("/account/token/create/")
    first = Token.objects.get(user=member).key
    assert first in client.get("/account/").content.decode()
    client.post("/account/token/create/")
    second = Token.objects.get(user=member).key
    assert second != first
    client.post("/account/token/revoke/")
    assert not Token.objects.filter(user=member).exists()


def test_created_token_authenticates_the_api(client, member):
    client.force_login(member)
    client.post("/account/token/create/")
    key = Token.objects.get(user=member).key
    from rest_framework.authentication import TokenAuthentication

    user, _ = TokenAuthentication().authenticate_credentials(key)
    assert user == member


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

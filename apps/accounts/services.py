"""Writes of accounts: API tokens and research-group membership."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from .models import Membership, ResearchGroup
from .selectors import is_group_owner


@transaction.atomic
def create_api_token(*, user) -> Token:
    """A new API key for `user`; DRF keeps one token per user, so an existing key is replaced."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


@transaction.atomic
def revoke_api_token(*, user) -> bool:
    """Delete the user's API key; True when there was one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted > 0


def _require_owner(*, actor, group: ResearchGroup) -> None:
    if not is_group_owner(actor, group):
        raise PermissionDenied("Only owners of this group can change its members.")


def _owner_count(group: ResearchGroup) -> int:
    return Membership.objects.filter(group=group, role=Membership.Role.OWNER).count()


@transaction.atomic
def add_member(*, actor, group: ResearchGroup, username: str, role: str = Membership.Role.MEMBER) -> Membership:
    """Add the user called `username` to `group` with `role`; the actor must own the group."""
    _require_owner(actor=actor, group=group)
    if role not in Membership.Role.values:
        raise ValidationError({"role": f"Unknown role “{role}”; choose member or owner."})
    username = (username or "").strip()
    user = get_user_model().objects.filter(username__iexact=username).first() if username else None
    if user is None:
        raise ValidationError({"username": f"No user is called “{username}”."})
    if Membership.objects.filter(group=group, user=user).exists():
        raise ValidationError({"username": f"{user.username} is already a member of {group.name}."})
    return Membership.objects.create(group=group, user=user, role=role)


@transaction.atomic
def change_member_role(*, actor, membership: Membership, role: str) -> Membership:
    """Set a member's role; a group always keeps at least one owner."""
    membership = Membership.objects.select_for_update().select_related("group").get(pk=membership.pk)
    _require_owner(actor=actor, group=membership.group)
    if role not in Membership.Role.values:
        raise ValidationError({"role": f"Unknown role “{role}”; choose member or owner."})
    if (
        membership.role == Membership.Role.OWNER
        and role != Membership.Role.OWNER
        and _owner_count(membership.group) <= 1
    ):
        raise ValidationError({"role": "A group needs at least one owner; make someone else owner first."})
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(*, actor, membership: Membership) -> None:
    """Remove a member from a group; the last owner cannot be removed."""
    membership = Membership.objects.select_for_update().select_related("group").get(pk=membership.pk)
    _require_owner(actor=actor, group=membership.group)
    if membership.role == Membership.Role.OWNER and _owner_count(membership.group) <= 1:
        raise ValidationError({"username": "The last owner cannot be removed; make someone else owner first."})
    membership.delete()

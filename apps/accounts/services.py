"""Writes of accounts: API tokens and research-group membership."""
from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from . import tokens
from .models import ApiToken, Membership, ResearchGroup
from .selectors import is_group_owner

DEFAULT_TOKEN_NAME = "API token"
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)  # one write a minute per token, not one per request


@dataclass(frozen=True)
class IssuedToken:
    """A token just created: `key` is shown once and never stored."""

    token: ApiToken
    key: str


@transaction.atomic
def create_api_token(
    *,
    user,
    name: str = DEFAULT_TOKEN_NAME,
    scope: str = ApiToken.Scope.READ_WRITE,
    expires_at: datetime.datetime | None = None,
) -> IssuedToken:
    """A new named API key for `user`; the user's other keys keep working."""
    name = (name or "").strip() or DEFAULT_TOKEN_NAME
    if scope not in ApiToken.Scope.values:
        raise ValidationError({"scope": f"Unknown scope “{scope}”; choose read or read_write."})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must lie in the future."})
    key = tokens.new_key()
    token = ApiToken(
        user=user, name=name, scope=scope, expires_at=expires_at,
        prefix=tokens.key_prefix(key), key_hash=tokens.key_hash(key),
    )  # fmt: skip
    token.full_clean()
    token.save()
    return IssuedToken(token=token, key=key)


@transaction.atomic
def revoke_api_token(*, user, token_id: int) -> bool:
    """Delete one of `user`'s tokens; True when it existed (another user's token is never touched)."""
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    return deleted > 0


def authenticate_api_key(*, key: str) -> ApiToken | None:
    """The live token for `key` (None if unknown); records when it was last used, at most once a minute.

    Raises ValidationError with a reason when the token has expired.
    """
    token = ApiToken.objects.select_related("user").filter(key_hash=tokens.key_hash(key)).first()
    if token is None:
        return None
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        raise ValidationError(f"This API token (“{token.name}”) expired on {token.expires_at:%Y-%m-%d %H:%M} UTC.")
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


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

"""Who may write through the API: members of the group that owns a record (the default permission class)."""
from __future__ import annotations

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from .models import Membership, ResearchGroup
from .selectors import can_edit


class GroupMemberWritePermission(BasePermission):
    """Reads: whatever the selector returned. Writes: authenticated members of the record's group."""

    message = "Only members of the group that owns this record may change it."

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS or bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request, view, obj) -> bool:
        return request.method in SAFE_METHODS or can_edit(obj, request.user)


def require_group_member(user, group: ResearchGroup) -> None:
    """Raise 403 unless `user` may write records owned by `group`."""
    if user.is_superuser or Membership.objects.filter(user=user, group=group).exists():
        return
    raise exceptions.PermissionDenied(f"You are not a member of the group “{group.name}”.")

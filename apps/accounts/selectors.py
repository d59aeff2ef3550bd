"""Who may see what: the one rule every list, detail, export and plot uses."""
from __future__ import annotations

import datetime
import functools
from collections.abc import Callable

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import ApiToken, Membership, ResearchGroup, Visibility
from .references import can_edit  # noqa: F401  (where the views look for it)


def _today() -> datetime.date:
    return timezone.localdate()


def group_ids_of(user) -> QuerySet:
    """Ids of the user's groups, as a subquery (no extra round trip when used in a filter)."""
    if not user or not user.is_authenticated:
        return Membership.objects.none().values("group_id")
    return Membership.objects.filter(user=user).values("group_id")


def owned_group_ids_of(user) -> QuerySet:
    if not user or not user.is_authenticated:
        return Membership.objects.none().values("group_id")
    return Membership.objects.filter(user=user, role=Membership.Role.OWNER).values("group_id")


def visible_q(user, prefix: str = "") -> Q:
    """Q object selecting the records (reached through `prefix`, e.g. "cell__") `user` may see.

    Public: visibility public and no embargo in the future, or an embargo that
    has passed. Group members also see group-only records and public ones
    still under embargo; private records are seen by their uploader and the
    group's owners. Staff superusers see everything.
    """
    p = prefix
    # Public now: marked public without an embargo, or any record whose embargo has passed. (The same rule as
    # "public and (no embargo or embargo over), or embargo over", in the two-branch form an index can serve.)
    public_now = Q(**{f"{p}visibility": Visibility.PUBLIC, f"{p}embargo_until__isnull": True}) | Q(
        **{f"{p}embargo_until__lte": _today()}
    )
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
        return public_now
    if user.is_superuser:
        return Q()
    groups = group_ids_of(user)
    member = Q(**{f"{p}group_id__in": groups}) & ~Q(**{f"{p}visibility": Visibility.PRIVATE})
    private_own = Q(**{f"{p}created_by_id": user.pk}) | Q(**{f"{p}group_id__in": owned_group_ids_of(user)})
    return public_now | member | private_own


def absent_or_visible_q(user, relation: str) -> Q:
    """Q object selecting the records whose optional reference ``relation`` is empty or visible to ``user``.
    Spelled out because ``visible_q`` is the empty Q for a superuser, which an OR drops: ``absent | Q()`` is
    ``absent`` alone, and would hide every record whose reference is set."""
    seen = visible_q(user, f"{relation}__")
    return Q(**{f"{relation}__isnull": True}) | seen if seen else seen


def shared_for_anonymous(selector: Callable[..., QuerySet]) -> Callable[..., QuerySet]:
    """`selector` (keyword arguments: `user` and hashable options) keeping the unevaluated queryset it builds for
    anonymous viewers for the rest of the day: their rule (`visible_q`) depends on the date only, and building
    it is a good part of a small read's query set-up. Each call gets its own clone (`.all()`); signed-in
    viewers' querysets are built every time. Only for selectors whose anonymous queryset depends on nothing
    but the date."""
    built: dict[tuple, QuerySet] = {}

    @functools.wraps(selector)
    def shared(*, user, **options):
        if user is not None and user.is_authenticated:
            return selector(user=user, **options)
        key = (_today(), *sorted(options.items()))
        queryset = built.get(key)
        if queryset is None:
            if any(day != key[0] for day, *_ in built):
                built.clear()  # yesterday's rule: embargoes may have ended since
            queryset = built[key] = selector(user=user, **options)
        return queryset.all()

    return shared


def visible(queryset: QuerySet, user, prefix: str = "") -> QuerySet:
    return queryset.filter(visible_q(user, prefix))


def can_view(record, user) -> bool:
    return type(record)._default_manager.filter(visible_q(user), pk=record.pk).exists()


def groups_of(user) -> QuerySet[ResearchGroup]:
    return ResearchGroup.objects.filter(pk__in=group_ids_of(user))


def is_group_owner(user, group: ResearchGroup) -> bool:
    return bool(user and user.is_authenticated) and (
        user.is_superuser or Membership.objects.filter(user=user, group=group, role=Membership.Role.OWNER).exists()
    )


def api_tokens_of(user) -> QuerySet[ApiToken]:
    """The user's API tokens, newest first (hashes only; keys are never stored)."""
    if not user or not user.is_authenticated:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")

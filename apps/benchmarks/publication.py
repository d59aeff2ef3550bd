"""Released benchmark numbers, for the leaderboards, without importing the app that releases them.

Public leaderboards and the dashboard show, by default, the numbers groups
have released (frozen at publication, each naming its release). The releases
app sits above this one; it registers the function that lists released
entries here when it is ready.
"""
from __future__ import annotations

from typing import Any, Callable

_PROVIDER: list[Callable[..., list]] = []


def register_published_entries(provider: Callable[..., list]) -> None:
    """`provider(user=, metric=, family=, route=, min_completeness=, include_flagged=)` → released entries."""
    _PROVIDER[:] = [provider]


def published_entries(**filters: Any) -> list:
    """Released entries matching `filters` (empty when no releases app is installed)."""
    return _PROVIDER[0](**filters) if _PROVIDER else []


_RETRACTED: list[Callable[[], dict[str, set[int]]]] = []


def register_retracted_records(provider: Callable[[], dict[str, set[int]]]) -> None:
    """`provider()` → {"separator": ids, "cell": ids, "spectrum": ids} of retracted records."""
    _RETRACTED[:] = [provider]


def retracted_records() -> dict[str, set[int]]:
    """Ids of retracted records by kind: their numbers leave every leaderboard at once."""
    return _RETRACTED[0]() if _RETRACTED else {"separator": set(), "cell": set(), "spectrum": set()}

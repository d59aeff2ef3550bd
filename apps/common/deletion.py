"""Deleting a record, for the apps below the one that knows the rules.

Deleting a separator, cell or spectrum reaches into measurements, analysis,
jobs and releases (a released record is retracted, never deleted). Those
rules live in `apps.releases.deletion`, which registers itself here when it
is ready; the catalog and measurement endpoints call `delete_record` and
import nothing above them.
"""
from __future__ import annotations

from typing import Any, Callable

_DELETER: list[Callable[..., Any]] = []


def register_record_deleter(deleter: Callable[..., Any]) -> None:
    _DELETER[:] = [deleter]


def delete_record(*, record, user) -> Any:
    """Delete `record` and what hangs on it, as `user`; PermissionDenied or ValidationError naming the problem."""
    if not _DELETER:
        raise RuntimeError("No record deleter is registered (is apps.releases installed?).")
    return _DELETER[0](record=record, user=user)

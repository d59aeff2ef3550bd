"""Cached summaries of records with thousands of children (a separator's Arrhenius points over tens of
thousands of spectra): one aggregate over every child costs seconds, so a page reads it from the cache.

A summary is cached per record and viewer (what a viewer may see differs) under the record's version;
`bump(kind, pk)` (called when the record's benchmark entries are recomputed, which every input change
queues) moves the version on, so the next view aggregates afresh. SUMMARY_SECONDS bounds staleness for
changes that reach no recomputation.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from django.core.cache import cache

SUMMARY_SECONDS = 300
T = TypeVar("T")


def _version_key(kind: str, pk: int) -> str:
    return f"summary-version:{kind}:{pk}"


def bump(kind: str, pks) -> None:
    """A new version for each record: summaries cached under the old one are no longer read."""
    for pk in pks:
        try:
            cache.incr(_version_key(kind, pk))
        except ValueError:  # no version yet: nothing cached under one either
            cache.set(_version_key(kind, pk), 1, None)


def cached_summary(kind: str, pk: int, viewer_key: str, compute: Callable[[], tuple[T, bool]]) -> T:
    """`compute()` returns (value, worth caching); a cached value of the current version is returned instead."""
    version = cache.get(_version_key(kind, pk), 0)
    key = f"summary:{kind}:{pk}:{version}:{viewer_key}"
    value = cache.get(key)
    if value is not None:
        return value
    value, keep = compute()
    if keep:
        cache.set(key, value, SUMMARY_SECONDS)
    return value

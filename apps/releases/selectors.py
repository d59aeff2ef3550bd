"""Reads of releases, released numbers and retractions.

A release is public from the moment it is published (there are no drafts):
every user sees its landing page, its frozen numbers and its archive. The
leaderboards show, per dataset, the released entries of its newest version,
minus those resting on a retracted record.
"""
from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from apps.benchmarks.selectors import LOWER_IS_BETTER, narrow_entries

from .models import RecordKind, Release, ReleasedEntry, ReleaseRecord, Retraction


def visible_releases(*, user=None) -> QuerySet[Release]:
    return Release.objects.select_related("group", "created_by")


def latest_releases() -> QuerySet[Release]:
    """The newest version of every dataset."""
    newer = Release.objects.filter(group=OuterRef("group"), dataset_key=OuterRef("dataset_key"),
                                   version__gt=OuterRef("version"))
    return Release.objects.filter(~Exists(newer))


def versions_of(release: Release) -> QuerySet[Release]:
    return Release.objects.filter(group=release.group, dataset_key=release.dataset_key).order_by("-version")


def retracted_ids() -> dict[str, set[int]]:
    """kind → ids of retracted records."""
    out: dict[str, set[int]] = {kind: set() for kind in RecordKind.values}
    for kind, object_id in Retraction.objects.values_list("kind", "object_id"):
        out[kind].add(object_id)
    return out


def retraction_of(*, kind: str, object_id: int) -> Retraction | None:
    return Retraction.objects.filter(kind=kind, object_id=object_id).select_related("retracted_by").first()


def releases_of_record(*, kind: str, object_id: int) -> QuerySet[Release]:
    return Release.objects.filter(records__kind=kind, records__object_id=object_id).distinct().order_by(
        "-published_at", "-pk")


def is_retracted_entry(entry: ReleasedEntry, retracted: dict[str, set[int]]) -> bool:
    """An entry rests on its separator or cell and on the spectra it was computed from."""
    if entry.separator_id in retracted[RecordKind.SEPARATOR] or entry.cell_id in retracted[RecordKind.CELL]:
        return True
    if not (retracted[RecordKind.CELL] or retracted[RecordKind.SPECTRUM]):
        return False
    if retracted[RecordKind.CELL] & set(entry.record_ids.get("cell_ids") or []):
        return True
    return bool(retracted[RecordKind.SPECTRUM] & set(entry.record_ids.get("spectrum_ids") or []))


def entries_of_release(release: Release) -> list[ReleasedEntry]:
    """The release's frozen entries, each marked `retracted` when a record it rests on was retracted."""
    retracted = retracted_ids()
    entries = list(release.entries.select_related("separator", "cell").order_by("metric", "pk"))
    for entry in entries:
        entry.retracted = is_retracted_entry(entry, retracted)
    return entries


def records_of_release(release: Release) -> list[ReleaseRecord]:
    """The release's records, each with its retraction (or None)."""
    retractions = {(r.kind, r.object_id): r for r in Retraction.objects.filter(
        Q(*[Q(kind=rec.kind, object_id=rec.object_id) for rec in release.records.all()], _connector=Q.OR)
    )} if release.records.exists() else {}
    records = list(release.records.order_by("kind", "object_id"))
    for record in records:
        record.retraction = retractions.get((record.kind, record.object_id))
    return records


def published_entries(*, user=None, metric: str | None = None, family: str | None = None, route: str | None = None,
                      min_completeness: float = 0.0, include_flagged: bool = True) -> list[ReleasedEntry]:
    """Released numbers of the newest version of each dataset, without retracted ones, best first per metric.

    When one separator or cell has the same metric in several datasets, the most recent release speaks.
    """
    qs = narrow_entries(
        ReleasedEntry.objects.filter(release__in=latest_releases()).select_related(
            "release", "release__group", "separator", "separator__group", "separator__source", "cell",
            "cell__group", "cell__source")
        # A release's snapshot (the whole archive's content, hundreds of kB) would be decoded once per entry.
        .defer("release__snapshot", "release__manifest"),
        metric=metric, family=family, route=route, min_completeness=min_completeness, include_flagged=include_flagged)
    retracted = retracted_ids()
    if not (retracted[RecordKind.CELL] or retracted[RecordKind.SPECTRUM]):
        qs = qs.defer("record_ids")  # every id an entry rests on: only a retracted cell or spectrum asks for them
    newest: dict[tuple, ReleasedEntry] = {}
    for entry in qs.order_by("-release__published_at", "-release__pk", "pk"):
        key = (entry.separator_id, entry.cell_id, entry.metric)
        if key in newest or is_retracted_entry(entry, retracted):
            continue
        newest[key] = entry
    return sorted(newest.values(), key=lambda e: (e.metric, e.value if e.metric in LOWER_IS_BETTER else -e.value,
                                                   e.pk))

"""The audit trail: who changed what, when, on every write (django-auditlog).

django-auditlog keeps one table of entries (``auditlog.LogEntry``) with the
field diffs of each create, update and delete (``changes``: field →
[before, after]) and the actor; `AUDITED_MODELS` lists every model people
write. Events that are not a field change of one row — a release, a
retraction — are written with `log_event` on the record they concern.
"""
from __future__ import annotations

from django.apps import apps
from django.utils.functional import SimpleLazyObject

from auditlog.context import set_actor
from auditlog.middleware import AuditlogMiddleware
from auditlog.models import LogEntry
from auditlog.registry import auditlog

#: model label → fields left out of the diff (large arrays, derived timestamps).
AUDITED_MODELS: dict[str, list[str]] = {
    "accounts.ResearchGroup": [],
    "accounts.Membership": [],
    "catalog.Material": [],
    "catalog.Source": [],
    "catalog.Separator": ["updated_at"],
    "catalog.SeparatorComponent": [],
    "catalog.Electrode": ["updated_at"],
    "catalog.Interface": ["updated_at"],
    "catalog.InterfaceEvidence": [],
    "catalog.Cell": ["updated_at"],
    "catalog.CellLayer": [],
    "catalog.PressureStep": [],
    "measurements.RawFile": ["updated_at"],
    "measurements.ImpedanceSpectrum": ["updated_at", "data", "frequency_grid"],
    "measurements.DCPolarisation": ["updated_at"],
    "measurements.CriticalCurrentDensityTest": ["updated_at"],
    "analysis.FitProtocol": [],
    "releases.Release": ["archive", "manifest", "snapshot"],
    "releases.Retraction": [],
}
#: m2m fields whose additions and removals are logged on the owning record.
AUDITED_M2M = {"catalog.Cell": {"interfaces"}}


def register_audited_models() -> None:
    """Register `AUDITED_MODELS` with auditlog (called once, when the releases app is ready)."""
    for label, excluded in AUDITED_MODELS.items():
        model = apps.get_model(label)
        if not auditlog.contains(model):
            auditlog.register(model, exclude_fields=excluded, m2m_fields=AUDITED_M2M.get(label, set()))


class AuditActorMiddleware(AuditlogMiddleware):
    """Names the actor of every logged change, also for API calls authenticated by token.

    DRF authenticates inside the view, after middleware ran, and then sets the
    user on the Django request; reading `request.user` lazily, when an entry is
    saved, finds it.
    """

    @staticmethod
    def _get_actor(request):
        return SimpleLazyObject(lambda: getattr(request, "user", None))


def log_event(record, *, user, event: str, changes: dict[str, list]) -> LogEntry:
    """An audit entry on `record` for an event that is not a row edit (release, retraction, visibility)."""
    with set_actor(user if user and user.is_authenticated else None):
        return LogEntry.objects.log_create(
            record, force_log=True, action=LogEntry.Action.UPDATE, changes=changes,
            additional_data={"event": event},
        )


def history_of(record):
    """Audit entries of `record`, newest first, with their actor."""
    return LogEntry.objects.get_for_object(record).select_related("actor").order_by("-timestamp", "-pk")


def history_rows(record) -> list[dict]:
    """The history as plain rows: when, who, action, event, and each change as (field, before, after)."""
    rows = []
    for entry in history_of(record):
        changes = entry.changes_dict or {}
        rows.append({
            "id": entry.pk,
            "timestamp": entry.timestamp,
            "actor": entry.actor.get_username() if entry.actor else "",
            "action": str(dict(LogEntry.Action.choices).get(entry.action, entry.action)),
            "event": (entry.additional_data or {}).get("event", ""),
            "changes": [
                {"field": field, "before": _side(values, 0), "after": _side(values, 1)}
                for field, values in sorted(changes.items())
            ],
        })
    return rows


def _side(values, index: int):
    if isinstance(values, (list, tuple)) and len(values) > index:
        return values[index]
    if isinstance(values, dict):  # m2m changes: {"type": "m2m", "operation": …, "objects": [...]}
        return values.get("objects") if index == 1 else values.get("operation")
    return None

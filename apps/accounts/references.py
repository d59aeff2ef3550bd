"""Visibility follows references: the rule, its check on writes and its guard on reads.

The rule
--------
**A record may never be more visible than the records it references.** A
cell references its separator, its interfaces and the separators and
electrodes of its layer stack; a raw file its cell; a spectrum, a DC
polarisation or a CCD test its cell (and a spectrum its raw file). Each
model names these paths in ``visibility_references``. "More visible" counts
people and time: every user who may see the record (now, and on every later
day, embargo dates included) must also be able to see each record it
references. So a public cell needs a public separator; a cell public from
1 March needs a separator public no later than 1 March; a group-only cell
needs references of its own group (or public ones), and not private ones;
a private cell may reference its group's private records.

Where it is enforced
--------------------
* Writes: ``require_visible_references`` runs in the services that create,
  edit or change the visibility of a record (``apps.catalog.services``,
  ``apps.measurements.services``). A violation is a ``ValidationError`` on
  ``visibility`` that lists the references to publish first; with
  ``publish_references=True`` they are published together with the record
  (the writer must be a member of their groups). Lowering a referenced
  record below a record that points at it is refused the same way
  (``require_visible_dependents``).
* Reads: rows written before the rule (or by hand) may still violate it,
  so whatever renders a reference asks ``visible_reference(user, record)``
  (templates: ``{% visible_ref user record as ref %}``, serializers: the
  ``VisibleReferenceField`` family) and shows "private record" without
  details when the viewer may not see it.
* Existing violations are reported by ``manage.py check_visibility_references``;
  nothing changes the visibility of existing rows silently.
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Iterable, Iterator

from django.apps import apps as django_apps
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.utils import timezone

from .models import Membership, OwnedRecord, Visibility

PRIVATE_LABEL = "private record"
_NEVER = None


def _today() -> datetime.date:
    return timezone.localdate()


def public_from(record) -> datetime.date | None:
    """The first day everyone may see `record` (``date.min``: already public; None: never, as it stands).

    Mirrors `apps.accounts.selectors.visible_q`: an embargo date makes a record public on
    that day whatever its visibility; a public record without embargo is public now.
    """
    if record.embargo_until is not None:
        return record.embargo_until
    if record.visibility == Visibility.PUBLIC:
        return datetime.date.min
    return _NEVER


def covers(reference, record, today: datetime.date | None = None) -> bool:
    """True when everyone who may see `record`, on any day from `today` on, may also see `reference`."""
    today = today or _today()
    ref_public, rec_public = public_from(reference), public_from(record)
    if ref_public is not None and ref_public <= today:
        return True  # the reference is public already
    if rec_public is not None and (ref_public is None or ref_public > max(rec_public, today)):
        return False  # the record would become public before the reference
    # Until it is public, the record is seen within its group: the reference must be seen there too.
    if reference.group_id != record.group_id:
        return False
    if reference.visibility != Visibility.PRIVATE:
        return True  # every member sees it; the record's viewers are members or its group's owners
    # Members would see a group-visible record but not the private reference; a private record may
    # reference its group's private records (their owners see both; a colleague's private reference
    # still renders as "private record" to its other creator).
    return record.visibility == Visibility.PRIVATE


# ----------------------------------------------------------------------------- walking the declared references


def _is_owned(obj) -> bool:
    return isinstance(obj, OwnedRecord)


def _follow(objects: Iterable, name: str) -> list:
    found = []
    for obj in objects:
        value = getattr(obj, name, None)
        if isinstance(value, models.Manager):
            found.extend(value.all())
        elif value is not None:
            found.append(value)
    return found


def referenced_records(record) -> list[tuple[str, OwnedRecord]]:
    """(path, record) for every owned record `record` references, as its model declares them."""
    pairs: list[tuple[str, OwnedRecord]] = []
    seen: set[tuple[type, int]] = set()
    for path in getattr(type(record), "visibility_references", ()):
        objects = [record]
        for name in path.split("__"):
            objects = _follow(objects, name)
        for obj in objects:
            key = (type(obj), obj.pk)
            if _is_owned(obj) and key not in seen:
                seen.add(key)
                pairs.append((path, obj))
    return pairs


def _target_model(model: type[models.Model], path: str) -> type[models.Model]:
    for name in path.split("__"):
        model = model._meta.get_field(name).related_model
    return model


def referencing_models() -> Iterator[tuple[type[models.Model], str]]:
    """(model, path) for every declared reference path of every installed model."""
    for model in django_apps.get_models():
        for path in getattr(model, "visibility_references", ()):
            yield model, path


def dependents(record) -> list[OwnedRecord]:
    """Owned records that reference `record` through a declared path."""
    found: list[OwnedRecord] = []
    for model, path in referencing_models():
        if issubclass(type(record), _target_model(model, path)):
            found.extend(model._default_manager.filter(**{path: record}).distinct())
    return found


def hidden_references(record, today: datetime.date | None = None) -> list[tuple[str, OwnedRecord]]:
    """The references of `record` that some of its viewers may not see (the rule's violations)."""
    return [(path, ref) for path, ref in referenced_records(record) if not covers(ref, record, today)]


def exposed_dependents(record, today: datetime.date | None = None) -> list[OwnedRecord]:
    """Records pointing at `record` that are more visible than it."""
    return [dep for dep in dependents(record) if not covers(record, dep, today)]


# ----------------------------------------------------------------------------- enforcement on writes


def _describe(record, user) -> str:
    what = type(record)._meta.verbose_name
    state = record.get_visibility_display().split(" (")[0].lower()
    if record.embargo_until:
        state += f", public from {record.embargo_until.isoformat()}"
    if can_see(user, record):
        return f"{what} {record.pk} “{record}” ({state})"
    return f"{what} {record.pk} (not visible to you)"


def _publish_like(reference, record, user) -> None:
    """Raise `reference`'s visibility so that it covers `record`; its own references follow."""
    if not can_edit(reference, user):
        raise PermissionDenied(f"You are not a member of the group of {_describe(reference, user)} and cannot publish it.")
    if public_from(record) is not None:
        ref_public = public_from(reference)
        rec_public = public_from(record)
        if ref_public is None or ref_public > rec_public:
            reference.visibility = Visibility.PUBLIC
            reference.embargo_until = None if rec_public == datetime.date.min else rec_public
    if not covers(reference, record) and reference.visibility == Visibility.PRIVATE:
        reference.visibility = Visibility.GROUP
    if not covers(reference, record):
        raise ValidationError(
            {"visibility": f"{_describe(reference, user)} belongs to another group and cannot be shared with "
                           f"the viewers of this {type(record)._meta.verbose_name}."}
        )
    reference.save(update_fields=["visibility", "embargo_until", "updated_at"])
    require_visible_references(reference, user=user, publish_references=True)


def require_visible_references(record, *, user, publish_references: bool = False) -> None:
    """Refuse (``ValidationError`` on ``visibility``) a record more visible than what it references.

    With ``publish_references`` the references are published with it instead.
    Call it after the record and its related rows are written, inside the write's transaction.
    """
    hidden = hidden_references(record)
    if not hidden:
        return
    if publish_references:
        for _, reference in hidden:
            _publish_like(reference, record, user)
        return
    names = "; ".join(_describe(ref, user) for _, ref in hidden)
    raise ValidationError(
        {"visibility": f"This {type(record)._meta.verbose_name} would be visible to people who cannot see what it "
                       f"references. Publish these with it (publish_references=true) or keep it less visible: {names}."}
    )


def require_visible_dependents(record, *, user) -> None:
    """Refuse making `record` less visible than records that reference it."""
    exposed = exposed_dependents(record)
    if exposed:
        names = "; ".join(_describe(dep, user) for dep in exposed[:20])
        more = f" and {len(exposed) - 20} more" if len(exposed) > 20 else ""
        raise ValidationError(
            {"visibility": f"More visible records reference this {type(record)._meta.verbose_name}; make them "
                           f"less visible first: {names}{more}."}
        )


# ----------------------------------------------------------------------------- the guard on reads


@dataclass(frozen=True)
class _Viewer:
    user_id: int | None
    superuser: bool
    groups: frozenset[int]
    owned: frozenset[int]


_ANONYMOUS_VIEWER = _Viewer(None, False, frozenset(), frozenset())


def _viewer(user) -> _Viewer:
    """The user's groups, loaded once per user object (one query) and cached on it."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
        return _ANONYMOUS_VIEWER
    cached = getattr(user, "_visibility_viewer", None)
    if cached is None:
        rows = list(Membership.objects.filter(user=user).values_list("group_id", "role"))
        cached = _Viewer(
            user.pk, bool(user.is_superuser), frozenset(g for g, _ in rows),
            frozenset(g for g, role in rows if role == Membership.Role.OWNER),
        )
        user._visibility_viewer = cached
    return cached


def can_edit(record, user) -> bool:
    """Writes are for members of the owning group (and superusers); the viewer's groups are read once
    per user object (a page asks for several records)."""
    viewer = _viewer(user)
    return viewer.user_id is not None and (viewer.superuser or record.group_id in viewer.groups)


def can_see(user, record) -> bool:
    """`visible_q` evaluated on a loaded record (no query per record); non-owned records are shared data."""
    if record is None or not _is_owned(record):
        return True
    viewer = _viewer(user)
    if viewer.superuser:
        return True
    starts = public_from(record)
    # Public without embargo needs no clock (local dates cost a time-zone conversion, once per record shown).
    if starts is not None and (starts == datetime.date.min or starts <= _today()):
        return True
    if viewer.user_id is None:
        return False
    if record.group_id in viewer.groups and record.visibility != Visibility.PRIVATE:
        return True
    return record.created_by_id == viewer.user_id or record.group_id in viewer.owned


def visible_reference(user, record):
    """`record` when `user` may see it (or it is shared reference data or None), else None."""
    return record if can_see(user, record) else None


# ----------------------------------------------------------------------------- existing rows


def _state(record) -> str:
    state = record.visibility
    if record.embargo_until:
        state += f", public from {record.embargo_until.isoformat()}"
    return state


@dataclass(frozen=True)
class Violation:
    record: OwnedRecord
    path: str
    reference: OwnedRecord

    def describe(self) -> str:
        rec, ref = self.record, self.reference
        return (
            f"{type(rec)._meta.verbose_name} {rec.pk} “{rec}” ({_state(rec)}, group {rec.group_id}) references "
            f"{type(ref)._meta.verbose_name} {ref.pk} “{ref}” ({_state(ref)}, group {ref.group_id}) via {self.path}"
        )


def find_violations(chunk_size: int = 500) -> Iterator[Violation]:
    """Every stored record more visible than something it references (read-only; for the report command)."""
    today = _today()
    for model in django_apps.get_models():
        paths = getattr(model, "visibility_references", ())
        if not paths:
            continue
        queryset = model._default_manager.order_by("pk")
        if hasattr(model, "data"):
            queryset = queryset.defer("data")
        for record in queryset.iterator(chunk_size=chunk_size):
            for path, reference in hidden_references(record, today):
                yield Violation(record, path, reference)


# ----------------------------------------------------------------------------- audit history


def _referenced_models(model) -> dict[str, type]:
    """Field name → owned model, for the forward references (foreign keys, many-to-many) of `model`."""
    return {
        f.name: f.related_model for f in model._meta.get_fields()
        if f.concrete and f.is_relation and (f.many_to_one or f.one_to_one or f.many_to_many)
        and isinstance(f.related_model, type) and issubclass(f.related_model, OwnedRecord)
    }


def visible_history_rows(record, user) -> list[dict]:
    """`apps.common.audit.history_rows` of `record` as `user` may see them: a change of a reference to an owned
    record the user may not see (a foreign key's id, a many-to-many's names) reads "private record"."""
    from apps.common.audit import history_rows  # reads auditlog's model: not importable while apps load

    rows = history_rows(record)
    models_of = _referenced_models(type(record))
    changes = [c for row in rows for c in row["changes"] if c["field"] in models_of]
    if not changes:
        return rows
    ids: dict[type, set[int]] = {}
    for change in changes:
        for side in ("before", "after"):
            if isinstance(change[side], str) and change[side].isdigit():
                ids.setdefault(models_of[change["field"]], set()).add(int(change[side]))
    hidden_ids = {
        (model, obj.pk) for model, pks in ids.items()
        for obj in model._default_manager.filter(pk__in=pks) if not can_see(user, obj)
    }
    seen_names: dict[str, set[str]] = {}
    for change in changes:
        field, model = change["field"], models_of[change["field"]]
        for side in ("before", "after"):
            value = change[side]
            if isinstance(value, str) and value.isdigit() and (model, int(value)) in hidden_ids:
                change[side] = PRIVATE_LABEL
            elif isinstance(value, list):  # many-to-many: the names of the records added or removed
                if field not in seen_names:
                    seen_names[field] = {str(o) for o in getattr(record, field).all() if can_see(user, o)}
                change[side] = [v if v in seen_names[field] else PRIVATE_LABEL for v in value]
    return rows

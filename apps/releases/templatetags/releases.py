"""`{% record_panel record "separator" %}`: a record's releases, retraction banner, history and delete/retract buttons."""
from django import template

from apps.accounts.references import visible_history_rows
from apps.accounts.selectors import can_edit

from .. import selectors

register = template.Library()


@register.inclusion_tag("releases/_record_panel.html", takes_context=True)
def record_panel(context, record, kind: str):
    user = context["request"].user
    member = can_edit(record, user)
    releasable = kind in {"separator", "cell", "spectrum"}
    releases = list(selectors.releases_of_record(kind=kind, object_id=record.pk)) if releasable else []
    retraction = selectors.retraction_of(kind=kind, object_id=record.pk) if releases else None
    return {
        "record": record, "kind": kind, "member": member, "releases": releases, "retraction": retraction,
        "history": visible_history_rows(record, user) if member else [],
    }

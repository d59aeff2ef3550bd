"""Template side of "visibility follows references" (`apps.accounts.references`).

``{% load visibility %}`` then ``{% with separator=cell.separator|visible_to:request.user %}``: the
record when the viewer may see it, else None (render "private record" without details).
"""
from django import template

from apps.accounts.references import visible_reference

register = template.Library()


@register.filter
def visible_to(record, user):
    return visible_reference(user, record)

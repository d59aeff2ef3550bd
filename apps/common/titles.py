"""Human titles of coded values (element roles, arc origins; flags via `apps.common.flags`), filled by the apps that own the codes.

`apps.common` sits below every app, so it cannot import their tables; each app registers its own in
`AppConfig.ready` (`register_titles("role", {...})`; flags with `flags.register_flags`), and templates and exports read them here.
A code nobody registered is spelled out in words, never shown bare.
"""
from __future__ import annotations

from collections.abc import Mapping

from . import flags

_TITLES: dict[str, dict[str, str]] = {}


def register_titles(kind: str, titles: Mapping[str, str]) -> None:
    """Add `code → title` pairs of one kind ("flag", "role"); a later registration of a code wins."""
    _TITLES.setdefault(kind, {}).update({str(code): str(title) for code, title in titles.items()})


def titles(kind: str) -> dict[str, str]:
    """Every registered `code → title` of one kind."""
    if kind == "flag":
        return {code: flag.title for code, flag in flags.registered().items()}
    return dict(_TITLES.get(kind, {}))


def title(kind: str, code) -> str:
    """The title of a code; unknown codes read as words ("grain_boundary" → "Grain boundary"); empty stays empty.
    Flags have their titles in the flag registry (`apps.common.flags`)."""
    if code in (None, ""):
        return ""
    code = str(code)
    if kind == "flag":
        return flags.get(code).title
    return _TITLES.get(kind, {}).get(code) or code.replace("_", " ").capitalize()

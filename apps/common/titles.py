"""Human titles of coded values (flags, element roles, arc origins), filled by the apps that own the codes.

`apps.common` sits below every app, so it cannot import their tables; each app registers its own in
`AppConfig.ready` (`register_titles("flag", {...})`), and templates and exports read them here.
A code nobody registered is spelled out in words, never shown bare.
"""
from __future__ import annotations

from collections.abc import Mapping

_TITLES: dict[str, dict[str, str]] = {}


def register_titles(kind: str, titles: Mapping[str, str]) -> None:
    """Add `code → title` pairs of one kind ("flag", "role"); a later registration of a code wins."""
    _TITLES.setdefault(kind, {}).update({str(code): str(title) for code, title in titles.items()})


def titles(kind: str) -> dict[str, str]:
    """Every registered `code → title` of one kind."""
    return dict(_TITLES.get(kind, {}))


def title(kind: str, code) -> str:
    """The title of a code; unknown codes read as words ("grain_boundary" → "Grain boundary"); empty stays empty."""
    if code in (None, ""):
        return ""
    code = str(code)
    return _TITLES.get(kind, {}).get(code) or code.replace("_", " ").capitalize()

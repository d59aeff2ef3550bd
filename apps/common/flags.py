"""The one registry of quality flags: code, title a person reads, explanation, severity.

Fit flags (written by `apps.analysis` on a `FitResult`) and benchmark flags (written by
`apps.benchmarks` on a `BenchmarkEntry`) share this table. `apps.common` sits below every app, so
it cannot import their definitions: each app registers the flags it writes in `AppConfig.ready`
(`register_flags(Flag(...), ...)`), and pages, exports and the API read them here.

Severity: ``blocks_leaderboard`` keeps every number resting on it off the leaderboards (it is
shown, but marked); ``informative`` is shown with the number and changes nothing else.
Pure Python, no Django.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

BLOCKS_LEADERBOARD = "blocks_leaderboard"
INFORMATIVE = "informative"
SEVERITIES = (BLOCKS_LEADERBOARD, INFORMATIVE)


@dataclass(frozen=True)
class Flag:
    """One quality flag: ``code`` as stored, ``title`` as shown, ``explanation`` of why it matters."""

    code: str
    title: str
    explanation: str
    severity: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"flag {self.code!r}: severity must be one of {', '.join(SEVERITIES)}")
        if not (self.code and self.title and self.explanation):
            raise ValueError(f"flag {self.code!r} needs a code, a title and an explanation")

    @property
    def blocking(self) -> bool:
        return self.severity == BLOCKS_LEADERBOARD

    def as_dict(self) -> dict[str, str]:
        """What the API gives of a flag."""
        return {"code": self.code, "title": self.title, "severity": self.severity}


_FLAGS: dict[str, Flag] = {}


def register_flags(*flags: Flag) -> None:
    """Add flags to the registry; registering one code twice with different definitions is an error."""
    for flag in flags:
        known = _FLAGS.get(flag.code)
        if known is not None and known != flag:
            raise ValueError(f"flag {flag.code!r} is registered twice with different definitions")
        _FLAGS[flag.code] = flag


def registered() -> dict[str, Flag]:
    """Every registered flag by code."""
    return dict(_FLAGS)


def get(code) -> Flag:
    """The flag of a code; a code nobody registered reads as words and informs (never blocks)."""
    code = str(code)
    known = _FLAGS.get(code)
    if known is not None:
        return known
    return Flag(code, code.replace("_", " ").capitalize() or "—", "Not a registered flag.", INFORMATIVE)


def is_blocking(code) -> bool:
    return get(code).blocking


def blocking_codes() -> frozenset[str]:
    return frozenset(code for code, flag in _FLAGS.items() if flag.blocking)


def describe(codes: Iterable) -> list[dict[str, str]]:
    """``[{"code", "title", "severity"}]`` of stored codes, in their stored order."""
    return [get(code).as_dict() for code in codes or ()]

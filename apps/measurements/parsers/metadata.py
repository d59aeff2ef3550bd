"""Header metadata: dates and times as written by instruments, JSON-clean dicts.

Pure; a date that cannot be read is None rather than a guess.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

import numpy as np


def iso_datetime(day: date | None, time_text: str | None = None) -> tuple[str | None, str | None]:
    """(ISO date, ISO datetime) from a parsed date and an optional HH:MM[:SS][ AM/PM] time."""
    if day is None:
        return None, None
    if not time_text:
        return day.isoformat(), None
    text = time_text.strip()
    for pattern in ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p", "%H:%M:%S.%f"):
        try:
            t = datetime.strptime(text, pattern).time()
        except ValueError:
            continue
        return day.isoformat(), datetime.combine(day, t).isoformat()
    return day.isoformat(), None


def parse_numeric_date(text: str, *, month_first: bool = True) -> date | None:
    """A date written as M/D/Y, M-D-Y or D.M.Y (two- or four-digit year); None if invalid.

    ``month_first`` states the software's convention; an unambiguous date
    (one field > 12) is read correctly either way.
    """
    match = re.fullmatch(r"\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})\s*", text)
    if not match:
        match = re.fullmatch(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*", text)
        if match:
            try:
                return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            except ValueError:
                return None
        return None
    a, b, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
    if year < 100:
        year += 2000
    month, day = (a, b) if month_first else (b, a)
    if month > 12 and day <= 12:
        month, day = day, month
    try:
        return date(year, month, day)
    except ValueError:
        return None


def clean_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Drop empty values; keep plain JSON types only."""
    out = {}
    for key, value in metadata.items():
        if value is None or value == "":
            continue
        if isinstance(value, float) and not math.isfinite(value):
            continue
        if isinstance(value, (np.floating, np.integer)):
            value = value.item()
        out[key] = value
    return out

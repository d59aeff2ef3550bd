"""Spectra from table rows: point validation, repeated-frequency checks, freezing.

Pure; rows in, :class:`~.core.ParsedSpectrum` out or a ParseError naming the point.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .core import MIN_POINTS, Context, ParsedSpectrum
from .numeric import plain_number
from .tables import Rows


def build_spectrum(
    ctx: Context,
    rows: Rows,
    *,
    metadata: dict[str, Any],
    fmt: str,
    index: int,
    table_line: int | None = None,
) -> ParsedSpectrum:
    """Validate points and freeze them into a ParsedSpectrum.

    Rejects non-finite values, frequencies <= 0, a frequency measured more
    than once in one sweep (see :func:`check_repeated_frequencies`) and
    spectra of fewer than five points.
    """
    if len(rows) == 0:
        raise ctx.error("no data points found", line=table_line)
    freq = np.asarray(rows.freq, dtype=np.float64)
    z = np.asarray(rows.z, dtype=np.complex128)
    lines = rows.lines
    for i in range(len(freq)):
        line = lines[i] if i < len(lines) else None
        if not math.isfinite(freq[i]):
            raise ctx.error("non-finite frequency", line=line, field="frequency")
        if freq[i] <= 0:
            raise ctx.error(f"frequency must be > 0, found {float(freq[i])!r}", line=line, field="frequency")
        if not (math.isfinite(z[i].real) and math.isfinite(z[i].imag)):
            raise ctx.error("non-finite impedance value", line=line, field="impedance")
    check_repeated_frequencies(ctx, rows)
    metadata = dict(metadata)
    if len(freq) < MIN_POINTS:
        line = lines[0] if lines else table_line
        raise ctx.error(
            f"spectrum {index + 1} has only {len(freq)} data point{'s' if len(freq) != 1 else ''}; "
            f"at least {MIN_POINTS} are needed",
            line=line,
        )
    freq = np.ascontiguousarray(freq)
    z = np.ascontiguousarray(z)
    freq.setflags(write=False)
    z.setflags(write=False)
    return ParsedSpectrum(
        frequencies_hz=freq,
        impedance_ohm=z,
        metadata=metadata,
        format=fmt,
        index=index,
        source_line=lines[0] if lines else table_line,
    )


def repeated_frequencies(rows: Rows) -> list[tuple[int, int]]:
    """(index of the repeat, index of the first point) for every exact repeat of an earlier frequency."""
    first_seen: dict[float, int] = {}
    repeats = []
    for i, f in enumerate(rows.freq):
        if f in first_seen:
            repeats.append((i, first_seen[f]))
        else:
            first_seen[f] = i
    return repeats


def check_repeated_frequencies(ctx: Context, rows: Rows, *, shown: int = 5) -> None:
    """Refuse a sweep that measures a frequency more than once, naming every repeat.

    None of the supported formats documents repeated frequencies inside one
    sweep (repeated sweeps are split into spectra before this check), so a
    repeat means a merged, edited or corrupted file: which of the points is
    right cannot be told from the file. The error lists the lines of the
    repeats (``ParseError.lines``) - or their record numbers in a binary file
    (``ParseError.points``) - and says which earlier point each repeats.
    """
    repeats = repeated_frequencies(rows)
    if not repeats:
        return
    use_lines = len(rows.lines) == len(rows.freq)
    use_points = not use_lines and len(rows.points) == len(rows.freq)
    where = rows.lines if use_lines else rows.points if use_points else list(range(1, len(rows.freq) + 1))
    word = "line" if use_lines else "point"
    pairs = [
        f"{word} {where[i]} repeats {float(rows.freq[i]):g} Hz of {word} {where[j]}" for i, j in repeats[:shown]
    ]
    more = f" and {len(repeats) - shown} more" if len(repeats) > shown else ""
    located = tuple(where[i] for i, _ in repeats)
    raise ctx.error(
        f"frequency measured more than once in one sweep ({'; '.join(pairs)}{more}); "
        "keep one point per frequency or split the sweeps into separate spectra",
        line=located[0] if use_lines else None,
        field="frequency",
        lines=located if use_lines else (),
        points=located if not use_lines else (),
    )


def build_spectra(
    ctx: Context,
    parts: Sequence[Rows],
    *,
    metadata: dict[str, Any],
    fmt: str,
    table_line: int | None = None,
    cycle_key: str | None = None,
) -> list[ParsedSpectrum]:
    """One ParsedSpectrum per non-empty part, indexed in file order."""
    spectra = []
    parts = [p for p in parts if len(p)]
    if not parts:
        raise ctx.error("no data points found", line=table_line)
    for index, part in enumerate(parts):
        meta = dict(metadata)
        if cycle_key and part.extra.get(cycle_key):
            meta["cycle"] = plain_number(part.extra[cycle_key][0])
        spectra.append(build_spectrum(ctx, part, metadata=meta, fmt=fmt, index=index, table_line=table_line))
    return spectra

"""Numeric tables: rows read under a header, split into sweeps or cycles.

Pure; every row is checked against the header width and the file's dialect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from .columns import ColumnRole
from .core import Context
from .dialect import ALL_DELIMITERS, DELIMITER_NAMES, Dialect, detect_dialect
from .numeric import to_float


@dataclass
class Rows:
    """Numeric data read from a table: one entry per point."""

    lines: list[int] = field(default_factory=list)
    freq: list[float] = field(default_factory=list)
    z: list[complex] = field(default_factory=list)
    extra: dict[str, list[float]] = field(default_factory=dict)
    points: list[int] = field(default_factory=list)  # 1-based record numbers (binary files, which have no lines)

    def __len__(self) -> int:
        return len(self.freq)


def read_rows(
    ctx: Context,
    data_lines: Sequence[tuple[int, str]],
    names: Sequence[str],
    roles: dict[str, tuple[int, ColumnRole]],
    *,
    dialect: Dialect | None = None,
    delimiters: Sequence[str | None] = ALL_DELIMITERS,
    extra_columns: dict[str, int] | None = None,
    skip_zero_frequency: bool = False,
) -> Rows:
    """Read numeric rows under a header; every row must have one cell per header name.

    Without an explicit ``dialect`` the delimiter (one of ``delimiters``) and
    the decimal separator are decided from the rows themselves, see
    :func:`detect_dialect`. ``extra_columns`` maps a name to a column position
    to keep as float (e.g. a cycle number); ``skip_zero_frequency`` drops rows
    at 0 Hz (the DC part some instruments write into the same table).
    """
    width = len(names)
    if dialect is None:
        dialect = detect_dialect([text for _, text in data_lines], width=width, delimiters=delimiters)
        dialect = dialect or Dialect(delimiters[0])
    mode = "cartesian" if "real" in roles and "imag" in roles else "polar"
    rows = Rows()
    extra_columns = extra_columns or {}
    for key in extra_columns:
        rows.extra[key] = []
    f_pos, f_role = roles["freq"]
    if mode == "cartesian":
        a_pos, a_role = roles["real"]
        b_pos, b_role = roles["imag"]
    else:
        a_pos, a_role = roles["mod"]
        b_pos, b_role = roles["phase"]
    for number, text in data_lines:
        cells = dialect.cells(text)
        if len(cells) != width:
            hint = " (file truncated?)" if len(cells) < width else ""
            raise ctx.error(
                f"expected {width} values separated by {DELIMITER_NAMES[dialect.delimiter]}, "
                f"found {len(cells)}{hint}",
                line=number,
            )

        def num(pos: int) -> float:
            return to_float(
                cells[pos], ctx, line=number, column=names[pos].strip(), decimal_comma=dialect.decimal_comma
            )

        f = num(f_pos) * f_role.scale
        if skip_zero_frequency and f == 0.0:
            continue
        a = num(a_pos) * a_role.scale * a_role.sign
        b = num(b_pos) * b_role.scale * b_role.sign
        if mode == "cartesian":
            z = complex(a, b)
        else:
            phase = b if b_role.radians else math.radians(b)
            z = complex(a * math.cos(phase), a * math.sin(phase))
        rows.lines.append(number)
        rows.freq.append(f)
        rows.z.append(z)
        for key, pos in extra_columns.items():
            rows.extra[key].append(num(pos))
    return rows


def split_by_values(rows: Rows, key: str) -> list[Rows]:
    """Split points where the value of column ``key`` (e.g. cycle number) changes."""
    values = rows.extra.get(key)
    if not values:
        return [rows]
    parts: list[Rows] = []
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[i - 1]:
            parts.append(_slice(rows, start, i))
            start = i
    return parts


def split_sweeps(rows: Rows) -> list[Rows]:
    """Split a table holding several frequency sweeps where the frequency jumps back.

    A new sweep starts where the sweep direction reverses by more than a
    factor 1.5 (restart of a descending sweep at high frequency, or of an
    ascending one at low frequency); small jitter does not split.
    """
    f = rows.freq
    if len(f) < 3:
        return [rows]
    parts: list[Rows] = []
    start = 0
    direction = 0
    for i in range(1, len(f)):
        prev, cur = f[i - 1], f[i]
        if prev <= 0 or cur <= 0 or cur == prev:
            continue
        step = 1 if cur > prev else -1
        if direction == 0:
            direction = step
            continue
        ratio = cur / prev if step > 0 else prev / cur
        if step != direction and ratio > 1.5:
            parts.append(_slice(rows, start, i))
            start = i
            direction = 0
    parts.append(_slice(rows, start, len(f)))
    return parts


def _slice(rows: Rows, start: int, stop: int) -> Rows:
    return Rows(
        lines=rows.lines[start:stop],
        freq=rows.freq[start:stop],
        z=rows.z[start:stop],
        extra={k: v[start:stop] for k, v in rows.extra.items()},
        points=rows.points[start:stop],
    )

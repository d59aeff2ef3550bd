"""Shared building blocks of the instrument-file parsers.

Everything here is pure: bytes or text in, numpy arrays and plain dicts out.
Every failure is reported as :class:`ParseError` naming the file, the line
(1-based, where one applies) and the reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, Sequence

import numpy as np

MIN_POINTS = 5


class ParseError(ValueError):
    """A file could not be turned into spectra.

    ``str()`` reads ``<filename>, line <n>: <reason>``; the line part is left
    out when the problem is not tied to one line.
    """

    def __init__(
        self,
        reason: str,
        *,
        filename: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.filename = filename
        self.line = line
        self.field = field
        super().__init__(self._message())

    def _message(self) -> str:
        where = self.filename or "<bytes>"
        if self.line is not None:
            where = f"{where}, line {self.line}"
        return f"{where}: {self.reason}"

    def __str__(self) -> str:
        return self._message()

    def __reduce__(self):  # keep the attributes through pickling (Celery results)
        return (_rebuild_parse_error, (self.reason, self.filename, self.line, self.field))


def _rebuild_parse_error(reason, filename, line, field):
    return ParseError(reason, filename=filename, line=line, field=field)


@dataclass(frozen=True, eq=False)
class ParsedSpectrum:
    """One impedance spectrum read from an instrument file.

    ``impedance_ohm`` is Z = Z' + jZ'' in the physics convention: the sign
    flip of instruments that report -Z'' has been undone, so capacitive arcs
    have a negative imaginary part.
    """

    frequencies_hz: np.ndarray
    impedance_ohm: np.ndarray
    metadata: dict[str, Any]
    format: str
    index: int = 0
    source_line: int | None = None

    def __len__(self) -> int:
        return len(self.frequencies_hz)


@dataclass
class Context:
    """The file being parsed: its name (for messages) and an error factory."""

    filename: str | None

    def error(self, reason: str, *, line: int | None = None, field: str | None = None) -> ParseError:
        return ParseError(reason, filename=self.filename, line=line, field=field)


# --------------------------------------------------------------------------- text

_CONTROL = set(range(0, 32)) - {9, 10, 12, 13}


def decode_text(data: bytes, ctx: Context) -> str:
    """Decode an instrument text export: UTF-8 (BOM stripped), else Latin-1.

    UTF-16 and binary content are refused: instrument exports we support are
    single-byte text, and guessing further hides corrupted uploads.
    """
    if not data.strip():
        raise ctx.error("file is empty")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or _looks_utf16(data):
        raise ctx.error("file is UTF-16 encoded; re-export it as UTF-8, ASCII or Latin-1 text")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    sample = data[:65536]
    controls = sum(1 for b in sample if b in _CONTROL)
    if b"\x00" in sample or controls > max(2, len(sample) // 100):
        raise ctx.error("file is binary, not a text export of a supported instrument")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _looks_utf16(data: bytes) -> bool:
    sample = data[:4096]
    if len(sample) < 4:
        return False
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    half = len(sample) // 2
    return max(even_nuls, odd_nuls) > 0.3 * half


def split_lines(text: str) -> list[str]:
    """Split on LF, CRLF, CR and the CR CR LF some Windows tools write."""
    text = text.replace("\r\r\n", "\n").replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


# ------------------------------------------------------------------------ numbers

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity|1\.#inf|1\.#ind|1\.#qnan)", re.IGNORECASE)


def to_float(cell: str, ctx: Context, *, line: int | None, column: str, decimal_comma: bool = False) -> float:
    """Convert one table cell to a finite float, or raise a ParseError naming it."""
    text = cell.strip().strip('"').strip()
    if decimal_comma:
        text = text.replace(",", ".")
    if _NUMBER.fullmatch(text):
        value = float(text)
        if math.isfinite(value):
            return value
        raise ctx.error(f"value {text!r} in column {column!r} overflows a float", line=line, field=column)
    if _NON_FINITE.fullmatch(text):
        raise ctx.error(f"non-finite value {text!r} in column {column!r}", line=line, field=column)
    if not text:
        raise ctx.error(f"empty cell in column {column!r}", line=line, field=column)
    raise ctx.error(f"non-numeric value {_short(text)!r} in column {column!r}", line=line, field=column)


def is_number(cell: str) -> bool:
    return bool(_NUMBER.fullmatch(cell.strip().strip('"').strip()))


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_number_or_none(text: str) -> float | None:
    """A number stated in a header, or None when the text is not one."""
    text = text.strip()
    if _NUMBER.fullmatch(text):
        value = float(text)
        return value if math.isfinite(value) else None
    return None


def plain_number(value: float) -> int | float:
    """Header values like 1.00000E+001 read back as 10 rather than 10.0 when integral."""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


# ---------------------------------------------------------------- column names

_OHM = "(?:\u03a9|\u2126|[oO]hms?|OHMS?)"
_UNIT_GROUP = re.compile(r"\s*(?:/\s*([^/()\[\]]+)|\(([^()]*)\)|\[([^\[\]]*)\])\s*$")
_UNIT_WORD = re.compile(
    rf"^\s*(?:[kmMGµu]?{_OHM}(?:\s*cm2|\s*cm²)?|[kmM]?hz|deg|degrees?|°|rad|s|sec|v|a|ma|µa|[ab])\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ColumnRole:
    """What a column holds: ``kind`` in freq/real/imag/mod/phase, its sign and scale to SI."""

    kind: str
    sign: float = 1.0
    scale: float = 1.0
    radians: bool = False


def _unit_scale(name: str) -> float:
    """Multiplier to ohm or hertz from the unit written in a column name."""
    match = re.search(rf"(?<![A-Za-z])([kmMGµu]?)(?:{_OHM})", name)
    if match:
        return {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "m": 1e-3, "µ": 1e-6, "u": 1e-6}[match.group(1)]
    match = re.search(r"(?<![A-Za-z])([kmM]?)(?:Hz|hz|HZ)", name)
    if match:
        return {"": 1.0, "k": 1e3, "M": 1e6, "m": 1e-3}[match.group(1)]
    return 1.0


def unquote(text: str) -> str:
    """Text without surrounding whitespace and one pair of matching quotes."""
    text = text.strip()
    for quote in ('"', "'"):
        if len(text) >= 2 and text[0] == quote and text[-1] == quote:
            return text[1:-1].strip()
    return text


def column_base(name: str) -> str:
    """Column name without quotes, units, spaces and underscores, lower-cased."""
    base = unquote(name)
    for _ in range(2):
        match = _UNIT_GROUP.search(base)
        if not match:
            break
        unit = next(g for g in match.groups() if g is not None)
        if not _UNIT_WORD.match(unit):
            break
        base = base[: match.start()]
    base = base.replace("’", "'").replace("″", "''").replace("−", "-")
    return re.sub(r"[\s_]+", "", base).lower()


_FREQ = {"freq", "frequency", "f", "freq.", "frequencyhz", "fhz"}
_REAL = {"z'", "zre", "zreal", "re(z)", "rez", "zr", "z'(a)", "realz", "z_real", "zrealohm", "real", "re"}
_IMAG = {
    "z''", 'z"', "zim", "zimag", "zimg", "im(z)", "imz", "zi", "z''(b)", "imagz", "imag", "im",
    "zimagohm", "zimaginary",
}
_MOD = {"|z|", "zmod", "mod(z)", "z", "modz", "|z|mod", "zmag", "zmodulus", "magnitude"}
_PHASE = {"phase", "phase(z)", "zphz", "zphase", "phasez", "theta", "phi", "phaseangle"}


def classify_column(name: str) -> ColumnRole | None:
    """Role of a column from its header name, or None when it is not needed.

    Handles ``-Z''`` / ``-Im(Z)`` (sign undone), Ω / kΩ / mΩ scales and phase
    in degrees unless the unit says radians.
    """
    base = column_base(name)
    sign = 1.0
    if base.startswith("-"):
        sign, base = -1.0, base[1:]
    scale = _unit_scale(name)
    if base in _FREQ:
        return ColumnRole("freq", 1.0, scale)
    if base in _REAL:
        return ColumnRole("real", sign, scale)
    if base in _IMAG:
        return ColumnRole("imag", sign, scale)
    if base in _MOD:
        return ColumnRole("mod", 1.0, scale)
    if base in _PHASE:
        return ColumnRole("phase", sign, 1.0, radians="rad" in name.lower())
    return None


def find_roles(names: Sequence[str]) -> dict[str, tuple[int, ColumnRole]]:
    """First column of each role among ``names``."""
    roles: dict[str, tuple[int, ColumnRole]] = {}
    for position, name in enumerate(names):
        role = classify_column(name)
        if role is not None and role.kind not in roles:
            roles[role.kind] = (position, role)
    return roles


def require_roles(
    roles: dict[str, tuple[int, ColumnRole]], ctx: Context, *, line: int | None, expected_freq: str = "a frequency column"
) -> str:
    """Check the header gives frequency and either Z'/Z'' or |Z|/phase; returns 'cartesian' or 'polar'."""
    if "freq" not in roles:
        raise ctx.error(f"no frequency column (expected {expected_freq})", line=line, field="frequency")
    if "real" in roles and "imag" in roles:
        return "cartesian"
    if "mod" in roles and "phase" in roles:
        return "polar"
    if "real" in roles:
        raise ctx.error("no imaginary-impedance column (expected Z'' or Im(Z))", line=line, field="z_imag")
    if "imag" in roles:
        raise ctx.error("no real-impedance column (expected Z' or Re(Z))", line=line, field="z_real")
    raise ctx.error("no impedance columns (expected Z'/Z'' or |Z|/phase)", line=line, field="impedance")


# ------------------------------------------------------------------------ tables

@dataclass
class Rows:
    """Numeric data read from a table: one entry per point."""

    lines: list[int] = field(default_factory=list)
    freq: list[float] = field(default_factory=list)
    z: list[complex] = field(default_factory=list)
    extra: dict[str, list[float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.freq)


def split_cells(line: str, delimiter: str | None) -> list[str]:
    """Cells of one line; ``None`` splits on runs of whitespace. Trailing empty cells are dropped."""
    if delimiter is None:
        return line.split()
    cells = [c.strip() for c in line.split(delimiter)]
    while cells and cells[-1] == "":
        cells.pop()
    return cells


def read_rows(
    ctx: Context,
    data_lines: Iterable[tuple[int, str]],
    names: Sequence[str],
    roles: dict[str, tuple[int, ColumnRole]],
    *,
    delimiter: str | None,
    decimal_comma: bool = False,
    extra_columns: dict[str, int] | None = None,
    skip_row=None,
) -> Rows:
    """Read numeric rows under a header; every row must have one cell per header name.

    ``extra_columns`` maps a name to a column position to keep as float (e.g. a
    cycle number); ``skip_row(cells, line)`` may drop rows that are not impedance points.
    """
    mode = "cartesian" if "real" in roles and "imag" in roles else "polar"
    width = len(names)
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
        cells = split_cells(text, delimiter)
        if len(cells) != width:
            hint = " (file truncated?)" if len(cells) < width else ""
            raise ctx.error(f"expected {width} values, found {len(cells)}{hint}", line=number)
        if skip_row is not None and skip_row(cells, number):
            continue

        def num(pos: int) -> float:
            return to_float(cells[pos], ctx, line=number, column=names[pos].strip(), decimal_comma=decimal_comma)

        f = num(f_pos) * f_role.scale
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


# -------------------------------------------------------------------- spectra

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
    )


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

    Rejects non-finite values, frequencies <= 0 and spectra of fewer than
    five points; removes exact repeats of an earlier frequency (first kept)
    and records how many in ``metadata['duplicates_removed']``.
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
    _, first = np.unique(freq, return_index=True)
    keep = np.sort(first)
    metadata = dict(metadata)
    removed = len(freq) - len(keep)
    if removed:
        freq, z = freq[keep], z[keep]
        metadata["duplicates_removed"] = int(removed) + int(metadata.get("duplicates_removed", 0))
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


# ----------------------------------------------------------------------- dates

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

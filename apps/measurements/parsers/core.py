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
from typing import Any, Sequence

import numpy as np

MIN_POINTS = 5


class ParseError(ValueError):
    """A file could not be turned into spectra.

    ``str()`` reads ``<filename>, line <n>: <reason>``; the line part is left
    out when the problem is not tied to one line. ``lines`` (text files) or
    ``points`` (binary files, 1-based record numbers) list every place the
    problem occurs when there are several, e.g. each repeat of a frequency.
    """

    def __init__(
        self,
        reason: str,
        *,
        filename: str | None = None,
        line: int | None = None,
        field: str | None = None,
        lines: tuple[int, ...] = (),
        points: tuple[int, ...] = (),
    ) -> None:
        self.reason = reason
        self.filename = filename
        self.line = line
        self.field = field
        self.lines = tuple(lines)
        self.points = tuple(points)
        super().__init__(self._message())

    def _message(self) -> str:
        where = self.filename or "<bytes>"
        if self.line is not None:
            where = f"{where}, line {self.line}"
        return f"{where}: {self.reason}"

    def __str__(self) -> str:
        return self._message()

    def __reduce__(self):  # keep the attributes through pickling (Celery results)
        return (_rebuild_parse_error, (self.reason, self.filename, self.line, self.field, self.lines, self.points))


def _rebuild_parse_error(reason, filename, line, field, lines=(), points=()):
    return ParseError(reason, filename=filename, line=line, field=field, lines=lines, points=points)


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

    def error(
        self,
        reason: str,
        *,
        line: int | None = None,
        field: str | None = None,
        lines: tuple[int, ...] = (),
        points: tuple[int, ...] = (),
    ) -> ParseError:
        return ParseError(reason, filename=self.filename, line=line, field=field, lines=lines, points=points)


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
    """Convert one table cell to a finite float, or raise a ParseError naming it.

    With ``decimal_comma`` the cell must write its decimal separator as a
    comma (``1,9999814E+005``); a decimal point there means the file mixes
    conventions, which is refused rather than guessed.
    """
    text = cell.strip().strip('"').strip()
    if decimal_comma:
        if "." in text and _NUMBER.fullmatch(text):
            raise ctx.error(
                f"value {_short(text)!r} in column {column!r} has a decimal point, but this file writes "
                "decimal commas",
                line=line,
                field=column,
            )
        text = text.replace(",", ".", 1) if text.count(",") == 1 else text
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


def is_number(cell: str, *, decimal_comma: bool = False) -> bool:
    """Whether a cell is one number written with a decimal point (or, with ``decimal_comma``, a comma)."""
    text = cell.strip().strip('"').strip()
    if decimal_comma:
        if "." in text or text.count(",") > 1:
            return False
        text = text.replace(",", ".")
    return bool(_NUMBER.fullmatch(text))


# ---------------------------------------------------------------- dialects

DELIMITER_NAMES = {"\t": "tabs", ";": "semicolons", ",": "commas", None: "whitespace"}
ALL_DELIMITERS: tuple[str | None, ...] = ("\t", ";", ",", None)


@dataclass(frozen=True)
class Dialect:
    """How a file writes its numeric rows: the cell delimiter (None: runs of
    whitespace) and whether decimals are written with a comma."""

    delimiter: str | None
    decimal_comma: bool = False

    def cells(self, line: str) -> list[str]:
        return split_cells(line, self.delimiter)


def numeric_cells(line: str, dialect: Dialect, width: int | None = None) -> list[str] | None:
    """Cells of ``line`` when every one is a number in ``dialect`` (and there are ``width`` of them)."""
    cells = dialect.cells(line)
    if len(cells) < 2 or (width is not None and len(cells) != width):
        return None
    if all(is_number(c, decimal_comma=dialect.decimal_comma) for c in cells):
        return cells
    return None


def candidate_dialects(delimiters: Sequence[str | None] = ALL_DELIMITERS) -> list[Dialect]:
    """Dialects to try, in order of preference: decimal point before decimal comma, delimiters as given.

    A comma cannot be both the delimiter and the decimal separator.
    """
    found = [Dialect(d, False) for d in delimiters]
    found += [Dialect(d, True) for d in delimiters if d != ","]
    return found


def detect_dialect(
    lines: Sequence[str],
    *,
    width: int | None = None,
    delimiters: Sequence[str | None] = ALL_DELIMITERS,
    sample: int = 50,
) -> Dialect | None:
    """The dialect in which most of the first ``sample`` data lines read as numbers.

    Decided per file by evidence: every candidate delimiter / decimal
    separator is tried on each line, and the one under which the most lines
    split into the same number of cells (``width`` when the header gives it)
    that all parse as numbers wins; ties go to the earlier candidate of
    :func:`candidate_dialects`. A comma-delimited file with decimal points
    and a semicolon file with decimal commas are therefore both read right,
    and a line that fits no candidate (a corrupted cell) does not sway the
    choice: it is reported when the rows are read. None when no line fits.
    """
    sample_lines = [line for line in lines[:sample] if line.strip()]
    best: tuple[int, Dialect] | None = None
    for dialect in candidate_dialects(delimiters):
        counts: dict[int, int] = {}
        for line in sample_lines:
            cells = numeric_cells(line, dialect, width)
            if cells is not None:
                counts[len(cells)] = counts.get(len(cells), 0) + 1
        score = max(counts.values(), default=0)
        if score and (best is None or score > best[0]):
            best = (score, dialect)
    return best[1] if best else None


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


# Base names (see column_base) of every naming a maintained reader or an
# instrument export is known to use: EC-Lab ``freq/Hz``, ``Re(Z)/Ohm``,
# ``-Im(Z)/Ohm``; Nova ``Z' (Ω)``, ``-Z'' (Ω)``; ZPlot ``Z'(a)``; Gamry
# ``Zreal``/``Zimag``/``Zmod``/``Zphz``; VersaStudio ``Z Real``; impedance
# analysers' series-equivalent ``Zs'``/``Zs''``; generic ``Z_real``, ``Zre``,
# ``Re Z`` ... Units may follow in brackets, parentheses or after a slash.
_FREQ = {"freq", "frequency", "f", "freq.", "frequencyhz", "fhz", "freqhz"}
_REAL = {
    "z'", "zre", "zreal", "re(z)", "rez", "zr", "z'(a)", "realz", "zrealohm", "real", "re",
    "zs'", "re(zs)", "realpart", "zrealpart", "rezohm", "zreohm",
}
_IMAG = {
    "z''", 'z"', "zim", "zimag", "zimg", "im(z)", "imz", "zi", "z''(b)", "imagz", "imag", "im",
    "zimagohm", "zimaginary", "zs''", 'zs"', "im(zs)", "imaginarypart", "zimagpart", "imzohm", "zimohm",
}
_MOD = {"|z|", "zmod", "mod(z)", "z", "modz", "|z|mod", "zmag", "zmodulus", "magnitude", "abs(z)", "zabs", "|z|ohm"}
_PHASE = {"phase", "phase(z)", "zphz", "zphase", "phasez", "theta", "phi", "phaseangle", "θ", "φ", "phase(z)deg"}


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


def has_spectrum_columns(names: Sequence[str]) -> bool:
    """Whether column names give a frequency and either Z'/Z'' or |Z|/phase."""
    roles = find_roles(names)
    return "freq" in roles and (("real" in roles and "imag" in roles) or ("mod" in roles and "phase" in roles))


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
    points: list[int] = field(default_factory=list)  # 1-based record numbers (binary files, which have no lines)

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
        points=rows.points[start:stop],
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

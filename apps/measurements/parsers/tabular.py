"""Delimited tables: generic CSV/TSV/semicolon/whitespace files and the
instrument exports that are just a table with a header row.

Dialects recognised from the header names (content, not the file name):
``biologic-txt`` (EC-Lab "Export as text"), ``parstat-text`` (PAR Parstat),
``powersuite-text`` (PowerSuite), ``autolab-nova`` (Metrohm Nova ASCII
export), ``assbdb-csv`` (our own export) and ``csv`` for anything else with
recognisable columns, or a headerless three-column f, Z', Z'' table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .columns import classify_column, find_roles, require_roles, unquote
from .core import Context, ParsedSpectrum, split_lines
from .dialect import (
    ALL_DELIMITERS,
    DELIMITER_NAMES,
    Dialect,
    candidate_dialects,
    detect_dialect,
    numeric_cells,
    split_cells,
)
from .spectra import build_spectra
from .tables import read_rows, split_sweeps

ASSBDB_HEADER = ("frequency_hz", "z_real_ohm", "z_imag_ohm")
ASSBDB_COMMENT = "# assbdb"
ASSBDB_MARKER = "# assbdb-spectrum"
HEADERLESS_NAMES = ("f", "Z'", "Z''")



@dataclass
class Table:
    fmt: str
    names: list[str]
    header_line: int | None
    data: list[tuple[int, str]]
    dialect: Dialect
    comment_metadata: dict[str, Any]
    is_assbdb: bool


def _split_header(line: str, delimiter: str | None, width: int) -> list[str] | None:
    options = [split_cells(line, delimiter)]
    if delimiter is None:
        options.insert(0, [c for c in re.split(r"\t|\s{2,}", line.strip()) if c])
    for cells in options:
        cells = [unquote(c) for c in cells]
        if len(cells) == width:
            return cells
    return None


def _comment_metadata(ctx: Context, number: int, line: str) -> dict[str, Any]:
    """``# assbdb key=<JSON value>`` lines written by :func:`export.to_csv`."""
    body = line[len(ASSBDB_COMMENT):].strip()
    if "=" not in body:
        return {}
    key, _, value = body.partition("=")
    try:
        return {key.strip(): json.loads(value)}
    except ValueError:
        raise ctx.error(f"metadata value of {key.strip()!r} is not valid JSON", line=number) from None


def locate_table(ctx: Context, lines: list[str]) -> Table:
    """Find delimiter, header and data rows of a delimited table."""
    meaningful: list[tuple[int, str]] = []
    metadata: dict[str, Any] = {}
    is_assbdb = False
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            if stripped.startswith(ASSBDB_MARKER):
                is_assbdb = True
            elif stripped.startswith(ASSBDB_COMMENT + " "):
                metadata.update(_comment_metadata(ctx, number, stripped))
            continue
        meaningful.append((number, line))
    if not meaningful:
        raise ctx.error("unrecognised file format: no data table found")

    dialects = candidate_dialects()
    start = next(
        (i for i, (_, line) in enumerate(meaningful) if any(numeric_cells(line, d) for d in dialects)), None
    )
    if start is None:
        raise ctx.error("unrecognised file format: no known instrument header and no numeric data table")
    dialect = detect_dialect([line for _, line in meaningful[start:]]) or Dialect(ALL_DELIMITERS[0])
    # the rows start at the first line that is numeric in the dialect the rows agree on
    position = next(
        (i for i in range(start, len(meaningful)) if numeric_cells(meaningful[i][1], dialect) is not None), start
    )
    width = len(dialect.cells(meaningful[position][1]))
    delimiter = dialect.delimiter
    data = meaningful[position:]

    names: list[str] | None = None
    header_line: int | None = None
    if position > 0:
        number, candidate = meaningful[position - 1]
        names = _split_header(candidate, delimiter, width)
        header_line = number
        if names is None:
            # A column-name line that does not fit the rows must not be skipped as preamble.
            for other in ALL_DELIMITERS:
                found = split_cells(candidate, other)
                if len(found) >= 2 and any(classify_column(c) for c in found):
                    raise ctx.error(
                        f"column names do not line up with the data rows (line {data[0][0]} has {width} values "
                        f"separated by {DELIMITER_NAMES[delimiter]})",
                        line=number,
                    )
            header_line = None
    if names is None:
        if width != 3:
            raise ctx.error(
                f"no header row; a table without one must have exactly 3 columns (f, Z', Z''), found {width}",
                line=data[0][0],
            )
        names = list(HEADERLESS_NAMES)

    fmt = _dialect(names, is_assbdb)
    return Table(fmt, names, header_line, data, dialect, metadata, is_assbdb)


def _dialect(names: list[str], is_assbdb: bool) -> str:
    stripped = [n.strip() for n in names]
    if is_assbdb and tuple(stripped) == ASSBDB_HEADER:
        return "assbdb-csv"
    if "freq/Hz" in stripped and any(n.startswith("Re(Z)") for n in stripped):
        return "biologic-txt"
    if "Frequency (Hz)" in stripped and "Zre (ohms)" in stripped and "Zim (ohms)" in stripped:
        return "parstat-text"
    if stripped == ["Frequency", "Zre", "Zimg"]:
        return "powersuite-text"
    if "Frequency (Hz)" in stripped and any(n.replace(" ", "") in ("-Z''(Ω)", "-Z''(\u2126)") for n in stripped):
        return "autolab-nova"
    return "csv"


_DIALECT_METADATA = {
    "biologic-txt": {"instrument": "BioLogic", "software": "EC-Lab"},
    "parstat-text": {"instrument": "Princeton Applied Research Parstat"},
    "powersuite-text": {"software": "PowerSuite"},
    "autolab-nova": {"instrument": "Metrohm Autolab", "software": "NOVA"},
}


def parse_table(ctx: Context, text: str) -> list[ParsedSpectrum]:
    """Spectra from a delimited table; several sweeps in one table are split where the frequency restarts."""
    table = locate_table(ctx, split_lines(text))
    roles = find_roles(table.names)
    require_roles(roles, ctx, line=table.header_line)
    rows = read_rows(
        ctx,
        table.data,
        table.names,
        roles,
        dialect=table.dialect,
        # Parstat files hold the DC part of the experiment too, with frequency 0.
        skip_zero_frequency=table.fmt == "parstat-text",
    )
    if table.fmt == "assbdb-csv":
        metadata = dict(table.comment_metadata)
        parts = [rows]
    else:
        metadata = {"format": table.fmt, **_DIALECT_METADATA.get(table.fmt, {})}
        parts = split_sweeps(rows)
    return build_spectra(ctx, parts, metadata=metadata, fmt=table.fmt, table_line=table.header_line)

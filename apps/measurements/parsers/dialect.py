"""Numeric dialects: the cell delimiter and decimal separator of a file's rows.

Pure; decided per file from the rows themselves (see :func:`detect_dialect`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .numeric import is_number


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


def split_cells(line: str, delimiter: str | None) -> list[str]:
    """Cells of one line; ``None`` splits on runs of whitespace. Trailing empty cells are dropped."""
    if delimiter is None:
        return line.split()
    cells = [c.strip() for c in line.split(delimiter)]
    while cells and cells[-1] == "":
        cells.pop()
    return cells

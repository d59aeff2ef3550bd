"""Numbers in instrument files: table cells to finite floats, header values.

Pure; failures are :class:`~.core.ParseError` naming the cell, column and line.
"""

from __future__ import annotations

import math
import re

from .core import Context


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

"""Shared result types, errors and text decoding of the instrument-file parsers.

Everything here is pure: bytes or text in, numpy arrays and plain dicts out.
Every failure is reported as :class:`ParseError` naming the file, the line
(1-based, where one applies) and the reason. The rest of the shared machinery
lives beside this module, one noun each: ``numeric`` (cells to floats),
``dialect`` (delimiters and decimal commas), ``columns`` (header-name
classifier), ``tables`` (rows, sweeps), ``spectra`` (point checks, repeated
frequencies) and ``metadata`` (dates, JSON-clean dicts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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

"""Instrument-file parsers: bytes in, impedance spectra and metadata out.

Pure Python + numpy, no Django. Public API::

    parse(source, filename=None) -> list[ParsedSpectrum]
    detect_format(data, filename=None) -> str
    FORMATS                       # format id -> FileFormat
    to_csv(spectrum) / to_json(spectrum) -> str
    ParseError, ParsedSpectrum, PARSER_VERSION

The format is recognised from the content; the file name is used only in
messages (and to say what a misnamed file looked like). Every failure is a
:class:`ParseError` naming the file, the line where one applies, and why;
``ParseError.lines`` / ``.points`` list every place when there are several
(e.g. each repeat of a frequency, which is refused in every format).

Text formats are read whatever delimiter (tab, semicolon, comma, spaces)
and decimal separator (point or comma) the file uses, decided from its rows
(``core.detect_dialect``); column names are recognised by one function,
``core.classify_column``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Union

from . import biologic, chi, export, gamry, tabular, versastudio, zplot
from .core import Context, ParsedSpectrum, ParseError, decode_text
from .export import to_csv, to_json

PARSER_VERSION = "1.1.0"

__all__ = [
    "FORMATS",
    "PARSER_VERSION",
    "FileFormat",
    "ParseError",
    "ParsedSpectrum",
    "detect_format",
    "parse",
    "to_csv",
    "to_json",
]


@dataclass(frozen=True)
class FileFormat:
    """One supported file format: id, a human label and the extensions it usually has."""

    id: str
    label: str
    extensions: tuple[str, ...]
    binary: bool = False


FORMATS: dict[str, FileFormat] = {
    f.id: f
    for f in (
        FileFormat("gamry-dta", "Gamry Framework DTA (EISPOT/EISGALV)", (".dta",)),
        FileFormat("zplot-z", "Scribner ZPlot ASCII (ZPLOT2)", (".z",)),
        FileFormat("zplotw-text", "ZPlot for Windows / ZView (Z60W) text, incl. Nova export for ZView", (".z", ".txt")),
        FileFormat("biologic-mpt", "BioLogic EC-Lab text (.mpt)", (".mpt",)),
        FileFormat("biologic-mpr", "BioLogic EC-Lab binary (.mpr)", (".mpr",), binary=True),
        FileFormat("biologic-txt", "BioLogic EC-Lab exported table", (".txt",)),
        FileFormat("chi-text", "CH Instruments A.C. Impedance text", (".txt",)),
        FileFormat("parstat-text", "Princeton Applied Research Parstat text", (".txt",)),
        FileFormat("versastudio-par", "Princeton Applied Research VersaStudio (.par)", (".par",)),
        FileFormat("powersuite-text", "PowerSuite text", (".txt",)),
        FileFormat("autolab-nova", "Metrohm Autolab NOVA table export", (".txt", ".csv")),
        FileFormat("csv", "Delimited table (CSV, TSV, semicolon, whitespace)", (".csv", ".tsv", ".txt", ".dat")),
        FileFormat("assbdb-csv", "assbdb spectrum CSV export", (".csv",)),
        FileFormat("assbdb-json", "assbdb spectrum JSON export", (".json",)),
    )
}

_TEXT_SNIFFERS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("gamry-dta", gamry.sniff),
    ("zplot-z", zplot.sniff_z),
    ("zplotw-text", zplot.sniff_zw),
    ("biologic-mpt", biologic.sniff_mpt),
    ("versastudio-par", versastudio.sniff),
    ("chi-text", chi.sniff),
    ("assbdb-json", export.sniff_json),
)

_TEXT_PARSERS = {
    "gamry-dta": gamry.parse,
    "zplot-z": zplot.parse_z,
    "zplotw-text": zplot.parse_zw,
    "biologic-mpt": biologic.parse_mpt,
    "versastudio-par": versastudio.parse,
    "chi-text": chi.parse,
    "assbdb-json": export.parse_json,
}


def _read(source: Union[str, os.PathLike, bytes, bytearray, memoryview], filename: str | None) -> tuple[bytes, str | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), filename
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = filename or path.name
        try:
            return path.read_bytes(), name
        except OSError as exc:
            raise ParseError(f"cannot read file: {exc.strerror or exc}", filename=name) from None
    raise ParseError(f"cannot parse a {type(source).__name__}; pass a path or bytes", filename=filename)


def _display_name(filename: str | None) -> str | None:
    return os.path.basename(str(filename)) if filename else None


def _detect(data: bytes, ctx: Context) -> tuple[str, str | None]:
    """(format id, decoded text or None for binary formats)."""
    if biologic.sniff_mpr(data):
        return "biologic-mpr", None
    try:
        text = decode_text(data, ctx)
    except ParseError as exc:
        hint = _extension_hint(ctx.filename)
        if hint and exc.reason != "file is empty":
            raise ctx.error(f"{exc.reason}{hint}") from None
        raise
    for format_id, sniff in _TEXT_SNIFFERS:
        if sniff(text):
            return format_id, text
    try:
        table = tabular.locate_table(ctx, text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    except ParseError as exc:
        raise ctx.error(f"{exc.reason}{_extension_hint(ctx.filename)}", line=exc.line, field=exc.field) from None
    return table.fmt, text


def _extension_hint(filename: str | None) -> str:
    if not filename:
        return ""
    extension = os.path.splitext(filename)[1].lower()
    expected = [f.label for f in FORMATS.values() if extension and extension in f.extensions and extension != ".txt"]
    if expected and extension in (".mpr", ".dta", ".mpt", ".par", ".z"):
        return f" (the name ends in {extension}, but the content does not match {expected[0]})"
    return ""


def detect_format(data: bytes, filename: str | None = None) -> str:
    """Format id of ``data`` (a key of :data:`FORMATS`), recognised from the content.

    Raises ParseError when no supported format matches.
    """
    ctx = Context(_display_name(filename))
    try:
        return _detect(bytes(data), ctx)[0]
    except ParseError:
        raise
    except Exception as exc:  # pragma: no cover - a bug, reported in our terms
        raise ctx.error(f"internal parser error while detecting the format: {type(exc).__name__}: {exc}") from exc


def parse(source: Union[str, os.PathLike, bytes], filename: str | None = None) -> list[ParsedSpectrum]:
    """All impedance spectra in an instrument file (a path or its bytes), in file order.

    Frequencies are in Hz, impedance in ohm as Z' + jZ'' with capacitive
    arcs at negative Z''. Raises :class:`ParseError` - and nothing else -
    naming the file, the line and the reason when the file cannot be used.
    """
    data, name = _read(source, filename)
    ctx = Context(_display_name(name))
    try:
        format_id, text = _detect(data, ctx)
        if format_id == "biologic-mpr":
            return biologic.parse_mpr(ctx, data)
        assert text is not None
        parser = _TEXT_PARSERS.get(format_id)
        if parser is not None:
            return parser(ctx, text)
        return tabular.parse_table(ctx, text)
    except ParseError:
        raise
    except (MemoryError, RecursionError) as exc:
        raise ctx.error(f"file too large or too deeply nested to parse ({type(exc).__name__})") from None
    except Exception as exc:  # a bug in a parser must still reach the user as a ParseError
        raise ctx.error(f"internal parser error: {type(exc).__name__}: {exc}") from exc

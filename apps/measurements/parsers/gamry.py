"""Gamry Framework ``.DTA`` files (EISPOT / EISGALV).

Layout: one ``TAG<TAB>TYPE<TAB>value...`` line per setting, then tables
``NAME<TAB>TABLE[<TAB>count]`` followed by a header row, a units row and
tab-indented data rows. The impedance is the ``ZCURVE`` table; its
``Zimag`` is Z'' itself (negative for capacitive arcs). An aborted run
stops part way through the table and sets ``EXPERIMENTABORTED``; we keep
the points that were measured.
"""

from __future__ import annotations

from typing import Any

from .columns import find_roles, require_roles
from .core import Context, ParsedSpectrum, split_lines
from .metadata import clean_metadata, iso_datetime, parse_numeric_date
from .numeric import parse_number_or_none, plain_number
from .spectra import build_spectrum
from .tables import read_rows

FORMAT = "gamry-dta"

_MODES = {"EISPOT": "potentiostatic", "EISGALV": "galvanostatic"}


def sniff(text: str) -> bool:
    head = [line.strip() for line in text[:2000].splitlines() if line.strip()][:3]
    return bool(head) and head[0] == "EXPLAIN" and any(line.startswith("TAG") for line in head[1:])


def _value(fields: list[str], position: int = 2) -> str | None:
    return fields[position].strip() if len(fields) > position else None


def _number(fields: list[str], position: int = 2) -> float | None:
    text = _value(fields, position)
    return parse_number_or_none(text) if text is not None else None


def _header_metadata(tags: dict[str, list[str]], notes: list[str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"format": FORMAT, "instrument": "Gamry"}
    tag = _value(tags.get("TAG", []), 1)
    if tag:
        meta["technique"] = tag
        if tag in _MODES:
            meta["mode"] = _MODES[tag]
    if "TITLE" in tags:
        meta["title"] = _value(tags["TITLE"])
    day = parse_numeric_date(_value(tags.get("DATE", [])) or "", month_first=True)
    meta["date"], meta["started_at"] = iso_datetime(day, _value(tags.get("TIME", [])))
    if notes:
        meta["notes"] = "\n".join(notes).strip()
    if "PSTAT" in tags and _value(tags["PSTAT"]):
        meta["instrument"] = f"Gamry {_value(tags['PSTAT'])}"
    if "FRAMEWORKVERSION" in tags and _value(tags["FRAMEWORKVERSION"]):
        meta["software"] = f"Gamry Framework {_value(tags['FRAMEWORKVERSION'])}"
    scalar = {
        "VDC": ("dc_bias_v", 1.0),
        "VAC": ("ac_amplitude_mv", 1.0),  # mV rms
        "IACREQ": ("ac_amplitude_ma", 1e3),  # A rms
        "IDC": ("dc_bias_ma", 1e3),  # A
        "AREA": ("area_cm2", 1.0),
        "PTSPERDEC": ("points_per_decade", 1.0),
        "FREQINIT": ("freq_initial_hz", 1.0),
        "FREQFINAL": ("freq_final_hz", 1.0),
        "EOC": ("open_circuit_v", 1.0),
    }
    for tag_name, (key, factor) in scalar.items():
        if tag_name in tags:
            value = _number(tags[tag_name])
            if value is not None:
                meta[key] = plain_number(value * factor)
    if _value(tags.get("EXPERIMENTABORTED", [])) == "T":
        meta["aborted"] = True
    return clean_metadata(meta)


def parse(ctx: Context, text: str) -> list[ParsedSpectrum]:
    lines = split_lines(text)
    tags: dict[str, list[str]] = {}
    notes: list[str] = []
    tables: list[tuple[int, list[str], list[tuple[int, str]]]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        number = i + 1
        if not line.strip() or line[0] in " \t":
            i += 1
            continue
        fields = line.split("\t")
        name = fields[0].strip()
        kind = fields[1].strip() if len(fields) > 1 else ""
        if kind == "NOTES":
            count = _number(fields) or 0
            for j in range(1, int(count) + 1):
                if i + j < len(lines):
                    notes.append(lines[i + j].strip())
            i += int(count) + 1
            continue
        if kind == "TABLE":
            i += 1
            if name != "ZCURVE":
                while i < len(lines) and lines[i][:1] in (" ", "\t") and lines[i].strip():
                    i += 1
                continue
            if i >= len(lines) or not lines[i].strip():
                raise ctx.error("ZCURVE table has no header row", line=number)
            names = lines[i].strip("\r\n").lstrip("\t").split("\t")
            header_line = i + 1
            i += 2  # header row and units row
            if i > len(lines):
                raise ctx.error("ZCURVE table has no units row", line=header_line)
            data = []
            while i < len(lines) and lines[i][:1] in (" ", "\t") and lines[i].strip():
                data.append((i + 1, lines[i].lstrip(" \t")))
                i += 1
            tables.append((header_line, names, data))
            continue
        tags.setdefault(name, fields)
        i += 1
    if not tables:
        raise ctx.error("no ZCURVE table (not an impedance measurement, or the file is cut before the data)")
    metadata = _header_metadata(tags, notes)
    spectra = []
    for index, (header_line, names, data) in enumerate(tables):
        roles = find_roles(names)
        require_roles(roles, ctx, line=header_line, expected_freq="'Freq'")
        rows = read_rows(ctx, data, names, roles, delimiters=("\t",))
        spectra.append(build_spectrum(ctx, rows, metadata=metadata, fmt=FORMAT, index=index, table_line=header_line))
    return spectra

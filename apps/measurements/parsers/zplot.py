"""Scribner ZPlot text files.

Two layouts, both with columns ``Freq(Hz) Ampl Bias Time(Sec) Z'(a) Z''(b)
GD Err Range`` where ``Z''(b)`` is Z'' itself (negative for capacitive arcs):

* ``zplot-z``: ``ZPLOT2 ASCII`` then indented ``key: value`` settings, the
  column names, ``End Comments`` and tab-separated rows;
* ``zplotw-text``: the ZPlot-for-Windows / ZView "Z60W" layout - quoted
  header lines, a point count, a quoted column header and comma-separated
  rows. Metrohm Nova writes this layout when exporting for ZView.
"""

from __future__ import annotations

import re
from typing import Any

from .columns import find_roles, has_spectrum_columns, require_roles
from .core import Context, ParsedSpectrum, split_lines
from .metadata import clean_metadata, iso_datetime, parse_numeric_date
from .numeric import parse_number_or_none, plain_number
from .spectra import build_spectrum
from .tables import read_rows

FORMAT_Z = "zplot-z"
FORMAT_ZW = "zplotw-text"

_DEFAULT_NAMES = ["Freq(Hz)", "Ampl", "Bias", "Time(Sec)", "Z'(a)", "Z''(b)", "GD", "Err", "Range"]


def sniff_z(text: str) -> bool:
    return text.lstrip()[:12].upper() == "ZPLOT2 ASCII"


def sniff_zw(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0]
    return bool(re.match(r'"(?:ZPlotW|Z60W|ZView)[^"]*Data File', first, re.IGNORECASE))


def _mode(text: str) -> str | None:
    lowered = text.lower()
    if "control voltage" in lowered or "control potential" in lowered:
        return "potentiostatic"
    if "control current" in lowered:
        return "galvanostatic"
    return None


def parse_z(ctx: Context, text: str) -> list[ParsedSpectrum]:
    lines = split_lines(text)
    settings: dict[str, str] = {}
    notes: list[str] = []
    end_comments = None
    in_user_comments = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped == "End Comments":
            end_comments = i
            break
        key, sep, value = stripped.partition(":")
        if stripped.startswith("Begin User Comments"):
            in_user_comments = True
            continue
        if stripped.startswith("End User Comments"):
            in_user_comments = False
            continue
        if in_user_comments:
            notes.append(stripped)
        elif sep:
            settings.setdefault(key.strip(), value.strip())
    if end_comments is None:
        raise ctx.error("no 'End Comments' line: header incomplete or file truncated")
    names = _DEFAULT_NAMES
    header_line = end_comments + 1
    previous = lines[end_comments - 1] if end_comments else ""
    if "freq" in previous.lower() and "\t" in previous:
        names = [n.strip() for n in previous.strip().split("\t")]
        header_line = end_comments
    roles = find_roles(names)
    require_roles(roles, ctx, line=header_line, expected_freq="'Freq(Hz)'")
    data = [(i + 1, line) for i, line in enumerate(lines) if i > end_comments and line.strip()]
    rows = read_rows(ctx, data, names, roles, delimiters=("\t",))
    # "Data Points" is the number planned; a stopped sweep writes fewer rows.
    planned = parse_number_or_none(settings.get("Data Points", ""))

    meta: dict[str, Any] = {"format": FORMAT_Z}
    if "Measured Data, ZPlot" in settings:
        meta["software"] = f"ZPlot {settings['Measured Data, ZPlot']}"
    mode = _mode(settings.get("Experiment Type", ""))
    meta["mode"] = mode
    meta["experiment"] = settings.get("Experiment Type")
    day = parse_numeric_date(settings.get("Date", ""), month_first=True)
    meta["date"], meta["started_at"] = iso_datetime(day, settings.get("Time"))
    numeric = {
        "Open Circuit Potential (V)": "open_circuit_v",
        "Surface Area": "area_cm2",
    }
    if mode == "potentiostatic":
        numeric.update({"Potential-DC": "dc_bias_v", "Potential-AC": "ac_amplitude_mv"})
    elif mode == "galvanostatic":
        numeric.update({"Current-DC": "dc_bias_ma", "Current-AC": "ac_amplitude_ma"})
    for key, target in numeric.items():
        value = parse_number_or_none(settings.get(key, ""))
        if value is not None:
            meta[target] = plain_number(value)
    if notes:
        meta["notes"] = "\n".join(notes)
    if planned is not None:
        meta["points_planned"] = plain_number(planned)
    return [build_spectrum(ctx, rows, metadata=clean_metadata(meta), fmt=FORMAT_Z, index=0, table_line=header_line)]


def _zw_names(line: str) -> list[str]:
    """Column names of a Z60W header line: quoted, separated by tabs or runs of spaces."""
    return [n for n in re.split(r"\s{2,}|\t", line.strip().strip('"').strip()) if n]


def parse_zw(ctx: Context, text: str) -> list[ParsedSpectrum]:
    lines = split_lines(text)
    header_index = next((i for i, line in enumerate(lines[1:], start=1) if has_spectrum_columns(_zw_names(line))), None)
    if header_index is None:
        raise ctx.error("no column header line with frequency and impedance columns (file truncated before the data?)")
    header_line = header_index + 1
    names = _zw_names(lines[header_index])
    roles = find_roles(names)
    require_roles(roles, ctx, line=header_line, expected_freq="'Freq(Hz)'")
    planned = None
    if header_index >= 1:
        value = parse_number_or_none(lines[header_index - 1])
        if value is not None and value.is_integer():
            planned = int(value)
    data = [(i + 1, line) for i, line in enumerate(lines) if i > header_index and line.strip()]
    rows = read_rows(ctx, data, names, roles, delimiters=(",", ";", "\t"))

    preamble = [line.strip().strip('"').strip() for line in lines[:header_index]]
    meta: dict[str, Any] = {"format": FORMAT_ZW}
    first = preamble[0] if preamble else ""
    match = re.match(r"(\S+) Data File: Version (\S+)", first)
    if match:
        meta["software"] = f"{match.group(1)} {match.group(2)}"
    free_text: list[str] = []
    for line in preamble[1:]:
        if not line or line.startswith("Raw Data") or re.fullmatch(r"[\d.,\s+-eE]+", line):
            continue
        date_match = re.match(r"Date:\s*(\S+)(?:\s+Time:\s*(\S+))?", line)
        if date_match:
            day = parse_numeric_date(date_match.group(1), month_first=True)
            meta["date"], meta["started_at"] = iso_datetime(day, date_match.group(2))
            continue
        if line.startswith("Sweep") or "Control" in line:
            meta["experiment"] = line
            meta["mode"] = _mode(line)
            continue
        ocp = re.match(r"Open Circuit Potential \(V\):\s*(\S+)", line)
        if ocp:
            value = parse_number_or_none(ocp.group(1))
            if value is not None:
                meta["open_circuit_v"] = plain_number(value)
            continue
        if line == "Frequency":
            continue
        free_text.append(line)
    if free_text:
        meta["notes"] = "\n".join(free_text)
    if planned is not None:
        meta["points_planned"] = planned
    return [build_spectrum(ctx, rows, metadata=clean_metadata(meta), fmt=FORMAT_ZW, index=0, table_line=header_line)]

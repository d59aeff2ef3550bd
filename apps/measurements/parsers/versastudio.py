"""Princeton Applied Research VersaStudio ``.par`` files.

An INI-like file of ``<Section>`` ... ``</Section>`` blocks of ``key=value``
lines. Each ``<SegmentN>`` holds ``Definition=`` (comma-separated column
names) and comma-separated rows; EIS segments carry ``Frequency(Hz)``,
``Z Real`` and ``Z Imag`` (Z'' itself, negative for capacitive arcs).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from .columns import find_roles, require_roles
from .core import Context, ParsedSpectrum, split_lines
from .dialect import Dialect, detect_dialect
from .metadata import clean_metadata, iso_datetime
from .numeric import parse_number_or_none, plain_number
from .spectra import build_spectrum
from .tables import read_rows

FORMAT = "versastudio-par"

_DELIMITERS = (",", ";", "\t")  # commas as written; the others where a decimal-comma locale needs them
_SECTION = re.compile(r"^<(/?)([A-Za-z][\w]*)>\s*$")


def sniff(text: str) -> bool:
    head = text.lstrip()[:4000]
    return head.startswith("<") and (
        ("<Application>" in head and "VersaStudio" in head) or re.search(r"<Segment\d+>", text) is not None
    )


def _sections(ctx: Context, lines: list[str]) -> list[tuple[str, int, list[tuple[int, str]]]]:
    """(name, line of the opening tag, body lines) of each top-level section."""
    sections = []
    current: tuple[str, int, list[tuple[int, str]]] | None = None
    for i, line in enumerate(lines):
        match = _SECTION.match(line.strip())
        if current is None:
            if match and not match.group(1):
                current = (match.group(2), i + 1, [])
            continue
        if match and match.group(1) and match.group(2) == current[0]:
            sections.append(current)
            current = None
            continue
        current[2].append((i + 1, line))
    if current is not None and current[0].startswith("Segment"):
        last = max((n for n, line in current[2] if line.strip()), default=current[1])
        raise ctx.error(
            f"section <{current[0]}> opened on line {current[1]} is never closed (file truncated?)", line=last
        )
    return sections


def _keys(body: list[tuple[int, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for _, line in body:
        key, sep, value = line.partition("=")
        if sep and not re.match(r"^[\d\s.,eE+-]+$", line):
            out.setdefault(key.strip(), value.strip())
    return out


def _metadata(sections) -> dict[str, Any]:
    by_name = {name: _keys(body) for name, _, body in sections if not name.startswith("Segment")}
    meta: dict[str, Any] = {"format": FORMAT}
    app = by_name.get("Application", {})
    if app.get("Name"):
        meta["software"] = f"{app['Name']} {app.get('Version', '')}".strip()
    instrument = by_name.get("Instrument", {})
    if instrument.get("Type"):
        meta["instrument"] = f"Princeton Applied Research {instrument['Type']}"
        if instrument.get("SN"):
            meta["instrument_serial"] = instrument["SN"]
    experiment = by_name.get("Experiment", {})
    if experiment.get("DateAcquired"):
        try:
            day = datetime.strptime(experiment["DateAcquired"], "%A, %B %d, %Y").date()
        except ValueError:
            day = None
        meta["date"], meta["started_at"] = iso_datetime(day, experiment.get("TimeAcquired"))
    common = by_name.get("Action0", {})
    area = parse_number_or_none(common.get("Working Electrode Area (cm2)", ""))
    if area is not None:
        meta["area_cm2"] = plain_number(area)
    if common.get("Comment"):
        meta["notes"] = common["Comment"]
    for name, keys in by_name.items():
        if not name.startswith("Action") or "EIS" not in keys.get("Name", ""):
            continue
        meta["title"] = keys["Name"]
        if "Potentiostatic" in keys["Name"]:
            meta["mode"] = "potentiostatic"
        elif "Galvanostatic" in keys["Name"]:
            meta["mode"] = "galvanostatic"
        numbers = {
            "Amplitude (mV RMS)": "ac_amplitude_mv",
            "Potential (V),Value": "dc_bias_v",
            "Points Per Decade": "points_per_decade",
            "Start Frequency (Hz)": "freq_initial_hz",
            "End Frequency (Hz)": "freq_final_hz",
        }
        for key, target in numbers.items():
            value = parse_number_or_none(keys.get(key, ""))
            if value is not None:
                meta[target] = plain_number(value)
        if keys.get("Potential (V),Versus"):
            meta["dc_bias_vs"] = keys["Potential (V),Versus"]
        break
    return clean_metadata(meta)


def parse(ctx: Context, text: str) -> list[ParsedSpectrum]:
    sections = _sections(ctx, split_lines(text))
    segments = [s for s in sections if s[0].startswith("Segment")]
    if not segments:
        raise ctx.error("no <Segment> data block found")
    metadata = _metadata(sections)
    spectra: list[ParsedSpectrum] = []
    skipped_header = None
    for name, opening_line, body in segments:
        definition = next(((n, line) for n, line in body if line.startswith("Definition=")), None)
        if definition is None:
            raise ctx.error(f"<{name}> has no 'Definition=' column list", line=opening_line)
        header_line, line = definition
        data = [(n, row) for n, row in body if n > header_line and row.strip()]
        dialect = detect_dialect([row for _, row in data], delimiters=_DELIMITERS) or Dialect(",")
        definition_text = line.partition("=")[2]
        separator = dialect.delimiter if dialect.delimiter in definition_text else ","
        names = [c.strip() for c in definition_text.split(separator)]
        if data and len(names) == len(dialect.cells(data[0][1])) + 1 and names[-1] == "0":
            names = names[:-1]  # VersaStudio ends the definition with a stray "0"
        roles = find_roles(names)
        if "freq" not in roles:
            skipped_header = skipped_header or header_line  # a non-EIS segment
            continue
        require_roles(roles, ctx, line=header_line, expected_freq="'Frequency(Hz)'")
        rows = read_rows(ctx, data, names, roles, dialect=dialect)
        spectra.append(
            build_spectrum(ctx, rows, metadata=metadata, fmt=FORMAT, index=len(spectra), table_line=header_line)
        )
    if not spectra:
        raise ctx.error("no frequency column (expected 'Frequency(Hz)')", line=skipped_header, field="frequency")
    return spectra

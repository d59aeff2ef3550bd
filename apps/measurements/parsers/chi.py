"""CH Instruments text export of an "A.C. Impedance" experiment.

A date line, the technique, ``Instrument Model:``, ``Key = value``
settings, then ``Freq/Hz, Z'/ohm, Z"/ohm, Z/ohm, Phase/deg`` and
comma-separated rows. ``Z"`` is Z'' itself (negative for capacitive arcs).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from .columns import find_roles, require_roles
from .core import Context, ParsedSpectrum, split_lines
from .metadata import clean_metadata, iso_datetime
from .numeric import parse_number_or_none, plain_number
from .spectra import build_spectra
from .tables import read_rows
from .tabular import locate_table

FORMAT = "chi-text"


def sniff(text: str) -> bool:
    head = text[:3000]
    return "A.C. Impedance" in head and re.search(r"Instrument Model:\s*CHI", head) is not None


def _metadata(lines: list[str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"format": FORMAT, "instrument": "CH Instruments", "technique": "A.C. Impedance"}
    first = lines[0].strip() if lines else ""
    match = re.match(r"([A-Za-z]{3})\.?\s+(\d{1,2}),\s+(\d{4})\s+(\d{1,2}:\d{2}:\d{2})", first)
    if match:
        try:
            day = datetime.strptime(f"{match.group(1)} {match.group(2)} {match.group(3)}", "%b %d %Y").date()
        except ValueError:
            day = None
        meta["date"], meta["started_at"] = iso_datetime(day, match.group(4))
    settings: dict[str, str] = {}
    for line in lines:
        if line.startswith("Instrument Model:"):
            meta["instrument"] = f"CH Instruments {line.partition(':')[2].strip()}"
        elif line.startswith("Header:") and line.partition(":")[2].strip():
            meta["title"] = line.partition(":")[2].strip()
        elif line.startswith("Note:") and line.partition(":")[2].strip():
            meta["notes"] = line.partition(":")[2].strip()
        elif " = " in line:
            key, _, value = line.partition(" = ")
            settings.setdefault(key.strip(), value.strip())
    numbers = {
        "Init E (V)": ("dc_bias_v", 1.0),
        "Amplitude (V)": ("ac_amplitude_mv", 1e3),
        "High Frequency (Hz)": ("freq_initial_hz", 1.0),
        "Low Frequency (Hz)": ("freq_final_hz", 1.0),
    }
    for key, (target, factor) in numbers.items():
        value = parse_number_or_none(settings.get(key, ""))
        if value is not None:
            meta[target] = plain_number(round(value * factor, 12))
    if "Init E (V)" in settings:
        meta["mode"] = "potentiostatic"
    return clean_metadata(meta)


def parse(ctx: Context, text: str) -> list[ParsedSpectrum]:
    lines = split_lines(text)
    table = locate_table(ctx, lines)
    roles = find_roles(table.names)
    require_roles(roles, ctx, line=table.header_line, expected_freq="'Freq/Hz'")
    rows = read_rows(ctx, table.data, table.names, roles, dialect=table.dialect)
    header_end = (table.header_line or table.data[0][0]) - 1
    return build_spectra(
        ctx, [rows], metadata=_metadata(lines[:header_end]), fmt=FORMAT, table_line=table.header_line
    )

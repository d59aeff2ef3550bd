"""BioLogic EC-Lab files: ``.mpt`` text and ``.mpr`` binary.

``.mpt``: ``EC-Lab ASCII FILE``, ``Nb header lines : N``; line N holds the
tab-separated column names, the rows follow. Impedance is given as
``Re(Z)/Ohm`` and ``-Im(Z)/Ohm`` (sign undone here). Text is Latin-1.

``.mpr``: "BIO-LOGIC MODULAR FILE" magic, then modules, each ``MODULE`` +
short name (10 bytes) + long name (25 bytes) + length, version and date
(8 ASCII bytes, MM/DD/YY); newer EC-Lab versions write 0xFFFFFFFF ("max
length") and one more 4-byte field around them. The ``VMP data`` module
holds the point count (uint32), the column count (uint8) and the column
ids (uint16 each); the rows start at offset 0x195 (module version 2) or
0x196 (version 3). Rows are packed little-endian records: one shared flag
byte when any flag column is present, then each column in id order of
appearance with the dtype fixed by its id.

Several spectra in one file (loops, cycles) are split by ``cycle number``
and where the frequency sweep restarts.
"""

from __future__ import annotations

import re
import struct
from typing import Any

import numpy as np

from .core import (
    Context,
    ParsedSpectrum,
    Rows,
    build_spectra,
    clean_metadata,
    find_roles,
    iso_datetime,
    parse_number_or_none,
    parse_numeric_date,
    plain_number,
    read_rows,
    require_roles,
    split_by_values,
    split_lines,
    split_sweeps,
)

FORMAT_MPT = "biologic-mpt"
FORMAT_MPR = "biologic-mpr"
MPR_MAGIC = b"BIO-LOGIC MODULAR FILE"


def sniff_mpt(text: str) -> bool:
    return text.lstrip()[:17].upper() == "EC-LAB ASCII FILE"


def sniff_mpr(data: bytes) -> bool:
    return data.startswith(MPR_MAGIC)


# ------------------------------------------------------------------- mpt text

_SCALE_TO_MA = {"A": 1e3, "mA": 1.0, "µA": 1e-3, "uA": 1e-3, "nA": 1e-6, "pA": 1e-9}
_SCALE_TO_HZ = {"MHz": 1e6, "kHz": 1e3, "Hz": 1.0, "mHz": 1e-3, "µHz": 1e-6}


def _technique_params(lines: list[str]) -> dict[str, str]:
    """EC-Lab writes technique settings as a 20-character key column and value columns."""
    params: dict[str, str] = {}
    for line in lines:
        if len(line) > 20 and ":" not in line[:20] and line[:20].strip() and line[20:].strip():
            key = line[:20].strip()
            value = line[20:40].strip()
            params.setdefault(key, value)
    return params


def _mpt_metadata(header: list[str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"format": FORMAT_MPT, "instrument": "BioLogic", "software": "EC-Lab"}
    technique = next((line.strip() for line in header[2:] if line.strip()), "")
    if technique:
        meta["technique"] = technique
        if "Potentio" in technique:
            meta["mode"] = "potentiostatic"
        elif "Galvano" in technique:
            meta["mode"] = "galvanostatic"
    for line in header:
        key, sep, value = line.partition(" : ")
        key, value = key.strip(), value.strip()
        if not sep:
            software = re.match(r"EC-Lab for windows (v\S+) \(software\)", line.strip())
            if software:
                meta["software"] = f"EC-Lab {software.group(1)}"
            continue
        if key == "Acquisition started on":
            parts = value.split()
            day = parse_numeric_date(parts[0], month_first=True) if parts else None
            meta["date"], meta["started_at"] = iso_datetime(day, parts[1].split(".")[0] if len(parts) > 1 else None)
        elif key == "Device":
            meta["instrument"] = f"BioLogic {value.split(' (')[0]}".strip()
        elif key == "Electrode surface area":
            number = re.match(r"(\S+)\s*cm", value)
            area = parse_number_or_none(number.group(1)) if number else None
            if area is not None:
                meta["area_cm2"] = plain_number(area)
        elif key == "Comments" and value:
            meta["notes"] = value
    params = _technique_params(header)

    def number(key: str) -> float | None:
        return parse_number_or_none(params.get(key, ""))

    if number("Va (mV)") is not None:
        meta["ac_amplitude_mv"] = plain_number(number("Va (mV)"))
    if number("Ia") is not None and params.get("unit Ia") in _SCALE_TO_MA:
        meta["ac_amplitude_ma"] = plain_number(number("Ia") * _SCALE_TO_MA[params["unit Ia"]])
    if number("E (V)") is not None:
        meta["dc_bias_v"] = plain_number(number("E (V)"))
        if params.get("vs."):
            meta["dc_bias_vs"] = params["vs."]
    if number("Is") is not None and params.get("unit Is") in _SCALE_TO_MA:
        meta["dc_bias_ma"] = plain_number(number("Is") * _SCALE_TO_MA[params["unit Is"]])
    if number("Nd") is not None and params.get("Points", "").lower() == "per decade":
        meta["points_per_decade"] = plain_number(number("Nd"))
    for key, target in (("fi", "freq_initial_hz"), ("ff", "freq_final_hz")):
        unit = params.get(f"unit {key}")
        if number(key) is not None and unit in _SCALE_TO_HZ:
            meta[target] = plain_number(number(key) * _SCALE_TO_HZ[unit])
    return clean_metadata(meta)


def parse_mpt(ctx: Context, text: str) -> list[ParsedSpectrum]:
    lines = split_lines(text)
    count_line = lines[1] if len(lines) > 1 else ""
    match = re.match(r"\s*Nb header lines\s*:\s*(\d+)\s*$", count_line)
    if not match:
        raise ctx.error("expected 'Nb header lines : N'", line=2)
    n_header = int(match.group(1))
    if n_header < 3 or n_header > len(lines):
        raise ctx.error(
            f"header is stated as {n_header} lines but the file has {len(lines)} (file truncated?)", line=2
        )
    header_line = n_header
    names = [n for n in lines[n_header - 1].split("\t")]
    while names and not names[-1].strip():
        names.pop()
    roles = find_roles(names)
    require_roles(roles, ctx, line=header_line, expected_freq="'freq/Hz'")
    extra = {}
    if "cycle number" in [n.strip() for n in names]:
        extra["cycle"] = [n.strip() for n in names].index("cycle number")
    data = [(i + 1, line) for i, line in enumerate(lines) if i >= n_header and line.strip()]
    rows = read_rows(ctx, data, names, roles, delimiters=("\t",), extra_columns=extra)
    parts = [sweep for cycle in split_by_values(rows, "cycle") for sweep in split_sweeps(cycle)]
    metadata = _mpt_metadata(lines[: n_header - 1])
    return build_spectra(
        ctx, parts, metadata=metadata, fmt=FORMAT_MPT, table_line=header_line, cycle_key="cycle" if extra else None
    )


# ----------------------------------------------------------------- mpr binary

# Column id -> (name, numpy dtype) of the VMP data module. Flag columns share
# one leading byte and take no space of their own.
_FLAG_COLUMNS = {1: "mode", 2: "ox/red", 3: "error", 21: "control changes", 31: "Ns changes", 65: "counter inc."}
_COLUMNS: dict[int, tuple[str, str]] = {
    4: ("time/s", "<f8"),
    5: ("control/V/mA", "<f4"),
    6: ("Ewe/V", "<f4"),
    7: ("dQ/mA.h", "<f8"),
    8: ("I/mA", "<f4"),
    9: ("Ece/V", "<f4"),
    11: ("<I>/mA", "<f8"),
    13: ("(Q-Qo)/mA.h", "<f8"),
    16: ("Analog IN 1/V", "<f4"),
    17: ("Analog IN 2/V", "<f4"),
    19: ("control/V", "<f4"),
    20: ("control/mA", "<f4"),
    23: ("dQ/mA.h", "<f8"),
    24: ("cycle number", "<f8"),
    26: ("Rapp/Ohm", "<f4"),
    27: ("Ewe-Ece/V", "<f4"),
    32: ("freq/Hz", "<f4"),
    33: ("|Ewe|/V", "<f4"),
    34: ("|I|/A", "<f4"),
    35: ("Phase(Z)/deg", "<f4"),
    36: ("|Z|/Ohm", "<f4"),
    37: ("Re(Z)/Ohm", "<f4"),
    38: ("-Im(Z)/Ohm", "<f4"),
    39: ("I Range", "<u2"),
    69: ("R/Ohm", "<f4"),
    70: ("P/W", "<f4"),
    74: ("|Energy|/W.h", "<f8"),
    75: ("Analog OUT/V", "<f4"),
    76: ("<I>/mA", "<f4"),
    77: ("<Ewe>/V", "<f4"),
    78: ("Cs-2/µF-2", "<f4"),
    96: ("|Ece|/V", "<f4"),
    98: ("Phase(Zce)/deg", "<f4"),
    99: ("|Zce|/Ohm", "<f4"),
    100: ("Re(Zce)/Ohm", "<f4"),
    101: ("-Im(Zce)/Ohm", "<f4"),
    123: ("Energy charge/W.h", "<f8"),
    124: ("Energy discharge/W.h", "<f8"),
    125: ("Capacitance charge/µF", "<f8"),
    126: ("Capacitance discharge/µF", "<f8"),
    131: ("Ns", "<u2"),
    163: ("|Estack|/V", "<f4"),
    168: ("Rcmp/Ohm", "<f4"),
    169: ("Cs/µF", "<f4"),
    172: ("Cp/µF", "<f4"),
    173: ("Cp-2/µF-2", "<f4"),
    174: ("<Ewe>/V", "<f4"),
    178: ("(Q-Qo)/C", "<f4"),
    179: ("dQ/C", "<f4"),
    211: ("Q charge/discharge/mA.h", "<f8"),
    212: ("half cycle", "<u4"),
    213: ("z cycle", "<u4"),
    241: ("|E1|/V", "<f4"),
    242: ("|E2|/V", "<f4"),
    271: ("Phase(Z1)/deg", "<f4"),
    272: ("Phase(Z2)/deg", "<f4"),
    301: ("|Z1|/Ohm", "<f4"),
    302: ("|Z2|/Ohm", "<f4"),
    331: ("Re(Z1)/Ohm", "<f4"),
    332: ("Re(Z2)/Ohm", "<f4"),
    361: ("-Im(Z1)/Ohm", "<f4"),
    362: ("-Im(Z2)/Ohm", "<f4"),
    391: ("<E1>/V", "<f4"),
    392: ("<E2>/V", "<f4"),
    422: ("Phase(Zstack)/deg", "<f4"),
    423: ("|Zstack|/Ohm", "<f4"),
    424: ("Re(Zstack)/Ohm", "<f4"),
    425: ("-Im(Zstack)/Ohm", "<f4"),
    426: ("<Estack>/V", "<f4"),
    430: ("Phase(Zwe-ce)/deg", "<f4"),
    431: ("|Zwe-ce|/Ohm", "<f4"),
    432: ("Re(Zwe-ce)/Ohm", "<f4"),
    433: ("-Im(Zwe-ce)/Ohm", "<f4"),
    434: ("(Q-Qo)/C", "<f4"),
    435: ("dQ/C", "<f4"),
    438: ("step time/s", "<f8"),
    441: ("<Ece>/V", "<f4"),
    462: ("Temperature/°C", "<f4"),
    467: ("Q charge/discharge/mA.h", "<f8"),
    468: ("half cycle", "<u4"),
    469: ("z cycle", "<u4"),
    471: ("<Ece>/V", "<f4"),
}
_DATA_OFFSET = {2: 0x195, 3: 0x196}


def _modules(ctx: Context, data: bytes) -> list[tuple[str, int, str, bytes]]:
    """(short name, version, date text, payload) of every module."""
    modules = []
    position = len(MPR_MAGIC)
    start = data.find(b"MODULE", position)
    if start < 0:
        raise ctx.error("BioLogic .mpr file has no modules (file truncated?)")
    position = start
    while position < len(data):
        if data[position : position + 6] != b"MODULE":
            raise ctx.error(f"corrupt .mpr: expected a module at byte {position}")
        head = data[position + 6 : position + 6 + 35 + 24]
        if len(head) < 35 + 16:
            raise ctx.error(f"corrupt .mpr: module header at byte {position} is cut short (file truncated?)")
        short = head[:10].decode("latin-1").strip()
        (first,) = struct.unpack_from("<I", head, 35)
        if first == 0xFFFFFFFF:
            if len(head) < 35 + 24:
                raise ctx.error(f"corrupt .mpr: module header at byte {position} is cut short (file truncated?)")
            length, version = struct.unpack_from("<II", head, 39)
            date_text = head[51:59]
            header_size = 6 + 35 + 24
        else:
            length = first
            (version,) = struct.unpack_from("<I", head, 39)
            date_text = head[43:51]
            header_size = 6 + 35 + 16
        payload_start = position + header_size
        payload = data[payload_start : payload_start + length]
        if len(payload) < length:
            raise ctx.error(
                f"module {short!r} states {length} bytes but only {len(payload)} remain (file truncated?)"
            )
        modules.append((short, version, date_text.decode("latin-1", "replace").strip("\x00 "), payload))
        position = payload_start + length
    return modules


def parse_mpr(ctx: Context, data: bytes) -> list[ParsedSpectrum]:
    modules = _modules(ctx, data)
    found = [m for m in modules if m[0] == "VMP data"]
    if not found:
        raise ctx.error("no 'VMP data' module in the .mpr file")
    _, version, date_text, payload = found[0]
    if version not in _DATA_OFFSET:
        raise ctx.error(f"unsupported 'VMP data' module version {version}")
    if len(payload) < 5:
        raise ctx.error("'VMP data' module is too short to hold a column list")
    n_points, n_columns = struct.unpack_from("<IB", payload, 0)
    offset = _DATA_OFFSET[version]
    if 5 + 2 * n_columns > offset:
        raise ctx.error(f"'VMP data' module lists {n_columns} columns, more than its header can hold")
    column_ids = struct.unpack_from(f"<{n_columns}H", payload, 5)
    fields: list[tuple[str, str]] = []
    has_flags = False
    names: dict[int, str] = {}
    for column_id in column_ids:
        if column_id in _FLAG_COLUMNS:
            has_flags = True
            continue
        if column_id not in _COLUMNS:
            raise ctx.error(f"unknown data column id {column_id} in the 'VMP data' module; cannot read its rows")
        name, dtype = _COLUMNS[column_id]
        key = f"c{column_id}"
        if key in names.values():
            raise ctx.error(f"column id {column_id} appears twice in the 'VMP data' module")
        names[column_id] = key
        fields.append((key, dtype))
    if has_flags:
        fields.insert(0, ("flags", "u1"))
    record = np.dtype(fields)
    needed = n_points * record.itemsize
    available = len(payload) - offset
    if available < needed:
        raise ctx.error(
            f"'VMP data' module states {n_points} points ({needed} bytes) but holds {max(available, 0)} bytes "
            "(file truncated?)"
        )
    table = np.frombuffer(payload, dtype=record, count=n_points, offset=offset)
    if 32 not in names:
        raise ctx.error("no frequency column (expected 'freq/Hz', column id 32)", field="frequency")
    freq = table[names[32]].astype(np.float64)
    if 37 in names and 38 in names:
        z = table[names[37]].astype(np.float64) - 1j * table[names[38]].astype(np.float64)
    elif 36 in names and 35 in names:
        modulus = table[names[36]].astype(np.float64)
        phase = np.radians(table[names[35]].astype(np.float64))
        z = modulus * np.exp(1j * phase)
    else:
        raise ctx.error("no impedance columns (expected 'Re(Z)/Ohm' and '-Im(Z)/Ohm')", field="impedance")
    rows = Rows(lines=[], freq=freq.tolist(), z=z.tolist())
    if 24 in names:
        rows.extra["cycle"] = table[names[24]].astype(np.float64).tolist()
    parts = [sweep for cycle in split_by_values(rows, "cycle") for sweep in split_sweeps(cycle)]
    meta: dict[str, Any] = {"format": FORMAT_MPR, "instrument": "BioLogic", "software": "EC-Lab"}
    day = parse_numeric_date(date_text, month_first=True)
    meta["date"], _ = iso_datetime(day)
    return build_spectra(
        ctx, parts, metadata=clean_metadata(meta), fmt=FORMAT_MPR, cycle_key="cycle" if 24 in names else None
    )

"""BioLogic EC-Lab files: ``.mpt`` text and ``.mpr`` binary.

``.mpt``: ``EC-Lab ASCII FILE``, ``Nb header lines : N``; line N holds the
tab-separated column names, the rows follow. Impedance is given as
``Re(Z)/Ohm`` and ``-Im(Z)/Ohm`` (sign undone here). Text is Latin-1; an
EC-Lab running with a European locale writes decimal commas
(``1,9999814E+005``), recognised from the rows.

``.mpr``: "BIO-LOGIC MODULAR FILE" magic, then modules, each ``MODULE`` +
short name (10 bytes) + long name (25 bytes) + length, version and date
(8 ASCII bytes, MM/DD/YY); EC-Lab 11.50 and later write 0xFFFFFFFF ("max
length") before the length and one more 4-byte field after the version.
The ``VMP data`` module holds the point count, the column count and the
column ids, then packed little-endian records from a version-dependent
offset (see ``_DataLayout``): one shared flag byte where the first flag
column is listed, then each column with the dtype fixed by its id. Data
module versions 0 (both layouts), 2 and 3 are read; any other version is
refused by name. The ``VMP LOG`` module gives the start time and the
EC-Lab version, the first byte of ``VMP Set`` the technique (impedance
techniques only; their parameters - AC amplitude, frequency range - sit at
offsets that vary between files and are not read).

Several spectra in one file (loops, cycles) are split by ``cycle number``
and where the frequency sweep restarts. Rows at 0 Hz are skipped in both
forms: EC-Lab writes them for points recorded outside the frequency sweep
(the DC and rest steps of GEIS and Modulo Bat, with Z written as 0).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from .columns import find_roles, require_roles
from .core import Context, ParsedSpectrum, split_lines
from .dialect import split_cells
from .metadata import clean_metadata, iso_datetime, parse_numeric_date
from .numeric import parse_number_or_none, plain_number
from .spectra import build_spectra
from .tables import Rows, read_rows, split_by_values, split_sweeps

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
            software = re.match(r"EC-Lab for windows (v\S+) \(software\)", line.strip(), re.IGNORECASE)
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


def _names_written(names: list[str], data: list[tuple[int, str]]) -> list[str]:
    """Column names of the values the rows hold.

    EC-Lab 11.61 can end the header with an empty name followed by names of
    columns (e.g. ``Ewe-Ece/V``) that no row holds. When the first row stops
    exactly at the empty name, the names from it on are dropped; any other
    mismatch is left for read_rows to report.
    """
    if "" not in (n.strip() for n in names) or not data:
        return names
    empty = [n.strip() for n in names].index("")
    return names[:empty] if len(split_cells(data[0][1], "\t")) == empty else names


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
    data = [(i + 1, line) for i, line in enumerate(lines) if i >= n_header and line.strip()]
    names = _names_written(names, data)
    roles = find_roles(names)
    require_roles(roles, ctx, line=header_line, expected_freq="'freq/Hz'")
    extra = {}
    if "cycle number" in [n.strip() for n in names]:
        extra["cycle"] = [n.strip() for n in names].index("cycle number")
    rows = read_rows(
        ctx, data, names, roles, delimiters=("\t",), extra_columns=extra, skip_zero_frequency=True
    )
    parts = [sweep for cycle in split_by_values(rows, "cycle") for sweep in split_sweeps(cycle)]
    metadata = _mpt_metadata(lines[: n_header - 1])
    return build_spectra(
        ctx, parts, metadata=metadata, fmt=FORMAT_MPT, table_line=header_line, cycle_key="cycle" if extra else None
    )


# ----------------------------------------------------------------- mpr binary
#
# The layout is not published by BioLogic; what is known comes from the
# open readers galvani and yadg and was checked here against real files of
# EC-Lab 10.40 to 11.62 (see the module docstring).

# Column id -> (name, numpy dtype) of the VMP data module. Flag columns share
# one byte, placed where the first flag column is listed, and take no space
# of their own. Names follow the .mpt headers, so that the impedance columns
# are recognised by the same classify_column as every text format.
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
    15: ("Phase(Z1)/deg", "<f4"),
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
    45: ("|Z1|/Ohm", "<f4"),
    46: ("|Z2|/Ohm", "<f4"),
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
    105: ("-Im(Z1)/Ohm", "<f4"),
    106: ("-Im(Z2)/Ohm", "<f4"),
    110: ("Energy ce/W.h", "<f8"),
    112: ("Energy we/W.h", "<f8"),
    115: ("Energy ce charge/W.h", "<f8"),
    116: ("Energy ce discharge/W.h", "<f8"),
    123: ("Energy charge/W.h", "<f8"),
    124: ("Energy discharge/W.h", "<f8"),
    125: ("Capacitance charge/µF", "<f8"),
    126: ("Capacitance discharge/µF", "<f8"),
    131: ("Ns", "<u2"),
    135: ("<E1>/V", "<f4"),
    136: ("<E2>/V", "<f4"),
    163: ("|Estack|/V", "<f4"),
    166: ("Phase(Zstack)/deg", "<f4"),
    167: ("|Zstack|/Ohm", "<f4"),
    168: ("Rcmp/Ohm", "<f4"),
    169: ("Cs/µF", "<f4"),
    172: ("Cp/µF", "<f4"),
    173: ("Cp-2/µF-2", "<f4"),
    174: ("<Ewe>/V", "<f4"),
    175: ("|Zwe-ce|/Ohm", "<f4"),
    176: ("Re(Zwe-ce)/Ohm", "<f4"),
    177: ("-Im(Zwe-ce)/Ohm", "<f4"),
    178: ("(Q-Qo)/C", "<f4"),
    179: ("dQ/C", "<f4"),
    182: ("step time/s", "<f8"),
    185: ("<Ece>/V", "<f4"),
    206: ("Temperature/°C", "<f4"),
    211: ("Q charge/discharge/mA.h", "<f8"),
    212: ("half cycle", "<u4"),
    213: ("z cycle", "<u4"),
    215: ("<Ece>/V", "<f4"),
    **{217 + i: (f"THD {q}/%", "<f4") for i, q in enumerate(("Ewe", "I", "Ece"))},
    **{220 + i: (f"NSD {q}/%", "<f4") for i, q in enumerate(("Ewe", "I", "Ece"))},
    **{223 + i: (f"NSR {q}/%", "<f4") for i, q in enumerate(("Ewe", "I", "Ece"))},
    **{230 + i: (f"|Ewe h{i + 2}|/V", "<f4") for i in range(6)},
    **{236 + i: (f"|I h{i + 2}|/A", "<f4") for i in range(6)},
    **{242 + i: (f"|Ece h{i + 2}|/V", "<f4") for i in range(6)},
    248: ("Rac/Ohm", "<f4"),
    249: ("Rdc/Ohm", "<f4"),
    253: ("Acir/Dcir control", "<u1"),
    # ids above 255 that readers list by name; others above 255 hold the
    # quantity of their low byte (see _column)
    301: ("|Z1|/Ohm", "<f4"),
    302: ("|Z2|/Ohm", "<f4"),
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


def _column(column_id: int) -> tuple[str, str] | None:
    """(name, dtype) of a data column id, or None when unknown.

    Ids above 255 that no reader lists by name repeat the quantity of their
    low byte (434 is 178 "(Q-Qo)/C", 473 is 217 "THD Ewe", ...): every id
    above 255 that galvani names has the dtype of its low byte in yadg's
    table. Such columns get a neutral name so that only the ids known for
    certain (32, 35-38) are ever taken as frequency or impedance.
    """
    if column_id in _COLUMNS:
        return _COLUMNS[column_id]
    if column_id > 255 and (column_id & 0xFF) in _COLUMNS:
        return f"column {column_id}", _COLUMNS[column_id & 0xFF][1]
    return None


@dataclass(frozen=True)
class _DataLayout:
    """Where a 'VMP data' module keeps its column ids and its first record."""

    description: str
    ids_offset: int
    id_dtype: str
    data_offset: int


# Every layout starts with the point count (uint32) and the column count
# (byte 4). Module version 0 has two layouts, told apart by byte 5 (galvani's
# rule): EC-Lab 11.50 and later write the column count as a 16-bit number, so
# byte 5 is its (zero) high byte, the 16-bit ids follow from byte 6 and the
# records start at 0x3EF; early EC-Lab versions list one byte per id from
# byte 5 on, records at 0x64. Versions 2 and 3 (EC-Lab 10.40 - 11.4x) list
# 16-bit ids from byte 5; version 3 has one more byte before the records.
_LAYOUT_V0_1150 = _DataLayout("version 0 (EC-Lab 11.50 and later)", 6, "<u2", 0x3EF)
_LAYOUT_V0_OLD = _DataLayout("version 0 (early EC-Lab)", 5, "u1", 0x64)
_LAYOUTS = {2: _DataLayout("version 2", 5, "<u2", 0x195), 3: _DataLayout("version 3", 5, "<u2", 0x196)}
SUPPORTED_DATA_VERSIONS = (0, 2, 3)


@dataclass(frozen=True)
class _Module:
    name: str
    version: int
    date_text: str
    payload: bytes


def _modules(ctx: Context, data: bytes) -> list[_Module]:
    """Every module of the file, in order.

    Header after ``MODULE``: short name (10 bytes), long name (25), then
    either length, version (uint32 each) and date (8 ASCII bytes) or - from
    EC-Lab 11.50 on - 0xFFFFFFFF, length, version, a second version-like
    number and the date.
    """
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
        modules.append(_Module(short, version, date_text.decode("latin-1", "replace").strip("\x00 "), payload))
        position = payload_start + length
    return modules


def _data_layout(ctx: Context, module: _Module) -> _DataLayout:
    if module.version == 0:
        if len(module.payload) < 6:
            raise ctx.error("'VMP data' module is too short to hold a column list (file truncated?)")
        return _LAYOUT_V0_1150 if module.payload[5] == 0 else _LAYOUT_V0_OLD
    if module.version in _LAYOUTS:
        return _LAYOUTS[module.version]
    known = ", ".join(str(v) for v in SUPPORTED_DATA_VERSIONS)
    raise ctx.error(
        f"unsupported 'VMP data' module version {module.version} (this reader knows versions {known}; "
        "export the file as .mpt from EC-Lab, or report the EC-Lab version that wrote it)"
    )


def _record_dtype(ctx: Context, column_ids: tuple[int, ...], layout: _DataLayout) -> tuple[np.dtype, list[str]]:
    """numpy record type of one data point and the column name of each field."""
    fields: list[tuple[str, str]] = []
    names: list[str] = []
    seen: set[int] = set()
    for column_id in column_ids:
        if column_id in _FLAG_COLUMNS:
            if ("flags", "u1") not in fields:
                fields.append(("flags", "u1"))
                names.append("flags")
            continue
        column = _column(column_id)
        if column is None:
            raise ctx.error(
                f"unknown data column id {column_id} in the 'VMP data' module ({layout.description}); "
                "cannot tell the size of its records"
            )
        if column_id in seen:
            raise ctx.error(f"column id {column_id} appears twice in the 'VMP data' module")
        seen.add(column_id)
        fields.append((f"c{column_id}", column[1]))
        names.append(column[0])
    return np.dtype(fields), names


# Technique id: first byte of the "VMP Set" module (ids from yadg's table,
# checked against the technique line of the .mpt exports of the same runs).
_TECHNIQUES = {
    0x1D: ("Potentio Electrochemical Impedance Spectroscopy", "potentiostatic"),
    0x1E: ("Galvano Electrochemical Impedance Spectroscopy", "galvanostatic"),
    0x7F: ("Modulo Bat", None),
}


def _settings_metadata(modules: list[_Module]) -> dict[str, Any]:
    settings = next((m for m in modules if m.name == "VMP Set"), None)
    if settings is None or not settings.payload or settings.payload[0] not in _TECHNIQUES:
        return {}
    technique, mode = _TECHNIQUES[settings.payload[0]]
    return {"technique": technique, "mode": mode}


def _log_metadata(modules: list[_Module]) -> dict[str, Any]:
    """Start time and EC-Lab version from the 'VMP LOG' module.

    Offsets from yadg's description of the module, checked against the .mpt
    headers of files from EC-Lab 10.40 to 11.62: an OLE date (days since
    1899-12-30, float64) at 0x249 and the software version as a Pascal
    string at 0x3B7. Values that do not look like a date or a version are
    left out rather than guessed.
    """
    meta: dict[str, Any] = {}
    log = next((m for m in modules if m.name == "VMP LOG"), None)
    if log is None:
        return meta
    payload = log.payload
    if len(payload) >= 0x249 + 8:
        (days,) = struct.unpack_from("<d", payload, 0x249)
        if 30000.0 < days < 80000.0:  # 1982 - 2119
            started = datetime(1899, 12, 30) + timedelta(milliseconds=round(days * 86_400_000))
            meta["started_at"] = started.replace(microsecond=0).isoformat()
            meta["date"] = started.date().isoformat()
    if len(payload) > 0x3B7:
        size = payload[0x3B7]
        version = payload[0x3B8 : 0x3B8 + size].decode("latin-1", "replace")
        if 0 < size <= 10 and re.fullmatch(r"\d+\.\d+", version):
            meta["software"] = f"EC-Lab v{version}"
    return meta


def parse_mpr(ctx: Context, data: bytes) -> list[ParsedSpectrum]:
    modules = _modules(ctx, data)
    found = [m for m in modules if m.name == "VMP data"]
    if not found:
        raise ctx.error("no 'VMP data' module in the .mpr file")
    module = found[0]
    layout = _data_layout(ctx, module)
    payload = module.payload
    id_size = np.dtype(layout.id_dtype).itemsize
    if len(payload) < layout.ids_offset:
        raise ctx.error("'VMP data' module is too short to hold a column list (file truncated?)")
    n_points = struct.unpack_from("<I", payload, 0)[0]
    n_columns = payload[4]
    if layout.ids_offset + id_size * n_columns > layout.data_offset:
        raise ctx.error(f"'VMP data' module lists {n_columns} columns, more than its header can hold")
    if len(payload) < layout.ids_offset + id_size * n_columns:
        raise ctx.error("'VMP data' module is cut inside its column list (file truncated?)")
    column_ids = tuple(
        int(v) for v in np.frombuffer(payload, dtype=layout.id_dtype, count=n_columns, offset=layout.ids_offset)
    )
    record, names = _record_dtype(ctx, column_ids, layout)
    needed = n_points * record.itemsize
    available = len(payload) - layout.data_offset
    if available < needed:
        raise ctx.error(
            f"'VMP data' module states {n_points} points ({needed} bytes) but holds {max(available, 0)} bytes "
            "(file truncated?)"
        )
    table = np.frombuffer(payload, dtype=record, count=n_points, offset=layout.data_offset)
    roles = find_roles(names)
    require_roles(roles, ctx, line=None, expected_freq="'freq/Hz', column id 32")

    def values(kind: str) -> np.ndarray:
        position, role = roles[kind]
        return table[record.names[position]].astype(np.float64) * role.sign * role.scale

    freq = values("freq")
    if "real" in roles and "imag" in roles:
        z = values("real") + 1j * values("imag")
    else:
        z = values("mod") * np.exp(1j * np.radians(values("phase")))
    measured = freq != 0.0  # points recorded outside the sweep, see module docstring
    points = np.arange(1, n_points + 1)[measured]
    rows = Rows(freq=freq[measured].tolist(), z=z[measured].tolist(), points=points.tolist())
    cycle_field = next((f"c{i}" for i in column_ids if i == 24), None)
    if cycle_field:
        rows.extra["cycle"] = table[cycle_field][measured].astype(np.float64).tolist()
    parts = [sweep for cycle in split_by_values(rows, "cycle") for sweep in split_sweeps(cycle)]
    meta: dict[str, Any] = {"format": FORMAT_MPR, "instrument": "BioLogic", "software": "EC-Lab"}
    day = parse_numeric_date(module.date_text, month_first=True)
    meta["date"], _ = iso_datetime(day)
    meta.update(_settings_metadata(modules))
    meta.update(_log_metadata(modules))
    meta["mpr_data_version"] = module.version
    return build_spectra(
        ctx, parts, metadata=clean_metadata(meta), fmt=FORMAT_MPR, cycle_key="cycle" if cycle_field else None
    )

"""Writes BioLogic EC-Lab ``.mpr`` files from known arrays, for round-trip tests.

The layout (see ``apps/measurements/parsers/biologic.py``) was checked
against real EC-Lab 10.40 - 11.62 files; the files those checks used may not
be stored here, so tests build equivalent ones:

* file magic, then modules: ``MODULE``, short name (10 bytes), long name
  (25 bytes), then ``length, version`` (uint32) or - from EC-Lab 11.50 on -
  ``0xFFFFFFFF, length, version, 10 or 11``, then the date as 8 ASCII bytes;
* the ``VMP data`` payload: point count (uint32), column count, column ids,
  zero padding, the records from the layout's offset.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Sequence

import numpy as np

MAGIC = b"BIO-LOGIC MODULAR FILE\x1a".ljust(48) + b"\x00" * 4

FLAG_IDS = {1, 2, 3, 21, 31, 65}
# dtype of the data column ids the tests use
DTYPES = {
    4: "<f8", 6: "<f4", 24: "<f8", 32: "<f4", 35: "<f4", 36: "<f4", 37: "<f4", 38: "<f4", 39: "<u2",
    77: "<f4", 131: "<u2", 169: "<f4", 438: "<f8", 473: "<f4", 250: "<f4",
}


@dataclass(frozen=True)
class Layout:
    """How one EC-Lab generation writes the data module."""

    name: str
    version: int
    extended_header: bool  # 0xFFFFFFFF "max length" module headers (EC-Lab 11.50+)
    id_dtype: str
    ids_offset: int
    data_offset: int
    marker_byte: bool = False  # one 0x01 byte right before the records (version 3 and 11.50+)


LAYOUTS = {
    "v0-ec-lab-11.50": Layout("v0-ec-lab-11.50", 0, True, "<u2", 6, 0x3EF, marker_byte=True),
    "v0-early": Layout("v0-early", 0, False, "u1", 5, 0x64),
    "v2": Layout("v2", 2, False, "<u2", 5, 0x195),
    "v3": Layout("v3", 3, False, "<u2", 5, 0x196, marker_byte=True),
}


def _module(short: str, long: str, payload: bytes, version: int, extended: bool, date_text: str) -> bytes:
    names = short.encode("latin-1").ljust(10) + long.encode("latin-1").ljust(25)
    if extended:
        sizes = struct.pack("<IIII", 0xFFFFFFFF, len(payload), version, 11 if short == "VMP data" else 10)
    else:
        sizes = struct.pack("<II", len(payload), version)
    return b"MODULE" + names + sizes + date_text.encode("ascii") + payload


def records(column_ids: Sequence[int], columns: Mapping[int, np.ndarray], flags: np.ndarray | None = None) -> bytes:
    """Packed little-endian records; one flag byte where the first flag id is listed."""
    n = len(next(iter(columns.values())))
    fields: list[tuple[str, str]] = []
    for column_id in column_ids:
        if column_id in FLAG_IDS:
            if ("flags", "u1") not in fields:
                fields.append(("flags", "u1"))
        else:
            fields.append((f"c{column_id}", DTYPES[column_id]))
    table = np.zeros(n, dtype=np.dtype(fields))
    for column_id, values in columns.items():
        table[f"c{column_id}"] = values
    if ("flags", "u1") in fields:
        table["flags"] = flags if flags is not None else 0
    return table.tobytes()


def data_payload(layout: Layout, column_ids: Sequence[int], body: bytes, n_points: int) -> bytes:
    if layout.id_dtype == "u1":
        head = struct.pack("<IB", n_points, len(column_ids)) + bytes(column_ids)
    elif layout.ids_offset == 6:
        head = struct.pack("<IH", n_points, len(column_ids)) + struct.pack(f"<{len(column_ids)}H", *column_ids)
    else:
        head = struct.pack("<IB", n_points, len(column_ids)) + struct.pack(f"<{len(column_ids)}H", *column_ids)
    head = head.ljust(layout.data_offset - (1 if layout.marker_byte else 0), b"\x00")
    if layout.marker_byte:
        head += b"\x01"
    assert len(head) == layout.data_offset
    return head + body


def log_payload(started: datetime, software_version: str) -> bytes:
    payload = bytearray(0x400)
    days = (started - datetime(1899, 12, 30)).total_seconds() / 86400.0
    struct.pack_into("<d", payload, 0x249, days)
    encoded = software_version.encode("ascii")
    payload[0x3B7] = len(encoded)
    payload[0x3B8 : 0x3B8 + len(encoded)] = encoded
    return bytes(payload)


def build_mpr(
    layout: Layout,
    columns: Mapping[int, Sequence[float]],
    *,
    column_ids: Sequence[int] | None = None,
    flags: np.ndarray | None = None,
    date_text: str = "07/15/25",
    log: tuple[datetime, str] | None = None,
    n_points: int | None = None,
    technique_id: int = 0x1D,
) -> bytes:
    """A whole .mpr file holding ``columns`` (column id -> values) in ``layout``.

    ``column_ids`` gives the listed order (flag ids included); by default the
    columns in the order given. ``n_points`` overrides the stated point count;
    ``technique_id`` is the first byte of the settings module (0x1D: PEIS).
    """
    arrays = {k: np.asarray(v) for k, v in columns.items()}
    ids = list(column_ids) if column_ids is not None else list(arrays)
    n = len(next(iter(arrays.values())))
    body = records(ids, arrays, flags)
    extended = layout.extended_header
    settings = bytes([technique_id]) + b"\x00" * 63
    out = MAGIC + _module("VMP Set", "VMP settings", settings, 0, extended, date_text)
    out += _module(
        "VMP data", "VMP data", data_payload(layout, ids, body, n if n_points is None else n_points),
        layout.version, extended, date_text,
    )
    if log is not None:
        out += _module("VMP LOG", "VMP LOG", log_payload(*log), 0, extended, date_text)
    return out

"""Our own spectrum exports, CSV and JSON, and the reader of the JSON one.

Floats are written with ``repr`` (shortest string that reads back to the
same double), so ``parse(to_csv(s).encode())`` and
``parse(to_json(s).encode())`` give back bit-identical arrays and the same
metadata.

CSV::

    # assbdb-spectrum version=1
    # assbdb <key>=<JSON value>          (one line per metadata key)
    frequency_hz,z_real_ohm,z_imag_ohm
    1000.0,12.5,-3.25

JSON::

    {"format": "assbdb-spectrum", "version": 1,
     "frequencies_hz": [...], "z_real_ohm": [...], "z_imag_ohm": [...],
     "metadata": {...}}
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, Sequence, Union

import numpy as np

from .core import Context, ParsedSpectrum
from .spectra import build_spectrum
from .tables import Rows

JSON_FORMAT = "assbdb-spectrum"
JSON_VERSION = 1
FORMAT_JSON = "assbdb-json"

SpectrumLike = Union[ParsedSpectrum, Sequence[Any]]


def _unpack(spectrum: SpectrumLike) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    if isinstance(spectrum, ParsedSpectrum):
        freq, z, metadata = spectrum.frequencies_hz, spectrum.impedance_ohm, spectrum.metadata
    else:
        if len(spectrum) == 2:
            freq, z = spectrum
            metadata = {}
        elif len(spectrum) == 3:
            freq, z, metadata = spectrum
        else:
            raise ValueError("expected a ParsedSpectrum or (frequencies_hz, impedance_ohm[, metadata])")
    freq = np.asarray(freq, dtype=np.float64).ravel()
    z = np.asarray(z, dtype=np.complex128).ravel()
    if freq.shape != z.shape:
        raise ValueError(f"{freq.size} frequencies but {z.size} impedance values")
    if not (np.isfinite(freq).all() and np.isfinite(z.real).all() and np.isfinite(z.imag).all()):
        raise ValueError("cannot export non-finite values")
    metadata = dict(metadata or {})
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata is not plain JSON: {exc}") from None
    return freq, z, metadata


def _r(value: float) -> str:
    return repr(float(value))


def to_csv(spectrum: SpectrumLike) -> str:
    """CSV text of one spectrum: ``# assbdb`` metadata comments, then ``frequency_hz,z_real_ohm,z_imag_ohm`` rows."""
    freq, z, metadata = _unpack(spectrum)
    out = [f"# assbdb-spectrum version={JSON_VERSION}"]
    for key, value in metadata.items():
        key = str(key)
        if "=" in key or "\n" in key or "\r" in key:
            raise ValueError(f"metadata key {key!r} cannot be written to CSV")
        out.append(f"# assbdb {key}={json.dumps(value, ensure_ascii=True, allow_nan=False)}")
    out.append("frequency_hz,z_real_ohm,z_imag_ohm")
    out.extend(f"{_r(f)},{_r(v.real)},{_r(v.imag)}" for f, v in zip(freq, z))
    return "\n".join(out) + "\n"


def to_json(spectrum: SpectrumLike) -> str:
    """JSON text of one spectrum in the ``assbdb-spectrum`` version 1 schema."""
    freq, z, metadata = _unpack(spectrum)
    document = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "frequencies_hz": [float(f) for f in freq],
        "z_real_ohm": [float(v) for v in z.real],
        "z_imag_ohm": [float(v) for v in z.imag],
        "metadata": metadata,
    }
    return json.dumps(document, ensure_ascii=False, allow_nan=False)


def sniff_json(text: str) -> bool:
    head = text.lstrip()[:4000]
    return head[:1] in "{[" and f'"{JSON_FORMAT}"' in head


def parse_json(ctx: Context, text: str) -> list[ParsedSpectrum]:
    """Spectra from our JSON export: one document, or a list of them."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ctx.error(f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    except RecursionError:
        raise ctx.error("invalid JSON: nested too deeply") from None
    documents = document if isinstance(document, list) else [document]
    if not documents:
        raise ctx.error("JSON holds no spectra")
    return [_spectrum_from_document(ctx, doc, index) for index, doc in enumerate(documents)]


def _spectrum_from_document(ctx: Context, document: Any, index: int) -> ParsedSpectrum:
    if not isinstance(document, Mapping) or document.get("format") != JSON_FORMAT:
        raise ctx.error(f"spectrum {index + 1}: not an {JSON_FORMAT!r} document")
    if document.get("version") != JSON_VERSION:
        raise ctx.error(f"spectrum {index + 1}: unsupported version {document.get('version')!r}")
    arrays = []
    for key in ("frequencies_hz", "z_real_ohm", "z_imag_ohm"):
        values = document.get(key)
        if not isinstance(values, list):
            raise ctx.error(f"spectrum {index + 1}: {key!r} must be a list of numbers", field=key)
        for position, value in enumerate(values):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ctx.error(
                    f"spectrum {index + 1}: {key}[{position}] is {value!r}, not a finite number", field=key
                )
        arrays.append([float(v) for v in values])
    freq, real, imag = arrays
    if not (len(freq) == len(real) == len(imag)):
        raise ctx.error(
            f"spectrum {index + 1}: lists differ in length ({len(freq)}, {len(real)}, {len(imag)})"
        )
    metadata = document.get("metadata", {})
    if not isinstance(metadata, Mapping):
        raise ctx.error(f"spectrum {index + 1}: 'metadata' must be an object", field="metadata")
    rows = Rows(lines=[], freq=freq, z=[complex(a, b) for a, b in zip(real, imag)])
    return build_spectrum(ctx, rows, metadata=dict(metadata), fmt=FORMAT_JSON, index=index)

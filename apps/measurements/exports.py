"""A stored spectrum back out as CSV or JSON, in the parser package's own formats.

Both exports go through ``apps.measurements.parsers.to_csv`` / ``to_json``,
so ``parse(spectrum_csv(s).encode())`` returns bit-identical arrays and the
same metadata, and an exported file can be uploaded again as it is.

JSON document (``assbdb-spectrum`` version 1)::

    {
      "format": "assbdb-spectrum",
      "version": 1,
      "frequencies_hz": [...],          # Hz, as measured (file order)
      "z_real_ohm": [...],              # Z' in ohm
      "z_imag_ohm": [...],              # Z'' in ohm, capacitive arcs negative
      "metadata": {
        "assbdb_spectrum_id": 12, "label": "...", "cell": "...", "cell_id": 3,
        "separator": "...", "separator_thickness_um": 800.0, "separator_area_cm2": 0.785,
        "temperature_c": 25.0, "stack_pressure_mpa": 10.0, ...   # conditions, where known
        "instrument_metadata": {...}    # what the instrument file stated
      }
    }

CSV: ``# assbdb <key>=<JSON value>`` comment lines with the same metadata,
then ``frequency_hz,z_real_ohm,z_imag_ohm`` rows.
"""
from __future__ import annotations

import csv
import datetime
import io
import json
from typing import Any

from apps.accounts.references import PRIVATE_LABEL, visible_reference

from .models import ImpedanceSpectrum
from .parsers import to_csv, to_json

EXPORTED_CONDITIONS: tuple[str, ...] = (
    "temperature_c",
    "equilibration_time_min",
    "atmosphere",
    "stack_pressure_mpa",
    "cycle_index",
    "state_of_charge",
    "elapsed_time_h",
    "dc_bias_v",
    "ac_amplitude_mv",
    "points_per_decade",
    "mode",
    "instrument",
    "measured_at",
)


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def spectrum_metadata(spectrum: ImpedanceSpectrum, *, user) -> dict[str, Any]:
    """The metadata written into both exports: identity, cell and separator geometry, conditions, instrument facts.

    The cell, separator and raw file are described only when `user` may see them
    (else ``"private record"``, no details): visibility follows references.
    """
    cell = visible_reference(user, spectrum.cell)
    separator = visible_reference(user, cell.separator) if cell is not None else None
    metadata: dict[str, Any] = {"assbdb_spectrum_id": spectrum.pk, "label": spectrum.label}
    if cell is None:
        metadata["cell"] = PRIVATE_LABEL
    else:
        metadata.update({"cell": cell.name, "cell_id": cell.pk, "cell_configuration": cell.configuration})
    if separator is None and cell is not None and cell.separator_id:
        metadata["separator"] = PRIVATE_LABEL
    if separator is not None:
        metadata["separator"] = separator.name
        metadata["separator_id"] = separator.pk
        if separator.thickness_um is not None:
            metadata["separator_thickness_um"] = separator.thickness_um
        if separator.area_cm2 is not None:
            metadata["separator_area_cm2"] = separator.area_cm2
    for name in EXPORTED_CONDITIONS:
        value = getattr(spectrum, name)
        if value not in (None, ""):
            metadata[name] = _plain(value)
    raw_file = visible_reference(user, spectrum.raw_file) if spectrum.raw_file_id else None
    if raw_file is not None:
        metadata["raw_file"] = raw_file.original_name
        metadata["raw_file_sha256"] = raw_file.sha256
    elif spectrum.raw_file_id:
        metadata["raw_file"] = PRIVATE_LABEL
    if spectrum.metadata:
        metadata["instrument_metadata"] = dict(spectrum.metadata)
    return metadata


def spectrum_csv(spectrum: ImpedanceSpectrum, *, user) -> str:
    """CSV text of a stored spectrum as `user` may see it, metadata in ``# assbdb`` comment lines."""
    return to_csv((spectrum.frequencies_hz, spectrum.impedance_ohm, spectrum_metadata(spectrum, user=user)))


def spectrum_json(spectrum: ImpedanceSpectrum, *, user) -> str:
    """JSON text of a stored spectrum as `user` may see it, ``assbdb-spectrum`` version 1 schema (module docstring)."""
    return to_json((spectrum.frequencies_hz, spectrum.impedance_ohm, spectrum_metadata(spectrum, user=user)))


def export_filename(spectrum: ImpedanceSpectrum, extension: str) -> str:
    """A download name a researcher recognises: ``spectrum-12_25C.csv``."""
    temperature = f"_{spectrum.temperature_c:g}C" if spectrum.temperature_c is not None else ""
    return f"spectrum-{spectrum.pk}{temperature}.{extension.lstrip('.')}"


def fit_parameters_csv(fit, rows: list[dict]) -> str:
    """A fit's parameters as CSV: ``# assbdb`` comment lines (spectrum, protocol, circuit, χ², engine), then one
    row per parameter with its value, standard error (blank when not determined), unit and role, in SI units."""
    out = io.StringIO()
    for key, value in (
        ("spectrum_id", fit.spectrum_id), ("protocol", str(fit.protocol)), ("circuit", fit.protocol.circuit),
        ("status", fit.status), ("chi_square", fit.chi_square), ("reduced_chi_square", fit.reduced_chi_square),
        ("engine_version", fit.engine_version),
    ):
        out.write(f"# assbdb {key}={json.dumps(value, ensure_ascii=False)}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["parameter", "value", "stderr", "unit", "role"])
    for row in rows:
        writer.writerow([row["name"], repr(float(row["value"])),
                         "" if row["stderr"] is None else repr(float(row["stderr"])), row["unit"], row["role"]])
    return out.getvalue()

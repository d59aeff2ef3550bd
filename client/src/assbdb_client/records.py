"""What the client returns: lazily paged record lists and spectra with numpy arrays."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def require_pandas():
    try:
        import pandas
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("DataFrames need pandas: pip install 'assbdb-client[pandas]'") from error
    return pandas


class Records:
    """Every record of a list, fetched page by page as you iterate (following the API's `next` links).

    Iterate it, `list()` it, or `.to_dataframe()` it (pandas). `count` is the
    server's total (known after the first page). Iterating again re-fetches.
    """

    def __init__(self, fetch_page: Callable[[str | None], dict[str, Any]]) -> None:
        self._fetch_page = fetch_page
        self._first: dict[str, Any] | None = None

    def _first_page(self) -> dict[str, Any]:
        if self._first is None:
            self._first = self._fetch_page(None)
        return self._first

    @property
    def count(self) -> int:
        page = self._first_page()
        return int(page.get("count", len(page.get("results", []))))

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        page = self._first_page()
        self._first = None  # a later iteration sees fresh data
        while True:
            yield from page.get("results", [])
            next_url = page.get("next")
            if not next_url:
                return
            page = self._fetch_page(next_url)

    def to_dataframe(self):
        """A pandas DataFrame, nested objects as dotted columns (`components.0.material`, …)."""
        pandas = require_pandas()
        rows = list(self)
        return pandas.json_normalize(rows) if rows else pandas.DataFrame()


@dataclass(frozen=True)
class Spectrum:
    """One impedance spectrum: arrays in SI units (Hz, Ω; Z'' negative for capacitive arcs) and its record.

    `record` holds every other field of the API's answer (conditions, cell,
    Kramers–Kronig check, fits, completeness).
    """

    id: int
    label: str
    cell: int
    temperature_c: float | None
    frequencies_hz: np.ndarray
    z_real_ohm: np.ndarray
    z_imag_ohm: np.ndarray
    record: dict[str, Any] = field(repr=False)

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> Spectrum:
        arrays = {name: np.asarray(body.get(name) or [], dtype=float) for name in ("frequencies_hz", "z_real_ohm", "z_imag_ohm")}
        lengths = {len(values) for values in arrays.values()}
        if len(lengths) != 1:
            raise ValueError(f"spectrum {body.get('id')}: arrays of different lengths {sorted(lengths)}")
        record = {k: v for k, v in body.items() if k not in arrays}
        return cls(
            id=int(body["id"]), label=str(body.get("label", "")), cell=int(body["cell"]),
            temperature_c=body.get("temperature_c"), record=record, **arrays,
        )  # fmt: skip

    @property
    def impedance_ohm(self) -> np.ndarray:
        """Complex impedance Z = Z' + jZ'' in Ω."""
        return self.z_real_ohm + 1j * self.z_imag_ohm

    @property
    def n_points(self) -> int:
        return int(self.frequencies_hz.size)

    def to_dataframe(self):
        """frequency_hz, z_real_ohm, z_imag_ohm as a pandas DataFrame (one row per point)."""
        pandas = require_pandas()
        return pandas.DataFrame(
            {"frequency_hz": self.frequencies_hz, "z_real_ohm": self.z_real_ohm, "z_imag_ohm": self.z_imag_ohm}
        )

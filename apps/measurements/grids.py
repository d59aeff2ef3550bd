"""Shared frequency grids: a spectrum's frequencies stored once per sweep (``FrequencyGrid``), not per spectrum.

An instrument repeats its sweep, so the spectra of a lab share a handful of frequency lists; each was 640 bytes
of every 80-point spectrum. The grid is named by the SHA-256 of its float64 bytes, so equal frequencies, bit for
bit, are one row, and a spectrum keeps Z', Z'' only.
"""
from __future__ import annotations

import hashlib
from typing import Iterable

import numpy as np

from .models import FrequencyGrid, ImpedanceSpectrum, remember_grid


def share_frequency_grids(spectra: Iterable[ImpedanceSpectrum]) -> None:
    """Move the frequencies of unsaved spectra (packed with them, as ``set_arrays`` leaves them) into the shared
    grid of their sweep, created when new (one statement for all): each keeps Z', Z'' and names its grid."""
    grids: dict[str, bytes] = {}
    for spectrum in spectra:
        if spectrum.frequency_grid_id is not None:
            continue
        values = np.frombuffer(bytes(spectrum.data), dtype="<f8")
        n = values.size // 3
        frequencies = values[:n].tobytes()
        sha256 = hashlib.sha256(frequencies).hexdigest()
        grids[sha256] = frequencies
        spectrum.data = values[n:].tobytes()
        spectrum.frequency_grid_id = sha256
    if grids:
        FrequencyGrid.objects.bulk_create(
            [FrequencyGrid(sha256=sha256, n_points=len(data) // 8, data=data) for sha256, data in grids.items()],
            ignore_conflicts=True,
        )
    for sha256, data in grids.items():  # read back without a query in this process
        remember_grid(sha256, data)

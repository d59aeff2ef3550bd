"""Exports written a chunk at a time as columns (`apps.common.exports`) are byte for byte the file written row by
row from the list's own rows, as exports were before: each row rounded by `rounded_row`, CSV by `rows_to_csv`,
JSON one `json.dumps` per row. Chunks of 7 rows, so every export spans several fetches."""
import json
import math
import random

import pytest
from django.urls import reverse
from rest_framework.utils.encoders import JSONEncoder

from apps.accounts.models import Visibility
from apps.common.rounding import rounded_row
from apps.common.renderers import rows_to_csv
from tests.factories import (
    ArrheniusFitFactory,
    BenchmarkEntryFactory,
    CellFactory,
    ConductivityFactory,
    FitResultFactory,
    SeparatorFactory,
    SpectrumFactory,
)

pytestmark = pytest.mark.django_db
PUBLIC = {"visibility": Visibility.PUBLIC}
NAN = math.nan


def _number(rng: random.Random, *, nan: bool = True, none: bool = True):
    """Measured-looking values, with ties at the rounding place (…5), NaN (stored as NULL by SQLite), and a few
    missing."""
    choice = rng.random()
    if choice < 0.1:
        return None if none else 1.0
    if choice < 0.15 and nan:
        return NAN
    if choice < 0.35:
        return float(f"{rng.randint(1, 999)}5e-{rng.randint(1, 8)}")
    return 10 ** rng.uniform(-9, 4)


@pytest.fixture
def records():
    """A few records of every export kind with numbers that exercise the rounding."""
    rng = random.Random(2026)
    separators = [SeparatorFactory(**PUBLIC, thickness_um=rng.uniform(100, 900), thickness_stderr_um=_number(rng))
                  for _ in range(3)]
    for index in range(16):
        cell = CellFactory(**PUBLIC, separator=separators[index % 3])
        spectrum = SpectrumFactory(**PUBLIC, cell=cell, temperature_c=rng.choice([25.0, 60.5, None]))
        keys = rng.sample(["R0", "R1", "C1", "CPE1_n"], rng.randint(1, 4))  # fits of different circuits
        fit = FitResultFactory(
            spectrum=spectrum,
            parameters={key: _number(rng, nan=False) for key in keys},
            stderr=rng.choice([{}, {key: _number(rng, nan=False) for key in keys if rng.random() < 0.8}]),
        )
        ConductivityFactory(
            fit=fit, resistance_ohm=_number(rng, nan=False, none=False), resistance_stderr_ohm=_number(rng),
            conductivity_s_per_cm=_number(rng, nan=False, none=False), conductivity_stderr_s_per_cm=_number(rng),
            temperature_c=rng.uniform(-20, 100),
        )
        separators.append(SeparatorFactory(**PUBLIC))
        BenchmarkEntryFactory(separator=separators[-1], cell=None, value=_number(rng, nan=False, none=False),
                              stderr=_number(rng, nan=False), ci_low=_number(rng, nan=False),
                              ci_high=_number(rng, nan=False), temperature_c=rng.uniform(20, 30))
    for separator in separators:
        ArrheniusFitFactory(separator=separator, activation_energy_ev=rng.uniform(0.2, 0.6),
                            activation_energy_stderr_ev=_number(rng, nan=False),
                            sigma_25c_s_per_cm=_number(rng, nan=False, none=False))


def _listed(client, name: str) -> list[dict]:
    rows, url = [], reverse(f"api:{name}-list") + "?page_size=5"
    while url:
        body = client.get(url).json()
        rows += body["results"]
        url = body["next"]
    return rows


@pytest.mark.parametrize(
    "name", ["conductivity", "fit", "spectrum", "separator", "cell", "benchmarkentry", "arrheniusfit"]
)
def test_export_is_the_row_by_row_file_of_the_list(client, records, monkeypatch, name):
    monkeypatch.setattr("apps.common.exports.EXPORT_CHUNK_ROWS", 7)
    view = client.get(reverse(f"api:{name}-list")).renderer_context["view"]
    listed = [rounded_row(row, view.export_uncertainties) if view.export_uncertainties else row
              for row in _listed(client, name)]
    assert len(listed) > 7

    csv_text = b"".join(client.get(reverse(f"api:{name}-export"), {"format": "csv"}).streaming_content).decode()
    assert csv_text == rows_to_csv(listed) + f"# end of export: {len(listed)} rows\n"

    json_text = b"".join(client.get(reverse(f"api:{name}-export"), {"format": "json"}).streaming_content).decode()
    rows = ",".join(json.dumps(row, cls=JSONEncoder, ensure_ascii=False, allow_nan=False) for row in listed)
    assert json_text == f'{{"results":[{rows}],"count":{len(listed)}}}'

"""Storage: bytes per spectrum with its standard fit, Kramers–Kronig check and conductivities, as the real
pipeline writes them (not the hand-made rows of ``scale.py``).

Creates N noisy 80-point spectra (1 MHz … 0.1 Hz, R0-(R1‖CPE1)-CPE2 of 0.8 mm pellets) in a scratch
PostgreSQL database, runs the Kramers–Kronig check and the standard fit (with its conductivities) of each
in this process (the spectra share one frequency grid, as the services store spectra of one sweep), copies
those rows ``--copies`` times in SQL (so that the first pages of every table and index weigh nothing per
spectrum), compacts the tables (VACUUM FULL, as a fresh load would be) and prints, per table, its bytes per
spectrum: heap, TOAST, indexes and total (``pg_total_relation_size``), and the average width of
each large column (``pg_column_size``).

DATABASE_URL must name a scratch PostgreSQL database: the script migrates it and adds rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/assbdb_storage_bench \\
        .venv/bin/python benchmarks/storage.py [--spectra 200] [--points 80] [--copies 20]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Columns whose average width is printed beside the table totals.
WIDE_COLUMNS = {
    "measurements_impedancespectrum": ["data", "metadata"],
    "measurements_frequencygrid": [],  # one sweep shared by every spectrum, as an instrument repeats it
    "analysis_fitresult": ["parameters", "stderr", "derived", "flags"],
    "analysis_kramerskronigcheck": [],
    "analysis_conductivity": [],
}


def create_spectra(n: int, n_points: int) -> list[int]:
    import numpy as np

    from apps.accounts.models import ResearchGroup
    from apps.analysis.eis.circuits import circuit_impedance
    from apps.catalog.models import Cell, Separator
    from apps.measurements.grids import share_frequency_grids
    from apps.measurements.models import ImpedanceSpectrum

    group, _ = ResearchGroup.objects.get_or_create(slug="storage-benchmark", defaults={"name": "Storage benchmark"})
    separator = Separator.objects.create(group=group, name="storage pellet", thickness_um=800.0, area_cm2=0.785)
    cell = Cell.objects.create(group=group, name="storage cell", configuration="blocking", separator=separator,
                               active_area_cm2=0.785)
    rng = np.random.default_rng(1)
    f = np.logspace(6, -1, n_points)
    rows = []
    for i in range(n):
        r1 = float(rng.uniform(1000, 10000))
        truth = {"R0": r1 * float(rng.uniform(0.2, 0.6)), "R1": r1, "CPE1_Q": 5e-9,
                 "CPE1_n": float(rng.uniform(0.8, 0.9)), "CPE2_Q": 2e-6, "CPE2_n": 0.8}
        z = circuit_impedance("R0-p(R1,CPE1)-CPE2", truth, f)
        z = z + 0.002 * np.abs(z) * (rng.normal(size=f.size) + 1j * rng.normal(size=f.size))
        spectrum = ImpedanceSpectrum(cell=cell, group=group, label=f"storage {i}", temperature_c=25.0)
        spectrum.set_arrays(f, z)
        rows.append(spectrum)
    share_frequency_grids(rows)
    return [s.pk for s in ImpedanceSpectrum.objects.bulk_create(rows, batch_size=500)]


def analyse(spectrum_ids: list[int]) -> None:
    """KK check of each spectrum, then its standard fit and conductivities (stored in chunks, as a re-fit does)."""
    from apps.analysis import services
    from apps.analysis.services.fits import fit_many
    from apps.measurements.models import ImpedanceSpectrum

    for spectrum_id in spectrum_ids:
        services.validate_spectrum(spectrum_id=spectrum_id)
    spectra = list(ImpedanceSpectrum.objects.select_related("cell", "cell__separator").filter(pk__in=spectrum_ids))
    protocol = services.standard_protocol_for(spectra[0])
    for start in range(0, len(spectra), 50):
        fit_many(spectra[start : start + 50], protocol)


def replicate(copies: int) -> None:
    """Copy every analysed row ``copies`` times in SQL (new keys, same contents), so that the fixed size of
    each table and index (their first pages) no longer weighs on the figure per spectrum."""
    from django.db import connection

    from apps.analysis.models import Conductivity, FitResult, KramersKronigCheck
    from apps.measurements.models import ImpedanceSpectrum

    keys = {"id": ImpedanceSpectrum, "spectrum_id": ImpedanceSpectrum, "fit_id": FitResult}
    with connection.cursor() as cursor:
        offsets = {}
        for model in (ImpedanceSpectrum, FitResult, KramersKronigCheck, Conductivity):
            cursor.execute(f"SELECT max(id) FROM {model._meta.db_table}")
            offsets[model] = cursor.fetchone()[0]
        for copy in range(1, copies + 1):
            for model in (ImpedanceSpectrum, FitResult, KramersKronigCheck, Conductivity):
                columns = [f.column for f in model._meta.concrete_fields]
                shifted = [
                    f"{c} + {copy * offsets[model if c == 'id' else keys[c]]}" if c in keys else c for c in columns
                ]
                table = model._meta.db_table
                cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(shifted)} "
                               f"FROM {table} WHERE id <= {offsets[model]}")


def measure() -> list[tuple[str, str]]:
    from django.db import connection

    from apps.measurements.models import ImpedanceSpectrum

    n = ImpedanceSpectrum.objects.count()
    rows, total = [], 0
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM FULL {', '.join(WIDE_COLUMNS)}")
        for table, columns in WIDE_COLUMNS.items():
            cursor.execute(
                "SELECT pg_relation_size(c.oid), coalesce(pg_total_relation_size(c.reltoastrelid), 0), "
                "pg_indexes_size(c.oid), pg_total_relation_size(c.oid) FROM pg_class c WHERE c.relname = %s",
                [table],
            )
            heap, toast, indexes, size = cursor.fetchone()
            total += size
            rows.append((table, f"{size / n:,.0f} B per spectrum (heap {heap / n:,.0f}, TOAST {toast / n:,.0f}, "
                                f"indexes {indexes / n:,.0f})"))
            if columns:
                widths = ", ".join(f"avg(pg_column_size({c}))" for c in columns)
                cursor.execute(f"SELECT avg(pg_column_size(t.*)), {widths} FROM {table} t")
                row_width, *column_widths = cursor.fetchone()
                parts = ", ".join(f"{c} {w:,.0f}" for c, w in zip(columns, column_widths))
                rows.append((f"  {table} row", f"{row_width:,.0f} B: {parts}"))
    rows.append(("spectrum + fit + KK check + σ", f"{total / n:,.0f} B per spectrum"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=200)
    parser.add_argument("--points", type=int, default=80)
    parser.add_argument("--copies", type=int, default=20,
                        help="copies of the analysed rows added in SQL before measuring (default 20)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        raise SystemExit("DATABASE_URL must name a scratch PostgreSQL database (table sizes are PostgreSQL's)")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "assbdb.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from apps.measurements.models import ImpedanceSpectrum

    call_command("migrate", verbosity=0)
    if ImpedanceSpectrum.objects.exists():
        raise SystemExit("the database already holds spectra; give an empty scratch database")
    started = time.perf_counter()
    analyse(create_spectra(args.spectra, args.points))
    print(f"{args.spectra} spectra of {args.points} points analysed in {time.perf_counter() - started:.1f} s")
    replicate(args.copies)
    print(f"measured over {ImpedanceSpectrum.objects.count():,} spectra ({args.copies} copies of those rows)")
    for label, value in measure():
        print(f"{label:<40} {value}")


if __name__ == "__main__":
    main()

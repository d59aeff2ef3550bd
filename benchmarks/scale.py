"""Scale benchmark: load N synthetic spectra (with fits, Kramers–Kronig checks and
conductivities), then time the pages and API calls of issue 13 and print a table.

Loading: PostgreSQL ``COPY … FROM STDIN`` (psycopg 3 ``cursor.copy``) when the
database is PostgreSQL, ``bulk_create`` otherwise. The data are spread over a
few research groups, separators and cells with mixed visibility and embargoes;
one separator holds a quarter of the cells and one cell many spectra, so the
"many children" pages are measured. Spectra are 80-point R0-(R‖CPE)-CPE
arcs with noise; every spectrum has one fit under the standard protocol
"Blocking pellet, bulk arc beyond top frequency", a Kramers–Kronig check and
three conductivities (bulk, grain boundary, total).

Timing: server time through Django's test client in this process (no network,
no gunicorn): one warm-up request, then the median of 3, as a signed-in member
of the first group. The export row rate and the peak resident memory (RSS,
sampled every 10 ms from /proc while the export streams) are of this process;
the export's rows per CPU second also count the CPU of its PostgreSQL backend
(from /proc, when the server runs on this machine), which a shared machine
does not inflate as it does wall time.

Scratch database: a temporary SQLite file unless DATABASE_URL is given (then
that database must be a scratch one: the script migrates it and adds rows;
``--reset`` empties the loaded tables first).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/assbdb_scale_bench \\
        .venv/bin/python benchmarks/scale.py --spectra 100000
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N_POINTS = 80
SPECTRA_PER_CELL = 500
GROUPS = 4
CHUNK_ROWS = 20_000
ENGINE_VERSION = "scale-bench"
PROTOCOL_NAME = "Blocking pellet, bulk arc beyond top frequency"
TEMPERATURES_C = (-20.0, 0.0, 25.0, 40.0, 60.0, 80.0, 100.0)
BOLTZMANN_EV_PER_K = 8.617333262e-5


def configure_environment(scratch: Path) -> None:
    """Point Django at the scratch database before django.setup(); no query log, quiet logging."""
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch / 'scale.sqlite3'}")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "scale-benchmark-only-" + "x" * 40)
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "assbdb.settings"


# --------------------------------------------------------------------------- synthetic data


@dataclass
class Layout:
    """Who owns what: the catalog rows the spectra hang on, and the users that look at them."""

    group_ids: list[int]
    member_id: int
    cell_ids: list[int]
    cell_separator: dict[int, int]
    cell_group: dict[int, int]
    separator_geometry: dict[int, tuple[float, float]]  # thickness µm, area cm²
    big_separator_id: int
    big_cell_id: int
    protocol_id: int
    spectra_by_cell: dict[int, int] = field(default_factory=dict)


def _visibility_of(index: int) -> tuple[str, datetime.date | None]:
    """Mixed visibility: half public, a third group-only, some private, some embargoed (past or future)."""
    slot = index % 10
    if slot < 5:
        return "public", None
    if slot < 8:
        return "group", None
    if slot == 8:
        return "private", None
    return "group", datetime.date(2024, 1, 1) if index % 20 == 9 else datetime.date(2099, 1, 1)


def build_catalog(n_spectra: int) -> Layout:
    """Groups (each with an owner and a member), separators and cells through the ORM: a few hundred rows at most."""
    from django.contrib.auth import get_user_model

    from apps.accounts.models import Membership, ResearchGroup
    from apps.analysis.models import FitProtocol
    from apps.catalog.models import Cell, Material, Separator, SeparatorComponent

    User = get_user_model()
    stamp = time.strftime("%Y%m%d%H%M%S")
    groups = [
        ResearchGroup.objects.create(name=f"Scale lab {stamp}-{g}", slug=f"scale-{stamp}-{g}") for g in range(GROUPS)
    ]
    member = None
    for g, group in enumerate(groups):
        for role in ("owner", "member"):
            user = User.objects.create_user(username=f"scale-{stamp}-{g}-{role}", password="scale-benchmark")
            Membership.objects.create(user=user, group=group, role=role)
            if g == 0 and role == "member":
                member = user
    material, _ = Material.objects.get_or_create(
        name="LLZTO (scale benchmark)", defaults={"formula": "Li6.4La3Zr1.4Ta0.6O12", "family": "garnet"}
    )
    n_cells = max(8, n_spectra // SPECTRA_PER_CELL)
    n_separators = max(4, n_cells // 10)
    separators = []
    for s in range(n_separators):
        visibility, embargo = _visibility_of(s)
        separator = Separator.objects.create(
            name=f"LLZTO pellet {stamp}-{s}", group=groups[s % GROUPS], visibility=visibility, embargo_until=embargo,
            processing_route="sintering", densification_pressure_mpa=300.0, sintering_temperature_c=1150.0,
            thickness_um=500.0 + 10.0 * (s % 50), area_cm2=0.785, relative_density=0.95,
        )
        SeparatorComponent.objects.create(separator=separator, material=material, role="fast_ion_phase", fraction=1.0)
        separators.append(separator)
    # A quarter of the cells sit on the first separator: the "separator with many cells".
    cells = Cell.objects.bulk_create(
        Cell(
            name=f"Au|LLZTO|Au {stamp}-{c}", configuration="blocking", housing="die", electrode_contact="au",
            separator=separators[0] if c % 4 == 0 else separators[c % n_separators],
            group=(separators[0] if c % 4 == 0 else separators[c % n_separators]).group,
            visibility=_visibility_of(c)[0], embargo_until=_visibility_of(c)[1], active_area_cm2=0.785,
        )
        for c in range(n_cells)
    )
    protocol = FitProtocol.objects.get(name=PROTOCOL_NAME, version=1)
    return Layout(
        group_ids=[g.pk for g in groups],
        member_id=member.pk,
        cell_ids=[c.pk for c in cells],
        cell_separator={c.pk: c.separator_id for c in cells},
        cell_group={c.pk: c.group_id for c in cells},
        separator_geometry={s.pk: (s.thickness_um, s.area_cm2) for s in separators},
        big_separator_id=separators[0].pk,
        big_cell_id=cells[0].pk,
        protocol_id=protocol.pk,
    )


def loaded_layout() -> Layout:
    """The layout of the last load in this database (for `--measure-only`: time again without loading again)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from apps.accounts.models import ResearchGroup
    from apps.analysis.models import FitProtocol
    from apps.catalog.models import Cell, Separator

    last = ResearchGroup.objects.filter(slug__startswith="scale-").order_by("-pk").first()
    if last is None:
        raise SystemExit("No scale benchmark data in this database: run without --measure-only first.")
    stamp = last.slug.removeprefix("scale-").rsplit("-", 1)[0]
    cells = list(Cell.objects.filter(name__startswith=f"Au|LLZTO|Au {stamp}-").order_by("pk"))
    separators = Separator.objects.filter(name__startswith=f"LLZTO pellet {stamp}-").order_by("pk")
    counts = dict(
        Cell.objects.filter(pk__in=[c.pk for c in cells[:1]]).annotate(n=Count("spectra")).values_list("pk", "n")
    )
    return Layout(
        group_ids=list(ResearchGroup.objects.filter(slug__startswith=f"scale-{stamp}-").values_list("pk", flat=True)),
        member_id=get_user_model().objects.get(username=f"scale-{stamp}-0-member").pk,
        cell_ids=[c.pk for c in cells],
        cell_separator={c.pk: c.separator_id for c in cells},
        cell_group={c.pk: c.group_id for c in cells},
        separator_geometry={s.pk: (s.thickness_um, s.area_cm2) for s in separators},
        big_separator_id=separators[0].pk,
        big_cell_id=cells[0].pk,
        protocol_id=FitProtocol.objects.get(name=PROTOCOL_NAME, version=1).pk,
        spectra_by_cell=counts,
    )


def _next_ids(model, count: int) -> int:
    """First id of `count` consecutive new ids (explicit ids let fits point at spectra without a round trip)."""
    from django.db.models import Max

    return (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1


def _spectrum_arrays(rng: np.random.Generator, r_bulk: np.ndarray, r_gb: np.ndarray):
    """Z of R0-p(R1,CPE1)-CPE2 for a batch (rows: spectra), 1 MHz … 0.1 Hz, 0.3 % noise."""
    f = np.logspace(6, -1, N_POINTS)
    w = 2 * np.pi * f[None, :]
    q1, n1, q2, n2 = 1e-9, 0.85, 1e-6, 0.8
    z_gb = r_gb[:, None] / (1 + r_gb[:, None] * q1 * (1j * w) ** n1)
    z = r_bulk[:, None] + z_gb + 1 / (q2 * (1j * w) ** n2)
    noise = 1 + 0.003 * rng.standard_normal(z.shape)
    return f, z.real * noise + 1j * z.imag * noise


def sweep_grid() -> str:
    """The benchmark's sweep (``_spectrum_arrays``) stored once as a shared frequency grid; its SHA-256."""
    from apps.measurements.models import FrequencyGrid

    frequencies = np.logspace(6, -1, N_POINTS).astype("<f8").tobytes()
    sha256 = hashlib.sha256(frequencies).hexdigest()
    FrequencyGrid.objects.get_or_create(sha256=sha256, defaults={"n_points": N_POINTS, "data": frequencies})
    return sha256


def spectrum_rows(
    layout: Layout, n_spectra: int, first_id: int, seed: int = 7, *, grid: str, big_cell_spectra: int | None = None
):
    """Yield batches of (spectrum, kk check, fit, conductivities) dicts keyed by column name; the spectra are
    on the shared frequency grid ``grid`` (their data Z', Z'' only, as the services store them); the first cell
    holds ``big_cell_spectra`` of them (default: 2 % of all, at least a full share)."""
    rng = np.random.default_rng(seed)
    now = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)
    n_cells = len(layout.cell_ids)
    # The first cell is the "cell with many spectra".
    big_share = big_cell_spectra if big_cell_spectra is not None else max(SPECTRA_PER_CELL, n_spectra // 50)
    for start in range(0, n_spectra, CHUNK_ROWS):
        count = min(CHUNK_ROWS, n_spectra - start)
        index = np.arange(start, start + count)
        temperature = np.array(TEMPERATURES_C)[index % len(TEMPERATURES_C)]
        activation = np.exp(0.45 / BOLTZMANN_EV_PER_K * (1 / (temperature + 273.15) - 1 / 298.15))
        r_bulk = 40.0 * activation * rng.uniform(0.7, 1.4, count)
        r_gb = 150.0 * activation * rng.uniform(0.6, 1.6, count)
        f, z = _spectrum_arrays(rng, r_bulk, r_gb)
        batch = []
        for k, i in enumerate(index.tolist()):
            cell_id = layout.cell_ids[0] if i < big_share else layout.cell_ids[1 + (i % (n_cells - 1))]
            thickness_um, area_cm2 = layout.separator_geometry[layout.cell_separator[cell_id]]
            visibility, embargo = _visibility_of(i // 7)  # a temperature series shares its visibility
            created = now - datetime.timedelta(seconds=(n_spectra - i) * 30)
            spectrum_id = first_id + i
            zk = z[k]
            rb, rg = float(r_bulk[k]), float(r_gb[k])
            total = rb + rg
            geometry = thickness_um * 1e-4 / area_cm2
            spectrum = dict(
                id=spectrum_id, group_id=layout.cell_group[cell_id],
                visibility=visibility, embargo_until=embargo, created_by_id=None, created_at=created,
                updated_at=created, cell_id=cell_id, raw_file_id=None, index_in_file=i % 7,
                label=f"EIS {i}", data=np.concatenate([zk.real, zk.imag]).astype("<f8").tobytes(),
                frequency_grid_id=grid, n_points=N_POINTS,
                frequency_min_hz=float(f.min()), frequency_max_hz=float(f.max()), points_per_decade=N_POINTS / 7,
                temperature_c=float(temperature[k]), equilibration_time_min=30.0, atmosphere="argon",
                stack_pressure_mpa=float((5, 10, 50)[i % 3]), cycle_index=None, state_of_charge=None,
                elapsed_time_h=float(i % 100), dc_bias_v=0.0, ac_amplitude_mv=10.0, mode="potentiostatic",
                instrument="Scale bench EIS", measured_at=created, metadata={"source": "scale benchmark", "row": i},
            )
            kk = dict(
                spectrum_id=spectrum_id, n_elements=12, mu=0.6, max_abs_residual=0.006, systematic_residual=0.002,
                noise_level=0.003, threshold=0.0045, passed=True, verdict="passed", reason="", engine_version=ENGINE_VERSION, created_at=created,
            )
            parameters = {"R0": rb, "R1": rg, "CPE1_Q": 1e-9, "CPE1_n": 0.85, "CPE2_Q": 1e-6, "CPE2_n": 0.8}
            stderr = {name: abs(value) * 0.01 for name, value in parameters.items()}
            fit = dict(
                spectrum_id=spectrum_id, protocol_id=layout.protocol_id, status="succeeded", error="",
                parameters=parameters, stderr=stderr, chi_square=1e-4, reduced_chi_square=1.3e-6,
                converged=True,
                derived={"resistances_ohm": {"bulk": rb, "grain_boundary": rg, "total": total}},
                flags=[], engine_version=ENGINE_VERSION, created_at=created, updated_at=created,
            )
            conductivities = [
                dict(
                    spectrum_id=spectrum_id, kind=kind, resistance_ohm=r, resistance_stderr_ohm=0.01 * r,
                    conductivity_s_per_cm=geometry / r, conductivity_stderr_s_per_cm=0.01 * geometry / r,
                    temperature_c=float(temperature[k]), thickness_um=thickness_um, area_cm2=area_cm2,
                )
                for kind, r in (("bulk", rb), ("grain_boundary", rg), ("total", total))
            ]
            batch.append((spectrum, kk, fit, conductivities))
        yield batch


def load_spectra(layout: Layout, n_spectra: int, big_cell_spectra: int | None = None) -> float:
    """Insert n spectra with their KK checks, fits and conductivities; returns seconds taken."""
    from django.db import connection, transaction

    from apps.analysis.models import Conductivity, FitResult, KramersKronigCheck
    from apps.measurements.models import ImpedanceSpectrum

    started = time.perf_counter()
    first_spectrum = _next_ids(ImpedanceSpectrum, n_spectra)
    first_fit = _next_ids(FitResult, n_spectra)
    models = (ImpedanceSpectrum, KramersKronigCheck, FitResult, Conductivity)
    postgres = connection.vendor == "postgresql"
    fit_id = first_fit
    for batch in spectrum_rows(layout, n_spectra, first_spectrum, grid=sweep_grid(), big_cell_spectra=big_cell_spectra):
        rows: dict[type, list[dict]] = {model: [] for model in models}
        for spectrum, kk, fit, conductivities in batch:
            fit["id"] = fit_id
            for conductivity in conductivities:
                conductivity["fit_id"] = fit_id
            fit_id += 1
            rows[ImpedanceSpectrum].append(spectrum)
            rows[KramersKronigCheck].append(kk)
            rows[FitResult].append(fit)
            rows[Conductivity].extend(conductivities)
        with transaction.atomic():
            for model in models:
                if postgres:
                    _copy_rows(model, rows[model])
                else:
                    model.objects.bulk_create([model(**row) for row in rows[model]], batch_size=500)
        for spectrum, *_ in batch:
            layout.spectra_by_cell[spectrum["cell_id"]] = layout.spectra_by_cell.get(spectrum["cell_id"], 0) + 1
    if postgres:
        with connection.cursor() as cursor:
            for model in models:
                table = model._meta.db_table
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                cursor.execute(f"ANALYZE {table}")
    return time.perf_counter() - started


def _copy_rows(model, rows: list[dict]) -> None:
    """COPY rows (dicts by column name) into the model's table; JSON columns as text."""
    from django.db import connection

    if not rows:
        return
    columns = list(rows[0])
    json_columns = {
        f.column for f in model._meta.concrete_fields if f.get_internal_type() == "JSONField" and f.column in columns
    }
    table = model._meta.db_table
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg 3 cursor under Django's wrapper
        with raw.copy(f'COPY {table} ({", ".join(columns)}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([_json_text(row[c]) if c in json_columns else row[c] for c in columns])


_JSON_TEXT: dict[int, tuple[object, str]] = {}


def _json_text(value) -> str:
    """json.dumps, remembered for the residual lists a fit and its KK check share (half the encoding time)."""
    if not isinstance(value, list) or not value:
        return json.dumps(value)
    cached = _JSON_TEXT.get(id(value))
    if cached is not None and cached[0] is value:
        return cached[1]
    if len(_JSON_TEXT) > 2 * CHUNK_ROWS:
        _JSON_TEXT.clear()
    text = json.dumps(value)
    _JSON_TEXT[id(value)] = (value, text)
    return text


# --------------------------------------------------------------------------- measurements


class PeakRss:
    """Peak resident set size of this process while the block runs (sampled from /proc every 10 ms)."""

    def __enter__(self):
        self.peak_kib = self.before_kib = _rss_kib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.01):
            self.peak_kib = max(self.peak_kib, _rss_kib())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, _rss_kib())


class DatabaseBackendCpu:
    """CPU seconds (user + system) of this process's PostgreSQL backend, read from /proc (the server runs on this
    machine in the benchmark); `seconds()` is None when it cannot be read (SQLite, a remote server)."""

    def __init__(self):
        from django.db import connection

        self.pid = None
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]

    def seconds(self) -> float | None:
        if self.pid is None:
            return None
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _rss_kib() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


SLOW_SECONDS = 10.0


def _timed(client, url: str, repeat: int = 3) -> tuple[float, bool]:
    """Median seconds of `repeat` warm GETs (after one warm-up); a page whose warm-up took more than
    SLOW_SECONDS is timed by that one request only (flag True), so a slow page cannot hold the run for hours."""
    started = time.perf_counter()
    response = client.get(url)
    assert response.status_code == 200, f"{url}: HTTP {response.status_code}"
    _drain(response)
    if time.perf_counter() - started > SLOW_SECONDS:
        return time.perf_counter() - started, True
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        _drain(response)
        times.append(time.perf_counter() - started)
    return statistics.median(times), False


def _drain(response) -> int:
    if getattr(response, "streaming", False):
        return sum(len(chunk) for chunk in response.streaming_content)
    return len(response.content)


def deep_cursor_url(client, url: str, hops: int) -> str:
    """The `next` link after following it `hops` times from `url` (a cursor deep into the list)."""
    for _ in range(hops):
        body = client.get(url).json()
        if not body.get("next"):
            break
        url = body["next"]
    return url


def measure(layout: Layout, *, deep_hops: int, recompute: str, workers: int = 2) -> list[tuple[str, str]]:
    """Time the issue's pages and calls; returns (what, figure) rows."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from apps.benchmarks import services as benchmark_services
    from apps.benchmarks.models import BenchmarkEntry
    from apps.common.pagination import BoundedPaginator
    from apps.measurements.services import compact_spectrum_counts

    client = Client()
    client.force_login(get_user_model().objects.get(pk=layout.member_id))
    rows: list[tuple[str, str]] = []

    def page(label: str, url: str) -> None:
        seconds, slow = _timed(client, url)
        rows.append((label, f"{seconds:.1f} s (one cold request)" if slow else f"{seconds * 1000:.0f} ms"))
        print(f"  {label}: {rows[-1][1]}", file=sys.stderr, flush=True)

    # Spectrum counts as the beat task leaves them (it folds the rows the triggers append every 10 minutes).
    compact_spectrum_counts()
    # Benchmark entries first, so the dashboard and leaderboard have something to draw.
    if recompute == "full":
        started = time.perf_counter()
        call_command("recompute_benchmarks", workers=workers, stdout=open(os.devnull, "w"))
        rows.append((f"recompute_benchmarks --workers {workers} (full)", f"{time.perf_counter() - started:.1f} s"))
    elif recompute == "sample":
        started = time.perf_counter()
        benchmark_services.recompute_entries(separator_ids=[layout.big_separator_id])
        seconds = time.perf_counter() - started
        from apps.measurements.models import ImpedanceSpectrum

        n = ImpedanceSpectrum.objects.filter(cell__separator_id=layout.big_separator_id).count()
        rows.append((
            f"recompute_entries, separator with many cells ({n:,} spectra)",
            f"{seconds:.1f} s ({seconds / max(n, 1) * 1000:.2f} ms per spectrum)",
        ))

    spectra_url = reverse("api:spectrum-list") + "?page_size=100"
    page("/api/v1/spectra/?page_size=100 (first page)", spectra_url)
    page(f"/api/v1/spectra/?page_size=100 (page {deep_hops + 1})", deep_cursor_url(client, spectra_url, deep_hops))
    ordered = spectra_url + "&ordering=-temperature_c"
    page(f"/api/v1/spectra/?ordering=-temperature_c (page {deep_hops + 1})", deep_cursor_url(client, ordered, deep_hops))
    page("/api/v1/spectra/?cell=<cell with many spectra>&page_size=100 (newest first)",
         f"{spectra_url}&cell={layout.big_cell_id}")
    page("/api/v1/cells/?ordering=-n_spectra&page_size=100", reverse("api:cell-list") + "?ordering=-n_spectra&page_size=100")
    page("/api/v1/benchmark-entries/?metric=sigma_25c_total", reverse("api:benchmarkentry-list") + "?metric=sigma_25c_total")
    conductivities_url = reverse("api:conductivity-list") + "?page_size=100"
    page("/api/v1/conductivities/?page_size=100", conductivities_url)
    page("/api/v1/fits/?page_size=100", reverse("api:fit-list") + "?page_size=100")

    export_url = reverse("api:conductivity-export") + "?format=csv"
    backend = DatabaseBackendCpu()
    with PeakRss() as rss:
        started, cpu_started, db_cpu_started = time.perf_counter(), time.process_time(), backend.seconds()
        response = client.get(export_url)
        lines = 0
        tail = b""
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
            tail = (tail + chunk)[-200:]
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        db_cpu_ended = backend.seconds()
        db_cpu_seconds = None if None in (db_cpu_started, db_cpu_ended) else db_cpu_ended - db_cpu_started
    exported = max(0, lines - 2)  # header and trailer lines
    both = cpu_seconds + (db_cpu_seconds or 0.0)
    database = (
        f"; {exported / max(both, 1e-9):,.0f} per CPU s of worker + PostgreSQL backend ({db_cpu_seconds:.2f} s)"
        if db_cpu_seconds is not None else ""
    )
    rows.append(
        (
            f"conductivities CSV export ({exported:,} rows)",
            f"{seconds:.1f} s, {exported / seconds:,.0f} rows/s ({exported / max(cpu_seconds, 1e-9):,.0f} per CPU s "
            f"of the worker{database}), peak RSS {rss.peak_kib / 1024:.0f} MB "
            f"(+{(rss.peak_kib - rss.before_kib) / 1024:.0f} MB)",
        )
    )
    rows.append(("export trailer", tail.decode(errors="replace").strip().splitlines()[-1]))
    big_cells = sum(1 for s in layout.cell_separator.values() if s == layout.big_separator_id)
    page(f"separator page ({big_cells} cells)", reverse("catalog:separator-detail", args=[layout.big_separator_id]))
    page(
        f"cell page ({layout.spectra_by_cell.get(layout.big_cell_id, 0)} spectra)",
        reverse("catalog:cell-detail", args=[layout.big_cell_id]),
    )
    spectrum_list = reverse("measurements:spectrum-list")
    page("spectra list page (first page)", spectrum_list)
    page("spectra list page (last numbered page)", f"{spectrum_list}?page={BoundedPaginator.MAX_PAGES}")
    page("cells list page", reverse("catalog:cell-list"))
    page("benchmarks dashboard", reverse("benchmarks:dashboard"))
    page("leaderboard page (σ 25 °C total)", reverse("benchmarks:leaderboard", args=["sigma_25c_total"]))
    big_entry = (BenchmarkEntry.objects.filter(separator_id=layout.big_separator_id, cell__isnull=True)
                 .order_by("metric").values_list("pk", "metric").first())
    if big_entry is not None:
        page(f"benchmark entry page ({big_entry[1]} of the separator with many cells)",
             reverse("benchmarks:entry", args=[big_entry[0]]))
    page("home", reverse("home"))
    return rows


def storage_per_spectrum() -> list[tuple[str, str]]:
    """Bytes per spectrum of each table (indexes and TOAST included): pg_total_relation_size / spectra."""
    from django.db import connection

    from apps.analysis.models import Conductivity, FitResult, KramersKronigCheck
    from apps.measurements.models import FrequencyGrid, ImpedanceSpectrum

    if connection.vendor != "postgresql":
        return []
    n = ImpedanceSpectrum.objects.count()
    rows, total = [], 0
    with connection.cursor() as cursor:
        for model in (ImpedanceSpectrum, FrequencyGrid, FitResult, KramersKronigCheck, Conductivity):
            cursor.execute("SELECT pg_total_relation_size(%s)", [model._meta.db_table])
            size = cursor.fetchone()[0]
            total += size
            rows.append((f"storage: {model._meta.db_table}", f"{size / n:,.0f} B per spectrum"))
    rows.append(("storage: spectrum + fit + KK check + σ", f"{total / n:,.0f} B per spectrum"))
    return rows


def run(
    n_spectra: int, *, deep_hops: int = 20, recompute: str = "sample", workers: int = 2,
    big_cell_spectra: int | None = None,
) -> list[tuple[str, str]]:
    """Load n spectra into the configured (already migrated) database and measure; the printed table's rows."""
    from django.db import connection

    started = time.perf_counter()
    layout = build_catalog(n_spectra)
    seconds = load_spectra(layout, n_spectra, big_cell_spectra)
    total = time.perf_counter() - started
    rows = [
        (
            f"load {n_spectra:,} spectra + fits + KK + σ ({'COPY' if connection.vendor == 'postgresql' else 'bulk_create'})",
            f"{total:.1f} s ({n_spectra / seconds:,.0f} spectra/s)",
        )
    ]
    print(f"  {rows[0][0]}: {rows[0][1]}", file=sys.stderr, flush=True)
    rows += measure(layout, deep_hops=deep_hops, recompute=recompute, workers=workers)
    rows += storage_per_spectrum()
    return rows


def print_table(rows: list[tuple[str, str]], title: str) -> None:
    width = max(len(what) for what, _ in rows)
    print(f"\n{title}\n")
    print(f"| {'page or call'.ljust(width)} | figure |")
    print(f"| {'-' * width} | --- |")
    for what, figure in rows:
        print(f"| {what.ljust(width)} | {figure} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=2000, help="Spectra to load (default 2000).")
    parser.add_argument("--deep-hops", type=int, default=20, help="`next` links followed for the deep page.")
    parser.add_argument(
        "--recompute", choices=["full", "sample", "none"], default="sample",
        help="recompute_benchmarks over everything (full), over the separator with many cells (sample), or not.",
    )
    parser.add_argument(
        "--workers", type=int, default=2,
        help="Processes for --recompute full (recompute_benchmarks --workers; PostgreSQL only, default 2).",
    )
    parser.add_argument(
        "--big-cell-spectra", type=int, default=None,
        help="Spectra on the cell with many spectra (default: spectra // 50, as at 1 M: 20,000).",
    )
    parser.add_argument(
        "--measure-only", action="store_true", help="Time the data of the last load again instead of loading more."
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="assbdb-scale-"))
    configure_environment(scratch)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    if args.measure_only:
        layout = loaded_layout()
        rows = measure(layout, deep_hops=args.deep_hops, recompute=args.recompute, workers=args.workers)
        rows += storage_per_spectrum()
    else:
        rows = run(
            args.spectra, deep_hops=args.deep_hops, recompute=args.recompute, workers=args.workers,
            big_cell_spectra=args.big_cell_spectra,
        )
    from apps.measurements.models import ImpedanceSpectrum

    print_table(
        rows,
        f"{ImpedanceSpectrum.objects.count():,} spectra on {connection.vendor} (server time, Django test client in-process, "
        "median of 3 warm requests)",
    )


if __name__ == "__main__":
    main()

"""The reliability scripts of ``benchmarks/`` at a tiny size: they run and report what they claim."""
import asyncio
import importlib.util
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from apps.accounts.models import Visibility
from tests.factories import CellFactory, MembershipFactory, SpectrumFactory

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.django_db(transaction=True)
def test_load_script_reads_and_uploads_against_a_live_server_without_server_errors(live_server):
    load = _script("load")
    cell = CellFactory(visibility=Visibility.PUBLIC)
    MembershipFactory(group=cell.group, role="member")
    for _ in range(3):
        SpectrumFactory(cell=cell, group=cell.group, visibility=Visibility.PUBLIC)
    target = load.prepare()
    try:
        # A thread of its own: another test in this process (the browser tests) may hold a running event loop.
        with ThreadPoolExecutor(1) as pool:
            tallies, elapsed = pool.submit(asyncio.run, load.run_step(
                live_server.url, target, clients=2, upload_clients=1, duration_s=3, max_requests=60)).result()
    finally:
        load.clean_up(target)
    assert {"api", "upload"} <= set(tallies)
    assert sum(len(t.latencies_s) for t in tallies.values()) <= 60
    assert not [code for t in tallies.values() for code in t.errors if code.startswith("5")]
    assert not tallies["upload"].errors, dict(tallies["upload"].errors)
    assert "req/s" in tallies["api"].summary(elapsed)


def test_broker_stress_loses_nothing_on_the_project_transport():
    stress = _script("broker_stress")
    report = stress.run("assbdb", messages=300, publishers=2, consumers=2, payload_kb=1)
    assert report["received"] == report["sent"] == 300
    assert report["lost"] == report["duplicated"] == report["read_failures"] == 0

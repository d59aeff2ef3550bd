"""The embedded default end to end: ``run_site``'s worker is SIGKILLed, comes back and finishes the queue;
the soak benchmark runs at a tiny size. Real processes on a scratch SQLite file and filesystem broker."""
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.worker

ROOT = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(ROOT / "manage.py")]
#: Fast timings, so a dead worker's jobs are taken back in seconds, not the production half minute.
FAST = {"WORKER_HEARTBEAT_INTERVAL_S": "1", "WORKER_STALE_AFTER_S": "4", "JOB_SWEEP_INTERVAL_S": "2",
        "JOBS_RESEND_QUEUED_AFTER_S": "6"}

QUEUE_SPECTRA = """
from benchmarks.refit_throughput import create_spectra
from apps.analysis.services import queue_analysis
from apps.measurements.models import ImpedanceSpectrum
cell = create_spectra({n})
queue_analysis(spectrum_ids=list(ImpedanceSpectrum.objects.filter(cell=cell).values_list("pk", flat=True)))
"""


@pytest.fixture(scope="module")
def site_env(tmp_path_factory):
    """Environment of a scratch embedded site (migrated once per module)."""
    var = tmp_path_factory.mktemp("site")
    env = {
        **os.environ, **FAST, "VAR_DIR": str(var), "DATABASE_URL": f"sqlite:///{var / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://", "BROKER_DIR": str(var / "broker"), "MEDIA_ROOT": str(var / "media"),
        "CELERY_TASK_ALWAYS_EAGER": "0", "PYTHONPATH": str(ROOT), "LOG_LEVEL": "INFO",
    }
    subprocess.run([*MANAGE, "migrate", "-v0"], env=env, cwd=ROOT, check=True, timeout=240)
    return env


def _db(env):
    return sqlite3.connect(env["DATABASE_URL"].removeprefix("sqlite:///"), timeout=30)


def _query(env, sql):
    with _db(env) as db:
        return db.execute(sql).fetchall()


def _wait_for(condition, what, timeout_s, log: Path):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}\n--- run_site log ---\n"
                f"{log.read_text(errors='replace')[-4000:]}")


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_killed_embedded_worker_is_restarted_and_finishes_the_queue(site_env, tmp_path):
    log = tmp_path / "run_site.log"
    port = _free_port()
    site = subprocess.Popen([*MANAGE, "run_site", "--port", str(port)], env=site_env, cwd=ROOT,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(lambda: _query(site_env, "SELECT count(*) FROM jobs_workerheartbeat")[0][0] >= 1,
                  "the worker's first heartbeat", 90, log)
        subprocess.run([*MANAGE, "shell", "-c", QUEUE_SPECTRA.format(n=30)], env=site_env, cwd=ROOT, check=True,
                       timeout=120, capture_output=True)
        jobs = "SELECT state, count(*) FROM analysis_job WHERE kind = 'analyse_spectrum' GROUP BY state"
        _wait_for(lambda: dict(_query(site_env, jobs)).get("succeeded", 0) >= 1, "the first analysis", 90, log)

        (first_worker, pid), = _query(site_env, "SELECT worker_id, pid FROM jobs_workerheartbeat")
        os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: _query(site_env, f"SELECT count(*) FROM jobs_workerheartbeat WHERE worker_id != '{first_worker}'")[0][0] >= 1,
                  "a restarted worker", 90, log)
        _wait_for(lambda: set(dict(_query(site_env, jobs))) == {"succeeded"}, "every analysis to succeed", 120, log)

        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
        assert health.status_code == 200, health.text
        said = log.read_text(errors="replace")
        assert "exited with signal SIGKILL" in said and "Restarting the worker" in said
    finally:
        os.killpg(site.pid, signal.SIGTERM)
        try:
            site.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(site.pid, signal.SIGKILL)
    duplicates = _query(site_env, "SELECT spectrum_id, protocol_id FROM analysis_fitresult "
                                  "GROUP BY spectrum_id, protocol_id HAVING count(*) > 1")
    assert duplicates == []


def test_soak_at_a_tiny_size_loses_and_duplicates_nothing(site_env):
    soak = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--jobs", "20", "--kill-every", "3", "--timeout", "240"],
        env=site_env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    figures = dict(line.split(": ", 1) for line in soak.stdout.splitlines() if ": " in line)
    assert soak.returncode == 0, soak.stdout[-3000:] + soak.stderr[-3000:]
    assert figures["lost"] == "0" and figures["duplicated_results"] == "0" and figures["spectra_without_fit"] == "0"

"""The embedded default end to end: a real worker process on kombu's filesystem broker and a SQLite file.

It drives benchmarks/refit_throughput.py at a small scale: scratch SQLite file, migrate, synthetic
spectra, one `celery worker` subprocess, a re-fit through the job system, every fit succeeded.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.worker


def test_filesystem_broker_worker_refits_spectra_from_a_sqlite_file():
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "BROKER_DIR"}}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "refit_throughput.py"), "--spectra", "30", "--workers", "1",
         "--timeout", "120"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "database: sqlite3, broker: filesystem" in result.stdout
    assert re.search(r"1 worker process: 30 spectra in [\d.]+ s = [\d.]+ spectra/s", result.stdout), result.stdout

"""Serve the site and run a background worker beside it, for the embedded default.

The worker is a real Celery worker (with the periodic sweep embedded) on the
configured broker: the filesystem transport by default, so nothing but this
checkout is needed; web requests never wait for fits.
"""
import shutil
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import BaseCommand, call_command


class Command(BaseCommand):
    help = "Start a Celery worker (with beat) and the development web server together."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args, host: str, port: str, concurrency: int, **options):
        celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
        schedule = Path(settings.VAR_DIR) / "celerybeat-schedule"
        schedule.parent.mkdir(parents=True, exist_ok=True)
        worker = subprocess.Popen(
            [celery, "-A", "assbdb", "worker", "-B", "--schedule", str(schedule),
             f"--concurrency={concurrency}", "--loglevel=INFO"],
            cwd=settings.BASE_DIR,
        )
        self.stdout.write(f"Worker started (pid {worker.pid}) on {settings.CELERY_BROKER_URL.split('://')[0]}.")
        try:
            call_command("runserver", f"{host}:{port}", use_reloader=False)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()

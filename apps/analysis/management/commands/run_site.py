"""Serve the site and run a supervised background worker beside it, for the embedded default.

The worker is a real Celery worker (with the periodic sweep embedded) on the
configured broker: the filesystem transport by default, so nothing but this
checkout is needed; web requests never wait for fits. If the worker exits or
is killed, it is started again with backoff and the log says why
(``apps.jobs.supervisor``); meanwhile signed-in pages show a banner.
"""
import shutil
import signal
import socket
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import BaseCommand, CommandError, call_command

from apps.jobs.supervisor import Supervisor


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def worker_command(*, concurrency: int, var_dir: Path | None = None) -> list[str]:
    """The embedded worker: Celery with beat (the sweep) inside, its schedule file under ``var_dir``."""
    celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
    schedule = Path(var_dir or settings.VAR_DIR) / "celerybeat-schedule"
    schedule.parent.mkdir(parents=True, exist_ok=True)
    return [celery, "-A", "assbdb", "worker", "-B", "--schedule", str(schedule),
            f"--concurrency={concurrency}", "--loglevel=INFO", "-n", "embedded@%h", "--without-mingle",
            "--without-gossip"]


class Command(BaseCommand):
    help = "Start a supervised Celery worker (with beat) and the development web server together."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")
        parser.add_argument("--concurrency", type=int, default=2)

    def handle(self, *args, host: str, port: str, concurrency: int, **options):
        # runserver leaves with os._exit when its port is taken, which would orphan the worker: check first.
        if not _port_free(host, int(port)):
            raise CommandError(f"Port {port} on {host} is in use; choose another with --port.")
        worker = Supervisor(worker_command(concurrency=concurrency), cwd=settings.BASE_DIR, name="worker")
        worker.start()
        self.stdout.write(f"Worker started (pid {worker.pid}) on {settings.CELERY_BROKER_URL.split('://')[0]}, "
                          f"restarted if it stops.")

        def stop(signum, frame):  # SIGTERM (e.g. from a process manager) stops the worker too
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:
            call_command("runserver", f"{host}:{port}", use_reloader=False)
        finally:
            worker.stop()

"""Celery application: configured from Django settings (CELERY_* names).

The beat schedule runs the job sweep every 20 s (JOB_SWEEP_INTERVAL_S): jobs left running by a
dead worker, and queued jobs whose message was lost, are sent again (and
failed with a clear reason after a few attempts). `manage.py run_site`
embeds beat in its worker (`-B`); docker-compose runs a beat service.
"""
import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

from apps.jobs.worker import WorkerHeartbeatStep

# filesystem:// (the embedded default) uses the transport that never shows a half-written message.
TRANSPORT_ALIASES["filesystem"] = "apps.jobs.filesystem_broker:Transport"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "assbdb.settings")

app = Celery("assbdb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.steps["worker"].add(WorkerHeartbeatStep)

_SWEEP_INTERVAL_S = float(os.environ.get("JOB_SWEEP_INTERVAL_S", "20"))
app.conf.beat_schedule = {
    "sweep-jobs": {
        "task": "jobs.sweep_jobs",
        "schedule": _SWEEP_INTERVAL_S,
        "options": {"expires": max(_SWEEP_INTERVAL_S - 1, 1)},
    },
    "compact-spectrum-counts": {"task": "measurements.compact_spectrum_counts", "schedule": 600.0},
}

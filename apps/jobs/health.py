"""``/healthz``: is the site able to do its work (database, broker, a live worker, queue not stuck)?

Answers JSON with each part's status and 200 when all are ``ok``, 503 otherwise;
docker-compose's health checks call it. It shows ages and counts only, never
names, so it needs no sign-in.
"""
from __future__ import annotations

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .selectors import worker_status
from .services import broker_backlog


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return {"status": "fail", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"status": "ok"}


def _broker() -> dict:
    backlog = broker_backlog()
    if backlog is None:
        return {"status": "fail", "error": "The broker does not answer."}
    return {"status": "ok", "messages_waiting": backlog}


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _database(), "broker": _broker()}
    if checks["database"]["status"] == "ok":
        status = worker_status()
        age = status.heartbeat_age_s
        alive = status.worker_alive(within_s=settings.WORKER_STALE_AFTER_S)
        checks["worker"] = {
            "status": "ok" if alive else "fail",
            "heartbeat_age_s": None if age is None else round(age, 1),
            "limit_s": settings.WORKER_STALE_AFTER_S,
            **({"mode": "eager"} if status.eager else {}),
        }
        oldest = status.oldest_queued_age_s
        checks["queue"] = {
            "status": "ok" if oldest is None or oldest <= settings.HEALTHZ_QUEUED_AGE_LIMIT_S else "fail",
            "queued_jobs": status.queued_jobs,
            "oldest_queued_age_s": None if oldest is None else round(oldest, 1),
            "limit_s": settings.HEALTHZ_QUEUED_AGE_LIMIT_S,
        }
    else:
        checks["worker"] = checks["queue"] = {"status": "unknown", "error": "The database does not answer."}
    healthy = all(part["status"] == "ok" for part in checks.values())
    return JsonResponse({"status": "ok" if healthy else "fail", "checks": checks}, status=200 if healthy else 503)

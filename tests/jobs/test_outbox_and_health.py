"""The sweep takes back jobs of silent workers and re-sends lost or unsent messages; ``/healthz`` names
each failing part; the banner tells signed-in people the worker is gone."""
import datetime

import pytest
from celery import current_app
from django.db import OperationalError
from django.utils import timezone

from apps.jobs import services
from apps.jobs.models import Job, WorkerHeartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def not_eager(celery_conf):
    celery_conf(task_always_eager=False)


@pytest.fixture
def worker_alive():
    now = timezone.now()
    return WorkerHeartbeat.objects.create(worker_id="w@host/1/x", hostname="w@host", pid=1, started_at=now, beat_at=now)


def _job(job_kind, **fields):
    return Job.objects.create(kind=job_kind.kind, target_type="thing", target_id=1, **fields)


def _ago(seconds):
    return timezone.now() - datetime.timedelta(seconds=seconds)


def test_a_running_job_of_a_silent_worker_is_taken_back_within_a_minute(job_kind, run_jobs, settings):
    WorkerHeartbeat.objects.create(worker_id="dead", hostname="h", pid=1, started_at=_ago(600), beat_at=_ago(45))
    job = _job(job_kind, state=Job.State.RUNNING, attempts=1, worker_id="dead", heartbeat_at=_ago(45))
    with run_jobs():
        report = services.sweep_jobs()
    job.refresh_from_db()
    assert report.requeued == [job.pk] and job.state == Job.State.SUCCEEDED and job.attempts == 2


def test_a_running_job_of_a_live_worker_is_left_alone(job_kind, worker_alive):
    job = _job(job_kind, state=Job.State.RUNNING, attempts=1, worker_id=worker_alive.worker_id, heartbeat_at=_ago(200))
    assert services.sweep_jobs().requeued == []
    # A second delivery of its message to another worker does not start it twice.
    assert services.start_job(job.pk, "other-task", worker_id="another") is None


@pytest.mark.parametrize("backlog, resent", [(0, True), (5, False), (None, False)])
def test_a_queued_job_is_resent_after_two_minutes_only_when_the_queue_is_empty(job_kind, backlog, resent,
                                                                                django_capture_on_commit_callbacks):
    job = _job(job_kind, dispatches=1, dispatched_at=_ago(150))
    with django_capture_on_commit_callbacks(execute=False):
        report = services.sweep_jobs(backlog=backlog)
    assert (report.requeued == [job.pk]) is resent


def test_a_queued_job_sent_a_minute_ago_is_not_resent(job_kind):
    _job(job_kind, dispatches=1, dispatched_at=_ago(60))
    assert services.sweep_jobs(backlog=0).requeued == []


def test_an_undispatched_job_is_sent_at_the_next_sweep_whatever_the_backlog(job_kind,
                                                                          django_capture_on_commit_callbacks):
    job = _job(job_kind, dispatches=0, dispatched_at=None)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = services.sweep_jobs(backlog=7)
    assert report.requeued == [job.pk] and len(callbacks) == 1


# --- /healthz ---------------------------------------------------------------


def _health(client):
    response = client.get("/healthz")
    return response.status_code, response.json()


def test_healthz_answers_200_when_all_is_well(client, worker_alive, not_eager, monkeypatch):
    monkeypatch.setattr("apps.jobs.health.broker_backlog", lambda: 0)
    status, body = _health(client)
    assert status == 200 and body["status"] == "ok"
    assert {name: part["status"] for name, part in body["checks"].items()} == dict.fromkeys(
        ["database", "broker", "worker", "queue"], "ok")


def test_healthz_fails_on_a_dead_database(client, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("apps.jobs.health.connection.cursor", broken)
    status, body = _health(client)
    assert status == 503 and body["checks"]["database"]["status"] == "fail"
    assert "connection refused" in body["checks"]["database"]["error"]


def test_healthz_fails_on_an_unreachable_broker(client, broker_down, worker_alive):
    status, body = _health(client)
    assert status == 503 and body["checks"]["broker"]["status"] == "fail"
    assert body["checks"]["worker"]["status"] == "ok"


def test_healthz_fails_on_a_stale_worker_heartbeat(client, worker_alive, not_eager, monkeypatch, settings):
    monkeypatch.setattr("apps.jobs.health.broker_backlog", lambda: 0)
    WorkerHeartbeat.objects.update(beat_at=_ago(settings.WORKER_STALE_AFTER_S + 5))
    status, body = _health(client)
    assert status == 503 and body["checks"]["worker"]["status"] == "fail"
    assert body["checks"]["worker"]["heartbeat_age_s"] >= settings.WORKER_STALE_AFTER_S


def test_healthz_fails_on_an_old_queued_job(client, worker_alive, job_kind, not_eager, monkeypatch, settings):
    monkeypatch.setattr("apps.jobs.health.broker_backlog", lambda: 0)
    job = _job(job_kind)
    Job.objects.filter(pk=job.pk).update(created_at=_ago(settings.HEALTHZ_QUEUED_AGE_LIMIT_S + 60))
    status, body = _health(client)
    assert status == 503 and body["checks"]["queue"]["status"] == "fail"
    assert body["checks"]["queue"]["queued_jobs"] == 1


# --- banner ------------------------------------------------------------------


@pytest.mark.parametrize("signed_in, beat_s_ago, jobs_waiting, shown", [
    (True, 300, 3, True),
    (True, 10, 3, False),    # worker alive
    (True, 300, 0, False),   # nothing waits
    (False, 300, 3, False),  # anonymous visitors are not told
])
def test_worker_down_banner(client, member, job_kind, not_eager, signed_in, beat_s_ago, jobs_waiting, shown):
    beat = _ago(beat_s_ago)
    WorkerHeartbeat.objects.create(worker_id="w", hostname="w", pid=1, started_at=beat, beat_at=beat)
    for _ in range(jobs_waiting):
        _job(job_kind)
    if signed_in:
        client.force_login(member)
    page = client.get("/").content.decode()
    assert ("Background worker not running since" in page) is shown
    if shown:
        assert f"{jobs_waiting} jobs waiting" in page


def test_a_restarted_worker_marks_its_dead_predecessor_and_the_sweep_takes_its_jobs_back_at_once(job_kind, run_jobs):
    WorkerHeartbeat.objects.create(worker_id="old", hostname="embedded@vm", pid=111, started_at=_ago(60), beat_at=_ago(2))
    WorkerHeartbeat.objects.create(worker_id="busy", hostname="embedded@vm", pid=222, started_at=_ago(60), beat_at=_ago(2))
    orphan = _job(job_kind, state=Job.State.RUNNING, attempts=1, worker_id="old", heartbeat_at=_ago(2))
    busy = _job(job_kind, state=Job.State.RUNNING, attempts=1, worker_id="busy", heartbeat_at=_ago(2))
    dead = services.forget_dead_workers(hostname="embedded@vm", worker_id="new", pid_alive=lambda pid: pid == 222)
    assert dead == ["old"]
    with run_jobs():
        report = services.sweep_jobs()
    assert report.requeued == [orphan.pk]
    busy.refresh_from_db()
    assert busy.state == Job.State.RUNNING

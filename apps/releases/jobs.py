"""Job kind of the releases app: publish the demo releases once the demo's analysis is done."""
from __future__ import annotations

from apps.jobs.models import Job
from apps.jobs.registry import Deferred, JobError, JobOutcome, register_job_kind
from apps.jobs.services import dispatch_job, new_job

WAIT_S = 15
MAX_ROUNDS = 240  # an hour of waiting

ANALYSIS_KINDS = [Job.Kind.ANALYSE_SPECTRUM, Job.Kind.VALIDATE_SPECTRUM, Job.Kind.FIT_SPECTRUM,
                  Job.Kind.CHOOSE_SERIES_MODEL, Job.Kind.FIT_ARRHENIUS, Job.Kind.RECOMPUTE_BENCHMARKS]


def queue_demo_release(*, round_: int = 0, countdown: float | None = WAIT_S) -> Job:
    job = new_job(kind=Job.Kind.PUBLISH_DEMO_RELEASE, target_type="release", target_id=0,
                  target_label="demo releases", params={"round": round_})
    dispatch_job(job, countdown=countdown)
    return job


def waiting_demo_release() -> Job | None:
    """The demo-release job already waiting, if any (loading the demo twice queues it once)."""
    return Job.objects.filter(kind=Job.Kind.PUBLISH_DEMO_RELEASE,
                              state__in=[Job.State.QUEUED, Job.State.RUNNING]).first()


@register_job_kind(Job.Kind.PUBLISH_DEMO_RELEASE, label="Publish the demo releases")
def publish_demo_release(job: Job) -> JobOutcome:
    """Waits (a new job every WAIT_S seconds) while analysis jobs are unfinished, then publishes."""
    pending = Job.objects.filter(kind__in=ANALYSIS_KINDS, state__in=[Job.State.QUEUED, Job.State.RUNNING]).count()
    if pending:
        round_ = int(job.params.get("round", 0)) + 1
        if round_ > MAX_ROUNDS:
            raise JobError(f"{pending} analysis jobs were still unfinished after {MAX_ROUNDS * WAIT_S // 60} min; "
                           "run `manage.py load_demo --analyse none` again to publish the demo releases.")
        successor = queue_demo_release(round_=round_)
        raise Deferred(f"Waiting for {pending} analysis jobs; publishing again in {WAIT_S} s (job {successor.pk}).")
    from .demo import publish_demo_releases

    releases = publish_demo_releases()
    return JobOutcome(result={"releases": [r.pk for r in releases]})

"""The demo-release job waits for the queued analysis, then publishes each demo group's public separators."""
import pytest

from apps.catalog.demo import GROUPS
from apps.jobs.models import Job
from apps.jobs.services import run_job
from apps.releases.jobs import queue_demo_release
from apps.releases.models import Release
from tests.benchmarks.test_bench_views import complete_cell
from tests.factories import JobFactory, ResearchGroupFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_group():
    UserFactory(username="demo", is_superuser=True)
    return ResearchGroupFactory(slug=next(iter(GROUPS)))


def test_job_waits_while_analysis_is_unfinished(demo_group):
    complete_cell(group=demo_group)
    JobFactory(kind=Job.Kind.ANALYSE_SPECTRUM, state=Job.State.QUEUED)
    job = run_job(job_id=queue_demo_release(countdown=None).pk)
    assert job.state == Job.State.CANCELLED and "Waiting for 1 analysis jobs" in job.error
    successor = Job.objects.filter(kind=Job.Kind.PUBLISH_DEMO_RELEASE, state=Job.State.QUEUED).get()
    assert successor.params == {"round": 1}
    assert not Release.objects.exists()


def test_job_publishes_the_public_analysed_separators_once(demo_group):
    cell = complete_cell(group=demo_group)
    hidden = complete_cell(group=demo_group, visibility="group")
    job = run_job(job_id=queue_demo_release(countdown=None).pk)
    assert job.state == Job.State.SUCCEEDED, job.error
    release = Release.objects.get()
    assert set(release.records.filter(kind="separator").values_list("object_id", flat=True)) == {cell.separator_id}
    assert hidden.separator_id not in set(release.records.values_list("object_id", flat=True))
    run_job(job_id=queue_demo_release(countdown=None).pk)
    assert Release.objects.count() == 1

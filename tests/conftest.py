"""Shared fixtures: users in every role and records in every visibility."""
from pathlib import Path

import pytest

INSTRUMENT_FILES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "instrument-files"
LITERATURE_CSV = INSTRUMENT_FILES.parent / "literature" / "obelix-all.csv"


@pytest.fixture(autouse=True)
def _media_in_tmp(request, tmp_path):
    """Raw files go to a throwaway folder; no test writes into var/. Tasks run eagerly unless a test says not."""
    if not request.config.pluginmanager.hasplugin("django"):
        return  # pure-code tests may run with -p no:django
    settings = request.getfixturevalue("settings")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
    # The audit trail names each row's content type. A transactional test's flush re-creates the content
    # types in another order (other ids) than the migrations did, so the process-wide cache must not outlive
    # a test.
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Run what a block queues: on-commit dispatches execute eagerly (tasks are eager in tests)."""

    def runner():
        return django_capture_on_commit_callbacks(execute=True)

    return runner


@pytest.fixture
def instrument_files() -> Path:
    assert INSTRUMENT_FILES.is_dir(), f"shared instrument files not found at {INSTRUMENT_FILES}"
    return INSTRUMENT_FILES


@pytest.fixture
def group(db):
    from tests.factories import ResearchGroupFactory

    return ResearchGroupFactory()


@pytest.fixture
def owner(group):
    from tests.factories import MembershipFactory

    return MembershipFactory(group=group, role="owner").user


@pytest.fixture
def member(group):
    from tests.factories import MembershipFactory

    return MembershipFactory(group=group, role="member").user


@pytest.fixture
def outsider(db):
    from tests.factories import MembershipFactory

    return MembershipFactory().user  # member of another group


@pytest.fixture
def standard_protocols(db):
    """The shipped standard fit protocols.

    The data migration installs them, but a transactional test (live server,
    real worker) ends with a flush that empties every table; tests that need
    the protocols after such a test re-install them here (idempotent).
    """
    import importlib

    from django.apps import apps

    from apps.analysis.models import FitProtocol

    importlib.import_module("apps.analysis.migrations.0003_standard_protocols").create_standard_protocols(apps, None)
    return FitProtocol.objects.filter(is_standard=True)

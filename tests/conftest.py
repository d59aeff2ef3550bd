"""Shared fixtures: users in every role and records in every visibility."""
import socket
from pathlib import Path

import pytest
from celery import current_app

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
    # The embedded default's cache kind (files, shared across processes), in a folder of this test's own:
    # throttle counts never carry over from one test to the next.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path / "cache")}
    }
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


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


@pytest.fixture
def celery_conf():
    """Set Celery settings for one test: ``celery_conf(task_always_eager=False)``; restored afterwards.

    Restored as they were: a key the test set on top of the Django settings is taken off again, so the
    settings speak for it (writing back the value read at the time would pin it: a test that had already set
    ``settings.CELERY_TASK_ALWAYS_EAGER = False`` left every later test in the process non-eager)."""
    saved = {}
    changes = current_app.conf.changes

    def set_values(**values):
        for key, value in values.items():
            saved.setdefault(key, changes[key] if key in changes else _NOT_SET)
            current_app.conf[key] = value

    yield set_values
    for key, value in saved.items():
        if value is _NOT_SET:
            changes.pop(key, None)
        else:
            current_app.conf[key] = value
    _forget_broker_connections()


_NOT_SET = object()


def _forget_broker_connections() -> None:
    """The next publish connects anew, to the broker the settings now name."""
    current_app._pool = None
    current_app.amqp._producer_pool = None


@pytest.fixture
def broker_down(celery_conf, monkeypatch):
    """A real broker connection to a Redis port where nothing listens; tasks are not eager."""
    url = f"redis://127.0.0.1:{closed_port()}/0"
    # Celery reads CELERY_BROKER_URL from the environment before its own settings (CI sets it).
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    celery_conf(task_always_eager=False, broker_url=url, broker_write_url=None)
    _forget_broker_connections()



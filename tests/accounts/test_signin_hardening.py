"""Failed sign-ins are counted across workers and lock a username+address on every sign-in path.

The limit (LOGIN_FAILURE_LIMIT, 10) and cool-off (LOGIN_LOCKOUT_MINUTES, 15) are django-axes settings;
the count lives in the database, the API throttles in the shared cache.
"""
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.utils import timezone

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

RIGHT = "correct horse battery"  # UserFactory's password
ROOT = Path(__file__).resolve().parents[2]


def _web_login(client, user, password):
    return client.post("/login/", {"username": user.username, "password": password})


def _admin_login(client, user, password):
    return client.post("/admin/login/?next=/admin/", {"username": user.username, "password": password, "next": "/admin/"})


def _token(client, user, password):
    return client.post(
        "/api/v1/auth/token/", json.dumps({"username": user.username, "password": password}), content_type="application/json"
    )


def _signed_in(client, path, response) -> bool:
    if path is _token:
        return response.status_code == 201
    return response.status_code == 302 and "_auth_user_id" in client.session


PATHS = [_web_login, _admin_login, _token]


@pytest.mark.parametrize("sign_in", PATHS, ids=["web", "admin", "token"])
def test_hundred_wrong_passwords_are_stopped_and_the_right_one_waits_for_the_cool_off(client, sign_in):
    user = UserFactory(is_staff=True, is_superuser=True)
    limit = settings.AXES_FAILURE_LIMIT
    answers = [sign_in(client, user, f"guess-{n}").status_code for n in range(100)]

    # Every answer after the limit is a refusal without checking the password: 429 with the lockout message.
    assert all(code == 429 for code in answers[limit:]), answers
    assert all(code != 429 for code in answers[: limit - 1]), answers
    locked = sign_in(client, user, RIGHT)
    assert locked.status_code == 429 and not _signed_in(client, sign_in, locked)
    if sign_in is _token:
        error = locked.json()["error"]
        assert error["code"] in {"locked_out", "throttled"} and error["status"] == 429
    else:
        assert b"Too many failed sign-ins" in locked.content

    # After the cool-off the right password works again (and resets the count).
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - datetime.timedelta(seconds=1))
    client.cookies.clear()
    cache_clear()
    response = sign_in(client, user, RIGHT)
    assert _signed_in(client, sign_in, response), (response.status_code, response.content[:300])


def cache_clear():
    from django.core.cache import cache

    cache.clear()  # the token endpoint's per-address throttle is a separate, shorter limit


def test_token_lockout_answers_in_the_api_error_format(client):
    user = UserFactory()
    for n in range(settings.AXES_FAILURE_LIMIT):
        _token(client, user, f"guess-{n}")
    response = _token(client, user, RIGHT)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "locked_out"
    assert "15 minutes" in response.json()["error"]["message"]
    assert int(response["Retry-After"]) == 15 * 60


def test_lockout_is_per_username_and_address(client):
    guessed, other = UserFactory(), UserFactory()
    for n in range(settings.AXES_FAILURE_LIMIT + 2):
        _web_login(client, guessed, f"guess-{n}")
    assert _web_login(client, guessed, RIGHT).status_code == 429
    # Another username from the same address, and the same username from another address, still sign in.
    assert _web_login(client, other, RIGHT).status_code == 302
    client.logout()
    response = client.post("/login/", {"username": guessed.username, "password": RIGHT}, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 302


def test_failures_are_counted_in_the_database_every_worker_reads(client):
    """The count is a database row (which every gunicorn worker reads), not process memory."""
    user = UserFactory()
    for n in range(3):
        _web_login(client, user, f"guess-{n}")
    attempt = AccessAttempt.objects.get(username=user.username)
    assert attempt.failures_since_start == 3


SUBPROCESS_THROTTLE = """
import os, sys
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "assbdb.settings"
django.setup()
from django.test import RequestFactory
from apps.accounts.api import PasswordAttemptThrottle
from django.contrib.auth.models import AnonymousUser
request = RequestFactory().post("/api/v1/auth/token/", REMOTE_ADDR="10.9.8.7")
request.user = AnonymousUser()
allowed = sum(PasswordAttemptThrottle().allow_request(request, None) for _ in range(int(sys.argv[1])))
print(allowed)
"""


def test_token_throttle_is_shared_between_processes(tmp_path, settings):
    """Two processes on one file cache: 15 tries in a separate process leave 5 of the 20 a minute here."""
    location = tmp_path / "shared-cache"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(location)}
    }
    env = {**os.environ, "CACHE_URL": f"filecache://{location}", "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", SUBPROCESS_THROTTLE, "15"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "15"

    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    from apps.accounts.api import PasswordAttemptThrottle

    request = RequestFactory().post("/api/v1/auth/token/", REMOTE_ADDR="10.9.8.7")
    request.user = AnonymousUser()
    here = [PasswordAttemptThrottle().allow_request(request, None) for _ in range(10)]
    assert here == [True] * 5 + [False] * 5

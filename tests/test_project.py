"""Project-level checks: migrations, deploy settings, the compose file."""
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.django_db
def test_migrations_are_up_to_date():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def _manage(*args, env_extra):
    # A clean environment: only what finds Python, so no variable another test set leaks in.
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_debug_off_and_a_real_secret():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env_extra={"DEBUG": "0", "SECRET_KEY": "x" * 64 + "-real-secret-for-check", "ALLOWED_HOSTS": "example.org"},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_default_secret():
    result = _manage("check", env_extra={"DEBUG": "0", "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_services(compose):
    assert {"web", "worker", "db", "redis"} <= set(compose["services"])


@pytest.mark.parametrize("service", ["db", "redis"])
def test_compose_backing_services_have_health_checks(compose, service):
    assert compose["services"][service]["healthcheck"]["test"]


@pytest.mark.parametrize("service", ["web", "worker", "beat"])
def test_compose_app_services_wait_for_healthy_backends(compose, service):
    depends = compose["services"][service]["depends_on"]
    assert depends["db"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    env = compose["services"][service]["environment"]
    assert env["DATABASE_URL"].startswith("postgres://") and env["CELERY_BROKER_URL"].startswith("redis://")


def test_compose_web_health_check_is_healthz_and_the_worker_is_pinged(compose):
    """Issue 17: docker-compose's health checks are /healthz (database, broker, worker heartbeat, queue age)
    for the web service and a Celery ping for the worker; a failing /healthz (503) raises in urlopen."""
    web = " ".join(compose["services"]["web"]["healthcheck"]["test"])
    assert "127.0.0.1:8000/healthz" in web and "urlopen" in web
    assert "inspect ping" in " ".join(compose["services"]["worker"]["healthcheck"]["test"])


def test_compose_postgres_keeps_data_in_a_named_volume(compose):
    mounts = compose["services"]["db"]["volumes"]
    assert any(m.split(":")[0] in compose["volumes"] for m in mounts)


@pytest.mark.parametrize("service", ["web", "worker", "beat"])
def test_compose_commands_name_modules_that_exist(compose, service):
    command = compose["services"][service]["command"]
    modules = re.findall(r"(?:gunicorn\s+)([\w.]+):(\w+)", command) + [
        (m, "celery_app") for m in re.findall(r"celery -A ([\w.]+)", command)
    ]
    assert modules, f"no module found in {command!r}"
    for module, attribute in modules:
        assert hasattr(importlib.import_module(module), attribute), f"{module}:{attribute}"
    if "manage.py" in command:
        assert (ROOT / "manage.py").exists()


@pytest.mark.parametrize("service", ["web", "worker", "beat"])
def test_compose_app_services_keep_raw_files_in_the_object_store(compose, service):
    spec = compose["services"][service]
    env = spec["environment"]
    assert env["STORAGE_BACKEND"] == "s3"
    assert env["S3_ENDPOINT_URL"].startswith("http://minio:")
    assert spec["depends_on"]["minio"]["condition"] == "service_healthy"
    assert spec["depends_on"]["minio-bucket"]["condition"] == "service_completed_successfully"
    # No local media folder: a second machine would not see it.
    assert not any("media" in m for m in spec.get("volumes", []))


def test_compose_object_store_keeps_data_and_creates_the_bucket(compose):
    minio = compose["services"]["minio"]
    assert minio["healthcheck"]["test"]
    assert any(m.split(":")[0] in compose["volumes"] for m in minio["volumes"])
    bucket = compose["services"]["minio-bucket"]
    assert "mc mb --ignore-existing" in bucket["entrypoint"]
    assert bucket["depends_on"]["minio"]["condition"] == "service_healthy"


def test_storage_backend_s3_is_configured_by_environment():
    script = (
        "from django.core.files.storage import default_storage as s;"
        "print(s.__class__.__module__, s.bucket_name, s.endpoint_url, s.default_acl)"
    )
    result = _manage(
        "shell", "-c", script,
        env_extra={
            "STORAGE_BACKEND": "s3", "S3_BUCKET_NAME": "raw-files", "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
            "AWS_ACCESS_KEY_ID": "key", "AWS_SECRET_ACCESS_KEY": "secret",
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["storages.backends.s3", "raw-files", "http://127.0.0.1:9000", "private"]


def test_unknown_storage_backend_is_refused():
    result = _manage("check", env_extra={"STORAGE_BACKEND": "ftp"})
    assert result.returncode != 0
    assert "STORAGE_BACKEND" in result.stderr


@pytest.mark.django_db
def test_postgresql_connections_run_without_jit_compilation():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL setting (the CI's PostgreSQL pass runs it)")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"

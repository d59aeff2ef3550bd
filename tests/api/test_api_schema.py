"""The OpenAPI schema, the offline Swagger UI, and schemathesis over every GET endpoint.

Schemathesis generates requests from /api/schema/ and calls the WSGI app:
no answer may be a 500, and every answer must match the schema (status
code, content type and body) — anonymous and with a member's token.
"""
import re

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.accounts.models import Visibility
from apps.accounts.services import create_api_token
from assbdb.wsgi import application
from tests.factories import (
    ArrheniusFitFactory,
    BenchmarkEntryFactory,
    ConductivityFactory,
    FitResultFactory,
    JobFactory,
    LiteratureValueFactory,
    RawFileFactory,
)
from tests.factories import InterfaceEvidenceFactory, SpectrumFactory

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(autouse=True)
def _keep_the_test_connection_open():
    """Schemathesis calls the WSGI app directly; like Django's test client, keep the request
    signals from closing the connection that holds the test's transaction (PostgreSQL would
    answer every later query with "the connection is closed")."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def records(db, group):
    """One record of each kind, ids starting at 1, so generated ids sometimes hit a real row."""
    spectrum = SpectrumFactory(group=group, visibility=Visibility.PUBLIC, cell__visibility=Visibility.PUBLIC)
    fit = FitResultFactory(spectrum=spectrum)
    ConductivityFactory(fit=fit, spectrum=spectrum)
    ArrheniusFitFactory(separator=spectrum.cell.separator)
    BenchmarkEntryFactory(separator=spectrum.cell.separator)
    InterfaceEvidenceFactory(interface__group=group, interface__visibility=Visibility.PUBLIC)
    RawFileFactory(group=group, visibility=Visibility.PUBLIC)
    LiteratureValueFactory()
    JobFactory(group=group)
    return spectrum


@pytest.fixture
def member_token(member):
    return create_api_token(user=member).key


# Loaded when the module is collected (generating the schema touches no database); GET operations only.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(method="GET")
OPERATIONS = {result.ok().label: result.ok() for result in schema.get_all_operations()}
BOUNDED = settings(
    max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
)


def _run(operation, mode: GenerationMode, checks, headers=None, max_examples: int | None = None) -> None:
    @(settings(BOUNDED, max_examples=max_examples) if max_examples else BOUNDED)
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case):
        case.call_and_validate(headers=headers, checks=checks)

    call()


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_get_endpoint_answers_anonymous_clients_within_the_schema(records, label):
    _run(OPERATIONS[label], GenerationMode.POSITIVE, CHECKS)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_get_endpoint_answers_a_member_within_the_schema(records, member_token, label):
    _run(OPERATIONS[label], GenerationMode.POSITIVE, CHECKS, headers={"Authorization": f"Token {member_token}"})


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_get_endpoint_answers_invalid_input_without_a_server_error(records, label):
    _run(OPERATIONS[label], GenerationMode.NEGATIVE, [not_a_server_error, status_code_conformance])


WRITES = {
    result.ok().label: result.ok()
    for result in schemathesis.openapi.from_wsgi("/api/schema/", application).exclude(method="GET").get_all_operations()
}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize("label", sorted(label for label in WRITES if label != "DELETE /api/v1/auth/token/"))
def test_write_endpoint_never_fails_with_a_server_error(records, member_token, label, mode):
    """Generated bodies, valid and invalid, sent by a member: answers are documented, never a 500."""
    checks = [not_a_server_error, status_code_conformance]
    if mode == GenerationMode.POSITIVE:
        checks += [content_type_conformance, response_schema_conformance]
    _run(WRITES[label], mode, checks, headers={"Authorization": f"Token {member_token}"}, max_examples=6)


def test_schema_describes_every_operation_with_a_summary(client):
    document = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) > 40
    assert [f"{m} {p}" for p, m, o in operations if not o.get("summary")] == []
    assert all(path.startswith("/api/v1/") for path, _, _ in operations)


def test_every_operation_documents_the_one_error_format(client):
    document = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            body = operation["responses"]["404"]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}, (method, path)


def test_swagger_ui_is_served_without_a_cdn(client):
    page = client.get("/api/docs/").content.decode()
    # Every script and stylesheet comes from this site (a random CSRF token may spell "cdn", so look at URLs).
    assets = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']+)["\']', page)
    assert assets and not [url for url in assets if re.match(r"(?:https?:)?//", url)]
    assert not re.search(r"cdn\.jsdelivr|unpkg\.com|cdnjs", page)
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page


def test_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")

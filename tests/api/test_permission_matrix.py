"""Permission matrix generated from the OpenAPI schema and the web URL list.

Every GET path of the API schema (lists, details, exports, downloads) and every
page route with at most one record id is requested as anonymous, outsider,
member and owner, against one fixture set: a chain of records (separator,
electrode, interface, cell with layers, raw file, spectrum, fit, conductivity,
Arrhenius fit, benchmark entry) in each of private / group / public /
embargoed, plus a private separator behind a public cell, spectrum and raw
file, a group job about a member's private spectrum, and a group-less system
job. Every hidden record's name carries a unique marker, and the hidden
separator and the private spectrum carry ids no other number collides with; a
response body may never contain a marker or such an id of a record the viewer
may not see (nor the hidden separator's thickness, nor the private spectrum's
name in a job's label, error or result). Hidden records answer 404 on
their API detail routes, and a search for a hidden name finds exactly as much
as a search for a made-up one (no existence oracle).
"""
from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from apps.accounts.models import Visibility
from apps.jobs.models import Job
from tests.api.conftest import ROLES, future_day
from tests.factories import (
    ArrheniusFitFactory,
    BenchmarkEntryFactory,
    CellFactory,
    CellLayerFactory,
    ConductivityFactory,
    DCPolarisationFactory,
    ElectrodeFactory,
    FitResultFactory,
    InterfaceFactory,
    JobFactory,
    RawFileFactory,
    SeparatorFactory,
    SpectrumFactory,
)

pytestmark = pytest.mark.django_db

STATES = ["private", "group", "public", "embargoed"]
SEEN_BY = {"public": set(ROLES), "group": {"member", "owner"}, "private": {"owner"}, "embargoed": {"member", "owner"}}
BEHIND = "zqbehind"  # the private separator behind a public cell
BEHIND_THICKNESS = "777.123"
SYSTEM_JOB = "zqsystemjob"
GROUP_JOB = "zqgroupjob"
BEHIND_ID = 987654321  # the hidden separator's id: a public cell must not name it
PRIVATE_SPECTRUM_ID = 987654322  # the private chain's spectrum: a group job about it must not name it

# First path segment → fixture key, for routes with one record id.
API_RESOURCES = {
    "separators": "separator", "electrodes": "electrode", "interfaces": "interface", "cells": "cell",
    "spectra": "spectrum", "raw-files": "rawfile", "fits": "fit", "conductivities": "conductivity",
    "arrhenius-fits": "arrheniusfit", "benchmark-entries": "benchmarkentry", "jobs": "job",
}
WEB_RESOURCES = {
    "separators": "separator", "cells": "cell", "interfaces": "interface", "spectra": "spectrum",
    "benchmarks/entries": "benchmarkentry",
}


def marker(state: str) -> str:
    return f"zq{state}mark"


def _ownership(state: str) -> dict:
    return {
        "private": {"visibility": Visibility.PRIVATE, "embargo_until": None},
        "group": {"visibility": Visibility.GROUP, "embargo_until": None},
        "public": {"visibility": Visibility.PUBLIC, "embargo_until": None},
        "embargoed": {"visibility": Visibility.PUBLIC, "embargo_until": future_day()},
    }[state]


def _chain(state: str, group, uploader) -> dict:
    own = {"group": group, "created_by": uploader, **_ownership(state)}
    name = marker(state)
    separator = SeparatorFactory(name=f"{name} separator", **own)
    electrode = ElectrodeFactory(name=f"{name} electrode", **own)
    interface = InterfaceFactory(name=f"{name} interface", **own)
    cell = CellFactory(name=f"{name} cell", separator=separator, notes=f"{name} notes", **own)
    cell.interfaces.add(interface)
    CellLayerFactory(cell=cell, position=0, kind="electrode", electrode=electrode)
    CellLayerFactory(cell=cell, position=1, kind="separator", separator=separator)
    raw = RawFileFactory(original_name=f"{name}-raw.csv", cell=cell, **own)
    pk = {"pk": PRIVATE_SPECTRUM_ID} if state == "private" else {}
    spectrum = SpectrumFactory(label=f"{name} spectrum", cell=cell, raw_file=raw, **pk, **own)
    fit = FitResultFactory(spectrum=spectrum)
    return {
        "separator": separator, "electrode": electrode, "interface": interface, "cell": cell, "rawfile": raw,
        "spectrum": spectrum, "fit": fit, "conductivity": ConductivityFactory(fit=fit),
        "arrheniusfit": ArrheniusFitFactory(separator=separator),
        "benchmarkentry": BenchmarkEntryFactory(separator=separator, method=f"{name} method"),
    }


@pytest.fixture
def world(group, uploader, owner, member, outsider):
    records = {state: _chain(state, group, uploader) for state in STATES}
    hidden_separator = SeparatorFactory(
        pk=BEHIND_ID, group=group, created_by=uploader, visibility=Visibility.PRIVATE, name=f"{BEHIND} separator",
        thickness_um=float(BEHIND_THICKNESS),
    )
    cell = CellFactory(group=group, created_by=uploader, visibility=Visibility.PUBLIC, separator=hidden_separator,
                       name="Public cell on a hidden separator")
    CellLayerFactory(cell=cell, position=0, kind="separator", separator=hidden_separator)
    raw = RawFileFactory(group=group, visibility=Visibility.PUBLIC, cell=cell, original_name="public-raw.csv")
    spectrum = SpectrumFactory(group=group, cell=cell, raw_file=raw, visibility=Visibility.PUBLIC, label="over hidden")
    cell_entry = BenchmarkEntryFactory(separator=hidden_separator, cell=cell, metric="interfacial_asr",
                                       unit="ohm cm2", value=12.0, thickness_um=float(BEHIND_THICKNESS))
    fit = FitResultFactory(spectrum=spectrum)
    ConductivityFactory(fit=fit)
    DCPolarisationFactory(cell=cell, group=group, visibility=Visibility.PUBLIC)
    records["behind"] = {"cell": cell, "spectrum": spectrum, "rawfile": raw, "separator": hidden_separator,
                         "benchmarkentry": cell_entry}
    # Jobs: one of the group (visible to its members), one group-less system job naming hidden spectra.
    group_job = JobFactory(group=group, created_by=uploader, target_label=GROUP_JOB, target_id=spectrum.pk)
    # A group job about a member's private spectrum, labelled (as the queue labels it) with its name.
    private = records["private"]["spectrum"]
    # Their errors and results name the hidden records too (rows written before errors were built from ids).
    JobFactory(group=group, created_by=uploader, target_type="spectrum", target_id=private.pk,
               target_label=f"{private.label} ({records['private']['cell'].name})", state=Job.State.FAILED,
               error=f"Fit of {private.label} on {records['private']['separator'].name} failed",
               result={"protocol": records["private"]["cell"].name})
    JobFactory(group=group, created_by=uploader, target_type="separator", target_id=hidden_separator.pk,
               target_label=hidden_separator.name, kind=Job.Kind.RECOMPUTE_BENCHMARKS, state=Job.State.FAILED,
               error=f"Internal error: {hidden_separator.name} ({BEHIND_THICKNESS} um)")
    JobFactory(kind=Job.Kind.REFIT_PROTOCOL, group=group, created_by=uploader, target_type="protocol",
               target_label="a group protocol: spectra 1–2 of 2", params={"spectrum_ids": [spectrum.pk, private.pk]})
    JobFactory(kind=Job.Kind.REFIT_PROTOCOL, group=None, created_by=None, target_type="protocol",
               target_label=f"{SYSTEM_JOB} of 2359", params={"spectrum_ids": [records["private"]["spectrum"].pk]})
    records["public"]["job"] = group_job
    return records


def hidden_markers(role: str) -> list[str]:
    found = [marker(state) for state in STATES if role not in SEEN_BY[state]]
    if role != "owner":
        found += [BEHIND, BEHIND_THICKNESS]
    if role != "owner":
        found += [str(BEHIND_ID), str(PRIVATE_SPECTRUM_ID)]
    found.append(SYSTEM_JOB)  # none of the four roles is staff
    if role in ("anonymous", "outsider"):
        found.append(GROUP_JOB)
    return found


def api_get_paths() -> list[str]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(path for path, operations in schema["paths"].items() if "get" in operations)


def _walk(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def web_get_paths() -> list[str]:
    paths = []
    for route in _walk(get_resolver().url_patterns):
        if route.startswith(("api/", "admin/", "^", "logout", "login", "account/")) or "(?P" in route:
            continue
        if len(re.findall(r"<[^>]+>", route)) > 1 or "<slug" in route or "<str" in route:
            continue
        paths.append("/" + route)
    return sorted(paths)


def _concrete(path: str, resources: dict, world, states) -> list[tuple[str, str | None]]:
    """(url, state of the record in it) for a route with at most one id; [] when the route has none we can fill."""
    placeholder = re.search(r"\{id\}|<int:pk>", path)
    if placeholder is None:
        return [(path, None)]
    head = path.lstrip("/").removeprefix("api/v1/").split("/{")[0].split("/<")[0]
    key = resources.get(head)
    if key is None:
        return []
    urls = []
    for state in states:
        record = world[state].get(key)
        if record is not None:
            urls.append((path[: placeholder.start()] + str(record.pk) + path[placeholder.end():], state))
    return urls


def _client(role, users, web: bool) -> APIClient:
    client = APIClient()
    if users[role] is not None:
        if web:
            client.force_login(users[role])
        else:
            client.force_authenticate(users[role])
    return client


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _assert_no_leak(role, url, response, echoed: str = ""):
    """No hidden marker in the body (`echoed`: the viewer's own query, which a page may repeat in its form)."""
    assert response.status_code < 500, (role, url, response.status_code)
    body = _body(response)
    if echoed:
        body = body.replace(f'value="{echoed}"', "").replace(f"q={echoed}", "").replace(f"“{echoed}”", "")
    leaked = [m for m in hidden_markers(role) if m in body]
    assert not leaked, f"{role} GET {url} shows {leaked}"
    return body


@pytest.mark.parametrize("role", ROLES)
def test_no_endpoint_or_page_shows_a_hidden_record(role, world, users):
    api = _client(role, users, web=False)
    states = [*STATES, "behind"]
    requests = 0
    for path in api_get_paths():
        for url, state in _concrete(path, API_RESOURCES, world, states):
            response = api.get(url, {"page_size": 500} if state is None else {})
            requests += 1
            _assert_no_leak(role, url, response)
            if state in SEEN_BY and role not in SEEN_BY[state]:
                assert response.status_code == 404, (role, url, response.status_code)
    web = _client(role, users, web=True)
    for path in web_get_paths():
        for url, state in _concrete(path, WEB_RESOURCES, world, states):
            response = web.get(url)
            requests += 1
            _assert_no_leak(role, url, response)
            if state in SEEN_BY and role not in SEEN_BY[state]:
                assert response.status_code in (302, 403, 404, 405), (role, url, response.status_code)
    assert requests > 100  # the generated matrix really ran


ORACLE_LISTS = ["/api/v1/cells/", "/api/v1/spectra/", "/api/v1/benchmark-entries/", "/api/v1/fits/",
                "/api/v1/conductivities/", "/api/v1/arrhenius-fits/", "/api/v1/raw-files/", "/api/v1/separators/",
                "/api/v1/interfaces/", "/api/v1/electrodes/", "/api/v1/jobs/"]


@pytest.mark.parametrize("role", ROLES)
def test_searching_a_hidden_name_finds_what_a_made_up_name_finds(role, world, users):
    api = _client(role, users, web=False)
    web = _client(role, users, web=True)
    listed = [p for p in api_get_paths() if "{" not in p and not p.endswith("/export/")]
    assert set(ORACLE_LISTS) <= set(listed)
    for name in [m for m in hidden_markers(role) if m.startswith("zq")]:
        for path in listed:
            made_up = api.get(path, {"search": "zqnosuchname"})
            response = api.get(path, {"search": name})
            _assert_no_leak(role, path, response)
            if "count" in response.json():
                assert response.json()["count"] == made_up.json()["count"], (role, path, name)
        for path in ("/cells/", "/spectra/", "/separators/", "/interfaces/", "/search/"):
            _assert_no_leak(role, path, web.get(path, {"q": name}), echoed=name)


@pytest.mark.parametrize("role", ROLES)
def test_filters_through_a_hidden_separator_match_nothing(role, world, users):
    """The hidden separator's thickness, family and route are not confirmable by filtering public cells."""
    if role == "owner":
        pytest.skip("the owner sees the separator")
    api = _client(role, users, web=False)
    thickness = float(BEHIND_THICKNESS)
    for path in ("/api/v1/cells/", "/api/v1/spectra/", "/api/v1/fits/", "/api/v1/conductivities/"):
        near = api.get(path, {"thickness_um_min": thickness - 0.01, "thickness_um_max": thickness + 0.01})
        assert near.status_code == 200 and near.json()["count"] == 0, (role, path)

"""The API's Kramers–Kronig verdict (kk_verdict beside kk_passed, filter) and the protocols' bound notes."""
import json

import pytest
from django.urls import reverse

from apps.accounts.models import Visibility
from apps.analysis import protocols
from apps.analysis.models import KramersKronigCheck
from tests.factories import SpectrumFactory

CHECK = {"n_elements": 6, "mu": 0.7, "max_abs_residual": 0.01, "threshold": 0.006, "engine_version": "test"}


@pytest.fixture
def judged(group):
    """One public spectrum per verdict, and one not checked."""
    spectra = {}
    for verdict in ("passed", "failed", "insufficient_data", None):
        spectrum = SpectrumFactory(group=group, visibility=Visibility.PUBLIC, label=f"kk {verdict}")
        if verdict:
            KramersKronigCheck.objects.create(spectrum=spectrum, passed=verdict == "passed", verdict=verdict,
                                              reason=f"because {verdict}", **CHECK)
        spectra[verdict] = spectrum
    return spectra


@pytest.mark.django_db
def test_list_gives_the_verdict_and_leaves_kk_passed_null_when_not_judged(client_for, judged):
    rows = {r["id"]: r for r in client_for("anonymous").get(reverse("api:spectrum-list"), {"page_size": 100}).json()["results"]}
    got = {verdict: (rows[s.pk]["kk_verdict"], rows[s.pk]["kk_passed"]) for verdict, s in judged.items()}
    assert got == {"passed": ("passed", True), "failed": ("failed", False),
                   "insufficient_data": ("insufficient_data", None), None: (None, None)}


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "expected"), [
    ("kk_verdict=insufficient_data", {"insufficient_data"}),
    ("kk_verdict=failed", {"failed"}),
    ("kk_passed=false", {"failed"}),  # a spectrum too short to judge has not failed
    ("kk_passed=true", {"passed"}),
])
def test_filters_by_verdict(client_for, judged, query, expected):
    results = client_for("anonymous").get(f"{reverse('api:spectrum-list')}?{query}&page_size=100").json()["results"]
    by_id = {s.pk: v for v, s in judged.items()}
    assert {by_id[r["id"]] for r in results if r["id"] in by_id} == expected


@pytest.mark.django_db
def test_detail_gives_the_verdict_and_its_reason(client_for, judged):
    body = client_for("anonymous").get(reverse("api:spectrum-detail", args=[judged["insufficient_data"].pk])).json()
    assert body["kramers_kronig"]["verdict"] == "insufficient_data"
    assert body["kramers_kronig"]["reason"] == "because insufficient_data" and body["kramers_kronig"]["passed"] is False


@pytest.mark.django_db
def test_export_gives_the_same_kk_passed_as_the_list(client_for, judged):
    response = client_for("anonymous").get(reverse("api:spectrum-export"), {"format": "json"})
    rows = {r["id"]: r for r in json.loads(b"".join(response.streaming_content))["results"]}
    got = {verdict: (rows[s.pk]["kk_verdict"], rows[s.pk]["kk_passed"]) for verdict, s in judged.items()}
    assert got == {"passed": ("passed", True), "failed": ("failed", False),
                   "insufficient_data": ("insufficient_data", None), None: (None, None)}


@pytest.mark.django_db
def test_standard_protocol_documents_its_bounds(client_for, standard_protocols):
    protocol = standard_protocols.get(name=protocols.SYMMETRIC_LI_CELL)
    notes = {n["parameter"]: n for n in client_for("anonymous").get(reverse("api:protocol-detail", args=[protocol.pk])).json()["bound_notes"]}
    assert set(notes) == set(protocol.bounds)
    interface = notes["CPE2_n"]
    assert (interface["low"], interface["low_kind"], interface["high_kind"]) == (0.4, "search_range", "physical_limit")
    assert "Li/Cu" in interface["reason"]

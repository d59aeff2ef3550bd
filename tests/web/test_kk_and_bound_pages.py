"""The Kramers–Kronig verdict on the spectrum page and list, and the bounds that held a fit, in words."""
import pytest

from apps.accounts.models import Visibility
from apps.analysis.models import KramersKronigCheck
from tests.factories import FitProtocolFactory, FitResultFactory

CHECK = {"n_elements": 6, "mu": 0.7, "max_abs_residual": 0.076, "systematic_residual": 0.03, "noise_level": 0.014,
         "threshold": 0.015, "engine_version": "test"}
NOT_JUDGED = "not enough data to judge: 22 points, 3.1 per decade (needs at least 20 points and 5 per decade)"


@pytest.fixture
def short_spectrum(records):
    spectrum = records[Visibility.PUBLIC]["spectrum"]
    KramersKronigCheck.objects.create(spectrum=spectrum, passed=False, verdict="insufficient_data", reason=NOT_JUDGED,
                                      **CHECK)
    return spectrum


def test_spectrum_badge_says_a_short_spectrum_is_not_judged(client, short_spectrum):
    body = client.get(f"/spectra/{short_spectrum.pk}/").content.decode()
    assert f"Kramers–Kronig: not enough data to judge ({NOT_JUDGED})" in body
    assert "Kramers–Kronig failed" not in body and "Kramers–Kronig passed" not in body


def test_spectrum_list_shows_the_verdict_per_spectrum(client, short_spectrum):
    body = client.get("/spectra/").content.decode()
    assert "<th>Kramers–Kronig</th>" in body
    assert f'title="{NOT_JUDGED}">too few points</span>' in body


def test_spectrum_list_filters_by_verdict(client, short_spectrum, records):
    label = short_spectrum.label or str(short_spectrum.pk)
    assert label in client.get("/spectra/?kk_verdict=insufficient_data").content.decode()
    assert f">{label}</a>" not in client.get("/spectra/?kk_verdict=passed").content.decode()


def test_fit_section_says_which_bound_held_the_fit(client, records):
    spectrum = records[Visibility.PUBLIC]["spectrum"]
    protocol = FitProtocolFactory(circuit="R0-p(R1,CPE1)", element_roles={"R1": "interface", "CPE1": "interface"},
                                  bounds={"CPE1_n": [0.4, 1.0]}, is_standard=True)
    finding = {"parameter": "CPE1_n", "side": "lower", "bound": 0.4, "physical_limit": 0.0, "value": 0.301,
               "value_relaxed": 0.301, "cost_at_bound": 0.0029, "cost_relaxed": 0.0005, "cost_ratio": 5.8,
               "relaxed_fit_kept": True}
    fit = FitResultFactory(spectrum=spectrum, protocol=protocol, flags=["parameter_held_by_bound"],
                           parameters={"R0": 5.0, "R1": 200.0, "CPE1_Q": 1e-4, "CPE1_n": 0.301},
                           derived={"bound_findings": [finding]})
    body = client.get(f"/spectra/{spectrum.pk}/?fit={fit.pk}").content.decode()
    assert "Bounds that held the fit" in body
    assert ("CPE1_n was held at its lower bound 0.4 (a search range); released to 0 it goes to 0.301 and the cost "
            "falls 5.8× (0.0029 → 0.0005): the relaxed fit is the one stored.") in body
    assert "Fit parameter held by a search-range bound" in body  # the flag's registered title

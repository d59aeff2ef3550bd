"""Fitting by hand on the spectrum page: the synchronous preview (bounded, members only, rate-limited, nothing
stored), saving a named fit with its window and fixed values, and the parameters as CSV."""
import csv
import io
import json

import pytest
from django.core.cache import cache

from apps.analysis.models import FitProtocol, FitResult
from apps.measurements import figures
from apps.measurements.views import PREVIEWS_PER_MINUTE
from tests.factories import FitResultFactory, SpectrumFactory

pytestmark = pytest.mark.django_db

# rc_spectrum(): R0 = 10 Ω in series with R1 = 1000 Ω ∥ C1 = 1 nF, noise-free.


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()


@pytest.fixture
def spectrum(group):
    return SpectrumFactory(group=group)


def preview(client, spectrum, **data):
    return client.post(f"/spectra/{spectrum.pk}/fit/preview/", data)


def test_preview_recovers_the_closed_form_and_stores_nothing(client, member, spectrum):
    client.force_login(member)
    response = preview(client, spectrum, circuit="R0-p(R1,C1)")
    assert response.status_code == 200, response.content
    body = response.json()
    values = {p["name"]: p["value"] for p in body["parameters"]}
    assert values["R0"] == pytest.approx(10.0, rel=1e-4)
    assert values["R1"] == pytest.approx(1000.0, rel=1e-4)
    assert values["C1"] == pytest.approx(1e-9, rel=1e-4)
    assert {p["name"]: p["unit"] for p in body["parameters"]} == {"R0": "Ω", "R1": "Ω", "C1": "F"}
    assert set(body["figures"]) == {"preview_nyquist", "preview_residuals"}
    assert not FitResult.objects.exists() and not FitProtocol.objects.filter(name__contains="R0-p(R1,C1)").exists()


def test_preview_holds_a_fixed_value_and_fits_only_the_window(client, member, spectrum):
    client.force_login(member)
    body = preview(client, spectrum, circuit="R0-p(R1,C1)", fixed="R0=12", initial_values="R1=500",
                   frequency_min_hz="10", frequency_max_hz="1e5").json()
    rows = {p["name"]: p for p in body["parameters"]}
    assert rows["R0"]["value"] == 12.0 and rows["R0"]["fixed"] and rows["R0"]["stderr"] is None
    nyquist = json.loads(body["figures"]["preview_residuals"])
    fitted = nyquist["data"][0]["x"]
    assert min(fitted) >= 10 and max(fitted) <= 1e5 and body["n_points"] == len(fitted)


def test_preview_thins_long_spectra_to_the_point_cap(client, member, group, monkeypatch):
    from apps.measurements.models import ImpedanceSpectrum
    from tests.factories import rc_spectrum

    monkeypatch.setattr(figures, "PREVIEW_MAX_POINTS", 40)
    spectrum = SpectrumFactory(group=group, data=ImpedanceSpectrum.pack(*rc_spectrum(n_points=400)), n_points=400)
    client.force_login(member)
    assert preview(client, spectrum, circuit="R0-p(R1,C1)").json()["n_points"] == 40


@pytest.mark.parametrize(
    "data,field,message",
    [
        ({"circuit": "R0-p(R1,"}, "circuit", "R0-p(R1,"),
        ({"circuit": "R0-p(R1,C1)", "fixed": "R9=1"}, "circuit", "R9 not in"),
        ({"circuit": "R0-p(R1,C1)", "initial_values": "R1 is 5"}, "initial_values", "is not name=value"),
        ({"circuit": "R0-p(R1,C1)", "frequency_min_hz": "100", "frequency_max_hz": "10"}, "frequency_max_hz", "above"),
        ({}, "circuit", "Choose a protocol or write a circuit"),
    ],
)
def test_preview_names_the_field_that_is_wrong(client, member, spectrum, data, field, message):
    client.force_login(member)
    response = preview(client, spectrum, **data)
    assert response.status_code == 400
    assert message in " ".join(response.json()["fields"][field])


def test_preview_is_for_members_only(client, outsider, group):
    spectrum = SpectrumFactory(group=group, visibility="public", cell__visibility="public")
    assert preview(client, spectrum, circuit="R0-p(R1,C1)").status_code == 302  # to the login page
    client.force_login(outsider)
    assert preview(client, spectrum, circuit="R0-p(R1,C1)").status_code == 403


def test_preview_is_rate_limited(client, member, spectrum, monkeypatch):
    client.force_login(member)
    monkeypatch.setattr(figures, "fit_preview", lambda *a, **k: {})
    monkeypatch.setattr("apps.measurements.views.hand_fit.fit_preview", lambda *a, **k: {})
    from django.utils import timezone

    minute = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: minute)  # all inside one rate window, however slow the machine
    codes = [preview(client, spectrum, circuit="R0-p(R1,C1)").status_code for _ in range(PREVIEWS_PER_MINUTE + 1)]
    assert codes[:-1] == [200] * PREVIEWS_PER_MINUTE and codes[-1] == 429


def test_preview_that_takes_too_long_is_stopped_with_advice(client, member, spectrum, monkeypatch):
    import time

    monkeypatch.setattr(figures, "PREVIEW_TIMEOUT_S", 0.05)
    monkeypatch.setattr(figures.eis, "fit_circuit", lambda *a, **k: time.sleep(0.5))
    client.force_login(member)
    response = preview(client, spectrum, circuit="R0-p(R1,C1)")
    assert response.status_code == 400 and "longer than 0.05 s" in response.json()["error"]


def test_saved_hand_fit_is_a_named_protocol_with_its_window_and_fixed_values(
    client, member, spectrum, django_capture_on_commit_callbacks
):
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/spectra/{spectrum.pk}/fit/", {
            "circuit": "R0-p(R1,C1)", "name": "LLZO bulk only", "fixed": "R0=10", "initial_values": "R1=900",
            "frequency_min_hz": "1", "frequency_max_hz": "1e6",
        })
    assert response.status_code == 302
    fit = FitResult.objects.get(spectrum=spectrum)  # the job ran eagerly on commit
    assert fit.protocol.name.startswith("LLZO bulk only (")
    assert (fit.protocol.circuit, fit.protocol.frequency_min_hz, fit.protocol.frequency_max_hz) == ("R0-p(R1,C1)", 1.0, 1e6)
    assert fit.parameters["R0"] == 10.0 and fit.parameters["R1"] == pytest.approx(1000.0, rel=1e-4)
    assert fit.derived["hand_fit"] == {"initial_values": {"R1": 900.0}, "fixed": {"R0": 10.0}}
    # The same settings again reuse the protocol; another window is a new version of the same name.
    client.post(f"/spectra/{spectrum.pk}/fit/", {"circuit": "R0-p(R1,C1)", "name": "LLZO bulk only",
                                                  "frequency_min_hz": "1", "frequency_max_hz": "1e6"})
    client.post(f"/spectra/{spectrum.pk}/fit/", {"circuit": "R0-p(R1,C1)", "name": "LLZO bulk only",
                                                  "frequency_min_hz": "10"})
    assert sorted(FitProtocol.objects.filter(name=fit.protocol.name).values_list("version", flat=True)) == [1, 2]


def test_fit_parameters_download_as_csv_with_standard_errors(client, spectrum):
    fit = FitResultFactory(spectrum=spectrum, protocol__circuit="R0-p(R1,C1)")
    spectrum.visibility = "public"
    spectrum.save()
    spectrum.cell.visibility = "public"
    spectrum.cell.save()
    response = client.get(f"/spectra/{spectrum.pk}/fit/parameters.csv?fit={fit.pk}")
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    text = response.content.decode()
    rows = list(csv.DictReader(io.StringIO("\n".join(l for l in text.splitlines() if not l.startswith("#")))))
    assert [(r["parameter"], float(r["value"]), float(r["stderr"]), r["unit"]) for r in rows] == [
        ("R0", 10.0, 0.1, "Ω"), ("R1", 1000.0, 5.0, "Ω"), ("C1", 1e-9, 1e-11, "F")]
    assert '# assbdb circuit="R0-p(R1,C1)"' in text


def test_fit_parameters_csv_is_404_without_a_fit(client, member, spectrum):
    client.force_login(member)
    assert client.get(f"/spectra/{spectrum.pk}/fit/parameters.csv").status_code == 404

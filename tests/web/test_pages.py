"""Every page renders for the people who may see it, and is a 404 for everyone else."""
import json

import pytest

from apps.accounts.models import Visibility

from .conftest import page_urls

PAGES = [
    "separator",
    "separator-plots",
    "cell",
    "cell-plots",
    "interface",
    "interface-plots",
    "spectrum",
    "spectrum-plots",
    "spectrum-csv",
    "spectrum-json",
    "dc-polarisation",
    "ccd-test",
]

LIST_PAGES = ["/", "/separators/", "/cells/", "/interfaces/", "/spectra/", "/materials/", "/jobs/", "/compare/", "/search/?q=LLZTO"]


@pytest.mark.parametrize("url", LIST_PAGES)
@pytest.mark.parametrize("who", ["anonymous", "member"])
def test_browse_pages_render(client, records, member, url, who):
    if who == "member":
        client.force_login(member)
    response = client.get(url)
    assert response.status_code == 200
    assert b"site-nav" in response.content  # the shared layout


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("visibility", [Visibility.GROUP, Visibility.PUBLIC])
def test_member_sees_group_and_public_record_pages(client, records, member, page, visibility):
    client.force_login(member)
    assert client.get(page_urls(records[visibility])[page]).status_code == 200


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("visibility", [Visibility.PRIVATE, Visibility.GROUP])
@pytest.mark.parametrize("who", ["outsider", "anonymous"])
def test_hidden_record_pages_and_plot_data_are_404(client, records, outsider, page, visibility, who):
    if who == "outsider":
        client.force_login(outsider)
    assert client.get(page_urls(records[visibility])[page]).status_code == 404


@pytest.mark.parametrize("page", PAGES)
def test_private_record_hidden_from_plain_member_but_shown_to_owner(client, records, member, owner, page):
    url = page_urls(records[Visibility.PRIVATE])[page]
    client.force_login(member)
    assert client.get(url).status_code == 404
    client.force_login(owner)
    assert client.get(url).status_code == 200


def test_embargoed_public_spectrum_hidden_from_anonymous(client, group):
    import datetime

    from .conftest import make_records

    r = make_records(group, Visibility.PUBLIC)
    spectrum = r["spectrum"]
    spectrum.embargo_until = datetime.date.today() + datetime.timedelta(days=30)
    spectrum.save()
    assert client.get(f"/spectra/{spectrum.pk}/").status_code == 404
    assert client.get(f"/spectra/{spectrum.pk}/plots/").status_code == 404


def test_hidden_records_left_out_of_lists(client, records, outsider):
    client.force_login(outsider)
    body = client.get("/separators/").content.decode()
    assert records[Visibility.PUBLIC]["separator"].name in body
    assert records[Visibility.GROUP]["separator"].name not in body
    assert records[Visibility.PRIVATE]["separator"].name not in body


def test_spectrum_page_embeds_nyquist_with_equal_axes(client, records):
    response = client.get(page_urls(records[Visibility.PUBLIC])["spectrum"])
    figures = json.loads(response.context["figures"]["nyquist"])
    assert figures["layout"]["yaxis"]["scaleanchor"] == "x"
    assert figures["layout"]["yaxis"]["scaleratio"] == 1
    assert b'id="figures-data"' in response.content
    assert b"plotly/plotly.min.js" in response.content


def test_spectrum_plot_endpoint_returns_every_figure(client, records):
    payload = client.get(page_urls(records[Visibility.PUBLIC])["spectrum-plots"]).json()
    assert set(payload["figures"]) == {"nyquist", "bode", "residuals", "kk", "drt"}
    drt = json.loads(payload["figures"]["drt"])
    assert drt["data"] and drt["layout"]["xaxis"]["type"] == "log"


def test_spectrum_csv_download_has_the_points(client, records):
    spectrum = records[Visibility.PUBLIC]["spectrum"]
    response = client.get(page_urls(records[Visibility.PUBLIC])["spectrum-csv"])
    assert response["Content-Disposition"].startswith("attachment")
    rows = [line for line in response.content.decode().splitlines() if line and not line.startswith("#")]
    assert len(rows) == spectrum.n_points + 1  # header + points


def test_interface_page_marks_cross_validated_assignment(client, records):
    response = client.get(page_urls(records[Visibility.PUBLIC])["interface"])
    assert response.context["cross_validated"] == ["Li2CO3"]
    flags = {row["row"].technique: row["cross_validated"] for row in response.context["evidence"]}
    assert flags == {"xps": True, "nmr": True, "dft": False}
    assert b"cross-validated" in response.content


def test_cell_page_draws_pressure_history_in_cumulative_time(client, records):
    response = client.get(page_urls(records[Visibility.PUBLIC])["cell"])
    figure = json.loads(response.context["figures"]["pressure"])
    trace = figure["data"][0]
    assert trace["x"] == [0.0, 5.0, 5.0, 65.0]
    assert trace["y"] == [370.0, 370.0, 10.0, 10.0]


def test_raw_download_404_when_spectrum_has_no_raw_file(client, records):
    spectrum = records[Visibility.PUBLIC]["spectrum"]
    assert client.get(f"/spectra/{spectrum.pk}/download/raw/").status_code == 404


def test_spectrum_list_filters_by_temperature_range(client, group):
    from tests.factories import SpectrumFactory

    cold = SpectrumFactory(group=group, temperature_c=-20.0, label="cold one")
    warm = SpectrumFactory(group=group, temperature_c=60.0, label="warm one")
    page = client.get("/spectra/?temperature_c_min=0").context["page"]
    assert list(page) == [warm] and cold not in list(page)


def test_member_queues_a_fit_with_a_custom_circuit(client, member, records, standard_protocols, django_capture_on_commit_callbacks):
    from apps.analysis.models import FitResult
    from apps.jobs.models import Job

    spectrum = records[Visibility.GROUP]["spectrum"]
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/spectra/{spectrum.pk}/fit/", {"circuit": "R0-p(R1,C1)"}, follow=True)
    job = Job.objects.get(target_type="spectrum", target_id=spectrum.pk, kind=Job.Kind.FIT_SPECTRUM)
    assert "Fit queued" in response.content.decode()
    assert job.state == Job.State.SUCCEEDED  # eager in tests
    fit = FitResult.objects.get(spectrum=spectrum, protocol__circuit="R0-p(R1,C1)")
    assert fit.parameters["R1"] == pytest.approx(1000.0, rel=1e-3)  # tests.factories.rc_spectrum's R


@pytest.mark.parametrize("data,message", [({"circuit": "R0-p(R1"}, "Fit not queued"), ({"circuit": "R0-C1", "protocol": "PROTOCOL"}, "not both")])
def test_bad_fit_request_explained_and_nothing_queued(client, member, records, standard_protocols, data, message):
    from apps.jobs.models import Job

    spectrum = records[Visibility.GROUP]["spectrum"]
    if data.get("protocol") == "PROTOCOL":
        data = {**data, "protocol": standard_protocols.first().pk}
    client.force_login(member)
    response = client.post(f"/spectra/{spectrum.pk}/fit/", data, follow=True)
    assert message in response.content.decode()
    assert not Job.objects.filter(target_id=spectrum.pk, kind=Job.Kind.FIT_SPECTRUM).exists()


def test_outsider_cannot_request_fit_of_hidden_spectrum(client, outsider, records):
    client.force_login(outsider)
    assert client.post(f"/spectra/{records[Visibility.GROUP]['spectrum'].pk}/fit/", {"circuit": "R0-C1"}).status_code == 404


def test_arrhenius_line_follows_the_stored_fit():
    """σT = A·exp(−Ea/kT): at 25 °C the drawn σ equals A/T·exp(−Ea/kT) exactly."""
    import numpy as np

    from apps.catalog.plots import K_B_EV_PER_K, ArrheniusSeries, arrhenius_line_s_per_cm

    series = ArrheniusSeries(label="x", points=[(25.0, 1e-3, None)], form="sigma_t", activation_energy_ev=0.4, prefactor=1e5)
    t_k = 298.15
    expected = 1e5 / t_k * np.exp(-0.4 / (K_B_EV_PER_K * t_k))
    assert arrhenius_line_s_per_cm(series, np.array([25.0]))[0] == pytest.approx(expected, rel=1e-12)
    vtf = ArrheniusSeries(label="x", points=[], form="vtf", prefactor=10.0, vtf_b_k=1000.0, vtf_t0_k=200.0)
    assert arrhenius_line_s_per_cm(vtf, np.array([25.0]))[0] == pytest.approx(10.0 * t_k**-0.5 * np.exp(-1000.0 / 98.15), rel=1e-12)


def test_arrhenius_axis_ignores_a_point_many_decades_off():
    from apps.catalog.plots import log_range

    low, high = log_range([1e-4, 2e-4, 5e-4, 1e-3, 1e5])
    assert low == pytest.approx(-4.4) and high == pytest.approx(-2.6)


def test_public_spectrum_offers_fitting_by_hand_only_to_members(client, records, member, outsider):
    spectrum = records[Visibility.PUBLIC]["spectrum"]
    client.force_login(outsider)
    assert b"Fit by hand" not in client.get(f"/spectra/{spectrum.pk}/").content
    client.force_login(member)
    assert b"Fit by hand" in client.get(f"/spectra/{spectrum.pk}/").content


def test_outsider_cannot_fit_a_public_spectrum_of_another_group(client, outsider, records, standard_protocols):
    from apps.jobs.models import Job

    spectrum = records[Visibility.PUBLIC]["spectrum"]
    client.force_login(outsider)
    response = client.post(f"/spectra/{spectrum.pk}/fit/", {"circuit": "R0-p(R1,C1)"}, follow=True)
    assert "Only members of the spectrum" in response.content.decode()
    assert not Job.objects.filter(target_id=spectrum.pk, kind=Job.Kind.FIT_SPECTRUM).exists()


def test_spectrum_badge_says_what_the_kramers_kronig_verdict_judged(client, records):
    from apps.analysis.models import KramersKronigCheck

    spectrum = records[Visibility.PUBLIC]["spectrum"]
    KramersKronigCheck.objects.create(
        spectrum=spectrum, n_elements=8, mu=0.8, max_abs_residual=0.012, systematic_residual=0.001,
        noise_level=0.004, threshold=0.006, passed=True, verdict="passed", engine_version="test",
    )
    body = client.get(f"/spectra/{spectrum.pk}/").content.decode()
    assert "Kramers–Kronig passed (smoothed residual 0.10%, limit 0.60%, noise 0.40%)" in body


@pytest.mark.parametrize("label,cycle,elapsed,expected", [
    ("0 h", None, 0.0, "0 h"),
    ("after 12 h", 3, 12.0, "after 12 h, cycle 3"),
    ("EIS cycle 3", 3, None, "EIS cycle 3"),
    ("EIS", 2, 1.5, "EIS, cycle 2, 1.5 h"),
])
def test_overlay_names_are_not_doubled(label, cycle, elapsed, expected):
    from types import SimpleNamespace

    from apps.catalog.figures import overlay_label

    assert overlay_label(SimpleNamespace(label=label, pk=1, cycle_index=cycle, elapsed_time_h=elapsed)) == expected


@pytest.mark.parametrize("values,expected", [
    ([7.0, 40.0, 300.0], [5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]),
    ([350.0, 900.0], [200.0, 500.0, 1000.0, 2000.0]),
])
def test_short_log_axes_are_labelled_in_1_2_5_steps(values, expected):
    from apps.measurements.plots import log_axis_for

    axis = log_axis_for(values)
    assert axis["tickvals"] == expected and axis["ticktext"] == [f"{v:g}" for v in expected]


def test_long_log_axes_are_labelled_by_decade():
    from apps.measurements.plots import log_axis_for

    assert log_axis_for([0.1, 1e6]) == {"type": "log", "dtick": 1, "exponentformat": "power"}


@pytest.mark.django_db
def test_separator_page_rounds_sigma_25c_and_its_interval_to_its_uncertainty(client):
    from tests.factories import ArrheniusFitFactory, SeparatorFactory

    separator = SeparatorFactory(visibility=Visibility.PUBLIC)
    fit = ArrheniusFitFactory(separator=separator, sigma_25c_s_per_cm=1.23456e-4,
                              sigma_25c_ci_low_s_per_cm=0.912345e-4, sigma_25c_ci_high_s_per_cm=1.70123e-4, n_points=6)
    assert f"{fit.sigma_25c_stderr_s_per_cm * 1e3:.2g}" == "0.014"  # mS/cm, from the ln-symmetric interval
    body = client.get(f"/separators/{separator.pk}/").content.decode()
    # σ to the decimal place of its uncertainty's second digit, and the interval's bounds to the same place
    assert "0.123 ± 0.014 mS/cm" in body
    assert "95 % CI 0.091 – 0.170 mS/cm" in body
    assert "0.0912" not in body and "0.170123" not in body

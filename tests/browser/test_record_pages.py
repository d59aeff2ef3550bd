"""New pages in a real browser: DC polarisation and CCD forms and pages, and fitting by hand (preview, then save)."""
import pytest

from apps.accounts.models import Visibility
from apps.analysis.models import FitResult
from apps.measurements.models import CriticalCurrentDensityTest, DCPolarisation
from tests.browser.conftest import SCREENSHOTS
from tests.factories import CellFactory, SeparatorFactory, SpectrumFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def blocking_cell(group):
    separator = SeparatorFactory(group=group, name="LPSCl pellet", thickness_um=650.0, thickness_stderr_um=10.0, area_cm2=0.785)
    return CellFactory(group=group, visibility=Visibility.GROUP, name="SS|LPSCl|SS", separator=separator)


def test_dc_polarisation_form_to_page_with_current_trace_and_sigma_e(page, login, screenshot, member, blocking_cell):
    login(member)
    page.goto(f"/cells/{blocking_cell.pk}/")
    page.click("text=Add DC polarisation")
    assert page.locator("select[name=cell]").input_value() == str(blocking_cell.pk)
    page.fill("input[name=voltage_v]", "0.5")
    page.fill("input[name=steady_current_a]", "2.4e-9")
    page.fill("input[name=initial_current_a]", "4.1e-7")
    page.fill("input[name=duration_h]", "10")
    page.fill("input[name=temperature_c]", "25")
    trace = "\n".join(f"{t}, {2.4e-9 + 4.1e-7 * 2.718281828 ** (-t / 1800):.4g}" for t in range(0, 36001, 1200))
    page.fill("textarea[name=trace]", trace)
    page.click("main form button[type=submit]")
    page.wait_for_url("**/dc-polarisations/*/")
    page.wait_for_selector("[data-figure=current] .main-svg")
    assert page.locator("[data-figure=current] .scatterlayer .trace").count() == 2  # I(t) and I_ss
    assert "S/cm" in page.locator("#sigma-e").inner_text() and "±" in page.locator("#sigma-e").inner_text()
    assert len(DCPolarisation.objects.get().time_s) == 31
    screenshot("dc-polarisation")


def test_ccd_form_refuses_a_protocol_gap_then_shows_steps_and_failure(page, login, screenshot, member, blocking_cell):
    login(member)
    page.goto(f"/ccd-tests/new/?cell={blocking_cell.pk}")
    page.fill("input[name=initial_current_density_ma_per_cm2]", "0.1")
    page.fill("input[name=step_ma_per_cm2]", "0.1")
    page.select_option("select[name=failure_rule]", "voltage_drop")
    page.fill("input[name=critical_current_density_ma_per_cm2]", "0.8")
    page.click("main form button[type=submit]")
    assert "State the capacity per half-cycle or its duration." in page.locator(".has-error").first.inner_text()
    page.fill("input[name=capacity_per_half_cycle_mah_per_cm2]", "0.1")
    page.click("main form button[type=submit]")
    page.wait_for_url("**/ccd-tests/*/")
    page.wait_for_selector("[data-figure=steps] .main-svg")
    assert page.locator("#ccd-steps tbody tr").count() == 8
    assert "failed" in page.locator("#ccd-steps tbody tr").last.inner_text()
    assert CriticalCurrentDensityTest.objects.get().critical_current_density_ma_per_cm2 == 0.8
    screenshot("ccd-test")
    page.goto(f"/cells/{blocking_cell.pk}/")
    assert page.locator("#ccd-tests tbody tr").count() == 1
    page.locator("#other-measurements").screenshot(path=str(SCREENSHOTS / "cell-measurements.png"))


def test_hand_fit_preview_then_fix_then_save(page, login, screenshot, member, group):
    spectrum = SpectrumFactory(group=group, visibility=Visibility.GROUP, label="R0-p(R1,C1) closed form")
    login(member)
    page.goto(f"/spectra/{spectrum.pk}/")
    page.fill("#hand-fit input[name=circuit]", "R0-p(R1,C1)")
    page.fill("#hand-fit input[name=frequency_min_hz]", "1")
    page.click("[data-preview-button]")
    page.wait_for_selector("#preview-parameters tbody tr")
    page.wait_for_selector("[data-figure=preview_nyquist] .main-svg")
    rows = page.locator("#preview-parameters tbody tr")
    assert rows.count() == 3 and "±" in rows.nth(1).inner_text()
    assert page.locator("[data-figure=preview_nyquist] .scatterlayer .trace").count() == 2  # data and preview
    # Fix R0 at 10 Ω and start R1 from 800 Ω: the form's value fields follow the table.
    rows.nth(0).locator("input[type=text]").fill("10")
    rows.nth(0).locator("input[type=checkbox]").check()
    rows.nth(1).locator("input[type=text]").fill("800")
    rows.nth(1).locator("input[type=text]").dispatch_event("change")
    assert page.locator("#hand-fit input[name=fixed]").input_value() == "R0=10"
    assert page.locator("#hand-fit input[name=initial_values]").input_value() == "R1=800"
    page.click("[data-preview-button]")
    page.wait_for_selector("#preview-parameters tbody tr:first-child >> text=(fixed)")
    assert FitResult.objects.count() == 0  # previews store nothing
    screenshot("hand-fit-preview")
    page.fill("#hand-fit input[name=name]", "Bulk arc by hand")
    page.click("#hand-fit button[type=submit]")
    page.wait_for_url(f"**/spectra/{spectrum.pk}/")
    fit = FitResult.objects.get(spectrum=spectrum)
    assert fit.protocol.name.startswith("Bulk arc by hand") and fit.parameters["R0"] == 10.0
    assert fit.protocol.frequency_min_hz == 1.0


def test_hand_fit_preview_shows_the_engines_reason_inline(page, login, member, group):
    spectrum = SpectrumFactory(group=group, visibility=Visibility.GROUP)
    login(member)
    page.goto(f"/spectra/{spectrum.pk}/")
    page.fill("#hand-fit input[name=circuit]", "R0-p(R1,Q9)")
    page.click("[data-preview-button]")
    page.wait_for_selector("[data-preview-error]:not([hidden])")
    assert page.locator("#hand-fit .preview-field-error").count() == 1
    assert "R0-p(R1,Q9)" in page.locator("#hand-fit .preview-field-error").inner_text()


def test_several_files_picked_at_once_are_previewed_then_stored(
    page, login, screenshot, member, group, instrument_files, standard_protocols
):
    from apps.measurements.models import ImpedanceSpectrum

    cell = CellFactory(group=group, visibility=Visibility.GROUP, name="Au|LLZTO|Au two files")
    login(member)
    page.goto(f"/upload/?cell={cell.pk}")
    page.set_input_files("input[type=file]", [str(instrument_files / "exampleDataZPlot.z"),
                                              str(instrument_files / "exampleDataGamry.DTA")])
    assert "exampleDataGamry.DTA" in page.locator("[data-file-name]").inner_text()
    page.click("main form button[type=submit]")
    page.wait_for_selector("[data-figure=preview] .main-svg")
    assert page.locator("#upload-files tbody tr").count() == 2
    screenshot("upload-several-files")
    page.select_option("select[name=cell]", str(cell.pk))
    page.click("text=Store and analyse")
    page.wait_for_url(f"**/cells/{cell.pk}/")
    assert ImpedanceSpectrum.objects.filter(cell=cell).count() == 2


def test_blocking_spectrum_opens_on_the_sample_arcs_with_a_full_view_button(
    page, login, screenshot, member, group, standard_protocols
):
    import numpy as np

    from apps.analysis.services import analyse_spectrum
    from apps.measurements.models import ImpedanceSpectrum

    # LLZO-like pellet between Au: bulk 800 Ω (f_apex 1 MHz), grain boundary 400 Ω (13 kHz), Au blocking CPE.
    f = np.logspace(7, -1, 81)
    w = 2j * np.pi * f
    z = 5 + 800 / (1 + w * 800 * 2e-10) + 400 / (1 + w * 400 * 3e-8) + 1 / (2e-6 * w**0.9)
    noise = np.random.default_rng(7).normal(scale=0.003, size=(2, f.size))
    z = z.real * (1 + noise[0]) + 1j * z.imag * (1 + noise[1])  # 0.3 % measurement noise
    separator = SeparatorFactory(group=group, thickness_um=800.0, area_cm2=0.5)
    cell = CellFactory(group=group, visibility=Visibility.GROUP, separator=separator, configuration="blocking",
                       electrode_contact="au", name="Au|LLZO|Au")
    spectrum = SpectrumFactory(group=group, cell=cell, visibility=Visibility.GROUP, label="LLZO 25 °C",
                               data=ImpedanceSpectrum.pack(f, z), n_points=f.size, frequency_min_hz=0.1,
                               frequency_max_hz=1e7)
    fit = analyse_spectrum(spectrum_id=spectrum.pk).fit
    assert fit.status == "succeeded", fit.error
    login(member)
    page.goto(f"/spectra/{spectrum.pk}/")
    page.wait_for_selector("[data-figure=nyquist] .main-svg")
    x_zoomed = page.evaluate("document.querySelector('[data-figure=nyquist]').layout.xaxis.range")
    assert x_zoomed[1] < 0.2 * float(np.max(z.real))  # the sample arcs, not the electrode spike
    assert page.locator("[data-figure=nyquist] .scatterlayer .trace").count() == 3  # data, fit, arc apexes
    assert page.locator("[data-figure=nyquist] .updatemenu-button").count() == 2
    page.wait_for_selector("[data-figure=drt] .main-svg")
    screenshot("spectrum-blocking-zoomed")
    page.locator("[data-figure=nyquist] .updatemenu-button", has_text="Full view").click()
    page.wait_for_function(
        "document.querySelector('[data-figure=nyquist]').layout.xaxis.range[1] > " + str(0.5 * float(np.max(z.real))))
    page.locator("[data-figure=nyquist]").screenshot(path=str(SCREENSHOTS / "spectrum-blocking-full-nyquist.png"))

"""The site in a real browser: upload and fit, benchmarks, compare, and privacy."""
import pytest

from apps.accounts.models import Visibility
from apps.benchmarks.models import BenchmarkEntry, Metric
from tests.factories import CellFactory, SeparatorFactory, SpectrumFactory, publish_release

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_upload_real_file_draws_nyquist_and_fit_parameters(
    page, login, screenshot, member, group, instrument_files, standard_protocols
):
    cell = CellFactory(group=group, visibility=Visibility.GROUP, name="Au|LLZTO|Au browser cell")
    login(member)
    page.goto(f"/upload/?cell={cell.pk}")
    page.set_input_files("input[type=file]", str(instrument_files / "exampleDataZPlot.z"))
    page.click("main form button[type=submit]")
    page.wait_for_selector("[data-figure=preview] .main-svg")
    assert page.locator("select[name=cell]").input_value() == str(cell.pk)
    page.fill("input[name=temperature_c]", "25")
    screenshot("upload-preview")
    page.click("text=Store and analyse")
    page.wait_for_url("**/spectra/*/")
    page.wait_for_selector("[data-figure=nyquist] .main-svg")
    # Tasks run eagerly in tests, so the fit is done; the table must list the circuit's parameters with errors.
    page.wait_for_selector("#parameter-table tbody tr")
    rows = page.locator("#parameter-table tbody tr")
    assert rows.count() >= 3
    assert "±" in rows.first.inner_text()
    assert page.locator("[data-figure=nyquist] .scatterlayer .trace").count() == 3  # data, fit, the fitted arcs' apexes
    screenshot("spectrum-detail")


def test_benchmarks_dashboard_plots_points(page, screenshot, group):
    separators = []
    for sigma, thickness in [(1.2e-3, 650.0), (4.0e-4, 900.0)]:
        separator = SeparatorFactory(group=group, visibility=Visibility.PUBLIC, thickness_um=thickness)
        BenchmarkEntry.objects.create(
            separator=separator, metric=Metric.SIGMA_25C_TOTAL, value=sigma, unit="S/cm", stderr=sigma / 20,
            thickness_um=thickness, temperature_c=25.0, completeness_score=0.8,
        )
        separators.append(separator)
    publish_release(separators=separators)  # the public dashboard shows released numbers
    page.goto("/benchmarks/")
    page.wait_for_selector("[data-benchmark-figure=conductivity] .main-svg")
    assert page.locator("[data-benchmark-figure=conductivity] .point").count() >= 2
    screenshot("benchmarks")


def test_compare_two_separators_side_by_side(page, screenshot, group):
    a = SeparatorFactory(group=group, visibility=Visibility.PUBLIC, name="Pellet A", thickness_um=500.0)
    b = SeparatorFactory(group=group, visibility=Visibility.PUBLIC, name="Pellet B", thickness_um=900.0)
    SpectrumFactory(group=group, visibility=Visibility.PUBLIC, cell=CellFactory(group=group, separator=a))
    page.goto("/separators/")
    page.check(f"input[name=ids][value='{a.pk}']")
    page.check(f"input[name=ids][value='{b.pk}']")
    page.click("[data-compare-button]")
    page.wait_for_selector("[data-figure=nyquist] .main-svg")
    headers = page.locator(".compare-table thead th").all_inner_texts()
    assert "Pellet A" in headers and "Pellet B" in headers
    assert page.locator(".compare-table tr.differs", has_text="Thickness").count() == 1
    screenshot("compare")


def test_outsider_never_sees_private_record_or_its_plot(page, login, outsider, group):
    spectrum = SpectrumFactory(
        group=group, visibility=Visibility.PRIVATE, label="secret spectrum", cell__visibility=Visibility.PRIVATE
    )
    login(outsider)
    response = page.goto(f"/spectra/{spectrum.pk}/")
    assert response.status == 404
    assert page.request.get(f"/spectra/{spectrum.pk}/plots/").status == 404
    assert page.request.get(f"/cells/{spectrum.cell_id}/plots/").status == 404
    page.goto("/spectra/")
    assert "secret spectrum" not in page.content()


def test_progress_bar_follows_job_and_page_refreshes_when_done(page, login, member, group):
    from apps.jobs.models import Job

    spectrum = SpectrumFactory(group=group, visibility=Visibility.GROUP)
    job = Job.objects.create(
        kind=Job.Kind.ANALYSE_SPECTRUM, state=Job.State.RUNNING, target_type="spectrum", target_id=spectrum.pk,
        group=group, progress_done=1, progress_total=4,
    )
    login(member)
    page.goto(f"/spectra/{spectrum.pk}/")
    page.wait_for_selector("[data-figure=nyquist] .main-svg")
    assert page.locator(f"[data-job-id='{job.pk}'] progress").get_attribute("value") == "1"
    Job.objects.filter(pk=job.pk).update(progress_done=3)
    # A function, not an expression string: Playwright evaluates strings with eval, which the CSP forbids.
    page.wait_for_function(f"() => document.querySelector(\"[data-job-id='{job.pk}'] progress\").value === 3")
    Job.objects.filter(pk=job.pk).update(state=Job.State.SUCCEEDED, progress_done=4)
    page.wait_for_selector("#analysis-state.done")
    assert page.locator(f"[data-job-id='{job.pk}'] .job-state").inner_text() == "Succeeded"
    page.wait_for_selector("[data-figure=nyquist] .main-svg")  # figures redrawn after the refresh


def test_cell_form_adds_pressure_rows_in_the_browser(page, login, screenshot, member, group):
    from apps.catalog.models import Cell

    separator = SeparatorFactory(group=group, visibility=Visibility.GROUP, name="LPSCl pellet")
    login(member)
    page.goto("/cells/new/")
    page.fill("input[name=name]", "Li|LPSCl|Li browser")
    page.locator("[data-formset=layers] [data-add-row]").click()
    page.select_option("select[name=layers-0-kind]", "current_collector")
    page.fill("input[name=layers-0-description]", "steel plunger")
    page.select_option("select[name=layers-1-kind]", "separator")
    page.select_option("select[name=layers-1-separator]", str(separator.pk))  # offered in a row added in the browser
    page.select_option("select[name=configuration]", "symmetric")
    steps = page.locator("[data-formset=steps]")
    steps.locator("[data-add-row]").click()
    assert page.locator("input[name=steps-TOTAL_FORMS]").input_value() == "2"
    page.select_option("select[name=steps-0-phase]", "densification")
    page.fill("input[name=steps-0-pressure_mpa]", "370")
    page.select_option("select[name=steps-1-phase]", "measurement")
    page.fill("input[name=steps-1-pressure_mpa]", "10")
    screenshot("cell-form")
    page.click("main form button[type=submit]:has-text('Save')")
    page.wait_for_url("**/cells/*/")
    cell = Cell.objects.get(name="Li|LPSCl|Li browser")
    assert [(s.phase, s.pressure_mpa) for s in cell.pressure_steps.all()] == [("densification", 370.0), ("measurement", 10.0)]
    assert [(layer.kind, layer.separator_id) for layer in cell.layers.all()] == [("current_collector", None), ("separator", separator.pk)]
    page.wait_for_selector("[data-figure=pressure] .main-svg")

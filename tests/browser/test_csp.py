"""Under the Content-Security-Policy every page still draws its Plotly figures and reports no violation."""
import pytest

from apps.accounts.models import Visibility
from apps.benchmarks.models import BenchmarkEntry, Metric
from tests.factories import CellFactory, SeparatorFactory, SpectrumFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + (e.sourceFile || ""));
});
"""


@pytest.fixture
def watched(page):
    """The page, with CSP violation events and console errors collected."""
    page.add_init_script(RECORD_VIOLATIONS)
    console_errors = []
    page.on("console", lambda message: message.type == "error" and console_errors.append(message.text))
    page.console_errors = console_errors
    return page


def _assert_clean(page):
    violations = page.evaluate("window.__cspViolations")
    assert violations == [], violations
    assert not [e for e in page.console_errors if "Content Security Policy" in e or "Refused" in e], page.console_errors


@pytest.fixture
def public_records(group):
    separator = SeparatorFactory(group=group, visibility=Visibility.PUBLIC, thickness_um=650.0)
    cell = CellFactory(group=group, separator=separator, visibility=Visibility.PUBLIC)
    spectrum = SpectrumFactory(group=group, cell=cell, visibility=Visibility.PUBLIC)
    BenchmarkEntry.objects.create(
        separator=separator, metric=Metric.SIGMA_25C_TOTAL, value=1e-3, unit="S/cm", stderr=5e-5,
        thickness_um=650.0, temperature_c=25.0, completeness_score=0.8,
    )
    other = SeparatorFactory(group=group, visibility=Visibility.PUBLIC, thickness_um=900.0)
    SpectrumFactory(group=group, visibility=Visibility.PUBLIC, cell=CellFactory(group=group, separator=other))
    return {"separator": separator, "other": other, "cell": cell, "spectrum": spectrum}


@pytest.mark.parametrize(
    "url, selector",
    [
        ("/spectra/{spectrum}/", "[data-figure=nyquist] .main-svg"),
        ("/cells/{cell}/", "[data-figure=spectra] .main-svg"),
        ("/benchmarks/", "[data-benchmark-figure=conductivity] .main-svg"),
        ("/compare/?kind=separator&ids={separator}&ids={other}", "[data-figure=nyquist] .main-svg"),
    ],
    ids=["spectrum", "cell", "benchmarks", "compare"],
)
def test_plots_render_under_the_policy(watched, public_records, url, selector):
    ids = {name: record.pk for name, record in public_records.items()}
    response = watched.goto(url.format(**ids))
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    watched.wait_for_selector(selector)
    _assert_clean(watched)


def test_swagger_ui_works_under_the_policy(watched):
    response = watched.goto("/api/docs/")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    watched.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    _assert_clean(watched)

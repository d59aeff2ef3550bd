"""No page shows a label django-filter generated, nor a bare flag or role code."""
import re
from html.parser import HTMLParser

import django_filters
import pytest

from apps.analysis.flags import ARC_ORIGIN_TITLES, FIT_FLAG_TITLES
from apps.analysis.models import ElementRole
from apps.benchmarks.flags import FLAGS
from apps.benchmarks.models import Metric
from apps.common.filters import LabelledFilterSet
from assbdb.api_urls import router
from tests.factories import (
    ArrheniusFitFactory,
    BenchmarkEntryFactory,
    ConductivityFactory,
    FitProtocolFactory,
    FitResultFactory,
    JobFactory,
    LiteratureValueFactory,
)
from tests.web.conftest import make_records

#: What django-filter writes when a filter has no label, and names left as they are in code.
GENERATED = [
    re.compile(r"is (greater|less) than", re.I),
    re.compile(r"is (null|equal to)", re.I),
    re.compile(r"\[invalid name\]"),
    re.compile(r"\btemperature c\b", re.I),
    re.compile(r"\w_\w"),  # a field name with underscores
    re.compile(r"^(Exclude|Unknown)\b"),
]

LIST_PAGES = ["/separators/", "/cells/", "/interfaces/", "/spectra/", "/materials/", "/jobs/",
              "/benchmarks/", f"/benchmarks/leaderboard/{Metric.SIGMA_25C_TOTAL}/"]


class _Text(HTMLParser):
    """Visible text of a page: text nodes outside <script>, <style> and <template>, plus label/option texts."""

    HIDDEN = {"script", "style", "template"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []
        self.labels: list[str] = []
        self._label: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("label", "option", "legend", "th"):
            self._label = []
        if tag not in ("br", "input", "img", "meta", "link", "hr"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in ("label", "option", "legend", "th") and self._label is not None:
            self.labels.append(" ".join("".join(self._label).split()))
            self._label = None
        while self.stack:
            if self.stack.pop() == tag:
                break

    def handle_data(self, data):
        if any(t in self.HIDDEN for t in self.stack):
            return
        self.text.append(data)
        if self._label is not None:
            self._label.append(data)


def visible(html: str) -> _Text:
    parser = _Text()
    parser.feed(html)
    return parser


def all_filtersets() -> list[type]:
    import apps.analysis.filters  # noqa: F401  (imported for their FilterSets)
    import apps.benchmarks.filters  # noqa: F401
    import apps.catalog.filters  # noqa: F401
    import apps.catalog.views  # noqa: F401  (list pages add a search box)
    import apps.measurements.filters  # noqa: F401
    import apps.measurements.views  # noqa: F401

    found, todo = [], [LabelledFilterSet]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [cls for cls in found if cls is not LabelledFilterSet]


def generated(label: str) -> bool:
    return any(p.search(label) for p in GENERATED)


def test_every_filterset_of_the_apps_is_labelled():
    """Every FilterSet in apps/ derives from LabelledFilterSet, so no filter is left to django-filter's labels."""
    import apps

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = [c for c in subclasses(django_filters.FilterSet) if c.__module__.startswith(apps.__name__ + ".")]
    assert ours
    assert [c.__name__ for c in ours if not issubclass(c, LabelledFilterSet)] == []


@pytest.mark.parametrize("filterset", all_filtersets(), ids=lambda c: c.__name__)
def test_every_filter_has_a_label_in_words(filterset):
    for name, filter_ in filterset.base_filters.items():
        label = str(filter_.label)
        assert label and not generated(label), f"{filterset.__name__}.{name}: {label!r}"
        if name.endswith(("_c_min", "_c_max", "_um_min", "_um_max", "_mpa_min", "_mpa_max", "_ev_min", "_ev_max",
                          "_per_cm_min", "_per_cm_max")):
            assert re.search(r"\((°C|µm|MPa|eV|S/cm)\)$", label), f"{filterset.__name__}.{name}: no unit in {label!r}"


@pytest.fixture
def flagged(group):
    """Records whose fit and benchmark entry carry every flag code, with roles that have multi-word codes."""
    r = make_records(group, "public")
    protocol = FitProtocolFactory(circuit="R0-p(R1,C1)-p(R2,C2)", element_roles={
        "R0": "series", "R1": "bulk", "C1": "bulk", "R2": "grain_boundary", "C2": "grain_boundary"})
    fit = FitResultFactory(
        spectrum=r["spectrum"], protocol=protocol,
        parameters={"R0": 10.0, "R1": 1000.0, "C1": 1e-11, "R2": 3000.0, "C2": 1e-9},
        stderr={"R0": 0.1, "R1": 5.0, "C1": 1e-13, "R2": 40.0, "C2": 2e-11},
        flags=sorted(FIT_FLAG_TITLES),
        derived={
            "elements": {
                "R2": {"role": "grain_boundary", "resistance_ohm": 3000.0, "resistance_stderr_ohm": 40.0,
                       "capacitance_f": 1e-9, "apex_frequency_hz": 53051.6, "assignment": "surface_layer"},
            },
            "flag_details": {code: f"why number {i}" for i, code in enumerate(FIT_FLAG_TITLES)},
        },
    )
    ConductivityFactory(fit=fit, kind="grain_boundary")
    ArrheniusFitFactory(separator=r["separator"], protocol=protocol, kind="grain_boundary")
    entry = BenchmarkEntryFactory(separator=r["separator"], flags=sorted(FLAGS),
                                  details={"flag_notes": {code: f"why number {i}" for i, code in enumerate(FLAGS)}})
    BenchmarkEntryFactory(separator=r["separator"], metric=Metric.SIGMA_25C_GRAIN_BOUNDARY, flags=["extrapolated"])
    LiteratureValueFactory()
    JobFactory(target_id=r["spectrum"].pk)
    return {**r, "fit": fit, "entry": entry}


def pages_of(r) -> list[str]:
    return LIST_PAGES + [
        "/", f"/separators/{r['separator'].pk}/", f"/cells/{r['cell'].pk}/", f"/interfaces/{r['interface'].pk}/",
        f"/spectra/{r['spectrum'].pk}/", f"/benchmarks/entries/{r['entry'].pk}/",
        f"/compare/?kind=spectrum&ids={r['spectrum'].pk}&ids={r['spectrum'].pk}",
    ]


def test_no_page_shows_a_generated_filter_label(client, member, flagged):
    client.force_login(member)
    for url in LIST_PAGES:
        response = client.get(url, {"temperature_c_min": "0"})  # a used filter opens "More filters" too
        assert response.status_code == 200, url
        page = visible(response.content.decode())
        assert page.labels, url
        bad = [label for label in page.labels if generated(label)]
        assert bad == [], f"{url}: {bad}"


def test_the_browsable_api_shows_no_generated_filter_label(client, member, flagged):
    client.force_login(member)
    checked = 0
    for prefix, viewset, _ in router.registry:
        if getattr(viewset, "filterset_class", None) is None:
            continue
        response = client.get(f"/api/v1/{prefix}/", HTTP_ACCEPT="text/html")
        assert response.status_code == 200, prefix
        html = response.content.decode()
        start = html.find('id="filtersModal"')  # the browsable API's filter form
        assert start > 0, prefix
        form = visible(html[start:html.find("</form>", start)])
        assert form.labels, prefix
        bad = [label for label in form.labels if generated(label)]
        assert bad == [], f"/api/v1/{prefix}/: {bad}"
        checked += 1
    assert checked >= 10


CODES = sorted(
    code for code in {*FIT_FLAG_TITLES, *FLAGS, *ElementRole.values, *ARC_ORIGIN_TITLES} if "_" in code
)


def test_no_page_shows_a_bare_flag_or_role_code(client, member, flagged):
    client.force_login(member)
    for url in pages_of(flagged):
        response = client.get(url)
        assert response.status_code == 200, url
        text = " ".join(visible(response.content.decode()).text)
        shown = [code for code in CODES if re.search(rf"\b{code}\b", text)]
        assert shown == [], f"{url} shows {shown}"


def test_flag_titles_reach_the_spectrum_and_entry_pages(client, member, flagged):
    """The check above must have had codes to miss: the pages do list the flags, by title."""
    client.force_login(member)
    spectrum_page = " ".join(visible(client.get(f"/spectra/{flagged['spectrum'].pk}/").content.decode()).text)
    assert all(title in spectrum_page for title in FIT_FLAG_TITLES.values())
    assert "Grain boundary" in spectrum_page and "Surface layer" in spectrum_page
    entry_page = " ".join(visible(client.get(f"/benchmarks/entries/{flagged['entry'].pk}/").content.decode()).text)
    assert all(flag.title in entry_page for flag in FLAGS.values())

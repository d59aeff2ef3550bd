"""The numbers the database publishes for its own demo data agree with the truth the demo was made from.

The whole demo is loaded and analysed in this process (``load_demo --analyse now``, a few seconds);
the truth is what ``apps/catalog/demo.py`` states: σ(25 °C) and Ea (σT form) per separator, and the
conductivity each synthetic spectrum was generated with.
"""
import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django.db import transaction

from apps.analysis import protocols
from apps.analysis.models import ArrheniusFit, Conductivity, FitResult, KramersKronigCheck
from apps.benchmarks.models import BenchmarkEntry, Metric
from apps.benchmarks.selectors import leaderboard
from apps.catalog import demo
from apps.catalog.models import Separator
from apps.catalog.selectors import visible_separators

pytestmark = pytest.mark.django_db

INORGANIC = [spec for spec in demo.SEPARATORS if spec.activation_energy_ev is not None]
POLYMER = [spec for spec in demo.SEPARATORS if spec.activation_energy_ev is None]
SIGMA_25_REL_TOLERANCE = 0.10
EA_TOLERANCE_EV = 0.02


@pytest.fixture(scope="module")
def analysed_demo(django_db_setup, django_db_blocker, tmp_path_factory):
    """The analysed demo, loaded once for the module inside a transaction that is rolled back at its end."""
    empty = tmp_path_factory.mktemp("no-instrument-files")
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("load_demo", "--analyse", "now", "--instrument-files", str(empty / "absent"), verbosity=0)
        yield
        transaction.set_rollback(True)


def _total_arrhenius(spec, form):
    separator = Separator.objects.get(name=spec.name)
    return ArrheniusFit.objects.get(separator=separator, kind="total", form=form)


@pytest.mark.parametrize("spec", INORGANIC, ids=lambda s: s.key)
def test_inorganic_sigma_25c_and_activation_energy_match_the_demo_truth(analysed_demo, spec):
    fit = _total_arrhenius(spec, "sigma_t")
    assert fit.sigma_25c_s_per_cm == pytest.approx(spec.sigma_25c_s_per_cm, rel=SIGMA_25_REL_TOLERANCE)
    assert fit.activation_energy_ev == pytest.approx(spec.activation_energy_ev, abs=EA_TOLERANCE_EV)


@pytest.mark.parametrize("spec", POLYMER, ids=lambda s: s.key)
@pytest.mark.parametrize("form", ["sigma_t", "sigma", "vtf"])
def test_polymer_sigma_25c_comes_from_the_measured_points_in_every_form(analysed_demo, spec, form):
    fit = _total_arrhenius(spec, form)
    assert fit.sigma_25c_s_per_cm == pytest.approx(spec.sigma_25c_s_per_cm, rel=SIGMA_25_REL_TOLERANCE)
    assert not fit.extrapolated_25c


@pytest.mark.parametrize("spec", POLYMER, ids=lambda s: s.key)
def test_polymer_vtf_recovers_the_generating_law(analysed_demo, spec):
    fit = _total_arrhenius(spec, "vtf")
    # demo.vtf_sigma: B = 1000 K, T0 = 200 K; the leads are subtracted (Cell.lead_resistance_ohm).
    assert fit.vtf_t0_k == pytest.approx(200.0, abs=15.0)
    assert fit.r_squared > 0.99


@pytest.mark.parametrize("spec", demo.SEPARATORS, ids=lambda s: s.key)
def test_every_blocking_spectrum_gives_its_true_total_conductivity(analysed_demo, spec):
    separator = Separator.objects.get(name=spec.name)
    fits = FitResult.objects.filter(
        spectrum__cell__separator=separator, spectrum__cell__configuration="blocking", protocol__is_standard=True
    ).select_related("spectrum")
    assert fits.count() == len(demo.TEMPERATURES_C)
    for fit in fits:
        truth = fit.spectrum.metadata["true_conductivity_s_per_cm"]
        sigma = Conductivity.objects.get(fit=fit, kind="total").conductivity_s_per_cm
        # The demo's leads (0.5–2 Ω) sit in the intercept once the bulk arc leaves the window; the cell states
        # them as its lead resistance, which the pipeline subtracts (a hot polymer's 1.5 Ω was 11–49 % of R).
        assert sigma == pytest.approx(truth, rel=SIGMA_25_REL_TOLERANCE), fit.spectrum.label


def test_hot_sulfide_pellet_is_not_fitted_with_two_arcs(analysed_demo):
    spec = next(s for s in demo.SEPARATORS if s.key == "lpscl-500")
    fits = FitResult.objects.filter(spectrum__cell__separator__name=spec.name, protocol__is_standard=True)
    assert {f.protocol.name for f in fits} == {protocols.BLOCKING_PELLET_BULK_BEYOND}


def test_no_demo_spectrum_fails_kramers_kronig(analysed_demo):
    # Every synthetic spectrum comes from an equivalent circuit (KK-compliant by construction) with 0.4 % noise.
    checks = KramersKronigCheck.objects.filter(spectrum__metadata__synthetic=True)
    assert checks.count() > 0
    assert list(checks.filter(passed=False).values_list("spectrum__label", flat=True)) == []
    assert not [f.pk for f in FitResult.objects.only("flags") if "kk_failed" in (f.flags or [])]


def test_demo_sigma_25c_entries_reach_the_leaderboard(analysed_demo):
    entries = BenchmarkEntry.objects.filter(metric=Metric.SIGMA_25C_TOTAL)
    assert entries.count() >= len(INORGANIC)
    assert entries.filter(blocking=False).count() >= len(INORGANIC)
    assert not any("kk_failed" in (e.flags or []) for e in entries)
    # What the home page and the leaderboard page show to a visitor: the public demo separators, ranked.
    assert leaderboard(user=AnonymousUser(), metric=Metric.SIGMA_25C_TOTAL)


def test_demo_activation_energy_leaderboard_shows_its_public_separators(analysed_demo):
    # Every demo Ea rests on fits the pipeline found sound; a flagged spectrum is left out of its series
    # (and named) rather than blocking the whole line.
    entries = BenchmarkEntry.objects.filter(metric=Metric.ACTIVATION_ENERGY, cell=None)
    assert entries.count() >= len(INORGANIC)
    assert not [(e.separator.name, e.flags) for e in entries if e.blocking]
    board = leaderboard(user=AnonymousUser(), metric=Metric.ACTIVATION_ENERGY)
    public = set(visible_separators(user=AnonymousUser()).values_list("pk", flat=True))
    assert public, "the demo has public separators"
    shown = {e.separator_id for e in board}
    assert shown == {e.separator_id for e in entries if e.separator_id in public}
    for entry in board:  # intervals from the fit's covariance, wide enough to be seen
        assert entry.stderr > 0 and entry.ci_low < entry.value < entry.ci_high


def test_demo_conductivity_intervals_never_go_below_zero(analysed_demo):
    positive = [Metric.SIGMA_25C_TOTAL, Metric.SIGMA_25C_BULK, Metric.SIGMA_25C_GRAIN_BOUNDARY, Metric.SEPARATOR_ASR]
    entries = BenchmarkEntry.objects.filter(metric__in=positive, ci_low__isnull=False)
    assert entries.exists()
    assert not [(e.metric, e.ci_low) for e in entries if not 0 < e.ci_low <= e.value <= e.ci_high]


def test_demo_release_fills_the_public_leaderboards(analysed_demo):
    from apps.releases.models import Release

    assert Release.objects.exists()
    ranked = leaderboard(user=AnonymousUser(), metric=Metric.SIGMA_25C_TOTAL, released_only=True)
    assert ranked, "a newcomer's public σ(25 °C) leaderboard is empty"
    released_separators = set(Release.objects.filter(records__kind="separator")
                              .values_list("records__object_id", flat=True))
    assert {entry.separator_id for entry in ranked} <= released_separators
    assert all(entry.release.pk for entry in ranked)

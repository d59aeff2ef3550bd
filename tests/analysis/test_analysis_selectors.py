"""Who sees which fits, conductivities, Arrhenius fits, protocols and jobs."""
import pytest

from apps.accounts.models import Visibility
from apps.analysis import selectors
from apps.analysis.models import ArrheniusFit, Conductivity, FitProtocol, FitResult, FitStatus
from apps.jobs.models import Job
from tests.factories import CellFactory, FitProtocolFactory, SeparatorFactory, SpectrumFactory, UserFactory


def _fit(spectrum):
    protocol = FitProtocol.objects.get(name="Blocking pellet", version=1)
    fit = FitResult.objects.create(spectrum=spectrum, protocol=protocol, status=FitStatus.SUCCEEDED, engine_version="t")
    Conductivity.objects.create(
        fit=fit, spectrum=spectrum, kind="total", resistance_ohm=1000.0, conductivity_s_per_cm=1e-4,
        thickness_um=1000.0, area_cm2=1.0,
    )
    return fit


def _user(role, request):
    return None if role == "anonymous" else request.getfixturevalue(role)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("visibility", "role", "sees"),
    [
        (Visibility.PUBLIC, "anonymous", True),
        (Visibility.PUBLIC, "outsider", True),
        (Visibility.GROUP, "anonymous", False),
        (Visibility.GROUP, "outsider", False),
        (Visibility.GROUP, "member", True),
        (Visibility.PRIVATE, "member", False),
        (Visibility.PRIVATE, "owner", True),
    ],
)
def test_fits_and_conductivities_follow_their_spectrum(request, group, visibility, role, sees):
    spectrum = SpectrumFactory(group=group, visibility=visibility, cell__visibility=Visibility.PUBLIC)
    fit = _fit(spectrum)
    user = _user(role, request)
    assert selectors.visible_fits(user=user).filter(pk=fit.pk).exists() is sees
    assert selectors.visible_conductivities(user=user).filter(fit=fit).exists() is sees


@pytest.mark.django_db
def test_fit_of_a_public_spectrum_in_a_hidden_cell_is_hidden(outsider, group):
    spectrum = SpectrumFactory(group=group, visibility=Visibility.PUBLIC, cell__visibility=Visibility.GROUP)
    fit = _fit(spectrum)
    assert not selectors.visible_fits(user=outsider).filter(pk=fit.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "sees"), [("anonymous", False), ("outsider", False), ("member", True)])
def test_arrhenius_fits_follow_their_separator(request, group, role, sees):
    separator = SeparatorFactory(group=group, visibility=Visibility.GROUP)
    row = ArrheniusFit.objects.create(
        separator=separator, protocol=FitProtocol.objects.get(name="Blocking pellet", version=1), kind="total",
        form="sigma_t", temperature_min_c=0, temperature_max_c=100, n_points=3, engine_version="t",
    )
    assert selectors.visible_arrhenius_fits(user=_user(role, request)).filter(pk=row.pk).exists() is sees


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "sees_group_protocol"), [("anonymous", False), ("outsider", False), ("member", True)])
def test_standard_protocols_are_public_and_group_protocols_stay_in_the_group(request, group, role, sees_group_protocol):
    own = FitProtocolFactory(group=group)
    visible = selectors.visible_protocols(user=_user(role, request))
    assert visible.filter(is_standard=True).count() == FitProtocol.objects.filter(is_standard=True).count()
    assert visible.filter(pk=own.pk).exists() is sees_group_protocol


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "sees_group_job", "sees_system_job"),
    [("anonymous", False, False), ("outsider", False, False), ("member", True, False), ("staff", False, True)],
)
def test_jobs_are_seen_by_their_group_and_system_jobs_by_staff_only(
    request, group, role, sees_group_job, sees_system_job
):
    """Group-less re-fits and sweeps name spectra of every group (params, labels): staff only."""
    user = UserFactory(is_staff=True) if role == "staff" else _user(role, request)
    group_job = Job.objects.create(kind=Job.Kind.ANALYSE_SPECTRUM, target_type="spectrum", target_id=1, group=group)
    system_job = Job.objects.create(kind=Job.Kind.REFIT_PROTOCOL, target_type="protocol", target_id=1)
    visible = selectors.visible_jobs(user=user)
    assert visible.filter(pk=group_job.pk).exists() is sees_group_job
    assert visible.filter(pk=system_job.pk).exists() is sees_system_job


def _conductivity(spectrum, protocol, sigma, stderr=1e-6):
    fit = FitResult.objects.create(spectrum=spectrum, protocol=protocol, status=FitStatus.SUCCEEDED, engine_version="t")
    Conductivity.objects.create(
        fit=fit, spectrum=spectrum, kind="total", resistance_ohm=1.0, conductivity_s_per_cm=sigma,
        conductivity_stderr_s_per_cm=stderr, temperature_c=spectrum.temperature_c, thickness_um=1000.0, area_cm2=1.0,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("max_points", "summarised"), [(100, False), (5, True)])
def test_conductivity_points_are_summarised_per_temperature_above_the_cap(group, max_points, summarised):
    from apps.measurements.models import ImpedanceSpectrum

    standard = FitProtocol.objects.get(name="Blocking pellet", version=1)
    other = FitProtocolFactory()
    separator = SeparatorFactory(group=group, visibility=Visibility.PUBLIC)
    sigmas = {25.0: [1e-4, 3e-4, 2e-4], 60.0: [1e-3, 3e-3, 2e-3]}
    for t, values in sigmas.items():
        for sigma in values:
            spectrum = SpectrumFactory(
                group=group, visibility=Visibility.PUBLIC, temperature_c=t,
                cell__separator=separator, cell__visibility=Visibility.PUBLIC,
            )
            _conductivity(spectrum, standard, sigma)
            _conductivity(spectrum, other, 1.0)  # not the chosen fit: the standard protocol's is
    spectra = ImpedanceSpectrum.objects.filter(cell__separator=separator)
    points = selectors.conductivity_points_by_kind(user=None, spectra=spectra, max_points=max_points)
    if not summarised:
        assert points == {"total": [(t, s, 1e-6) for t, values in sigmas.items() for s in values]}
    else:
        assert [p[0] for p in points["total"]] == [25.0, 60.0]
        assert [p[1] for p in points["total"]] == pytest.approx([2e-4, 2e-3])
        assert [p[2] for p in points["total"]] == pytest.approx([0.8165e-4, 0.8165e-3], rel=1e-3)  # population SD


@pytest.mark.django_db
def test_summarised_points_from_the_stored_sums_equal_the_live_aggregate_for_every_viewer(
        group, owner, member, outsider):
    """The separator's summary rows (one per visibility class) give each viewer what aggregating the
    conductivities they may see gives: private, group-only, embargoed and no-longer-embargoed spectra mixed."""
    import datetime

    from apps.analysis.services import refresh_conductivity_summary
    from apps.measurements.selectors import visible_spectra

    standard = FitProtocol.objects.get(name="Blocking pellet", version=1)
    separator = SeparatorFactory(group=group, visibility=Visibility.PUBLIC)
    past, future = datetime.date(2020, 1, 1), datetime.date(2099, 1, 1)
    classes = [  # (spectrum visibility, embargo, cell visibility)
        (Visibility.PUBLIC, None, Visibility.PUBLIC), (Visibility.GROUP, None, Visibility.PUBLIC),
        (Visibility.PRIVATE, None, Visibility.PUBLIC), (Visibility.GROUP, past, Visibility.PUBLIC),
        (Visibility.PUBLIC, future, Visibility.PUBLIC), (Visibility.PUBLIC, None, Visibility.GROUP),
    ]
    sigma = 1e-4
    for visibility, embargo, cell_visibility in classes:
        cell = CellFactory(group=group, visibility=cell_visibility, separator=separator)
        for t in (25.0, 25.0, 60.0):
            spectrum = SpectrumFactory(cell=cell, group=group, visibility=visibility, embargo_until=embargo,
                                       temperature_c=t, created_by=owner)
            sigma *= 1.37
            _conductivity(spectrum, standard, sigma, stderr=sigma / 50)
    assert refresh_conductivity_summary(separator_ids=[separator.pk]) == 2 * len(classes)
    for viewer in (None, owner, member, outsider):
        spectra = visible_spectra(user=viewer).filter(cell__separator=separator)
        live = selectors.conductivity_points_by_kind(user=viewer, spectra=spectra, max_points=0)
        stored = selectors.summarised_conductivity_points(user=viewer, separator_id=separator.pk)
        assert stored.keys() == live.keys() and stored, viewer
        for kind in live:
            assert [p[0] for p in stored[kind]] == [p[0] for p in live[kind]]
            assert [p[1:] for p in stored[kind]] == [pytest.approx(p[1:], rel=1e-9) for p in live[kind]]
    assert selectors.summarised_conductivity_points(user=None, separator_id=SeparatorFactory().pk) is None


@pytest.mark.django_db
def test_previous_fit_parameters_are_the_newest_succeeded_fit_of_the_name_with_the_same_circuit():
    circuit = "R0-p(R1,C1)"
    v1, v2, v4 = (FitProtocolFactory(name="seeded", version=v, circuit=circuit) for v in (1, 2, 4))
    v3 = FitProtocolFactory(name="seeded", version=3, circuit="R0-p(R1,CPE1)")
    other_name = FitProtocolFactory(name="other", version=9, circuit=circuit)
    older, newer, only_failed, own = SpectrumFactory(), SpectrumFactory(), SpectrumFactory(), SpectrumFactory()

    def fit(spectrum, protocol, r1, status=FitStatus.SUCCEEDED):
        FitResult.objects.create(spectrum=spectrum, protocol=protocol, status=status, engine_version="t",
                                 parameters={"R0": 1.0, "R1": r1, "C1": 1e-9})

    fit(older, v1, 10.0)
    fit(older, v2, 20.0)  # newest version with the circuit
    fit(older, v3, 30.0)  # another circuit
    fit(older, other_name, 40.0)  # another protocol
    fit(newer, v2, 50.0, status=FitStatus.FAILED)
    fit(newer, v1, 60.0)
    fit(only_failed, v2, 70.0, status=FitStatus.FAILED)
    fit(own, v4, 80.0)  # the re-fitted version's own fit comes first
    fit(own, v2, 90.0)
    incomplete = SpectrumFactory()
    fit(incomplete, v2, None)  # not a usable start
    fit(incomplete, v1, 100.0)
    seeds = selectors.previous_fit_parameters(
        protocol=v4, spectrum_ids=[older.pk, newer.pk, only_failed.pk, own.pk, incomplete.pk])
    assert {pk: p["R1"] for pk, p in seeds.items()} == {
        older.pk: 20.0, newer.pk: 60.0, own.pk: 80.0, incomplete.pk: 100.0}

"""Who sees which fits, conductivities, Arrhenius fits, protocols and jobs."""
import pytest

from apps.accounts.models import Visibility
from apps.analysis import selectors
from apps.analysis.models import ArrheniusFit, Conductivity, FitProtocol, FitResult, FitStatus
from apps.jobs.models import Job
from tests.factories import FitProtocolFactory, SeparatorFactory, SpectrumFactory, UserFactory


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

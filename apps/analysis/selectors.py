"""Reads of fits, conductivities, Arrhenius fits, protocols and jobs, through the visibility rule.

A fit, a Kramers–Kronig check or a conductivity is visible when its spectrum
is (the spectrum and its cell both visible); an Arrhenius fit when its
separator is. Standard protocols are public; a user protocol is seen by its
group. Jobs are seen by the person who started them and their group's
members; system jobs (no group) by every signed-in user.
"""
from django.db.models import Q, QuerySet

from apps.accounts.selectors import group_ids_of, visible_q
from apps.jobs.models import Job

from .models import ArrheniusFit, Conductivity, FitProtocol, FitResult, FitStatus, KramersKronigCheck


def _spectrum_visible(user, prefix: str = "spectrum__") -> Q:
    return visible_q(user, prefix) & visible_q(user, f"{prefix}cell__")


def visible_fits(*, user) -> QuerySet[FitResult]:
    return (
        FitResult.objects.filter(_spectrum_visible(user))
        .select_related("spectrum", "spectrum__cell", "protocol")
        .defer("spectrum__data")
    )


def visible_standard_fits(*, user) -> QuerySet[FitResult]:
    """Succeeded fits under standard protocols: the ones benchmarks use."""
    return visible_fits(user=user).filter(protocol__is_standard=True, status=FitStatus.SUCCEEDED)


def visible_kk_checks(*, user) -> QuerySet[KramersKronigCheck]:
    return KramersKronigCheck.objects.filter(_spectrum_visible(user)).select_related("spectrum")


def visible_conductivities(*, user) -> QuerySet[Conductivity]:
    return (
        Conductivity.objects.filter(_spectrum_visible(user))
        .select_related("fit", "fit__protocol", "spectrum", "spectrum__cell")
        .defer("spectrum__data")
    )


def visible_arrhenius_fits(*, user) -> QuerySet[ArrheniusFit]:
    return ArrheniusFit.objects.filter(visible_q(user, "separator__")).select_related("separator", "protocol")


def visible_protocols(*, user) -> QuerySet[FitProtocol]:
    if user is not None and user.is_authenticated and user.is_superuser:
        return FitProtocol.objects.all()
    rule = Q(is_standard=True)
    if user is not None and user.is_authenticated:
        rule |= Q(group_id__in=group_ids_of(user)) | Q(created_by_id=user.pk)
    return FitProtocol.objects.filter(rule)


def visible_jobs(*, user) -> QuerySet[Job]:
    if user is None or not user.is_authenticated:
        return Job.objects.none()
    qs = Job.objects.select_related("group", "created_by")
    if user.is_superuser:
        return qs
    # Group-less system jobs (re-fits, sweeps) name records of every group: staff only.
    system = Q(group__isnull=True) if user.is_staff else Q(pk__in=[])
    return qs.filter(Q(created_by_id=user.pk) | Q(group_id__in=group_ids_of(user)) | system)


def jobs_for_target(*, user, target_type: str, target_id: int) -> QuerySet[Job]:
    return visible_jobs(user=user).filter(target_type=target_type, target_id=target_id)

import datetime

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from apps.accounts.models import Visibility
from apps.accounts.selectors import can_edit, visible
from apps.catalog.models import Separator
from apps.catalog.selectors import visible_separators
from apps.measurements.selectors import visible_spectra
from tests.factories import (
    BenchmarkEntryFactory, CellFactory, MembershipFactory, RawFileFactory, SeparatorFactory, SpectrumFactory, UserFactory,
)

TODAY = datetime.date(2026, 6, 1)
FUTURE = TODAY + datetime.timedelta(days=30)
PAST = TODAY - datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def _fixed_today(monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)




# (visibility, embargo) -> who sees it
MATRIX = [
    (Visibility.PUBLIC, None, {"anonymous", "outsider", "member", "owner", "uploader"}),
    (Visibility.GROUP, None, {"member", "owner", "uploader"}),
    (Visibility.PRIVATE, None, {"owner", "uploader"}),
    (Visibility.PUBLIC, FUTURE, {"member", "owner", "uploader"}),
    (Visibility.GROUP, FUTURE, {"member", "owner", "uploader"}),
    (Visibility.PRIVATE, FUTURE, {"owner", "uploader"}),
    (Visibility.GROUP, PAST, {"anonymous", "outsider", "member", "owner", "uploader"}),
    (Visibility.PRIVATE, PAST, {"anonymous", "outsider", "member", "owner", "uploader"}),
    (Visibility.PUBLIC, TODAY, {"anonymous", "outsider", "member", "owner", "uploader"}),
]


@pytest.mark.parametrize("visibility,embargo,seen_by", MATRIX)
@pytest.mark.parametrize("viewer", ["anonymous", "outsider", "member", "owner", "uploader"])
def test_separator_visibility_matrix(group, owner, member, outsider, visibility, embargo, seen_by, viewer):
    uploader = MembershipFactory(group=group).user
    separator = SeparatorFactory(group=group, visibility=visibility, embargo_until=embargo, created_by=uploader)
    user = {"anonymous": AnonymousUser(), "outsider": outsider, "member": member, "owner": owner, "uploader": uploader}[
        viewer
    ]
    assert (separator in visible_separators(user=user)) == (viewer in seen_by)


def test_embargoed_record_becomes_public_once_embargo_passes(group, outsider, monkeypatch):
    separator = SeparatorFactory(group=group, visibility=Visibility.PUBLIC, embargo_until=FUTURE)
    assert not visible(Separator.objects.all(), outsider).filter(pk=separator.pk).exists()
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: FUTURE)
    assert visible(Separator.objects.all(), outsider).filter(pk=separator.pk).exists()


def test_public_spectrum_of_private_cell_hidden_from_outsider(group, outsider, member):
    spectrum = SpectrumFactory(group=group, visibility=Visibility.PUBLIC, cell__visibility=Visibility.PRIVATE)
    assert not visible_spectra(user=outsider).filter(pk=spectrum.pk).exists()
    assert not visible_spectra(user=member).filter(pk=spectrum.pk).exists()


def test_superuser_sees_private_records(group):
    separator = SeparatorFactory(group=group, visibility=Visibility.PRIVATE)
    admin = UserFactory(is_superuser=True, is_staff=True)
    assert separator in visible_separators(user=admin)


def test_superuser_sees_records_whose_optional_reference_is_set(group):
    """An optional reference that is set (a raw file's cell, a cell entry's separator) hides nothing from a
    superuser: the rule "absent or visible" must not lose its second half to the superuser's empty condition."""
    from apps.benchmarks.selectors import visible_entries
    from apps.measurements.selectors import visible_raw_files

    admin = UserFactory(is_superuser=True, is_staff=True)
    cell = CellFactory(group=group, visibility=Visibility.PRIVATE)
    raw_file = RawFileFactory(group=group, cell=cell, visibility=Visibility.PRIVATE)
    entry = BenchmarkEntryFactory(separator=cell.separator, cell=cell)
    assert raw_file in visible_raw_files(user=admin)
    assert entry in visible_entries(user=admin)


def test_membership_added_later_takes_effect_for_same_user_object(group):
    separator = SeparatorFactory(group=group, visibility=Visibility.GROUP)
    user = UserFactory()
    assert separator not in visible_separators(user=user)
    MembershipFactory(group=group, user=user)
    assert separator in visible_separators(user=user)


@pytest.mark.parametrize("role,may_edit", [("member", True), ("owner", True), ("outsider", False), ("anonymous", False)])
def test_only_group_members_may_edit(group, owner, member, outsider, role, may_edit):
    separator = SeparatorFactory(group=group, visibility=Visibility.PUBLIC)
    user = {"member": member, "owner": owner, "outsider": outsider, "anonymous": AnonymousUser()}[role]
    assert can_edit(separator, user) is may_edit


def test_anonymous_spectra_are_a_fresh_selection_on_each_call(group):
    first = visible_spectra(user=AnonymousUser())
    assert list(first) == []
    spectrum = SpectrumFactory(group=group, visibility=Visibility.PUBLIC, cell__visibility=Visibility.PUBLIC)
    second = visible_spectra(user=AnonymousUser())
    assert second is not first and list(second) == [spectrum]


def test_signed_in_viewer_never_gets_the_anonymous_selection(group, member):
    hidden = SpectrumFactory(group=group, visibility=Visibility.GROUP, cell__group=group, cell__visibility=Visibility.GROUP)
    assert not visible_spectra(user=None).filter(pk=hidden.pk).exists()
    assert visible_spectra(user=member).filter(pk=hidden.pk).exists()
    assert not visible_spectra(user=AnonymousUser()).filter(pk=hidden.pk).exists()


def test_anonymous_selection_follows_the_date(group, monkeypatch):
    separator = SeparatorFactory(group=group, visibility=Visibility.GROUP, embargo_until=FUTURE)
    assert not visible_separators(user=AnonymousUser()).filter(pk=separator.pk).exists()
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: FUTURE)
    assert visible_separators(user=AnonymousUser()).filter(pk=separator.pk).exists()

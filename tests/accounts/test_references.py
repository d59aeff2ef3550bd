"""Visibility follows references: the rule, its enforcement on writes and its guard on reads."""
import datetime
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import Visibility
from apps.accounts.references import covers, find_violations, hidden_references, visible_reference
from apps.catalog.services import create_cell, update_separator
from apps.measurements.exports import spectrum_metadata
from apps.measurements.services import IngestError, create_spectra_from_arrays
from tests.factories import (
    CellFactory,
    CellLayerFactory,
    ElectrodeFactory,
    InterfaceFactory,
    MembershipFactory,
    RawFileFactory,
    SeparatorFactory,
    SpectrumFactory,
    rc_spectrum,
)

pytestmark = pytest.mark.django_db

PUBLIC, GROUP, PRIVATE = Visibility.PUBLIC, Visibility.GROUP, Visibility.PRIVATE


def _day(offset: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=offset)


@pytest.mark.parametrize(
    ("reference", "record", "same_group", "ok"),
    [
        ((PUBLIC, None), (PUBLIC, None), False, True),
        ((GROUP, None), (PUBLIC, None), True, False),
        ((PRIVATE, None), (GROUP, None), True, False),
        ((GROUP, None), (GROUP, None), True, True),
        ((GROUP, None), (GROUP, None), False, False),  # another group's members would see the record only
        ((PUBLIC, 30), (PUBLIC, 60), True, True),  # the reference becomes public first
        ((PUBLIC, 60), (PUBLIC, 30), True, False),  # the record would be public 30 days before it
        ((GROUP, None), (PUBLIC, 30), True, False),  # never public, record public in 30 days
        ((PUBLIC, -5), (PUBLIC, None), False, True),  # embargo over: public now
        ((GROUP, 30), (GROUP, None), True, True),
    ],
)
def test_covers_counts_people_and_days(group, reference, record, same_group, ok):
    (ref_vis, ref_days), (rec_vis, rec_days) = reference, record
    ref = SeparatorFactory(group=group, visibility=ref_vis, embargo_until=_day(ref_days) if ref_days else None)
    rec_group = group if same_group else MembershipFactory().group
    rec = CellFactory(group=rec_group, separator=None, visibility=rec_vis,
                      embargo_until=_day(rec_days) if rec_days else None)
    assert covers(ref, rec) is ok


def test_a_private_reference_is_covered_by_private_records_of_its_group_only(group, member):
    separator = SeparatorFactory(group=group, visibility=PRIVATE, created_by=member)
    assert covers(separator, CellFactory(group=group, separator=None, visibility=PRIVATE))
    assert not covers(separator, CellFactory(group=group, separator=None, visibility=GROUP))
    assert not covers(separator, CellFactory(separator=None, visibility=PRIVATE))  # another group


def _cell_fields(separator, **extra):
    return dict(name="Au|X|Au", configuration="blocking", separator=separator.pk, layers=[], pressure_steps=[], **extra)


def test_a_public_cell_on_a_private_separator_is_refused_naming_it(group, member):
    separator = SeparatorFactory(group=group, visibility=PRIVATE, created_by=member, name="Hidden-LLZO-7")
    with pytest.raises(ValidationError) as caught:
        create_cell(user=member, group=group, **_cell_fields(separator, visibility=PUBLIC))
    assert "Hidden-LLZO-7" in str(caught.value.message_dict["visibility"])
    assert "publish_references" in str(caught.value.message_dict["visibility"])


def test_publish_references_publishes_separator_and_layer_electrodes_with_the_cell(group, member):
    separator = SeparatorFactory(group=group, visibility=PRIVATE, created_by=member)
    electrode = ElectrodeFactory(group=group, visibility=GROUP)
    cell = create_cell(
        user=member, group=group, publish_references=True,
        **{**_cell_fields(separator, visibility=PUBLIC, embargo_until=_day(10)),
           "layers": [{"kind": "electrode", "electrode": electrode.pk}, {"kind": "separator", "separator": separator.pk}]},
    )
    separator.refresh_from_db()
    electrode.refresh_from_db()
    assert (separator.visibility, separator.embargo_until) == (PUBLIC, _day(10))
    assert (electrode.visibility, electrode.embargo_until) == (PUBLIC, _day(10))
    assert hidden_references(cell) == []


def test_api_answers_400_naming_the_references_then_publishes_them_on_request(group, member):
    separator = SeparatorFactory(group=group, visibility=GROUP, name="Sep-behind-cell")
    cell = CellFactory(group=group, separator=separator, visibility=GROUP)
    client = APIClient()
    client.force_authenticate(member)
    url = f"/api/v1/cells/{cell.pk}/"
    refused = client.patch(url, {"visibility": "public"}, format="json")
    assert refused.status_code == 400
    assert "Sep-behind-cell" in refused.json()["error"]["message"]
    cell.refresh_from_db()
    assert cell.visibility == GROUP  # nothing half-done
    accepted = client.patch(url, {"visibility": "public", "publish_references": True}, format="json")
    assert accepted.status_code == 200, accepted.json()
    separator.refresh_from_db()
    assert separator.visibility == PUBLIC


def test_a_separator_cannot_drop_below_a_public_cell_on_it(group, member):
    separator = SeparatorFactory(group=group, visibility=PUBLIC)
    cell = CellFactory(group=group, separator=separator, visibility=PUBLIC, name="Visible-cell-on-it")
    with pytest.raises(ValidationError, match="Visible-cell-on-it"):
        update_separator(separator=separator, user=member, visibility=PRIVATE)
    cell.visibility = GROUP
    cell.save()
    update_separator(separator=separator, user=member, visibility=GROUP)


def test_measurements_more_visible_than_their_cell_are_refused(group, member):
    cell = CellFactory(group=group, visibility=PRIVATE, created_by=member, name="Secret-cell")
    f, z = rc_spectrum()
    item = {"frequencies_hz": list(f), "z_real_ohm": list(z.real), "z_imag_ohm": list(z.imag), "visibility": "public"}
    with pytest.raises(IngestError, match="Secret-cell"):
        create_spectra_from_arrays(cell=cell, spectra=[item], user=member)


def test_a_public_raw_file_on_a_private_cell_is_not_downloadable_anonymously(group, member):
    cell = CellFactory(group=group, visibility=PRIVATE, created_by=member)
    raw = RawFileFactory(group=group, visibility=PUBLIC, cell=cell)  # a row from before the rule
    assert APIClient().get(f"/api/v1/raw-files/{raw.pk}/download/").status_code == 404
    assert APIClient().get(f"/api/v1/raw-files/{raw.pk}/").status_code == 404


def test_exports_describe_a_hidden_separator_as_private_record(group, member):
    separator = SeparatorFactory(group=group, visibility=PRIVATE, name="Marker-sep-xq", thickness_um=812.5)
    spectrum = SpectrumFactory(group=group, cell__group=group, cell__separator=separator, cell__visibility=PUBLIC)
    shown = spectrum_metadata(spectrum, user=None)
    assert shown["separator"] == "private record"
    assert "separator_thickness_um" not in shown and "separator_id" not in shown
    owner_view = spectrum_metadata(spectrum, user=MembershipFactory(group=group, role="owner").user)
    assert owner_view["separator"] == "Marker-sep-xq" and owner_view["separator_thickness_um"] == 812.5
    for path in (f"/spectra/{spectrum.pk}/download/json/", f"/api/v1/spectra/{spectrum.pk}/export/?format=csv",
                 f"/spectra/{spectrum.pk}/", f"/api/v1/spectra/{spectrum.pk}/"):
        body = APIClient().get(path).content.decode()
        assert "Marker-sep-xq" not in body and "812.5" not in body, path


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/cells/", {"search": "Oracle-sep-77"}),
        ("/api/v1/cells/", {"thickness_um_min": 776, "thickness_um_max": 778}),
        ("/api/v1/spectra/", {"thickness_um_min": 776, "thickness_um_max": 778}),
        ("/api/v1/benchmark-entries/", {"search": "Oracle-sep-77"}),
        ("/cells/", {"q": "Oracle-sep-77"}),
        ("/spectra/", {"q": "Oracle-sep-77"}),
        ("/cells/", {"thickness_um_min": 776, "thickness_um_max": 778}),
    ],
)
def test_searches_and_filters_do_not_match_through_hidden_records(group, outsider, path, query):
    separator = SeparatorFactory(group=group, visibility=PRIVATE, name="Oracle-sep-77", thickness_um=777.0)
    cell = CellFactory(group=group, separator=separator, visibility=PUBLIC, name="Plain cell")
    SpectrumFactory(group=group, cell=cell, visibility=PUBLIC, label="plain")
    owner = MembershipFactory(group=group, role="owner").user
    for user, expected in ((None, 0), (outsider, 0), (owner, 1)):
        client = APIClient()
        if user is not None:
            client.force_login(user)
        response = client.get(path, query, HTTP_ACCEPT="application/json" if path.startswith("/api") else "text/html")
        assert response.status_code == 200
        if path.startswith("/api/v1/benchmark-entries"):
            assert response.json()["count"] == 0  # no entries here at all; the search itself must not fail
        elif path.startswith("/api"):
            assert response.json()["count"] == expected, (user, response.json())
        else:
            assert ("Plain cell" in response.content.decode() or "plain" in response.content.decode()) is bool(
                expected
            ), user


def test_visible_reference_mirrors_the_selector(group, member, outsider):
    records = [
        SeparatorFactory(group=group, visibility=v, embargo_until=e, created_by=member)
        for v in (PUBLIC, GROUP, PRIVATE) for e in (None, _day(-1), _day(5))
    ]
    from apps.accounts.selectors import visible_q
    from apps.catalog.models import Separator

    for user in (None, member, outsider, MembershipFactory(group=group, role="owner").user):
        expected = set(Separator.objects.filter(visible_q(user)).values_list("pk", flat=True))
        assert {r.pk for r in records if visible_reference(user, r) is not None} == expected & {r.pk for r in records}


def test_the_report_command_lists_existing_violations_and_changes_nothing(group):
    separator = SeparatorFactory(group=group, visibility=PRIVATE, name="Old-private-sep")
    cell = CellFactory(group=group, separator=separator, visibility=PUBLIC, name="Old-public-cell")
    CellLayerFactory(cell=cell, position=0, kind="separator", separator=separator)
    out = io.StringIO()
    call_command("check_visibility_references", stdout=out)
    assert "Old-public-cell" in out.getvalue() and "Old-private-sep" in out.getvalue()
    assert len([v for v in find_violations() if v.record.pk == cell.pk]) == 1  # one separator, two paths: once
    separator.refresh_from_db()
    assert separator.visibility == PRIVATE
    with pytest.raises(Exception, match="nothing was changed"):
        call_command("check_visibility_references", "--fail", stdout=io.StringIO())


def test_filtering_cells_by_a_hidden_interface_finds_nothing_even_beside_a_visible_one(group, outsider):
    hidden = InterfaceFactory(group=group, visibility=PRIVATE)
    shown = InterfaceFactory(group=group, visibility=PUBLIC)
    cell = CellFactory(group=group, visibility=PUBLIC)
    cell.interfaces.add(hidden, shown)
    client = APIClient()
    client.force_authenticate(outsider)
    assert client.get("/api/v1/cells/", {"interface": hidden.pk}).json()["count"] == 0
    assert client.get("/api/v1/cells/", {"interface": shown.pk}).json()["count"] == 1

"""Instrument-file ingestion: everything in, nothing half-stored, clear errors."""
import datetime
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage

from apps.accounts.models import Visibility
from apps.measurements.models import ImpedanceSpectrum, RawFile
from apps.measurements.parsers import to_csv
from apps.measurements.services import (
    IngestError,
    create_spectra_from_arrays,
    ingest_upload,
    ingest_zip,
    points_per_decade,
    preview_upload,
)
from tests.factories import CellFactory, MembershipFactory, PressureStepFactory, rc_spectrum

pytestmark = pytest.mark.django_db

# file -> points of its one spectrum (counted off the files' data rows)
INSTRUMENT_POINTS = {
    "Circuit1_EIS_1.z": 48,
    "Circuit1_EIS_2.z": 48,
    "Circuit2_EIS_1.z": 56,
    "Circuit2_EIS_2.z": 56,
    "Circuit3_EIS_1.z": 53,
    "Circuit3_EIS_2.z": 53,
    "exampleData.csv": 66,
    "exampleDataAutolab.txt": 41,
    "exampleDataBioLogic.mpr": 43,
    "exampleDataBioLogic.mpt": 43,
    "exampleDataBioLogic.txt": 43,
    "exampleDataCHInstruments.txt": 73,
    "exampleDataGamry.DTA": 72,
    "exampleDataGamryABORT.DTA": 72,
    "exampleDataParstat.txt": 31,
    "exampleDataPowersuite.txt": 30,
    "exampleDataVersaStudio.par": 61,
    "exampleDataZPlot.z": 21,
    "exampleDataZPlot_noComments.z": 31,
}


@pytest.fixture
def cell(group):
    return CellFactory(group=group, visibility=Visibility.GROUP)


def _stored_files(root) -> list[Path]:
    base = Path(root)
    return [p for p in base.rglob("*") if p.is_file()] if base.exists() else []


def _csv_bytes(n_points=30, **metadata) -> bytes:
    f, z = rc_spectrum(n_points=n_points)
    return to_csv((f, z, metadata)).encode()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("name", sorted(INSTRUMENT_POINTS))
def test_every_instrument_file_ingests_with_its_point_count(name, instrument_files, cell, member):
    data = (instrument_files / name).read_bytes()
    report = ingest_upload(cell=cell, filename=name, data=data, user=member)
    assert not report.duplicate
    assert [s.n_points for s in report.created] == [INSTRUMENT_POINTS[name]]
    stored = ImpedanceSpectrum.objects.get(pk=report.created[0].pk)
    assert stored.frequencies_hz.size == INSTRUMENT_POINTS[name]
    assert stored.raw_file.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.raw_file.size_bytes == len(data)


def test_raw_file_bytes_stored_at_content_address_on_commit(
    instrument_files, cell, member, settings, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("apps.analysis.services.queue_analysis", lambda **kwargs: [])
    data = (instrument_files / "exampleDataGamry.DTA").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        report = ingest_upload(cell=cell, filename="exampleDataGamry.DTA", data=data, user=member)
    digest = hashlib.sha256(data).hexdigest()
    assert report.raw_file.file.name == f"raw/{digest[:2]}/{digest}"
    with default_storage.open(report.raw_file.file.name, "rb") as stored:
        assert stored.read() == data


def test_same_file_twice_to_same_group_is_duplicate_without_new_rows(instrument_files, cell, member):
    data = (instrument_files / "exampleDataBioLogic.mpt").read_bytes()
    first = ingest_upload(cell=cell, filename="a.mpt", data=data, user=member)
    counts = (RawFile.objects.count(), ImpedanceSpectrum.objects.count())
    second = ingest_upload(cell=cell, filename="renamed.mpt", data=data, user=member)
    assert second.duplicate is True
    assert [s.pk for s in second.created] == [s.pk for s in first.created]
    assert second.raw_file.pk == first.raw_file.pk
    assert (RawFile.objects.count(), ImpedanceSpectrum.objects.count()) == counts


def test_same_file_in_another_group_is_not_a_duplicate(instrument_files, cell, member):
    data = (instrument_files / "exampleDataZPlot.z").read_bytes()
    ingest_upload(cell=cell, filename="z.z", data=data, user=member)
    other_cell = CellFactory()
    other_member = MembershipFactory(group=other_cell.group).user
    report = ingest_upload(cell=other_cell, filename="z.z", data=data, user=other_member)
    assert report.duplicate is False
    assert RawFile.objects.filter(sha256=hashlib.sha256(data).hexdigest()).count() == 2


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("exampleDataBioLogic_MissingFreq.mpt", None, "frequency"),
        ("garbage.bin", bytes(range(256)) * 40, "binary"),
        ("empty.txt", b"", "empty"),
        ("four-points.csv", b"f,re,im\n1000,1,-1\n100,2,-2\n10,3,-3\n1,4,-4\n", "at least 5"),
    ],
)
def test_failed_ingest_leaves_no_rows_no_file_and_names_file_and_reason(
    name, data, reason, instrument_files, cell, member, settings, django_capture_on_commit_callbacks
):
    if data is None:
        data = (instrument_files / name).read_bytes()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(IngestError) as caught:
            ingest_upload(cell=cell, filename=name, data=data, user=member)
    assert caught.value.filename == name
    assert name in str(caught.value) and reason in str(caught.value)
    assert callbacks == []
    assert RawFile.objects.count() == 0 and ImpedanceSpectrum.objects.count() == 0
    assert _stored_files(settings.MEDIA_ROOT) == []


def test_parse_error_line_reaches_the_ingest_error(instrument_files, cell, member):
    name = "exampleDataBioLogic_MissingFreq.mpt"
    with pytest.raises(IngestError) as caught:
        ingest_upload(cell=cell, filename=name, data=(instrument_files / name).read_bytes(), user=member)
    assert caught.value.line == 61


def test_too_large_file_rejected_with_limit_in_message_and_nothing_stored(cell, member, settings):
    settings.MAX_UPLOAD_MB = 1
    data = _csv_bytes() + b"#" * (1024 * 1024)
    with pytest.raises(IngestError) as caught:
        ingest_upload(cell=cell, filename="huge.csv", data=data, user=member)
    assert "1 MB" in caught.value.reason and caught.value.filename == "huge.csv"
    assert RawFile.objects.count() == 0


def test_failure_after_rows_written_rolls_back_and_writes_no_file(
    cell, member, settings, django_capture_on_commit_callbacks, monkeypatch
):
    def explode(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ImpedanceSpectrum, "save", explode)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            ingest_upload(cell=cell, filename="ok.csv", data=_csv_bytes(), user=member)
    assert callbacks == []
    assert RawFile.objects.count() == 0
    assert _stored_files(settings.MEDIA_ROOT) == []


def test_ingest_queues_analysis_of_new_spectra_on_commit(
    cell, member, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr("apps.analysis.services.queue_analysis", lambda **kwargs: queued.append(kwargs) or [])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = ingest_upload(cell=cell, filename="ok.csv", data=_csv_bytes(), user=member)
    assert queued == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert queued == [{"spectrum_ids": [report.created[0].pk], "user": member}]


def test_duplicate_upload_queues_nothing(cell, member, django_capture_on_commit_callbacks):
    ingest_upload(cell=cell, filename="ok.csv", data=_csv_bytes(), user=member)
    with django_capture_on_commit_callbacks() as callbacks:
        ingest_upload(cell=cell, filename="ok.csv", data=_csv_bytes(), user=member)
    assert callbacks == []


def test_conditions_taken_from_file_metadata(instrument_files, cell, member):
    report = ingest_upload(
        cell=cell, filename="g.DTA", data=(instrument_files / "exampleDataGamry.DTA").read_bytes(), user=member
    )
    spectrum = report.created[0]
    assert spectrum.dc_bias_v == pytest.approx(-0.05)
    assert spectrum.ac_amplitude_mv == pytest.approx(10)
    assert spectrum.mode == ImpedanceSpectrum.Mode.POTENTIOSTATIC
    assert spectrum.instrument == "Gamry REF3000-34128"
    assert spectrum.measured_at == datetime.datetime(2018, 4, 23, 16, 43, 15, tzinfo=datetime.timezone.utc)
    f = spectrum.frequencies_hz
    assert spectrum.points_per_decade == pytest.approx((f.size - 1) / np.log10(f.max() / f.min()), abs=0.01)


def test_user_conditions_override_file_metadata(cell, member):
    data = _csv_bytes(temperature_c=25.0, dc_bias_v=0.1, atmosphere="argon")
    report = ingest_upload(
        cell=cell,
        filename="t.csv",
        data=data,
        user=member,
        conditions={"temperature_c": 60, "stack_pressure_mpa": 50, "atmosphere": "dry_air", "cycle_index": 3},
    )
    spectrum = report.created[0]
    assert spectrum.temperature_c == 60.0
    assert spectrum.stack_pressure_mpa == 50.0
    assert spectrum.atmosphere == "dry_air"
    assert spectrum.cycle_index == 3
    assert spectrum.dc_bias_v == 0.1  # not overridden, so from the file


def test_stack_pressure_defaults_to_cells_measurement_step(cell, member):
    PressureStepFactory(cell=cell, position=0, phase="densification", pressure_mpa=375)
    PressureStepFactory(cell=cell, position=1, phase="measurement", pressure_mpa=25)
    report = ingest_upload(cell=cell, filename="p.csv", data=_csv_bytes(), user=member)
    assert report.created[0].stack_pressure_mpa == 25


@pytest.mark.parametrize(
    "conditions, field",
    [
        ({"temperature": 25}, "temperature"),
        ({"temperature_c": "warm"}, "temperature_c"),
        ({"atmosphere": "helium"}, "atmosphere"),
        ({"cycle_index": -1}, "cycle_index"),
        ({"state_of_charge": 1.5}, "state_of_charge"),
    ],
)
def test_bad_condition_names_the_field_and_stores_nothing(conditions, field, cell, member):
    with pytest.raises(IngestError) as caught:
        ingest_upload(cell=cell, filename="c.csv", data=_csv_bytes(), user=member, conditions=conditions)
    assert caught.value.field == field
    assert RawFile.objects.count() == 0


def test_spectra_default_to_cell_group_visibility_and_embargo(group, member):
    embargo = datetime.date(2030, 1, 1)
    cell = CellFactory(group=group, visibility=Visibility.PRIVATE, embargo_until=embargo)
    report = ingest_upload(cell=cell, filename="v.csv", data=_csv_bytes(), user=member)
    spectrum = report.created[0]
    assert (spectrum.group, spectrum.visibility, spectrum.embargo_until) == (group, "private", embargo)
    assert (report.raw_file.group, report.raw_file.visibility) == (group, "private")
    assert spectrum.created_by == member


def test_explicit_visibility_wins_over_cell_when_not_more_visible(cell, member):
    report = ingest_upload(cell=cell, filename="v.csv", data=_csv_bytes(), user=member, visibility="private")
    assert report.created[0].visibility == "private"
    # More visible than the cell: refused, nothing stored (visibility follows references).
    with pytest.raises(IngestError, match="more visible than their cell"):
        ingest_upload(cell=cell, filename="w.csv", data=_csv_bytes() + b"\n", user=member, visibility="public")


@pytest.mark.parametrize("who", ["outsider", "anonymous"])
def test_non_member_cannot_ingest_into_a_groups_cell(who, cell, outsider):
    from django.contrib.auth.models import AnonymousUser

    user = outsider if who == "outsider" else AnonymousUser()
    with pytest.raises(PermissionDenied):
        ingest_upload(cell=cell, filename="x.csv", data=_csv_bytes(), user=user)
    assert RawFile.objects.count() == 0


def test_multi_spectrum_file_creates_one_row_per_spectrum_with_its_cycle(instrument_files, cell, member):
    lines = (instrument_files / "exampleDataBioLogic.mpt").read_bytes().decode("latin-1").split("\n")
    cycle = lines[60].split("\t").index("cycle number")
    for i in range(61 + 20, len(lines)):  # the last 23 points become cycle 2
        cells = lines[i].split("\t")
        if len(cells) > cycle:
            cells[cycle] = "2.000000000000000E+000"
            lines[i] = "\t".join(cells)
    data = "\n".join(lines).encode("latin-1")
    report = ingest_upload(cell=cell, filename="cycles.mpt", data=data, user=member)
    assert [(s.index_in_file, s.n_points, s.cycle_index) for s in report.created] == [(0, 20, 1), (1, 23, 2)]
    assert [s.label for s in report.created] == ["cycles.mpt #1", "cycles.mpt #2"]
    assert RawFile.objects.count() == 1


def test_preview_parses_without_storing(instrument_files):
    parsed = preview_upload(data=(instrument_files / "exampleDataCHInstruments.txt").read_bytes(), filename="c.txt")
    assert len(parsed[0].frequencies_hz) == 73
    assert RawFile.objects.count() == 0 and ImpedanceSpectrum.objects.count() == 0


def test_points_per_decade_of_a_log_sweep():
    assert points_per_decade(np.logspace(6, -1, 57)) == pytest.approx(8.0)


# ----------------------------------------------------------------------------- zip


def test_zip_reports_each_file_and_keeps_the_good_ones(instrument_files, cell, member):
    gamry = (instrument_files / "exampleDataGamry.DTA").read_bytes()
    ingest_upload(cell=cell, filename="before.DTA", data=gamry, user=member)
    archive = _zip(
        {
            "run1/exampleDataZPlot.z": (instrument_files / "exampleDataZPlot.z").read_bytes(),
            "run1/deeper/exampleDataCHInstruments.txt": (instrument_files / "exampleDataCHInstruments.txt").read_bytes(),
            "run2/bad.mpt": (instrument_files / "exampleDataBioLogic_MissingFreq.mpt").read_bytes(),
            "run2/again.DTA": gamry,
            "__MACOSX/run1/._exampleDataZPlot.z": b"\x00\x05\x16\x07",
            ".DS_Store": b"\x00\x00\x00\x01Bud1",
        }
    )
    report = ingest_zip(cell=cell, filename="batch.zip", data=archive, user=member)
    status = {outcome.name: outcome.status for outcome in report.files}
    assert status == {
        "run1/exampleDataZPlot.z": "accepted",
        "run1/deeper/exampleDataCHInstruments.txt": "accepted",
        "run2/bad.mpt": "rejected",
        "run2/again.DTA": "duplicate",
    }
    rejected = report.rejected[0]
    assert "frequency" in rejected.reason and "line 61" in rejected.reason
    assert sorted(s.n_points for outcome in report.accepted for s in outcome.spectra) == [21, 73]
    assert [s.raw_file.original_name for s in report.duplicates[0].spectra] == ["before.DTA"]
    assert RawFile.objects.count() == 3
    assert ImpedanceSpectrum.objects.count() == 3


def test_zip_with_too_many_files_is_refused_whole(cell, member, settings):
    settings.MAX_ZIP_MEMBERS = 3
    archive = _zip({f"f{i}.csv": _csv_bytes(n_points=10 + i) for i in range(4)})
    with pytest.raises(IngestError, match="4 files"):
        ingest_zip(cell=cell, filename="many.zip", data=archive, user=member)
    assert RawFile.objects.count() == 0


def test_zip_bomb_refused_by_uncompressed_size(cell, member, settings):
    settings.MAX_ZIP_UNCOMPRESSED_MB = 1
    archive = _zip({"bomb.csv": b"0" * (8 * 1024 * 1024)})
    assert len(archive) < 100 * 1024  # small on the wire, large once unpacked
    with pytest.raises(IngestError, match="unpacks to"):
        ingest_zip(cell=cell, filename="bomb.zip", data=archive, user=member)
    assert RawFile.objects.count() == 0


def test_zip_member_lying_about_its_size_is_rejected_while_streaming(cell, member, settings):
    settings.MAX_UPLOAD_MB = 1
    archive = bytearray(_zip({"liar.csv": b"1" * (3 * 1024 * 1024), "ok.csv": _csv_bytes()}))
    # Forge the declared uncompressed size (central directory) of the first member down to 10 bytes.
    central = archive.find(b"PK\x01\x02")
    archive[central + 24 : central + 28] = (10).to_bytes(4, "little")
    local = archive.find(b"PK\x03\x04")
    archive[local + 22 : local + 26] = (10).to_bytes(4, "little")
    report = ingest_zip(cell=cell, filename="liar.zip", data=bytes(archive), user=member)
    status = {outcome.name: outcome.status for outcome in report.files}
    assert status == {"liar.csv": "rejected", "ok.csv": "accepted"}


def test_not_a_zip_is_an_ingest_error(cell, member):
    with pytest.raises(IngestError, match="zip"):
        ingest_zip(cell=cell, filename="x.zip", data=b"plain text", user=member)


def test_outsider_cannot_ingest_zip(cell, outsider):
    with pytest.raises(PermissionDenied):
        ingest_zip(cell=cell, filename="b.zip", data=_zip({"a.csv": _csv_bytes()}), user=outsider)


# ----------------------------------------------------------------------------- arrays (API bulk)


def _item(n=20, **extra):
    f, z = rc_spectrum(n_points=n)
    return {"frequencies_hz": f.tolist(), "z_real_ohm": z.real.tolist(), "z_imag_ohm": z.imag.tolist(), **extra}


def test_arrays_create_spectra_with_conditions(cell, member):
    spectra = create_spectra_from_arrays(
        cell=cell, user=member, spectra=[_item(temperature_c=30.0), _item(n=25, temperature_c=40.0, label="hot")]
    )
    assert [(s.n_points, s.temperature_c) for s in spectra] == [(20, 30.0), (25, 40.0)]
    assert spectra[1].label == "hot"
    f, z = rc_spectrum(n_points=20)
    np.testing.assert_array_equal(ImpedanceSpectrum.objects.get(pk=spectra[0].pk).impedance_ohm, z)


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d["frequencies_hz"].__setitem__(3, float("nan")), "spectra[1].frequencies_hz"),
        (lambda d: d["frequencies_hz"].__setitem__(3, -1.0), "spectra[1].frequencies_hz"),
        (lambda d: d["frequencies_hz"].__setitem__(3, d["frequencies_hz"][2]), "spectra[1].frequencies_hz"),
        (lambda d: d["z_imag_ohm"].__setitem__(0, float("inf")), "spectra[1].impedance"),
        (lambda d: d.__setitem__("z_real_ohm", d["z_real_ohm"][:-1]), "spectra[1].z_real_ohm"),
        (lambda d: d.__setitem__("pressure", 3), "spectra[1].pressure"),
    ],
)
def test_bad_array_item_names_item_and_field_and_stores_none(mutate, field, cell, member):
    bad = _item()
    mutate(bad)
    with pytest.raises(IngestError) as caught:
        create_spectra_from_arrays(cell=cell, user=member, spectra=[_item(), bad])
    assert caught.value.field == field
    assert ImpedanceSpectrum.objects.count() == 0


def test_arrays_with_too_few_points_rejected(cell, member):
    with pytest.raises(IngestError, match="at least 5"):
        create_spectra_from_arrays(cell=cell, user=member, spectra=[_item(n=4)])


# ----------------------------------------------------------------------------- property


@settings_hypothesis(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000), name=st.sampled_from(["x.mpt", "x.DTA", "x.z", "x.csv", "x.txt", "x.mpr"]))
def test_arbitrary_bytes_raise_only_ingest_error_and_store_nothing(data, name, cell, member):
    try:
        report = ingest_upload(cell=cell, filename=name, data=data, user=member)
    except IngestError as exc:
        assert exc.filename == name and exc.reason
        assert not RawFile.objects.filter(sha256=hashlib.sha256(data).hexdigest()).exists()
    else:
        assert all(s.n_points >= 5 for s in report.created)

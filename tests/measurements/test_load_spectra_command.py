"""The load_spectra command: a folder of instrument files into a cell, one progress line per file."""
import pytest
from django.core.management import CommandError, call_command

from apps.measurements.models import ImpedanceSpectrum, RawFile
from tests.factories import CellFactory

pytestmark = pytest.mark.django_db


def test_folder_loads_every_parseable_file_with_a_progress_line_each(instrument_files, group, member, capsys):
    cell = CellFactory(group=group)
    files = sorted(p for p in instrument_files.iterdir() if p.is_file())
    call_command("load_spectra", str(instrument_files), "--cell", str(cell.pk), "--user", member.username, "--no-analysis")
    out = capsys.readouterr().out
    assert f"[1/{len(files)}] {files[0].name}" in out and f"[{len(files)}/{len(files)}]" in out
    assert "exampleDataBioLogic_MissingFreq.mpt: rejected" in out
    assert RawFile.objects.filter(cell=cell).count() == 19
    assert ImpedanceSpectrum.objects.filter(cell=cell).count() == 19
    assert "19 accepted" in out


def test_conditions_given_on_the_command_line_apply_to_every_spectrum(instrument_files, group, member, tmp_path):
    cell = CellFactory(group=group)
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "a.z").write_bytes((instrument_files / "exampleDataZPlot.z").read_bytes())
    (folder / ".hidden.z").write_bytes((instrument_files / "Circuit1_EIS_1.z").read_bytes())
    call_command(
        "load_spectra", str(folder), "--cell", str(cell.pk), "--user", member.username, "--no-analysis",
        "--temperature-c", "60", "--stack-pressure-mpa", "25",
    )
    spectrum = ImpedanceSpectrum.objects.get(cell=cell)  # the dot-file is skipped
    assert (spectrum.temperature_c, spectrum.stack_pressure_mpa) == (60.0, 25.0)


def test_outsider_is_refused(instrument_files, group, outsider):
    cell = CellFactory(group=group)
    with pytest.raises(CommandError, match="not a member"):
        call_command("load_spectra", str(instrument_files), "--cell", str(cell.pk), "--user", outsider.username)
    assert RawFile.objects.count() == 0


@pytest.mark.parametrize("cell_exists, user, message", [(False, None, "no cell"), (True, "nobody", "no user")])
def test_bad_arguments_are_command_errors(cell_exists, user, message, instrument_files, group):
    cell = CellFactory(group=group)
    args = ["--cell", str(cell.pk if cell_exists else cell.pk + 1000)] + (["--user", user] if user else [])
    with pytest.raises(CommandError, match=message):
        call_command("load_spectra", str(instrument_files), *args)

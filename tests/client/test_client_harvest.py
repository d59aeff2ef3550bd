"""assbdb-harvest against the live server: each settled file uploaded once, never again, across restarts and outages."""
import logging
import os
import shutil
import socket
import time

import httpx
import pytest

from apps.accounts.models import Visibility
from apps.measurements.models import ImpedanceSpectrum, RawFile
from assbdb_client import Client
from assbdb_client.harvest import HarvestState, Harvester, load_mapping
from assbdb_client.harvest.cli import main
from assbdb_client.harvest.state import Status
from tests.factories import CellFactory

HARVEST_LOG = "assbdb_client.harvest"


class Network(httpx.HTTPTransport):
    """The real transport with switches: `down` refuses every connection; `lose_upload_answers` lets an upload
    reach the server and then drops its answer."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.lose_upload_answers = False
        self.requests: list[str] = []

    def handle_request(self, request):
        if self.down:
            raise httpx.ConnectError("network unreachable", request=request)
        self.requests.append(f"{request.method} {request.url.path}")
        response = super().handle_request(request)
        if self.lose_upload_answers and request.url.path.endswith("/spectra/upload/"):
            response.read()
            raise httpx.ReadError("connection reset while reading the answer", request=request)
        return response

    def uploads(self) -> int:
        return sum(1 for line in self.requests if line.endswith("/spectra/upload/"))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def folder(tmp_path, cell):
    watched = tmp_path / "instrument"
    watched.mkdir()
    (watched / "assbdb.toml").write_text(f"cell = {cell.pk}\n[conditions]\ntemperature_c = 25\nstack_pressure_mpa = 10\n")
    return watched


@pytest.fixture
def state_path(tmp_path):
    return tmp_path / "state" / "harvest.sqlite3"


@pytest.fixture
def network():
    return Network()


@pytest.fixture
def harvester_for(server, member_key, folder, state_path, network):
    made = []

    def make(*, url=None, settle_s=0.0, clock=None, mapping_file=None, dry_run=False):
        state = HarvestState(state_path)
        client = Client(url or server, member_key, transport=network, max_retries=0)
        harvester = Harvester(
            root=folder, mapping=load_mapping(folder.resolve(), mapping_file), state=state, client=client,
            settle_s=settle_s, dry_run=dry_run, clock=clock or time.monotonic,
        )  # fmt: skip
        made.append((state, client))
        return harvester

    yield make
    for state, client in made:
        state.close()
        client.close()


def drop(instrument_files, folder, name="exampleDataZPlot.z", as_name=None, age_s=60):
    """Copy an instrument file into the folder, its mtime `age_s` in the past (finished writing)."""
    target = folder / (as_name or name)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(instrument_files / name, target)
    stamp = time.time() - age_s
    os.utime(target, (stamp, stamp))
    return target


def test_cli_uploads_a_dropped_file_once_with_the_folder_conditions(
    server, member_key, folder, state_path, cell, instrument_files, caplog
):
    drop(instrument_files, folder)
    args = [str(folder), "--url", server, "--token", member_key, "--state", str(state_path), "--once", "--settle", "0"]
    with caplog.at_level(logging.INFO, logger=HARVEST_LOG):
        assert main(args) == 0
    spectrum = ImpedanceSpectrum.objects.get(cell=cell)
    assert (spectrum.temperature_c, spectrum.stack_pressure_mpa) == (25, 10)
    lines = [r.getMessage() for r in caplog.records if r.name == HARVEST_LOG and "exampleDataZPlot.z" in r.getMessage()]
    assert lines == [f"uploaded  exampleDataZPlot.z -> cell {cell.pk}: spectra {spectrum.pk}"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=HARVEST_LOG):
        assert main(args) == 0  # the same folder again: nothing to do
    assert ImpedanceSpectrum.objects.filter(cell=cell).count() == 1
    assert not [r for r in caplog.records if "exampleDataZPlot.z" in r.getMessage()]


def test_same_content_is_never_sent_again_even_under_another_name(harvester_for, folder, instrument_files, network, cell):
    harvester = harvester_for()
    drop(instrument_files, folder)
    assert harvester.scan()["uploaded"] == 1
    drop(instrument_files, folder, as_name="copy/again.z")
    touched = folder / "exampleDataZPlot.z"
    os.utime(touched, None)  # touched, same bytes
    requests_before = len(network.requests)
    summary = harvester.scan()
    assert summary["stored"] == 1 and summary["uploaded"] == 0
    assert len(network.requests) == requests_before  # the state file knew: no request at all
    assert network.uploads() == 1 and RawFile.objects.count() == 1


def test_restart_with_the_same_state_file_sends_nothing(harvester_for, folder, instrument_files, network):
    drop(instrument_files, folder)
    drop(instrument_files, folder, name="exampleDataGamry.DTA")
    assert harvester_for().scan()["uploaded"] == 2
    requests_before = len(network.requests)
    restarted = harvester_for()  # a new process: nothing in memory, the same state file
    assert sum(restarted.scan().outcomes.values()) == 0
    assert len(network.requests) == requests_before


def test_file_already_on_the_server_is_recorded_not_uploaded(harvester_for, folder, instrument_files, network, cell, member):
    from apps.measurements import services

    data = (instrument_files / "exampleDataZPlot.z").read_bytes()
    existing = services.ingest_upload(cell=cell, filename="earlier.z", data=data, user=member).created
    drop(instrument_files, folder)
    harvester = harvester_for()
    assert harvester.scan()["stored"] == 1
    assert network.uploads() == 0
    record = harvester.state.get(str(folder.resolve() / "exampleDataZPlot.z"))
    assert record.status == Status.STORED and record.spectrum_ids == [s.pk for s in existing]


def test_bad_file_is_logged_and_retried_only_when_it_changes(harvester_for, folder, instrument_files, network, caplog):
    bad = folder / "broken.z"
    bad.write_text("this is not an impedance export\n")
    harvester = harvester_for()
    with caplog.at_level(logging.INFO, logger=HARVEST_LOG):
        assert harvester.scan()["rejected"] == 1
    [line] = [r.getMessage() for r in caplog.records if "broken.z" in r.getMessage()]
    assert line.startswith("rejected  broken.z -> cell") and "HTTP 400" in line
    uploads = network.uploads()
    assert harvester.scan()["rejected"] == 0 and harvester_for().scan()["rejected"] == 0  # also not after a restart
    assert network.uploads() == uploads
    shutil.copyfile(instrument_files / "exampleDataZPlot.z", bad)  # fixed: now it parses
    assert harvester.scan()["uploaded"] == 1


def test_server_down_then_up_uploads_once(harvester_for, folder, instrument_files, network, unused_port, cell, caplog):
    drop(instrument_files, folder)
    with caplog.at_level(logging.INFO, logger=HARVEST_LOG):
        summary = harvester_for(url=f"http://127.0.0.1:{unused_port}").scan()
    assert summary.paused and summary["error"] == 1
    assert any(r.getMessage().startswith("retry     exampleDataZPlot.z") for r in caplog.records)
    restarted = harvester_for()  # the server is up (the right address)
    assert restarted.scan()["uploaded"] == 1
    assert restarted.scan()["uploaded"] == 0
    assert network.uploads() == 1 and ImpedanceSpectrum.objects.filter(cell=cell).count() == 1


def test_network_loss_in_a_running_harvester_backs_off_then_uploads_once(harvester_for, folder, instrument_files, network):
    clock = FakeClock()
    harvester = harvester_for(clock=clock)
    drop(instrument_files, folder)
    network.down = True
    assert harvester.scan().paused
    network.down = False
    assert harvester.scan().paused  # still backing off: no request yet
    assert network.requests == []
    clock.now += 301
    assert harvester.scan()["uploaded"] == 1
    assert network.uploads() == 1


def test_answer_lost_after_the_upload_never_uploads_twice(harvester_for, folder, instrument_files, network, cell):
    clock = FakeClock()
    harvester = harvester_for(clock=clock)
    drop(instrument_files, folder)
    network.lose_upload_answers = True
    assert harvester.scan()["error"] == 1
    network.lose_upload_answers = False
    clock.now += 301
    assert harvester.scan()["stored"] == 1  # the SHA-256 look-up found what the lost answer had created
    assert network.uploads() == 1 and RawFile.objects.count() == 1


def test_file_still_being_written_waits_for_the_settle_time(harvester_for, folder, instrument_files, network):
    clock = FakeClock()
    harvester = harvester_for(settle_s=5, clock=clock)
    drop(instrument_files, folder, age_s=0)
    assert harvester.scan()["unsettled"] == 1
    clock.now += 2
    assert harvester.scan()["unsettled"] == 1
    clock.now += 4
    assert harvester.scan()["uploaded"] == 1


def test_mapping_file_sends_each_glob_to_its_cell(server, member_key, tmp_path, instrument_files, group):
    other_cell = CellFactory(group=group, visibility=Visibility.GROUP)
    watched = tmp_path / "plain"
    watched.mkdir()
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        f'[[rule]]\nglob = "*.DTA"\ncell = {other_cell.pk}\nconditions = {{ temperature_c = 60 }}\n'
    )
    drop(instrument_files, watched, name="exampleDataGamry.DTA")
    drop(instrument_files, watched)  # .z: no rule, skipped
    state = HarvestState(tmp_path / "s.sqlite3")
    with Client(server, member_key) as client:
        harvester = Harvester(root=watched, mapping=load_mapping(watched, mapping), state=state, client=client,
                              settle_s=0)  # fmt: skip
        assert harvester.scan()["uploaded"] == 1
    state.close()
    assert {s.temperature_c for s in ImpedanceSpectrum.objects.filter(cell=other_cell)} == {60}
    assert RawFile.objects.get().original_name == "exampleDataGamry.DTA"


def test_cell_one_cannot_write_to_is_rejected_and_logged(harvester_for, folder, instrument_files, outsider, caplog):
    foreign = CellFactory(group=outsider.memberships.get().group, visibility=Visibility.PUBLIC)
    (folder / "assbdb.toml").write_text(f"cell = {foreign.pk}\n")
    drop(instrument_files, folder)
    harvester = harvester_for()
    with caplog.at_level(logging.INFO, logger=HARVEST_LOG):
        assert harvester.scan()["rejected"] == 1
    assert any("rejected  exampleDataZPlot.z" in r.getMessage() and "HTTP 403" in r.getMessage() for r in caplog.records)
    assert harvester.scan()["rejected"] == 0


def test_dry_run_lists_and_sends_and_remembers_nothing(folder, state_path, instrument_files, caplog):
    drop(instrument_files, folder)
    with caplog.at_level(logging.INFO, logger=HARVEST_LOG):
        assert main([str(folder), "--dry-run", "--once", "--settle", "0", "--state", str(state_path)]) == 0
    assert any(r.getMessage().startswith("would upload exampleDataZPlot.z -> cell") for r in caplog.records)
    assert HarvestState(state_path).all() == []
    assert not RawFile.objects.exists()

"""assbdb_client.Client over real HTTP: lists, pages, records, uploads, fits, jobs, exports, errors, retries, tokens."""
import httpx
import numpy as np
import pytest

from apps.accounts.models import ApiToken, Visibility
from apps.measurements.models import ImpedanceSpectrum
from assbdb_client import (
    AuthenticationFailed,
    Client,
    ConnectionFailed,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    Spectrum,
    ValidationError,
)
from tests.factories import CellFactory, MaterialFactory, SeparatorFactory

PASSWORD = "correct horse battery"


class CountingTransport(httpx.HTTPTransport):
    """The real transport, counting requests; optionally answering the first `fail_first` with `fail_status`."""

    def __init__(self, fail_first: int = 0, fail_status: int = 503) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.fail_first = fail_first
        self.fail_status = fail_status

    def handle_request(self, request):
        self.urls.append(str(request.url))
        if len(self.urls) <= self.fail_first:
            return httpx.Response(self.fail_status, json={"error": {"status": self.fail_status, "code": "unavailable",
                                                                    "message": "try later", "fields": {}}})
        return super().handle_request(request)


def test_list_follows_next_links_lazily_over_every_page(server):
    names = sorted(MaterialFactory().name for _ in range(7))
    transport = CountingTransport()
    records = Client(server, transport=transport).materials.list(page_size=2, ordering="name")
    assert transport.urls == []  # nothing fetched before iterating
    assert [row["name"] for row in records] == names
    assert len(transport.urls) == 4
    assert all("page_size=2" in url for url in transport.urls)
    assert len(records) == 7


def test_list_passes_filters_and_search(server, group):
    SeparatorFactory(group=group, name="LLZTO pellet", visibility=Visibility.PUBLIC)
    SeparatorFactory(group=group, name="LPSCl pellet", visibility=Visibility.PUBLIC)
    client = Client(server)
    assert [row["name"] for row in client.separators.list(search="LLZTO")] == ["LLZTO pellet"]
    assert client.separators.count(search="pellet") == 2


def test_list_as_a_dataframe_flattens_nested_fields(server, group):
    SeparatorFactory(group=group, name="LLZTO pellet", visibility=Visibility.PUBLIC, thickness_um=512)
    frame = Client(server).separators.list(as_frame=True)
    assert list(frame["name"]) == ["LLZTO pellet"]
    assert frame["thickness_um"].iloc[0] == 512
    assert any(column.startswith("components") for column in frame.columns)


def test_get_hidden_or_missing_record_raises_not_found_with_the_api_message(server, group):
    hidden = SeparatorFactory(group=group, visibility=Visibility.GROUP)
    with pytest.raises(NotFound) as caught:
        Client(server).separators.get(hidden.pk)
    assert caught.value.status == 404 and caught.value.code == "not_found" and caught.value.message


def test_create_and_update_a_separator(db_client, group):
    material = MaterialFactory()
    created = db_client.separators.create(
        name="new pellet", group=group.pk, thickness_um=500,
        components=[{"material": material.pk, "role": "fast_ion_phase", "fraction": 1.0}],
    )  # fmt: skip
    assert created["group"] == group.pk
    updated = db_client.separators.update(created["id"], thickness_um=480)
    assert updated["thickness_um"] == 480 and db_client.separators.get(created["id"])["thickness_um"] == 480


def test_validation_error_carries_the_fields(db_client, group):
    with pytest.raises(ValidationError) as caught:
        db_client.separators.create(name="", group=group.pk, thickness_um="thick")
    assert set(caught.value.fields) == {"name", "thickness_um"}
    assert caught.value.message.startswith("Invalid input")
    assert "thickness_um" in str(caught.value)


def test_bad_token_raises_authentication_failed(server):
    with pytest.raises(AuthenticationFailed) as caught:
        Client(server, "assbdb_not-a-real-key").separators.list().count
    assert caught.value.status == 401


def test_outsider_write_raises_permission_denied(server, outsider, group):
    from apps.accounts.services import create_api_token

    public_cell = CellFactory(group=group, visibility=Visibility.PUBLIC)
    client = Client(server, create_api_token(user=outsider).key)
    with pytest.raises(PermissionDenied) as caught:
        client.cells.update(public_cell.pk, name="mine")
    assert caught.value.status == 403 and "member" in caught.value.message


def test_read_scope_token_write_raises_permission_denied_naming_the_scope(server, member, group):
    from apps.accounts.services import create_api_token

    key = create_api_token(user=member, name="dashboard", scope=ApiToken.Scope.READ).key
    client = Client(server, key)
    assert client.groups.count() >= 1
    with pytest.raises(PermissionDenied) as caught:
        client.materials.create(name="LiPON", family="other")
    assert caught.value.code == "read_only_token" and "read-only" in caught.value.message


def test_upload_wait_fit_read_and_export(db_client, cell, instrument_files, tmp_path):
    report = db_client.spectra.upload(
        instrument_files / "exampleDataZPlot.z", cell.pk, temperature_c=25, stack_pressure_mpa=10
    )
    assert report["created"] == 1 and report["files"][0]["status"] == "accepted"
    jobs = db_client.jobs.wait_all(report["jobs"], poll_s=0.05, timeout_s=60, progress=False)
    assert [job["state"] for job in jobs] == ["succeeded"]

    spectrum = db_client.spectra.get(report["files"][0]["spectra"][0]["id"])
    assert isinstance(spectrum, Spectrum) and spectrum.temperature_c == 25
    stored = ImpedanceSpectrum.objects.get(pk=spectrum.id)
    np.testing.assert_array_equal(spectrum.frequencies_hz, stored.frequencies_hz)
    np.testing.assert_array_equal(spectrum.impedance_ohm, stored.impedance_ohm)
    assert list(spectrum.to_dataframe().columns) == ["frequency_hz", "z_real_ohm", "z_imag_ohm"]

    job = db_client.jobs.wait(db_client.spectra.fit(spectrum.id, circuit="R0-p(R1,CPE1)-CPE2"), poll_s=0.05,
                              timeout_s=60, progress=False, raise_on_failure=True)  # fmt: skip
    assert job["state"] == "succeeded"
    assert db_client.fits.count(spectrum=spectrum.id) >= 2  # the standard analysis and the own circuit
    assert all(row["conductivity_s_per_cm"] > 0 for row in db_client.conductivities.list(spectrum=spectrum.id))

    csv_bytes = db_client.conductivities.export(format="csv", spectrum=spectrum.id)
    assert csv_bytes.decode().splitlines()[0].startswith("id,")
    written = db_client.spectra.download(spectrum.id, tmp_path)  # a folder: the server's file name
    assert written.parent == tmp_path and written.read_text().count("\n") > spectrum.n_points
    raw = db_client.raw_files.find(report["files"][0]["raw_file"] and stored.raw_file.sha256)
    assert [row["id"] for row in raw] == [stored.raw_file_id]
    assert db_client.raw_files.download(stored.raw_file_id) == (instrument_files / "exampleDataZPlot.z").read_bytes()


def test_progress_line_without_tqdm_shows_state_and_fraction(db_client, cell, instrument_files, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if tqdm were not installed
    report = db_client.spectra.upload(instrument_files / "exampleDataZPlot.z", cell.pk)
    db_client.jobs.wait(report["jobs"][0], poll_s=0.05, timeout_s=60, progress=True)
    line = capsys.readouterr().err
    assert f"job {report['jobs'][0]['id']}: succeeded" in line and "100.0 %" in line


def test_upload_folder_one_by_one_keeps_going_past_a_bad_file(db_client, cell, instrument_files, tmp_path):
    (tmp_path / "good.z").write_bytes((instrument_files / "exampleDataZPlot.z").read_bytes())
    (tmp_path / "notes.txt").write_text("not a spectrum\n")
    outcomes = {o.path.name: o for o in db_client.spectra.upload_folder(tmp_path, cell.pk, temperature_c=30)}
    assert outcomes["good.z"].error is None and len(outcomes["good.z"].spectrum_ids) == 1
    assert isinstance(outcomes["notes.txt"].error, ValidationError) and outcomes["notes.txt"].result is None


def test_upload_folder_as_one_zip(db_client, cell, instrument_files, tmp_path):
    for name in ("exampleDataZPlot.z", "exampleDataGamry.DTA"):
        (tmp_path / name).write_bytes((instrument_files / name).read_bytes())
    [outcome] = db_client.spectra.upload_folder(tmp_path, cell.pk, as_zip=True)
    assert sorted(f["status"] for f in outcome.result["files"]) == ["accepted", "accepted"]
    assert len(outcome.spectrum_ids) == ImpedanceSpectrum.objects.filter(cell=cell).count() >= 2


def test_bulk_create_takes_numpy_arrays(db_client, cell):
    frequencies = np.logspace(6, 0, 20)
    impedance = 100 + 1000 / (1 + 1j * frequencies * 1e-6 * 1000)
    [created] = db_client.spectra.bulk_create(
        cell.pk, [{"frequencies_hz": frequencies, "z_real_ohm": impedance.real, "z_imag_ohm": impedance.imag}]
    )
    np.testing.assert_allclose(db_client.spectra.get(created["id"]).impedance_ohm, impedance, rtol=1e-12)


# ----------------------------------------------------------------------------- retries


def test_429_from_the_real_throttle_is_retried_after_retry_after(server, member):
    """The password-token endpoint allows 20 attempts a minute; the 21st answers 429 with Retry-After."""
    waits: list[float] = []
    client = Client(server, max_retries=1, sleep=waits.append)
    for attempt in range(20):
        with pytest.raises(AuthenticationFailed):
            Client.login(server, f"nobody-{attempt}", "wrong", max_retries=0)  # others: no lockout of member
    with pytest.raises(RateLimited) as caught:
        client.send_json("POST", "auth/token/", {"username": member.username, "password": PASSWORD})
    assert len(waits) == 1 and 0 < waits[0] <= 60  # honoured the server's Retry-After
    assert caught.value.retry_after_s and caught.value.status == 429


def test_429_then_success_after_the_wait(server, member):
    from django.core.cache import cache

    for attempt in range(20):
        with pytest.raises(AuthenticationFailed):
            Client.login(server, f"nobody-{attempt}", "wrong", max_retries=0)  # others: no lockout of member
    waits: list[float] = []

    def wait_out_the_throttle(seconds: float) -> None:
        waits.append(seconds)
        cache.clear()  # the minute has passed, as far as the throttle knows

    client = Client.login(server, member.username, PASSWORD, sleep=wait_out_the_throttle)
    assert len(waits) == 1 and client.token and client.groups.count() >= 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_on_reads_are_retried_with_backoff(server, status):
    MaterialFactory()
    transport, waits = CountingTransport(fail_first=2, fail_status=status), []
    client = Client(server, transport=transport, sleep=waits.append, backoff_s=1.0)
    assert client.materials.count() == 1
    assert len(transport.urls) == 3
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0  # exponential, with jitter


def test_retries_are_bounded_then_server_error(server):
    transport = CountingTransport(fail_first=100, fail_status=503)
    with pytest.raises(ServerError) as caught:
        Client(server, transport=transport, sleep=lambda s: None, max_retries=3).materials.count()
    assert len(transport.urls) == 4 and caught.value.message == "try later"


def test_a_post_is_not_repeated_after_a_500(db_client, server, member_key, cell, instrument_files):
    transport = CountingTransport(fail_first=1, fail_status=500)
    client = Client(server, member_key, transport=transport, sleep=lambda s: None)
    with pytest.raises(ServerError):
        client.spectra.upload(instrument_files / "exampleDataZPlot.z", cell.pk)
    assert len(transport.urls) == 1


def test_connection_refused_is_retried_then_raised(unused_port):
    waits: list[float] = []
    with pytest.raises(ConnectionFailed):
        Client(f"http://127.0.0.1:{unused_port}", max_retries=2, sleep=waits.append).materials.count()
    assert len(waits) == 2


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ----------------------------------------------------------------------------- tokens


def test_two_scripts_use_two_tokens_of_one_account_side_by_side(server, member):
    first = Client.login(server, member.username, PASSWORD, token_name="harvester")
    second = Client.login(server, member.username, PASSWORD, token_name="notebook")
    assert first.groups.count() == second.groups.count() == 1
    assert sorted(t["name"] for t in second.tokens.list()) == ["harvester", "notebook"]
    first_key = first.token
    first.revoke_token()
    assert second.groups.count() == 1
    with pytest.raises(AuthenticationFailed):
        Client(server, first_key).groups.count()
    extra = second.tokens.create("dashboard", scope="read", expires_in_days=7)
    assert extra["token"] and extra["scope"] == "read"
    second.tokens.delete(extra["id"])
    assert [t["name"] for t in second.tokens.list()] == ["notebook"]

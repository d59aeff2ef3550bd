"""One object per REST resource of /api/v1/, with the operations the API offers for it."""
from __future__ import annotations

import datetime
import io
import json
import os
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import AssbdbError, JobFailed
from .progress import JobProgress
from .records import Records, Spectrum

if TYPE_CHECKING:
    from .client import Client

PathLike = str | os.PathLike[str]
UPLOAD_SHORTCUTS = ("temperature_c", "stack_pressure_mpa", "atmosphere", "cycle_index", "label")


def query_params(filters: dict[str, Any]) -> list[tuple[str, str]]:
    """Keyword filters as query parameters: None dropped, booleans as true/false, lists repeated, dates ISO."""
    params: list[tuple[str, str]] = []
    for name, value in filters.items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple, set)) else [value]
        for item in values:
            if isinstance(item, bool):
                item = "true" if item else "false"
            elif isinstance(item, (datetime.date, datetime.datetime)):
                item = item.isoformat()
            params.append((name, str(item)))
    return params


def record_id(record: int | dict[str, Any]) -> int:
    """An id from an id or a record (a dict with `id`)."""
    return int(record["id"]) if isinstance(record, dict) else int(record)


class Resource:
    """List (all pages, lazily) and read one resource at `path` under /api/v1/."""

    path = ""

    def __init__(self, client: Client) -> None:
        self.client = client

    def url(self, pk: int | None = None, action: str = "") -> str:
        parts = [self.path] + ([str(pk)] if pk is not None else []) + ([action] if action else [])
        return "/".join(parts) + "/"

    def list(self, *, as_frame: bool = False, page_size: int | None = None, **filters: Any):
        """Every matching record (the API's filters, `search=`, `ordering=` as keywords), fetched page by page.

        Returns `Records` (iterate, `len()`, `.to_dataframe()`), or a pandas DataFrame with `as_frame=True`.
        """
        records = self.client.paged(self.url(), page_size=page_size, **filters)
        return records.to_dataframe() if as_frame else records

    def iter(self, **filters: Any) -> Iterator[dict[str, Any]]:
        return iter(self.list(**filters))

    def count(self, **filters: Any) -> int:
        return self.client.paged(self.url(), page_size=1, **filters).count

    def get(self, pk: int | dict[str, Any]) -> dict[str, Any]:
        return self.client.get_json(self.url(record_id(pk)))


class Creatable(Resource):
    def create(self, data: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """POST a new record; the answer is the record as stored."""
        return self.client.send_json("POST", self.url(), {**(data or {}), **fields})


class Updatable(Resource):
    def update(self, pk: int | dict[str, Any], data: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """PATCH the given fields; the others stay as they are."""
        return self.client.send_json("PATCH", self.url(record_id(pk)), {**(data or {}), **fields})


class Deletable(Resource):
    def delete(self, pk: int | dict[str, Any]) -> None:
        self.client.send_json("DELETE", self.url(record_id(pk)), None)


class Exportable(Resource):
    def export(self, dest: PathLike | None = None, *, format: str = "csv", **filters: Any) -> bytes | Path:
        """Every matching record as one CSV or JSON file (`…/export/?format=`): bytes, or written to `dest`."""
        return self.client.download(self.url(action="export"), dest, params={"format": format, **filters})


class Groups(Resource):
    path = "groups"


class Materials(Creatable):
    """Shared reference data; `create` returns the existing material of the same name."""

    path = "materials"


class Sources(Creatable):
    """Papers by DOI; `create` returns the existing source of the same DOI."""

    path = "sources"


class Separators(Creatable, Updatable, Exportable):
    path = "separators"


class Electrodes(Creatable, Updatable, Exportable):
    path = "electrodes"


class Interfaces(Creatable, Updatable, Exportable):
    path = "interfaces"


class Cells(Creatable, Updatable, Exportable):
    path = "cells"

    def spectra(self, cell: int | dict[str, Any], *, as_frame: bool = False, page_size: int | None = None):
        """The cell's spectra you may see (without arrays)."""
        records = self.client.paged(self.url(record_id(cell), "spectra"), page_size=page_size)
        return records.to_dataframe() if as_frame else records


@dataclass(frozen=True)
class FolderUpload:
    """One file of a folder upload: the API's answer, or the error that refused it."""

    path: Path
    result: dict[str, Any] | None
    error: AssbdbError | None

    @property
    def spectrum_ids(self) -> list[int]:
        return [s["id"] for f in (self.result or {}).get("files", []) for s in f.get("spectra", [])]


class Spectra(Exportable):
    path = "spectra"

    def get(self, pk: int | dict[str, Any]) -> Spectrum:  # type: ignore[override]
        """The spectrum with numpy arrays `frequencies_hz`, `z_real_ohm`, `z_imag_ohm`; other fields in `.record`."""
        return Spectrum.from_api(self.client.get_json(self.url(record_id(pk))))

    def upload(
        self,
        file: PathLike | bytes,
        cell: int | dict[str, Any],
        *,
        filename: str | None = None,
        conditions: dict[str, Any] | None = None,
        group: int | None = None,
        visibility: str | None = None,
        embargo_until: datetime.date | str | None = None,
        attach: bool = False,
        **shortcuts: Any,
    ) -> dict[str, Any]:
        """Upload one instrument file (or a .zip of them) to `cell`.

        `conditions` apply to every spectrum of the file; `temperature_c`,
        `stack_pressure_mpa`, `atmosphere`, `cycle_index`, `label` are shortcuts.
        Returns the API's answer: `created`, `duplicates`, `rejected`, `message`,
        `files` (each with its spectra, and `existing` for a file stored before)
        and `jobs` (analysis of the new spectra). A file the group holds already
        writes nothing (`message` says where it is); `attach=True` stores it as
        new spectra on `cell` with these conditions instead.
        """
        unknown = set(shortcuts) - set(UPLOAD_SHORTCUTS)
        if unknown:
            raise TypeError(f"upload() got unexpected keywords {sorted(unknown)}; put other conditions in conditions=")
        if isinstance(file, bytes):
            if not filename:
                raise TypeError("upload(bytes, …) needs filename=")
            content, name = file, filename
        else:
            content, name = Path(file).read_bytes(), filename or Path(file).name
        data = {
            "cell": record_id(cell), "group": group, "visibility": visibility,
            "embargo_until": embargo_until.isoformat() if isinstance(embargo_until, datetime.date) else embargo_until,
            "conditions": json.dumps(conditions) if conditions else None, "attach": "true" if attach else None,
            **shortcuts,
        }  # fmt: skip
        form = {key: str(value) for key, value in data.items() if value is not None}
        return self.client.post_multipart(self.url(action="upload"), data=form, files={"file": (name, content)})

    def upload_folder(
        self,
        folder: PathLike,
        cell: int | dict[str, Any],
        *,
        pattern: str = "*",
        recursive: bool = False,
        as_zip: bool = False,
        **options: Any,
    ) -> list[FolderUpload]:
        """Upload every file of `folder` matching `pattern`: one request per file, or one zip (`as_zip=True`).

        One file refused does not stop the others: each `FolderUpload` has its answer or its error.
        """
        folder = Path(folder)
        paths = sorted(p for p in (folder.rglob(pattern) if recursive else folder.glob(pattern)) if p.is_file())
        if not paths:
            raise FileNotFoundError(f"no file matching {pattern!r} in {folder}")
        if as_zip:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in paths:
                    archive.write(path, path.relative_to(folder).as_posix())
            result = self.upload(buffer.getvalue(), cell, filename=f"{folder.name or 'folder'}.zip", **options)
            return [FolderUpload(path=folder, result=result, error=None)]
        outcomes = []
        for path in paths:
            try:
                outcomes.append(FolderUpload(path=path, result=self.upload(path, cell, **options), error=None))
            except AssbdbError as error:
                if error.status in (0, 401, 429) or error.status >= 500:
                    raise  # the server or the token, not the file: the next file would fail the same way
                outcomes.append(FolderUpload(path=path, result=None, error=error))
        return outcomes

    def bulk_create(self, cell: int | dict[str, Any], spectra: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create spectra from arrays (all or nothing); numpy arrays are accepted for the three arrays."""
        items = [
            {key: (value.tolist() if hasattr(value, "tolist") else value) for key, value in item.items()} for item in spectra
        ]
        return self.client.send_json("POST", self.url(action="bulk"), {"cell": record_id(cell), "spectra": items})

    def fit(self, pk: int | dict[str, Any], *, protocol: int | None = None, circuit: str | None = None) -> dict[str, Any]:
        """Queue a fit under a protocol (id) or a circuit string; returns the job (wait for it with `jobs.wait`)."""
        payload = {key: value for key, value in (("protocol", protocol), ("circuit", circuit)) if value is not None}
        return self.client.send_json("POST", self.url(record_id(pk), "fit"), payload)["job"]

    def download(self, pk: int | dict[str, Any], dest: PathLike | None = None, *, format: str = "csv") -> bytes | Path:
        """One spectrum as CSV or JSON (the files the upload accepts again)."""
        return self.client.download(self.url(record_id(pk), "export"), dest, params={"format": format})


class RawFiles(Resource):
    path = "raw-files"

    def find(self, sha256: str) -> list[dict[str, Any]]:
        """The stored raw files with these exact bytes that you may see (any group)."""
        return list(self.list(sha256=sha256))

    def download(self, pk: int | dict[str, Any], dest: PathLike | None = None) -> bytes | Path:
        """The original bytes, as uploaded."""
        return self.client.download(self.url(record_id(pk), "download"), dest)


class Protocols(Creatable, Updatable):
    path = "protocols"

    def new_version(self, pk: int | dict[str, Any], **changes: Any) -> dict[str, Any]:
        """A copy of the protocol with `changes` as its next version."""
        return self.client.send_json("POST", self.url(record_id(pk), "versions"), changes)

    def refit(self, pk: int | dict[str, Any]) -> dict[str, Any]:
        """Queue a re-fit of every spectrum the protocol applies to; returns the job."""
        return self.client.send_json("POST", self.url(record_id(pk), "refit"), None)["job"]


class Fits(Exportable):
    path = "fits"

    def download(self, pk: int | dict[str, Any], dest: PathLike | None = None, *, format: str = "csv") -> bytes | Path:
        return self.client.download(self.url(record_id(pk), "export"), dest, params={"format": format})


class Conductivities(Exportable):
    path = "conductivities"


class ArrheniusFits(Exportable):
    path = "arrhenius-fits"


class BenchmarkEntries(Exportable):
    path = "benchmark-entries"

    def leaderboard(self, metric: str, *, as_frame: bool = False, **params: Any):
        """Ranked entries of one metric (best first); `family`, `processing_route`, `min_completeness`, `limit`."""
        rows = self.client.get_json(self.url(action="leaderboard"), params={"metric": metric, **params})
        if as_frame:
            from .records import require_pandas

            return require_pandas().json_normalize(rows)
        return rows


class LiteratureValues(Exportable):
    path = "literature-values"


class Tokens(Creatable, Deletable):
    """Your API tokens. `create` returns the key in `token`, once."""

    path = "auth/tokens"

    def create(  # type: ignore[override]
        self,
        name: str,
        *,
        scope: str = "read_write",
        expires_in_days: int | None = None,
        expires_at: datetime.datetime | str | None = None,
    ) -> dict[str, Any]:
        payload = {"name": name, "scope": scope}
        if expires_in_days is not None:
            payload["expires_in_days"] = expires_in_days
        if expires_at is not None:
            payload["expires_at"] = expires_at.isoformat() if isinstance(expires_at, datetime.datetime) else expires_at
        return self.client.send_json("POST", self.url(), payload)


TERMINAL_STATES = frozenset({"succeeded", "failed"})


def job_of(job: int | dict[str, Any]) -> int:
    """A job id from an id, a job, or a 202 answer `{"job": {…}, "job_url": …}`."""
    if isinstance(job, dict) and "job" in job and isinstance(job["job"], dict):
        job = job["job"]
    return record_id(job)


class Jobs(Resource):
    path = "jobs"

    def wait(
        self,
        job: int | dict[str, Any],
        *,
        timeout_s: float | None = None,
        poll_s: float = 1.0,
        progress: bool | None = None,
        raise_on_failure: bool = False,
    ) -> dict[str, Any]:
        """Poll the job until it has finished; returns its last state (`state`, `error`, `result`).

        `progress`: a progress bar (tqdm if installed, else a text line) on
        stderr; by default only when stderr is a terminal. `timeout_s`: raise
        `TimeoutError` when it has not finished by then. `raise_on_failure`:
        raise `JobFailed` when it ends in `failed`.
        """
        pk = job_of(job)
        show = self.client.stderr_is_terminal() if progress is None else progress
        display = JobProgress(f"job {pk}", enabled=show)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        try:
            while True:
                state = self.get(pk)
                display.update(state)
                if state.get("is_finished") or state.get("state") in TERMINAL_STATES:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError(f"job {pk} still {state.get('state')} after {timeout_s} s")
                time.sleep(poll_s)
        finally:
            display.close()
        if raise_on_failure and state.get("state") == "failed":
            raise JobFailed(f"job {pk} failed: {state.get('error') or 'no reason given'}", job=state, code="job_failed")
        return state

    def wait_all(self, jobs: Iterable[int | dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
        """`wait` for each job in turn; their last states in the same order."""
        return [self.wait(job, **options) for job in jobs]

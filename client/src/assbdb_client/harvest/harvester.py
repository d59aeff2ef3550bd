"""The harvester's scan: find settled new or changed files, ask the server about their SHA-256, upload, remember."""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AssbdbError, AuthenticationFailed, ConnectionFailed, NotFound, PermissionDenied, RateLimited
from ..errors import ServerError, ValidationError
from .config import FOLDER_CONFIG, FileTarget, Mapping
from .state import FileRecord, HarvestState, Status

logger = logging.getLogger("assbdb_client.harvest")

IGNORED_PREFIXES = (".", "~$")
IGNORED_SUFFIXES = (".tmp", ".part", ".partial", ".swp", ".lock", ".crdownload", "-journal", "-wal", "-shm")
REFUSED = (ValidationError, PermissionDenied, NotFound)  # the file or its mapping is wrong: wait for a change
HASH_CHUNK_BYTES = 1 << 20


@dataclass
class Observation:
    size_bytes: int
    mtime_ns: int
    since: float  # monotonic time this size and mtime were first seen


@dataclass
class ScanSummary:
    """What one scan did: a count per outcome (uploaded, stored, rejected, error, would_upload, unsettled)."""

    outcomes: Counter = field(default_factory=Counter)
    paused: bool = False  # stopped early: the server or network failed, the rest waits for the next scan

    def __getitem__(self, outcome: str) -> int:
        return self.outcomes[outcome]


class ServerUnavailable(Exception):
    """Stop this scan: every further file would fail the same way."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Harvester:
    """Uploads each settled new or changed file under `root` once, to the cell its mapping names.

    `client` is an `assbdb_client.Client` (None for a dry run). A file is settled
    when its size and mtime have not changed for `settle_s` seconds. Network and
    server failures pause the scan and are retried with exponential backoff (at
    most `max_backoff_s`); a file the server refuses is retried only after it changes.
    """

    def __init__(
        self,
        *,
        root: Path,
        mapping: Mapping,
        state: HarvestState,
        client=None,
        settle_s: float = 5.0,
        dry_run: bool = False,
        backoff_s: float = 5.0,
        max_backoff_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if client is None and not dry_run:
            raise ValueError("a client is needed unless dry_run")
        self.root = root.resolve()
        self.mapping = mapping
        self.state = state
        self.client = client
        self.settle_s = settle_s
        self.dry_run = dry_run
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.clock = clock
        self._seen: dict[Path, Observation] = {}
        self._retry_at: dict[Path, float] = {}
        self._paused_until = 0.0
        self._pauses = 0
        self._cell_groups: dict[int, int] = {}
        self._reported_unmapped: set[Path] = set()

    # ------------------------------------------------------------------ scanning

    def candidates(self) -> list[Path]:
        state_file = self.state.path.resolve()
        paths = []
        for path in self.root.rglob("*"):
            name = path.name
            if name == FOLDER_CONFIG or name.startswith(IGNORED_PREFIXES) or name.lower().endswith(IGNORED_SUFFIXES):
                continue
            if any(part.startswith(".") for part in path.relative_to(self.root).parts[:-1]):
                continue
            if path.resolve() == state_file or not path.is_file():
                continue
            paths.append(path)
        return sorted(paths)

    def scan(self) -> ScanSummary:
        """One pass over the folder; returns what it did."""
        summary = ScanSummary()
        self.mapping.forget_folder_configs()
        if self.clock() < self._paused_until:
            summary.paused = True
            return summary
        for path in self.candidates():
            try:
                outcome = self._visit(path)
            except ServerUnavailable:
                summary.outcomes["error"] += 1
                summary.paused = True
                break
            if outcome:
                summary.outcomes[outcome] += 1
        else:
            self._pauses = 0
        if summary["unmapped"]:
            logger.info("skipped %d new file(s) that no %s or mapping rule sends to a cell (-v lists them)",
                        summary["unmapped"], FOLDER_CONFIG)  # fmt: skip
        return summary

    def _settled(self, path: Path, size: int, mtime_ns: int) -> bool:
        now = self.clock()
        seen = self._seen.get(path)
        if seen is None or (seen.size_bytes, seen.mtime_ns) != (size, mtime_ns):
            self._seen[path] = Observation(size, mtime_ns, now)
            # A file last written long ago (e.g. found at start-up) need not be watched for settle_s first.
            return self.settle_s <= 0 or time.time() - mtime_ns / 1e9 >= self.settle_s
        return now - seen.since >= self.settle_s

    def _visit(self, path: Path) -> str | None:
        try:
            stat = path.stat()
        except OSError:
            return None  # gone or locked; the next scan sees it again
        size, mtime_ns = stat.st_size, stat.st_mtime_ns
        try:
            target = self.mapping.target_for(path)
        except ValueError as error:
            return self._refuse_once(path, f"mapping: {error}", logging.WARNING)
        if target is None:
            return self._refuse_once(path, f"no cell for this file (no {FOLDER_CONFIG} above it, no mapping rule)")
        record = self.state.get(str(path))
        if (
            record
            and (record.size_bytes, record.mtime_ns, record.cell) == (size, mtime_ns, target.cell)
            and record.status in Status.DONE
        ):
            return None
        if not self._settled(path, size, mtime_ns):
            return "unsettled"
        if record and record.status == Status.ERROR and self.clock() < self._retry_at.get(path, 0.0):
            return None
        try:
            sha256 = file_sha256(path)
            after = path.stat()
        except OSError:
            return None
        if (after.st_size, after.st_mtime_ns) != (size, mtime_ns):
            self._seen.pop(path, None)  # still being written
            return "unsettled"
        return self._handle(path, FileRecord(str(path), sha256, size, mtime_ns, target.cell, Status.ERROR), record, target)

    def _refuse_once(self, path: Path, reason: str, level: int = logging.DEBUG) -> str | None:
        """Files nothing maps to a cell are listed once, at debug level (-v): a folder may hold many."""
        if path in self._reported_unmapped:
            return None
        self._reported_unmapped.add(path)
        logger.log(level, "skipped   %s: %s", self._relative(path), reason)
        return "unmapped"

    # ------------------------------------------------------------------ one file

    def _handle(self, path: Path, new: FileRecord, record: FileRecord | None, target: FileTarget) -> str | None:
        rel = self._relative(path)
        if record and record.sha256 == new.sha256 and record.cell == new.cell and record.status in Status.DONE:
            record.size_bytes, record.mtime_ns = new.size_bytes, new.mtime_ns  # touched, same bytes
            self.state.save(record)
            return None
        earlier = self.state.sent(new.sha256, new.cell)
        if earlier is not None and earlier.path != new.path:
            return self._finish(new, Status.STORED, rel, f"same bytes as {self._relative(Path(earlier.path))}, already sent",
                                spectrum_ids=earlier.spectrum_ids, raw_file=earlier.raw_file)  # fmt: skip
        if self.dry_run:
            logger.info(
                "would upload %s -> cell %s (sha256 %s…, %s bytes, conditions %s%s)", rel, target.cell, new.sha256[:12],
                new.size_bytes, target.conditions or "{}", f", {target.options}" if target.options else "",
            )  # fmt: skip
            return "would_upload"
        new.attempts = (record.attempts if record and record.status == Status.ERROR else 0) + 1
        try:
            stored = self._stored_on_server(new.sha256, target.cell)
            if stored is not None:
                raw_file, spectrum_ids = stored
                return self._finish(new, Status.STORED, rel, f"already on the server as raw file {raw_file}",
                                    spectrum_ids=spectrum_ids, raw_file=raw_file)  # fmt: skip
            answer = self.client.spectra.upload(path, target.cell, conditions=target.conditions or None, **target.options)
        except REFUSED as error:
            return self._finish(new, Status.REJECTED, rel, _message(error), error=_message(error))
        except AssbdbError as error:  # server, network, token or rate limit: not the file's fault
            return self._retry_later(path, new, rel, error)
        row = (answer.get("files") or [{}])[0]
        ids = [spectrum["id"] for spectrum in row.get("spectra", [])]
        status = Status.STORED if row.get("status") == "duplicate" else Status.UPLOADED
        note = row.get("reason") or ("the server already held these bytes" if status == Status.STORED else "")
        return self._finish(new, status, rel, note, spectrum_ids=ids, raw_file=row.get("raw_file"))

    def _stored_on_server(self, sha256: str, cell: int) -> tuple[int, list[int]] | None:
        """(raw file id, spectrum ids) when the cell's group already holds these bytes and you may see them."""
        group = self._cell_group(cell)
        for raw in self.client.raw_files.find(sha256):
            if raw.get("group") == group:
                ids = [spectrum["id"] for spectrum in self.client.spectra.list(raw_file=raw["id"])]
                return raw["id"], ids
        return None

    def _cell_group(self, cell: int) -> int:
        if cell not in self._cell_groups:
            self._cell_groups[cell] = self.client.cells.get(cell)["group"]
        return self._cell_groups[cell]

    def _finish(self, new: FileRecord, status: str, rel: str, note: str, *, spectrum_ids=(), raw_file=None, error="") -> str:
        new.status, new.spectrum_ids, new.raw_file, new.last_error = status, list(spectrum_ids), raw_file, error
        if status != Status.REJECTED:
            new.attempts = 0
        self.state.save(new)
        self._retry_at.pop(Path(new.path), None)
        ids = ", ".join(map(str, new.spectrum_ids)) or "none"
        if status == Status.REJECTED:
            logger.warning("rejected  %s -> cell %s: %s", rel, new.cell, note)
        else:
            logger.info("%-9s %s -> cell %s: spectra %s%s", status, rel, new.cell, ids, f" ({note})" if note else "")
        return status

    def _retry_later(self, path: Path, new: FileRecord, rel: str, error: AssbdbError) -> str:
        delay = min(self.max_backoff_s, self.backoff_s * 2 ** (new.attempts - 1))
        new.status, new.last_error = Status.ERROR, _message(error)
        self.state.save(new)
        self._retry_at[path] = self.clock() + delay
        logger.warning("retry     %s -> cell %s in %.0f s: %s", rel, new.cell, delay, new.last_error)
        if isinstance(error, (ConnectionFailed, ServerError, RateLimited, AuthenticationFailed)):
            pause = min(self.max_backoff_s, self.backoff_s * 2**self._pauses)
            if isinstance(error, RateLimited) and error.retry_after_s:
                pause = max(pause, error.retry_after_s)
            self._pauses += 1
            self._paused_until = self.clock() + pause
            raise ServerUnavailable
        return Status.ERROR

    def _relative(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    # ------------------------------------------------------------------ the loop

    def run(self, *, interval_s: float = 10.0, once: bool = False, stop: threading.Event | None = None,
            wake: threading.Event | None = None) -> ScanSummary:  # fmt: skip
        """Scan every `interval_s` seconds (sooner when `wake` is set, e.g. by file events) until `stop` is set."""
        stop = stop or threading.Event()
        wake = wake or threading.Event()
        while True:
            summary = self.scan()
            if once or stop.is_set():
                return summary
            wake.wait(interval_s)
            wake.clear()
            if stop.is_set():
                return summary


def _message(error: AssbdbError) -> str:
    fields = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in error.fields.items())
    text = error.message if not fields or fields in error.message else f"{error.message} [{fields}]"
    return f"{text} (HTTP {error.status})" if error.status else text

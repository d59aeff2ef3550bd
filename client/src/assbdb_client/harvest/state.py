"""What the harvester has done, per file, in a local SQLite file that survives restarts."""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path


class Status:
    UPLOADED = "uploaded"  # the server created spectra from it
    STORED = "stored"  # the server already held these bytes for the cell's group (found by SHA-256 or said duplicate)
    REJECTED = "rejected"  # the server refused it (does not parse, cell not writable…): retried only when it changes
    ERROR = "error"  # server down, network, token, rate limit: retried later

    DONE = frozenset({UPLOADED, STORED, REJECTED})  # nothing more to do until the file changes


@dataclass
class FileRecord:
    path: str
    sha256: str
    size_bytes: int
    mtime_ns: int
    cell: int
    status: str
    spectrum_ids: list[int] = field(default_factory=list)
    raw_file: int | None = None
    last_error: str = ""
    attempts: int = 0
    updated_at: float = 0.0


SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    cell INTEGER NOT NULL,
    status TEXT NOT NULL,
    spectrum_ids TEXT NOT NULL DEFAULT '[]',
    raw_file INTEGER,
    last_error TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS files_sha256 ON files (sha256, cell);
"""
COLUMNS = ["path", "sha256", "size_bytes", "mtime_ns", "cell", "status", "spectrum_ids", "raw_file", "last_error",
           "attempts", "updated_at"]  # fmt: skip


class HarvestState:
    """The state file: one row per file path (absolute), written after each file (a crash loses at most one)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.executescript(SCHEMA)
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    def _record(self, row) -> FileRecord:
        values = dict(zip(COLUMNS, row))
        values["spectrum_ids"] = json.loads(values["spectrum_ids"])
        return FileRecord(**values)

    def get(self, path: str) -> FileRecord | None:
        row = self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM files WHERE path = ?", (path,)).fetchone()
        return self._record(row) if row else None

    def sent(self, sha256: str, cell: int) -> FileRecord | None:
        """A file with the same bytes already on the server for this cell (uploaded or found stored)."""
        row = self.db.execute(
            f"SELECT {', '.join(COLUMNS)} FROM files WHERE sha256 = ? AND cell = ? AND status IN (?, ?) "
            "ORDER BY updated_at LIMIT 1",
            (sha256, cell, Status.UPLOADED, Status.STORED),
        ).fetchone()
        return self._record(row) if row else None

    def save(self, record: FileRecord) -> None:
        record.updated_at = time.time()
        values = [json.dumps(record.spectrum_ids) if name == "spectrum_ids" else getattr(record, name) for name in COLUMNS]
        self.db.execute(
            f"INSERT OR REPLACE INTO files ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", values
        )
        self.db.commit()

    def all(self) -> list[FileRecord]:
        rows = self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM files ORDER BY path").fetchall()
        return [self._record(row) for row in rows]

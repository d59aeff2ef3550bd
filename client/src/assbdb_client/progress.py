"""A progress display for waiting on jobs: tqdm when installed, otherwise one rewritten text line."""
from __future__ import annotations

import sys
from typing import TextIO


class JobProgress:
    """Shows `done/total` of a job; `update(job)` with each polled state, `close()` at the end."""

    def __init__(self, label: str, *, enabled: bool, stream: TextIO | None = None) -> None:
        self.label = label
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self._bar = None
        self._shown = False
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=1, desc=label, unit="step", file=self.stream, leave=True)

    def update(self, job: dict) -> None:
        if not self.enabled:
            return
        progress = job.get("progress") or {}
        done, total = int(progress.get("done") or 0), int(progress.get("total") or 0)
        if self._bar is not None:
            self._bar.total = max(total, 1)
            self._bar.n = done
            self._bar.set_postfix_str(job.get("state", ""), refresh=False)
            self._bar.refresh()
            return
        fraction = progress.get("fraction")
        percent = f"{100 * fraction:5.1f} %" if isinstance(fraction, (int, float)) else "   ?  "
        self.stream.write(f"\r{self.label}: {job.get('state', '?'):<9} {done}/{total} {percent}")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._shown:
            self.stream.write("\n")
            self.stream.flush()

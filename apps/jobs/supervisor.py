"""Keep a worker process running: restart it with backoff when it exits, and say why it exited.

Used by ``manage.py run_site`` for the embedded worker. The worker's stderr is
passed through line by line and its last lines are kept, so the log shows the
exit code or signal and what the worker said last. No Django import.
"""
from __future__ import annotations

import collections
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Sequence

logger = logging.getLogger(__name__)


def describe_exit(returncode: int) -> str:
    """``exit code 1`` or ``signal SIGKILL`` (Popen reports a signal as a negative code)."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


class Supervisor:
    """Runs ``command`` in a thread of its own; restarts it after ``backoff_s[i]`` on its i-th quick exit.

    A run that lasted ``stable_after_s`` resets the backoff. ``on_exit(returncode, last_lines)`` is
    called after each exit (the default logs a warning).
    """

    def __init__(self, command: Sequence[str], *, cwd=None, env=None, name: str = "worker",
                 backoff_s: Sequence[float] = (1, 2, 5, 10, 30), stable_after_s: float = 60,
                 tail_lines: int = 20, on_exit: Callable[[int, list[str]], None] | None = None,
                 output=None, stdout=None):
        self.command, self.cwd, self.env, self.name = list(command), cwd, env, name
        self.backoff_s, self.stable_after_s = list(backoff_s), stable_after_s
        self.tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self.on_exit = on_exit or self._log_exit
        self.output = output or sys.stderr
        self.stdout = stdout  # the worker's stdout (its banner): inherited unless given
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"supervise-{name}", daemon=True)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        self._thread.start()
        self._started.wait(timeout=10)

    def _spawn(self) -> subprocess.Popen:
        self.tail.clear()
        # A process group of its own: when the main process dies, what it left behind (Celery's pool
        # processes, an embedded beat) is ended with it, never left running beside the next one.
        process = subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdout=self.stdout, stderr=subprocess.PIPE,
                                   text=True, errors="replace", bufsize=1, start_new_session=True)
        threading.Thread(target=self._pump, args=(process,), daemon=True).start()
        return process

    def _pump(self, process: subprocess.Popen) -> None:
        for line in process.stderr:
            self.tail.append(line.rstrip("\n"))
            try:
                self.output.write(line)
                self.output.flush()
            except (ValueError, OSError):  # our own stderr closed: keep reading so the worker never blocks
                pass

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            self.process = self._spawn()
            self._started.set()
            returncode = self.process.wait()
            self._end_group(self.process)
            if self._stopping.is_set():
                return
            time.sleep(0.2)  # let the pump take the last lines
            self.on_exit(returncode, list(self.tail))
            failures = 0 if time.monotonic() - started >= self.stable_after_s else failures + 1
            delay = self.backoff_s[min(max(failures - 1, 0), len(self.backoff_s) - 1)]
            logger.warning("Restarting the %s in %s s.", self.name, delay)
            if self._stopping.wait(delay):
                return
            self.restarts += 1

    def _log_exit(self, returncode: int, last_lines: list[str]) -> None:
        said = "\n    ".join(last_lines[-10:]) or "(nothing on stderr)"
        logger.warning("The %s (pid %s) exited with %s. Its last lines:\n    %s",
                       self.name, self.pid, describe_exit(returncode), said)

    @staticmethod
    def _end_group(process: subprocess.Popen) -> None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout: float = 20) -> None:
        self._stopping.set()
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None:
            self._end_group(process)
        self._thread.join(timeout=5)

"""The supervisor restarts a process that exits or is killed, and says why it stopped."""
import io
import signal
import sys
import time

from apps.jobs.supervisor import Supervisor, describe_exit


def _wait_for(condition, timeout_s=20):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_process_that_exits_is_restarted_and_its_exit_code_and_last_lines_reported():
    exits = []
    script = "import sys; print('loading', file=sys.stderr); print('boom: bad message', file=sys.stderr); sys.exit(3)"
    supervisor = Supervisor([sys.executable, "-c", script], backoff_s=(0.1,), output=io.StringIO(),
                            on_exit=lambda code, lines: exits.append((code, lines)))
    supervisor.start()
    try:
        assert _wait_for(lambda: len(exits) >= 2)
    finally:
        supervisor.stop()
    assert exits[0] == (3, ["loading", "boom: bad message"])
    assert supervisor.restarts >= 1


def test_a_killed_process_is_restarted_and_the_signal_named():
    exits = []
    supervisor = Supervisor([sys.executable, "-c", "import time; time.sleep(60)"], backoff_s=(0.1,),
                            on_exit=lambda code, lines: exits.append(code))
    supervisor.start()
    try:
        first = supervisor.pid
        supervisor.process.send_signal(signal.SIGKILL)
        assert _wait_for(lambda: supervisor.pid != first and supervisor.process.poll() is None)
    finally:
        supervisor.stop()
    assert describe_exit(exits[0]) == "signal SIGKILL"
    assert supervisor.process.poll() is not None  # stop() ends the current process too


def test_backoff_grows_while_the_process_keeps_failing_quickly():
    exits = []
    supervisor = Supervisor([sys.executable, "-c", "raise SystemExit(1)"], backoff_s=(0.05, 0.4, 5),
                            output=io.StringIO(), on_exit=lambda code, lines: exits.append(time.monotonic()))
    supervisor.start()
    try:
        assert _wait_for(lambda: len(exits) >= 3)
        time.sleep(1)
        assert len(exits) == 3, "the third quick failure waits the longest backoff (5 s)"
    finally:
        supervisor.stop()
    assert exits[2] - exits[1] >= 0.4

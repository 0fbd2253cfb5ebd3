"""SIGTERM lands in the middle of whatever the daemon's main thread was doing, its own wait
for the stop event or a log line: taking it must not wait for anything that holds."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable

from reconciler.config import parse_config
from reconciler.daemon import Daemon


def returns_at_once(call: Callable[[], None]) -> bool:
    """Whether `call`, run in a thread of its own, returns within two seconds."""
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(2)
    return not thread.is_alive()


def make_daemon(tmp_path) -> Daemon:
    return Daemon(parse_config({"database": str(tmp_path / "stashplex.db")}, env={}))


def test_the_stop_request_is_taken_while_the_main_loop_waits_on_the_stop_event(tmp_path):
    daemon = make_daemon(tmp_path)

    def interrupted_wait() -> None:
        # where the signal lands: inside the event's wait, its lock held by the same thread
        with daemon.stop_event._cond:
            daemon.request_stop(15, None)

    assert returns_at_once(interrupted_wait), "the stop request waited for the event's lock"
    assert daemon.stopping()


def test_the_stop_request_is_taken_while_a_log_line_is_stuck(tmp_path):
    daemon = make_daemon(tmp_path)
    stuck = logging.StreamHandler(io.StringIO())  # as stderr is when nobody reads it
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(stuck)
    held, release = threading.Event(), threading.Event()

    def writing_a_line() -> None:
        with stuck.lock:
            held.set()
            release.wait(10)

    writer = threading.Thread(target=writing_a_line)
    writer.start()
    held.wait(5)
    try:
        assert returns_at_once(lambda: daemon.request_stop(15, None)), (
            "the stop request waited for the log line"
        )
        assert daemon.stopping()
    finally:
        release.set()
        writer.join()
        root.removeHandler(stuck)
        root.setLevel(level)

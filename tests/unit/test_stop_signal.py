"""SIGTERM lands in the middle of whatever the daemon's main thread was doing, a log line
included: taking it must not wait for anything that line holds."""

from __future__ import annotations

import io
import logging
import threading

from reconciler.config import parse_config
from reconciler.daemon import Daemon


def test_the_stop_request_is_taken_while_a_log_line_is_stuck(tmp_path):
    config = parse_config({"database": str(tmp_path / "stashplex.db")}, env={})
    daemon = Daemon(config)
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
        stopper = threading.Thread(target=daemon.request_stop, args=(15, None), daemon=True)
        stopper.start()
        stopper.join(2)
        assert not stopper.is_alive(), "the stop request waited for the log line"
        assert daemon.stop_event.is_set()
    finally:
        release.set()
        writer.join()
        root.removeHandler(stuck)
        root.setLevel(level)


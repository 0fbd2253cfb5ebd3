"""The notify protocol's sending side."""

from __future__ import annotations

import socket
import tempfile
import threading
from pathlib import Path

from reconciler.sdnotify import Notifier


def test_a_listener_that_stops_reading_never_blocks_the_daemon() -> None:
    """A daemon polling often sends a STATUS per poll; if nobody reads (a stuck or test-made
    listener), the socket's queue fills, and a blocking send would hang the daemon's stop."""
    with tempfile.TemporaryDirectory(prefix="sp-") as folder:  # socket paths must be short
        path = str(Path(folder) / "notify")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.bind(path)
        notifier = Notifier(path)
        sent = threading.Event()

        def flood() -> None:
            for number in range(5000):
                notifier.status(f"poll {number}")
            notifier.stopping()
            sent.set()

        thread = threading.Thread(target=flood, daemon=True)
        thread.start()
        thread.join(60)  # a guard against a hang, not a timing: the sends do not wait at all
        try:
            assert sent.is_set(), "notify() blocked on a full socket"
            assert listener.recv(4096) == b"STATUS=poll 0"  # what fitted arrived, in order
        finally:
            listener.close()


def test_messages_reach_an_abstract_socket() -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"stashplex-test-{threading.get_ident()}"
    listener.bind("\0" + name)
    listener.settimeout(10)
    try:
        Notifier("@" + name).ready()
        assert listener.recv(4096) == b"READY=1"
    finally:
        listener.close()

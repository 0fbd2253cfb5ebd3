"""systemd's notify protocol (READY=1, WATCHDOG=1, STATUS=..., STOPPING=1), without a dependency."""

from __future__ import annotations

import os
import socket


class Notifier:
    """Sends datagrams to $NOTIFY_SOCKET; does nothing when not run by systemd."""

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]
        self.address = address or None

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, message: str) -> None:
        """Send without waiting: a listener that stops reading fills the socket's queue, and
        the daemon must never hang on it (a stop would then wait for the kill). A message that
        does not fit is dropped; systemd reads its socket, so that does not happen under it."""
        if not self.address:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.setblocking(False)
                sock.connect(self.address)
                sock.send(message.encode())
            except OSError:
                pass

    def ready(self) -> None:
        self.notify("READY=1")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def status(self, text: str) -> None:
        self.notify(f"STATUS={text}")

    def stopping(self) -> None:
        self.notify("STOPPING=1")


def watchdog_interval() -> float | None:
    """Half of WatchdogSec, in seconds, when systemd asked for watchdog pings."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2_000_000
    except ValueError:
        return None

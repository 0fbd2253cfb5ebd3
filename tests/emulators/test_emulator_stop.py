"""An emulator run as a process of its own (the demo's, the benchmark's, the subprocess
tests') stops on SIGTERM wherever the signal lands in its serving loop."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable

from reconciler.emulators.stash import StashEmulator


def test_sigterm_stops_the_emulator_wherever_it_lands_in_the_serving_loop(monkeypatch):
    handlers: dict[int, Callable[[int, object], None]] = {}
    # the handlers it installs are kept, not installed: the loop runs in a thread here
    monkeypatch.setattr(signal, "signal", lambda sig, handler: handlers.update({sig: handler}))
    emulator = StashEmulator()
    exits: list[int] = []

    def signal_lands(frame: object, event: str, arg: object) -> None:
        # Python runs a signal handler in the main thread between any two steps of what it
        # was doing: here, at every call and return once the emulator is serving
        if emulator.running:
            handlers[signal.SIGTERM](signal.SIGTERM, frame)

    def serve() -> None:
        sys.setprofile(signal_lands)
        try:
            exits.append(emulator.serve_until_signalled())
        finally:
            sys.setprofile(None)

    serving = threading.Thread(target=serve, daemon=True)
    serving.start()
    serving.join(5)
    assert not serving.is_alive(), "the emulator did not stop on SIGTERM"
    assert exits == [0]
    assert not emulator.running

"""A clock the tests move by hand: for the emulators' stamps and for the worker's retry waits."""

from __future__ import annotations

import time


class Clock:
    def __init__(self, start: float | None = None) -> None:
        self.now = float(start) if start is not None else time.time()

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += seconds

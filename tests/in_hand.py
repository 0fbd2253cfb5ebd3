"""Counting the requests an emulator has in hand at once, to check a client's limit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class InHand:
    """Stands in for an emulator's `handle`: counts the requests being answered, keeps the
    most at once, and runs `hold(request, now)` (`now`: how many are in hand) before each
    is answered."""

    def __init__(self, emulator: Any, hold: Callable[[Any, Callable[[], int]], None]) -> None:
        self._handle = emulator.handle
        self._hold = hold
        self._lock = threading.Lock()
        self._now = 0
        self.most = 0
        emulator.handle = self

    def now(self) -> int:
        return self._now

    def __call__(self, request: Any) -> Any:
        with self._lock:
            self._now += 1
            self.most = max(self.most, self._now)
        try:
            self._hold(request, self.now)
            return self._handle(request)
        finally:
            with self._lock:
                self._now -= 1

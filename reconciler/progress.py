"""Progress for long sweeps: a bar on a terminal, a log line every few seconds otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, "int | None"], None]


def quiet(stage: str, done: int, total: int | None) -> None:
    """A progress callback that shows nothing."""


LABELS = {"plex": "reading Plex", "stash": "reading Stash", "drain": "writing to Plex"}


class Progress:
    def __init__(self, stream: TextIO | None = None, interval: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval
        self._last: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        label = LABELS.get(stage, stage)
        finished = total is not None and done >= total
        if self.tty:
            if total:
                width = 30
                filled = int(width * min(done, total) / total)
                bar = "#" * filled + "-" * (width - filled)
                self.stream.write(f"\r{label:16} [{bar}] {done}/{total}")
            else:
                self.stream.write(f"\r{label:16} {done}")
            if finished:
                self.stream.write("\n")
            self.stream.flush()
            return
        now = time.monotonic()
        if finished or now - self._last.get(stage, 0) >= self.interval:
            self._last[stage] = now
            log.info("%s: %d%s", label, done, f" of {total}" if total else "")

"""Progress for long sweeps: a bar on a terminal, a log line every few seconds otherwise.

On a terminal the bar shows the rate and the time left, and log lines (one per scene
written, at INFO) go above it: while the bar is up, the log's handlers on the same
terminal write through `BarSafeStream`, which clears the bar's line first and draws
the bar again after each line, so neither tears the other.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, "int | None"], None]

CLEAR_LINE = "\r\x1b[K"


def quiet(stage: str, done: int, total: int | None) -> None:
    """A progress callback that shows nothing."""


LABELS = {"plex": "reading Plex", "stash": "reading Stash", "drain": "writing to Plex"}


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def pace(done: int, total: int | None, elapsed: float) -> str:
    """'42.0/s, 1:05 left' (the time left only when the total is known)."""
    if done <= 0 or elapsed <= 0:
        return ""
    rate = done / elapsed
    text = f"{rate:.1f}/s"
    if total and total > done:
        text += f", {_duration((total - done) / rate)} left"
    return text


class BarSafeStream:
    """A log handler's stream that keeps a progress bar on the terminal's last line."""

    def __init__(self, stream: TextIO, bar: Progress) -> None:
        self.stream = stream
        self.bar = bar

    def write(self, text: str) -> int:
        with self.bar.lock:
            if self.bar.shown:
                self.stream.write(CLEAR_LINE)
            written = self.stream.write(text)
            if text.endswith("\n") and self.bar.shown:
                self.stream.write(self.bar.shown)
            return written

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()


class Progress:
    def __init__(
        self,
        stream: TextIO | None = None,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval
        self.clock = clock
        self.lock = threading.RLock()
        self.shown = ""
        self._last: dict[str, float] = {}
        self._started: dict[str, float] = {}
        self._stage_mark = clock()  # a stage starts when the one before it ended
        self._swapped: list[tuple[logging.StreamHandler, TextIO]] = []

    def __enter__(self) -> Progress:
        """While the bar may be up, route the terminal's log handlers around it."""
        if self.tty:
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is self.stream:
                    self._swapped.append((handler, handler.stream))
                    handler.setStream(BarSafeStream(self.stream, self))  # type: ignore[arg-type]
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self.lock:
            if self.shown:
                self.stream.write("\n")
                self.stream.flush()
                self.shown = ""
        for handler, stream in self._swapped:
            handler.setStream(stream)
        self._swapped.clear()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        label = LABELS.get(stage, stage)
        finished = total is not None and done >= total
        now = self.clock()
        started = self._started.setdefault(stage, self._stage_mark)
        speed = pace(done, total, now - started)
        if finished:
            self._stage_mark = now
        if self.tty:
            if total:
                width = 30
                filled = int(width * min(done, total) / total)
                bar = "#" * filled + "-" * (width - filled)
                line = f"{label:16} [{bar}] {done}/{total}"
            else:
                line = f"{label:16} {done}"
            if speed:
                line += f"  {speed}"
            with self.lock:
                self.stream.write(CLEAR_LINE + line)
                self.shown = "" if finished else line
                if finished:
                    self.stream.write("\n")
                self.stream.flush()
            return
        if finished or now - self._last.get(stage, 0) >= self.interval:
            self._last[stage] = now
            log.info(
                "%s: %d%s%s",
                label,
                done,
                f" of {total}" if total else "",
                f" ({speed})" if speed else "",
            )

"""Reading ahead in background threads while the caller works on what it already has.

The full sweep reads the Stash listing and the Plex listing at once (they are separate
servers: the pass waits for the slower one, not for both in turn). Reading ahead changes
no outcome: what a source raises reaches the consumer where it reads that source, and
nothing is read after the consumer stops.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

# Requests in flight to one server, at most (stashplex is a guest on both):
# Stash answers its UI, its scanner and its plugins from one process: two at a time
# (a `StashClient` and its twin hold every request to it, whichever thread asks).
STASH_IN_FLIGHT = 2
# Plex keeps its library in SQLite: a second write in flight makes it unresponsive, and a
# read beside the one write (a listing page, a detail read) is all it takes without slowing it.
PLEX_WRITES_IN_FLIGHT = 1
PLEX_READS_IN_FLIGHT = 1

END = object()  # what a source yields last: the consumer's sign that it is exhausted


class Readers:
    """Sources read each in a daemon thread, one request at a time, into one stream of
    `(name, item)` in the order the items arrived; `(name, END)` closes each source.

    A source reads at most `ahead` items before the consumer calls `release(name)` for
    one it is done with. Use it as a context manager: leaving it stops every thread once
    the request in hand is answered.
    """

    def __init__(self) -> None:
        self._arrived: queue.Queue[tuple[str, Any, BaseException | None]] = queue.Queue()
        self._stopping = threading.Event()
        self._slots: dict[str, threading.Semaphore] = {}
        self._threads: list[threading.Thread] = []
        self._open = 0

    def add(self, name: str, source: Iterable[Any], ahead: int) -> None:
        slots = self._slots[name] = threading.Semaphore(ahead)
        thread = threading.Thread(
            target=self._read, args=(name, source, slots), name=f"read-{name}", daemon=True
        )
        self._threads.append(thread)
        self._open += 1
        thread.start()

    def _read(self, name: str, source: Iterable[Any], slots: threading.Semaphore) -> None:
        items = iter(source)
        try:
            while True:
                slots.acquire()
                if self._stopping.is_set():
                    return
                try:
                    item = next(items)
                except StopIteration:
                    self._arrived.put((name, END, None))
                    return
                self._arrived.put((name, item, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            self._arrived.put((name, None, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def release(self, name: str) -> None:
        """The consumer is done with one item of `name`: its reader may read one more."""
        self._slots[name].release()

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        while self._open:
            name, item, error = self._arrived.get()
            if error is not None:
                raise error
            if item is END:
                self._open -= 1
            yield name, item

    def close(self) -> None:
        """Stop reading and wait for the threads (each finishes the request in hand)."""
        self._stopping.set()
        for slots in self._slots.values():
            slots.release()
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> Readers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

"""Two keyset walks over one listing, one up from the lowest id and one down from the
highest, that stop where they meet.

A listing paged by id ("id greater than the last one read") can ask for a page only once
the page before it is in, so one walk keeps Stash busy only while a request is in flight,
not while its answer is read and parsed. Stash answers two requests at once
(`readahead.STASH_IN_FLIGHT`): two walks from both ends read the same listing in about half
the requests each. Each row is kept by the walk that read it first; a walk stops at a short
page (nothing is left on its side) or at a row the other walk kept (they met). Either way
every id is then kept by one walk or the other, so both stop.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

UP, DOWN = "up", "down"


class MeetingWalks:
    """What the walk up and the walk down have kept so far; shared by their two threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._highest_up: int | None = None  # the highest id the walk up kept
        self._lowest_down: int | None = None  # the lowest id the walk down kept
        self._met = False

    @property
    def met(self) -> bool:
        """Every id is kept by one walk or the other: neither need ask again."""
        return self._met

    def keep(self, side: str, ids: Sequence[int], full: bool) -> tuple[int, bool]:
        """Of one page's ids, in its walk's order (ascending up, descending down), how many
        its walk keeps (they come first) and whether it goes on; `full` is whether the page
        holds as many rows as were asked for."""
        with self._lock:
            if self._met:
                return 0, False
            if side == UP:
                bound = self._lowest_down
                kept = _ahead(ids, bound, up=True)
                if kept:
                    self._highest_up = ids[kept - 1]
            elif side == DOWN:
                bound = self._highest_up
                kept = _ahead(ids, bound, up=False)
                if kept:
                    self._lowest_down = ids[kept - 1]
            else:
                raise ValueError(f"a walk goes {UP!r} or {DOWN!r}, not {side!r}")
            if kept < len(ids) or not full:
                self._met = True
            return kept, not self._met


def _ahead(ids: Sequence[int], bound: int | None, up: bool) -> int:
    """How many of `ids`, from the first, lie short of `bound` (the other walk's last kept
    id; None: it kept none yet) going up or down."""
    if bound is None:
        return len(ids)
    count = 0
    for value in ids:
        if (value >= bound) if up else (value <= bound):
            break
        count += 1
    return count

"""The Plex side's file index: which item holds which file, kept fresh cheaply.

A full sweep pages through every configured library once. After that, a refresh
asks each library only for items updated or rated since the newest stamp already seen
(Plex's own clock, re-reading that last second), so new, moved, edited and re-rated
items show up without a full listing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from reconciler.activity import Seen
from reconciler.matching import PathIndex
from reconciler.models import PlexItem
from reconciler.pathmap import path_key
from reconciler.plex import LISTING_PAGE_SIZE, PlexClient, Section, fingerprint

log = logging.getLogger(__name__)

CHANGES_PAGE_SIZE = 1000  # after a run of writes every written item is listed again


def _mark(stamp: int, print_: str) -> int:
    """An item's `updatedAt` and fingerprint (16 hex digits) as one int: one small object per
    item for the daemon's whole life instead of an int and a string."""
    return stamp << 64 | int(print_, 16)


class _FilterIgnored(Exception):
    """Plex listed an item its filter excludes: it did not understand the filter."""

class PlexCatalog:
    def __init__(
        self,
        plex: PlexClient,
        clock: Callable[[], float] = time.monotonic,
        by_name: bool = True,
    ) -> None:
        self.plex = plex
        self._by_name = by_name  # index file names too (`match: filename`)
        self.index = PathIndex(by_name=by_name)
        # ratingKey -> `_mark` of its updatedAt and fingerprint, as last listed or written
        self.marks: dict[int, int] = {}
        self.newest_stamp: int | None = None
        self.built = False
        # Plex's OR groups ask for "updated or rated" in one request; a PMS that does not
        # understand them answers with items outside the filter, and is then asked twice
        self.or_groups = True
        self.ratings_filter = True
        # with plays or resume points carried back to Stash, "viewed" joins the OR group
        self.views_filter = False
        # each listed item's activity, by ratingKey, while plex_to_stash wants it (a full
        # pass carries it for every scene); None: not kept
        self.activity: dict[int, Seen] | None = None
        self._clock = clock
        self._refreshed_at: float | None = None

    def _take(self, item: PlexItem) -> int:
        """Index an item; returns its newest stamp."""
        self.index.add(item)
        if self.activity is not None:
            self.activity[item.rating_key] = Seen.of(item)
        self.note(item)
        return item.changed_at

    def sections(self) -> list[Section]:
        return self.plex.configured_sections()

    def holds(self, plex_path: str) -> bool:
        """Whether the path lies inside one of the configured libraries' folders."""
        key = path_key(plex_path)
        for section in self.sections():
            for location in section.locations:
                prefix = path_key(location)
                if key == prefix or key.startswith(prefix.rstrip("/") + "/"):
                    return True
        return False

    def pages(self) -> Iterator[list[PlexItem]]:
        """Every item of the configured libraries, a listing page at a time; reads only (the
        sweep runs it in a thread of its own while Stash is read)."""
        for section in self.sections():
            page: list[PlexItem] = []
            for item in self.plex.list_items(section):
                page.append(item)
                if len(page) == LISTING_PAGE_SIZE:
                    yield page
                    page = []
            if page:
                yield page

    @contextmanager
    def rebuilding(self) -> Iterator[Callable[[list[PlexItem]], None]]:
        """Rebuild the index from listed pages, given to the function this yields.

        While it runs, look-ups see the items listed so far (a whole new picture: nothing of
        the last one is mixed in); an error or an interruption puts the last complete picture
        back, so only a sweep that listed everything replaces it.
        """
        before = (self.index, self.marks, self.newest_stamp)
        self.index, self.marks = PathIndex(by_name=self._by_name), {}
        self.newest_stamp = None

        def take(page: list[PlexItem]) -> None:
            for item in page:
                stamp = self._take(item)
                self.newest_stamp = stamp if self.newest_stamp is None else max(
                    self.newest_stamp, stamp
                )

        try:
            yield take
        except BaseException:
            self.index, self.marks, self.newest_stamp = before
            raise
        self.built = True
        self._refreshed_at = self._clock()

    def sweep(self) -> Iterator[PlexItem]:
        """List every item of the configured libraries, rebuilding the index as it goes."""
        with self.rebuilding() as take:
            for page in self.pages():
                take(page)
                yield from page

    def build(self) -> None:
        for _ in self.sweep():
            pass

    def changed_since(self, stamp: int | None) -> list[PlexItem]:
        """Items updated or rated at or after `stamp` (Plex's epoch seconds; new items count as
        updated), indexed on the way; every item when `stamp` is None."""
        return list(self.changes_since(stamp))

    def changes_since(self, stamp: int | None) -> Iterator[PlexItem]:
        """`changed_since`, one item at a time as the pages arrive: after a full pass wrote
        every item, the next poll lists the whole library, which need not be held at once.

        Asks from the second before: whether Plex's `>>=` includes its bound or not, the
        items of `stamp` itself come back. Never below 1: Plex reads `-N` as "N seconds ago".
        An item may come twice when Plex turns out to ignore a filter halfway through.
        """
        bound = max(1, stamp - 1) if stamp else 1
        for section in self.sections():
            for item in self._changes_in(section, bound):
                newest = self._take(item)
                self.newest_stamp = max(self.newest_stamp or 0, newest)
                yield item
        self._refreshed_at = self._clock()

    def _changes_in(self, section: Section, bound: int) -> Iterator[PlexItem]:
        updated = ("updatedAt>>", bound)
        rated = ("lastRatedAt>>", bound)
        viewed = ("lastViewedAt>>", bound)
        if self.or_groups:
            either = [("push", 1), updated, ("or", 1), rated]
            if self.views_filter:
                either += [("or", 1), viewed]
            try:
                yield from self._listing(
                    section,
                    [*either, ("pop", 1)],
                    lambda it: it.updated_at >= bound
                    or it.last_rated_at >= bound
                    or (self.views_filter and it.last_viewed_at >= bound),
                )
                return
            except _FilterIgnored:
                log.info(
                    "Plex does not understand OR groups in filters: asking for updates and "
                    "ratings in two requests from now on"
                )
                self.or_groups = False
        keys: set[int] = set()
        for item in self._listing(section, [updated], lambda it: True):
            keys.add(item.rating_key)
            yield item
        if self.ratings_filter:
            try:
                for item in self._listing(section, [rated], lambda it: it.last_rated_at >= bound):
                    if item.rating_key not in keys:
                        keys.add(item.rating_key)
                        yield item
            except _FilterIgnored:
                log.warning(
                    "Plex does not filter by lastRatedAt: a rating changed in Plex is "
                    "put back by the next full pass only"
                )
                self.ratings_filter = False
        if self.views_filter:
            # without OR groups this is a third request; a real PMS understands them
            try:
                for item in self._listing(
                    section, [viewed], lambda it: it.last_viewed_at >= bound
                ):
                    if item.rating_key not in keys:
                        keys.add(item.rating_key)
                        yield item
            except _FilterIgnored:
                pass

    def _listing(
        self,
        section: Section,
        where: Sequence[tuple[str, Any]],
        wanted: Callable[[PlexItem], bool],
    ) -> Iterator[PlexItem]:
        """A filtered listing, raising `_FilterIgnored` as soon as Plex answers with an item the
        filter excludes (a real PMS ignores a filter it does not understand and lists the whole
        library)."""
        for item in self.plex.list_items(section, where, page_size=CHANGES_PAGE_SIZE):
            if not wanted(item):
                raise _FilterIgnored
            yield item

    def refresh(self, max_age: float = 0.0) -> list[PlexItem]:
        """Bring the index up to date: a full build the first time, only the changes after."""
        if not self.built:
            self.build()
            return []
        if self._refreshed_at is not None and self._clock() - self._refreshed_at < max_age:
            return []
        return self.changed_since(self.newest_stamp)

    def forget(self, rating_key: int) -> None:
        """An item Plex no longer has."""
        self.index.remove(rating_key)
        self.marks.pop(rating_key, None)

    def knows(self, rating_key: int) -> bool:
        """Whether the item was listed (and not forgotten since)."""
        return rating_key in self.marks

    def note(self, item: PlexItem) -> None:
        """Remember an item as listed, or as stashplex just left it (its stamp moved with the
        write)."""
        self.marks[item.rating_key] = _mark(item.updated_at, fingerprint(item))

    def unchanged_since_sync(self, rating_key: int, stamp: int | None, print_: str | None) -> bool:
        """Whether the item still looks exactly as stashplex left it."""
        if stamp is None or not print_:
            return False
        try:
            return self.marks.get(rating_key) == _mark(stamp, print_)
        except ValueError:  # not a fingerprint this version wrote
            return False

"""The Plex side's file index: which item holds which file, kept fresh cheaply.

A full build pages through every configured library once. After that, a refresh
asks each library only for items updated since the newest stamp already seen
(Plex's own clock, re-reading the last second), so new and moved files show up
without a full listing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from reconciler.matching import PathIndex
from reconciler.models import PlexItem
from reconciler.plex import PlexClient, Section


class PlexCatalog:
    def __init__(self, plex: PlexClient, clock=time.monotonic) -> None:
        self.plex = plex
        self.index = PathIndex()
        self.items: dict[int, PlexItem] = {}
        self.newest_stamp: int | None = None
        self.built = False
        self._clock = clock
        self._refreshed_at: float | None = None

    def _take(self, item: PlexItem) -> None:
        self.index.add(item)
        self.items[item.rating_key] = item
        stamp = max(item.updated_at, item.added_at)
        if self.newest_stamp is None or stamp > self.newest_stamp:
            self.newest_stamp = stamp

    def sections(self) -> list[Section]:
        return self.plex.configured_sections()

    def sweep(self) -> Iterator[PlexItem]:
        """List every item of the configured libraries, rebuilding the index as it goes."""
        sections = self.sections()
        fresh_index = PathIndex()
        fresh_items: dict[int, PlexItem] = {}
        newest = None
        for section in sections:
            for item in self.plex.list_items(section):
                fresh_index.add(item)
                fresh_items[item.rating_key] = item
                stamp = max(item.updated_at, item.added_at)
                newest = stamp if newest is None or stamp > newest else newest
                yield item
        self.index, self.items, self.newest_stamp = fresh_index, fresh_items, newest
        self.built = True
        self._refreshed_at = self._clock()

    def build(self) -> None:
        for _ in self.sweep():
            pass

    def changed_since(self, stamp: int) -> list[PlexItem]:
        """Items updated or added at or after `stamp` (Plex's epoch seconds), indexed on the way."""
        changed = []
        for section in self.sections():
            for item in self.plex.list_items(section, updated_since=stamp):
                self._take(item)
                changed.append(item)
        self._refreshed_at = self._clock()
        return changed

    def refresh(self, max_age: float = 0.0) -> list[PlexItem]:
        """Bring the index up to date: a full build the first time, only the changes after."""
        if not self.built:
            self.build()
            return []
        if self._refreshed_at is not None and self._clock() - self._refreshed_at < max_age:
            return []
        return self.changed_since(self.newest_stamp or 0)

    def forget(self, rating_key: int) -> None:
        """An item Plex no longer has."""
        self.index.remove(rating_key)
        self.items.pop(rating_key, None)

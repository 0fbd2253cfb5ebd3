"""The Plex side's file index: which item holds which file, kept fresh cheaply.

A full sweep pages through every configured library once. After that, a refresh
asks each library only for items updated since the newest stamp already seen
(Plex's own clock, re-reading that last second), so new, moved and edited items
show up without a full listing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from reconciler.matching import PathIndex
from reconciler.models import PlexItem
from reconciler.pathmap import path_key
from reconciler.plex import PlexClient, Section, fingerprint


class PlexCatalog:
    def __init__(self, plex: PlexClient, clock: Callable[[], float] = time.monotonic) -> None:
        self.plex = plex
        self.index = PathIndex()
        self.stamps: dict[int, int] = {}
        self.fingerprints: dict[int, str] = {}
        self.newest_stamp: int | None = None
        self.built = False
        self._clock = clock
        self._refreshed_at: float | None = None

    def _take(
        self,
        item: PlexItem,
        index: PathIndex,
        stamps: dict[int, int],
        fingerprints: dict[int, str],
    ) -> int:
        """Index an item; returns its newest stamp."""
        index.add(item)
        stamps[item.rating_key] = item.updated_at
        fingerprints[item.rating_key] = fingerprint(item)
        return max(item.updated_at, item.added_at)

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

    def sweep(self) -> Iterator[PlexItem]:
        """List every item of the configured libraries, rebuilding the index as it goes."""
        sections = self.sections()
        index = PathIndex()
        stamps: dict[int, int] = {}
        fingerprints: dict[int, str] = {}
        newest: int | None = None
        for section in sections:
            for item in self.plex.list_items(section):
                stamp = self._take(item, index, stamps, fingerprints)
                newest = stamp if newest is None else max(newest, stamp)
                yield item
        # swapped in whole: an interrupted sweep leaves the last complete picture in place
        self.index, self.stamps, self.fingerprints = index, stamps, fingerprints
        self.newest_stamp = newest
        self.built = True
        self._refreshed_at = self._clock()

    def build(self) -> None:
        for _ in self.sweep():
            pass

    def changed_since(self, stamp: int) -> list[PlexItem]:
        """Items updated at or after `stamp` (Plex's epoch seconds; new items count as updated),
        indexed on the way.

        Asks from the second before: whether Plex's `>>=` includes its bound or not,
        the items of `stamp` itself come back.
        """
        changed = []
        for section in self.sections():
            # after a run of writes every written item is listed again: big pages, few requests
            for item in self.plex.list_items(section, updated_since=stamp - 1, page_size=1000):
                newest = self._take(item, self.index, self.stamps, self.fingerprints)
                self.newest_stamp = max(self.newest_stamp or 0, newest)
                if item.updated_at >= stamp:
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
        self.stamps.pop(rating_key, None)
        self.fingerprints.pop(rating_key, None)

    def note(self, item: PlexItem) -> None:
        """Remember an item as stashplex just left it (its stamp moved with the write)."""
        self.stamps[item.rating_key] = item.updated_at
        self.fingerprints[item.rating_key] = fingerprint(item)

    def unchanged_since_sync(self, rating_key: int, stamp: int | None, print_: str | None) -> bool:
        """Whether the item still looks exactly as stashplex left it."""
        return self.stamps.get(rating_key) == stamp and self.fingerprints.get(rating_key) == print_

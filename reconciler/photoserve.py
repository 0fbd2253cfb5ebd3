"""Performer photos served on `server.listen`, for a Stash that needs an API key.

Plex is given `{server.public_url}/performer/{id}/image?t={stamp}` (see `photos.py`) and
fetches it itself; stashplex fetches the photo from Stash with the key and keeps it in memory,
keyed by performer and stamp (a new photo in Stash comes with a new stamp, hence a new URL),
the least recently asked for leaving first once the cache holds `max_bytes`.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

CACHE_BYTES = 32 * 1024 * 1024
PHOTO_ROUTE = re.compile(r"/performer/(\d+)/image")
_STAMP = re.compile(r"[0-9]{0,20}")

Fetch = Callable[[str, str], tuple[bytes, str]]  # (performer id, stamp) -> (bytes, type)


@dataclass(frozen=True)
class Photo:
    data: bytes
    content_type: str


class PerformerPhotos:
    """Photos from Stash, by (performer id, stamp), in a memory-bounded cache."""

    def __init__(self, fetch: Fetch, max_bytes: int = CACHE_BYTES) -> None:
        self.fetch = fetch
        self.max_bytes = max_bytes
        self._cache: OrderedDict[tuple[str, str], Photo] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    @staticmethod
    def valid_stamp(stamp: str) -> bool:
        """Stash's `?t=` is Unix seconds; anything else is no URL stashplex gave out."""
        return _STAMP.fullmatch(stamp) is not None

    def photo(self, performer_id: str, stamp: str) -> Photo:
        """The photo, from the cache or from Stash (what Stash raises goes to the caller)."""
        key = (performer_id, stamp)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        data, content_type = self.fetch(performer_id, stamp)
        photo = Photo(data, content_type)
        if len(data) <= self.max_bytes:
            with self._lock:
                if key not in self._cache:
                    self._cache[key] = photo
                    self._size += len(data)
                while self._size > self.max_bytes:
                    _, gone = self._cache.popitem(last=False)
                    self._size -= len(gone.data)
        return photo

    @property
    def cached_bytes(self) -> int:
        with self._lock:
            return self._size

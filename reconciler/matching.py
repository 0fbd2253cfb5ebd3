"""Finding a scene's Plex item by file path, from an index built by listing the libraries.

Pure logic: the index is filled by whoever lists Plex (a full sweep pages through
every library; the Plex poll adds what changed), and `match` applies the rules.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.errors import InvalidSceneData, PlexNotFound, PlexPermanentError
from reconciler.models import PlexItem, Scene
from reconciler.pathmap import PathMap, path_key


class PathIndex:
    """Plex file path (normal form) -> the items that hold that file."""

    def __init__(self, items: Iterable[PlexItem] = ()) -> None:
        self._by_path: dict[str, list[tuple[int, int]]] = {}
        self._paths_of: dict[int, list[str]] = {}
        for item in items:
            self.add(item)

    def add(self, item: PlexItem) -> None:
        """Index an item (again): a re-listed item replaces what was known of it."""
        self.remove(item.rating_key)
        keys = [path_key(file) for file in item.files]
        self._paths_of[item.rating_key] = keys
        for key in keys:
            self._by_path.setdefault(key, []).append((item.rating_key, item.section_id))

    def remove(self, rating_key: int) -> None:
        for key in self._paths_of.pop(rating_key, []):
            holders = [h for h in self._by_path.get(key, []) if h[0] != rating_key]
            if holders:
                self._by_path[key] = holders
            else:
                self._by_path.pop(key, None)

    def lookup(self, plex_path: str) -> list[tuple[int, int]]:
        """(ratingKey, section id) of every item holding this file, lowest ratingKey first."""
        return sorted(set(self._by_path.get(path_key(plex_path), [])))


def match(scene: Scene, index: PathIndex, path_map: PathMap, strict: bool) -> tuple[int, int]:
    """The (ratingKey, section id) of the scene's Plex item, or the error that says why not."""
    if not scene.path:
        raise InvalidSceneData(f"{scene.label}: missing file path; Stash lists no file for it")
    plex_path = path_map.to_plex(scene.path)
    found = index.lookup(plex_path)
    if not found:
        raise PlexNotFound(
            f"{scene.label}: no Plex item has the file {plex_path!r} (not scanned yet?)"
        )
    if len(found) > 1 and strict:
        keys = ", ".join(str(rating_key) for rating_key, _ in found)
        raise PlexPermanentError(
            f"{scene.label}: several Plex items hold {plex_path!r} (ratingKeys {keys}); "
            "with sync.strict_matching: true none is edited"
        )
    return found[0]

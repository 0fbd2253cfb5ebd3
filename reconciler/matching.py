"""Finding a scene's Plex items, from an index built by listing the libraries.

Pure logic: the index is filled by whoever lists Plex (a full sweep pages through
every library; the Plex poll adds what changed), and `match_items` applies the rules.
Each of a scene's files is looked up on its own, by its mapped path (`match: path`) or by
its file name compared without regard to case (`match: filename`, for setups whose paths
cannot be mapped), so a scene with several files is written to each item that holds one.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.errors import InvalidSceneData, PlexNotFound, PlexPermanentError
from reconciler.models import PlexItem, Scene
from reconciler.pathmap import PathMap, path_key

BY_PATH = "path"
BY_FILENAME = "filename"
MATCH_MODES = (BY_PATH, BY_FILENAME)


def file_name(path: str) -> str:
    """A file's name without its folders, in the form names are compared in (case folded)."""
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].casefold()


# a holder (ratingKey, section id) is kept as one int, ratingKey in the high bits
SECTION_BITS = 32
_SECTION_MASK = (1 << SECTION_BITS) - 1

# one holder as a packed int, several as a tuple of them (a file that two items hold)
_Holders = int | tuple[int, ...]


def _pack(rating_key: int, section_id: int) -> int:
    if not 0 <= section_id <= _SECTION_MASK:
        raise ValueError(f"Plex item {rating_key}: library section id {section_id} out of range")
    return rating_key << SECTION_BITS | section_id


def _unpack(holder: int) -> tuple[int, int]:
    return holder >> SECTION_BITS, holder & _SECTION_MASK


def _each(holders: _Holders) -> tuple[int, ...]:
    return (holders,) if isinstance(holders, int) else holders


class PathIndex:
    """Plex file path (normal form) -> the items that hold that file.

    An idle daemon keeps this for its whole life, one entry per file of every library, so
    it is kept compact: each file's key maps to a packed holder (a tuple of them for a file
    several items hold), each item to its file key (the same string object; a tuple for an
    item with several files), and file names, derived from those keys, are indexed only
    when something matches by them (`by_name`).
    """

    def __init__(self, items: Iterable[PlexItem] = (), by_name: bool = True) -> None:
        self._by_path: dict[str, _Holders] = {}
        self._keys_of: dict[int, str | tuple[str, ...]] = {}
        self._by_name: dict[str, _Holders] | None = {} if by_name else None
        for item in items:
            self.add(item)

    def add(self, item: PlexItem) -> None:
        """Index an item (again): a re-listed item replaces what was known of it."""
        holder = _pack(item.rating_key, item.section_id)
        keys = tuple(dict.fromkeys(path_key(file) for file in item.files))
        known = self._keys_of.get(item.rating_key)
        if known is not None:
            if _as_keys(known) == keys and all(
                holder in _each(self._by_path[key]) for key in keys
            ):
                return  # listed again as it was: the first poll after a pass re-lists many
            self.remove(item.rating_key)
        if not keys:
            return
        for key in keys:
            _put(self._by_path, key, holder)
        self._keys_of[item.rating_key] = keys[0] if len(keys) == 1 else keys
        if self._by_name is not None:
            for name in dict.fromkeys(map(file_name, keys)):
                _put(self._by_name, name, holder)

    def remove(self, rating_key: int) -> None:
        known = self._keys_of.pop(rating_key, None)
        if known is None:
            return
        keys = _as_keys(known)
        for key in keys:
            _drop(self._by_path, key, rating_key)
        if self._by_name is not None:
            for name in dict.fromkeys(map(file_name, keys)):
                _drop(self._by_name, name, rating_key)

    def lookup(self, plex_path: str) -> list[tuple[int, int]]:
        """(ratingKey, section id) of every item holding this file, lowest ratingKey first."""
        return _found(self._by_path.get(path_key(plex_path)))

    def lookup_key(self, key: str) -> list[tuple[int, int]]:
        """`lookup` for a path already in normal form (`path_key`, as `PathMap.to_plex` gives)."""
        holders = self._by_path.get(key)
        if isinstance(holders, int):
            return [_unpack(holders)]
        return _found(holders)

    def lookup_name(self, name: str) -> list[tuple[int, int]]:
        """(ratingKey, section id) of every item holding a file of this name, in any folder."""
        if self._by_name is None:
            raise RuntimeError("this index was built without file names (match: path)")
        return _found(self._by_name.get(file_name(name)))


def _as_keys(known: str | tuple[str, ...]) -> tuple[str, ...]:
    return (known,) if isinstance(known, str) else known


def _found(holders: _Holders | None) -> list[tuple[int, int]]:
    if holders is None:
        return []
    return sorted(map(_unpack, set(_each(holders))))


def _put(table: dict[str, _Holders], key: str, holder: int) -> None:
    held = table.get(key)
    if held is None:
        table[key] = holder
    elif holder not in _each(held):
        table[key] = (*_each(held), holder)


def _drop(table: dict[str, _Holders], key: str, rating_key: int) -> None:
    held = table.get(key)
    if held is None:
        return
    left = tuple(h for h in _each(held) if h >> SECTION_BITS != rating_key)
    if not left:
        del table[key]
    else:
        table[key] = left[0] if len(left) == 1 else left


def candidates(
    stash_path: str, index: PathIndex, path_map: PathMap, by: str = BY_PATH
) -> list[tuple[int, int]]:
    """The items that hold one Stash file, lowest ratingKey first."""
    if by == BY_FILENAME:
        return index.lookup_name(stash_path)
    return index.lookup_key(path_map.to_plex(stash_path))  # to_plex gives the normal form


def looked_for(stash_path: str, path_map: PathMap, by: str = BY_PATH) -> str:
    """How a message names what was looked for in Plex: the mapped path, or the file name."""
    if by == BY_FILENAME:
        return f"a file named {file_name(stash_path)!r}"
    return f"the file {path_map.to_plex(stash_path)!r}"


def match_items(
    scene: Scene, index: PathIndex, path_map: PathMap, strict: bool, by: str = BY_PATH
) -> list[tuple[int, int]]:
    """The (ratingKey, section id) of each Plex item holding one of the scene's files, the
    primary file's first, or the error that says why there is none to write.

    Each file is decided on its own: none found is fine while another file is found (Plex
    may not have scanned it yet); several items for one file are ambiguous, a permanent error
    under `strict`, else the lowest ratingKey is taken.
    """
    if not scene.files:
        raise InvalidSceneData(f"{scene.label}: missing file path; Stash lists no file for it")
    chosen: list[tuple[int, int]] = []
    for stash_path in scene.files:
        found = candidates(stash_path, index, path_map, by)
        if len(found) > 1 and strict:
            keys = ", ".join(str(rating_key) for rating_key, _ in found)
            raise PlexPermanentError(
                f"{scene.label}: several Plex items hold {looked_for(stash_path, path_map, by)}"
                f" (ratingKeys {keys}); with sync.strict_matching: true none is edited"
            )
        if found and found[0] not in chosen:
            chosen.append(found[0])
    if not chosen:
        wanted = " or ".join(looked_for(f, path_map, by) for f in scene.files)
        raise PlexNotFound(f"{scene.label}: no Plex item has {wanted} (not scanned yet?)")
    return chosen


def match(
    scene: Scene, index: PathIndex, path_map: PathMap, strict: bool, by: str = BY_PATH
) -> tuple[int, int]:
    """The (ratingKey, section id) of the scene's first found Plex item (see `match_items`)."""
    return match_items(scene, index, path_map, strict, by)[0]


def containing_location(folder: str, locations: tuple[str, ...] | list[str]) -> str | None:
    """`folder` spelled from the library location that holds it (Plex's own spelling of the
    location, its separators for the rest), or None when no location holds it."""
    key = path_key(folder)
    for location in locations:
        prefix = path_key(location)
        if key == prefix or key.startswith(prefix.rstrip("/") + "/"):
            rest = key[len(prefix) :]
            if "\\" in location:
                rest = rest.replace("/", "\\")
            return location.rstrip("/\\") + rest if rest else location
    return None

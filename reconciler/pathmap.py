"""Mapping file paths between how Stash sees them and how Plex sees them.

Pure logic. Paths are compared in a normal form: forward slashes, no trailing
slash, and lower-cased when they are Windows paths (a drive letter or a UNC
share), because Windows file systems ignore case.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WINDOWS = re.compile(r"^(?:[A-Za-z]:/|//)")


def _unify(path: str) -> str:
    unified = path.replace("\\", "/")
    return unified.rstrip("/") or unified[:1]


def path_key(path: str) -> str:
    """The normal form used to compare a Plex file path with a mapped Stash path."""
    unified = _unify(path)
    return unified.lower() if _WINDOWS.match(unified) else unified


def _remainder(path: str, prefix: str) -> str | None:
    """What follows `prefix` in `path` (both unified), or None when `path` is not under it."""
    head = path[: len(prefix)]
    if path_key(head) != path_key(prefix):
        return None
    rest = path[len(prefix) :]
    if rest and not rest.startswith("/") and not prefix.endswith("/"):
        return None
    return rest


class PathMap:
    """Stash prefix -> Plex prefix; the longest matching prefix wins."""

    def __init__(self, mappings: Iterable[tuple[str, str]] = ()) -> None:
        mappings = list(mappings)
        pairs = [(_unify(stash), _unify(plex)) for stash, plex in mappings]
        self._to_plex = sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)
        # the reverse direction writes paths the way Stash spells them (its separators, its case)
        self._to_stash = sorted(
            ((stash, _unify(plex)) for stash, plex in mappings),
            key=lambda pair: len(pair[1]),
            reverse=True,
        )

    def __bool__(self) -> bool:
        return bool(self._to_plex)

    def to_plex(self, stash_path: str) -> str:
        """The key of the Plex path for a Stash file path (unchanged when no prefix matches)."""
        path = _unify(stash_path)
        for stash_prefix, plex_prefix in self._to_plex:
            rest = _remainder(path, stash_prefix)
            if rest is not None:
                return path_key(plex_prefix + rest)
        return path_key(path)

    def to_stash(self, plex_path: str) -> str:
        """The Stash path of a Plex file, spelled as Stash does, for items Plex found first."""
        path = _unify(plex_path)
        for stash_prefix, plex_prefix in self._to_stash:
            rest = _remainder(path, plex_prefix)
            if rest is not None:
                separator = "\\" if "\\" in stash_prefix else "/"
                return stash_prefix.rstrip("/\\") + rest.replace("/", separator)
        return plex_path

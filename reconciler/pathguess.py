"""Proposing `path_map` entries from file names that Stash and Plex both list.

Pure logic. When a Stash file and a Plex file share their name, the folders they
share at the end (`Studio/2021/scene.mp4`) are the same folders seen from two
mounts, and what comes before is one Stash prefix and one Plex prefix. Each such
pair of prefixes is scored by how many of the sampled Stash files it would map
onto a file Plex lists; the best ones are proposed, the greediest first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.pathmap import PathMap, path_key

_SEPARATORS = re.compile(r"[\\/]")
MAX_PROPOSALS = 3
SAMPLE_SIZE = 200  # Stash scenes a check compares with Plex


@dataclass(frozen=True)
class Proposal:
    stash: str
    plex: str
    matches: int  # sampled files this entry maps onto a Plex file (the entries before it aside)


def _parts(path: str) -> list[str]:
    return [part for part in _SEPARATORS.split(path) if part]


def _prefix(path: str, keep_parts: int) -> str:
    """`path` without its last `keep_parts` components, spelled as in `path`."""
    cut = len(path)
    for _ in range(keep_parts):
        cut = max(path.rfind("/", 0, cut), path.rfind("\\", 0, cut))
    return path[:cut]


def _shared_tail(stash_path: str, plex_path: str) -> int:
    """How many trailing components two paths share (compared case-insensitively), leaving
    each at least one folder of its own: a prefix is never a bare root or drive."""
    a, b = _parts(stash_path), _parts(plex_path)
    most = min(len(a), len(b)) - 1
    count = 0
    while count < most and a[-1 - count].casefold() == b[-1 - count].casefold():
        count += 1
    return count


def matched(stash_paths: Iterable[str], plex_keys: set[str], path_map: PathMap) -> set[str]:
    """The Stash paths that `path_map` maps onto a file in `plex_keys` (normal forms)."""
    return {path for path in stash_paths if path_map.to_plex(path) in plex_keys}


def propose(stash_paths: list[str], plex_paths: Iterable[str]) -> list[Proposal]:
    """Up to three `path_map` entries that together map the most sampled files onto Plex's."""
    plex_paths = list(plex_paths)
    plex_keys = {path_key(path) for path in plex_paths}
    by_name: dict[str, list[str]] = {}
    for path in plex_paths:
        parts = _parts(path)
        if parts:
            by_name.setdefault(parts[-1].casefold(), []).append(path)
    candidates: Counter[tuple[str, str]] = Counter()
    for stash_path in stash_paths:
        parts = _parts(stash_path)
        if not parts:
            continue
        for plex_path in by_name.get(parts[-1].casefold(), []):
            tail = _shared_tail(stash_path, plex_path)
            stash_prefix, plex_prefix = _prefix(stash_path, tail), _prefix(plex_path, tail)
            if tail and path_key(stash_prefix) != path_key(plex_prefix):
                candidates[(stash_prefix, plex_prefix)] += 1
    chosen: list[Proposal] = []
    left = set(stash_paths)
    # the most frequent pairs first; a pair is then scored by what it maps among those left
    ranked = [pair for pair, _ in candidates.most_common(50)]
    while left and len(chosen) < MAX_PROPOSALS:
        scored = [(len(matched(left, plex_keys, PathMap([pair]))), pair) for pair in ranked]
        scored = [entry for entry in scored if entry[0] > 0]
        if not scored:
            break
        hits, pair = max(scored, key=lambda entry: entry[0])
        chosen.append(Proposal(pair[0], pair[1], hits))
        left -= matched(left, plex_keys, PathMap([pair]))
        ranked.remove(pair)
    return chosen

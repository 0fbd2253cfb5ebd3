"""The independent yardstick of the reliability tests: does every Plex item say what Stash says?

Written from the README's table ("What goes where"), not from stashplex's code: the Stash side
is read from the Stash emulator (`stash.scenes()`, the same answer a GraphQL client gets), the
Plex side from the Plex emulator (`plex.items()`), and paths are mapped with the same
`path_map` pairs the config holds.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.emulators.plex import PlexItem
from reconciler.emulators.stash import default_screenshot

FIELDS = ("title", "summary", "date", "studio", "performers", "tags", "collection", "rating",
          "poster")


def to_plex_path(stash_path: str, path_map: Sequence[tuple[str, str]]) -> str:
    """The Plex path of a Stash file: the longest matching Stash prefix wins."""
    for stash_prefix, plex_prefix in sorted(path_map, key=lambda pair: -len(pair[0])):
        if stash_path == stash_prefix or stash_path.startswith(stash_prefix.rstrip("/") + "/"):
            return plex_prefix.rstrip("/") + stash_path[len(stash_prefix.rstrip("/")):]
    return stash_path


def wanted(scene: dict, covers: dict[str, bytes] | None = None) -> dict:
    """What the Plex item of `scene` must say, field by field (README: "What goes where")."""
    studio = (scene.get("studio") or {}).get("name")
    rating = scene.get("rating100")
    cover = (covers or {}).get(str(scene["id"]))
    if cover is None:
        cover = default_screenshot(int(scene["id"]))
    return {
        "title": scene.get("title"),
        "summary": scene.get("details") or "",
        "date": scene.get("date"),
        "studio": studio,
        "performers": sorted({p["name"] for p in scene.get("performers") or []}),
        "tags": sorted({t["name"] for t in scene.get("tags") or []}),
        "collection": studio,
        "rating": None if rating is None else round(rating / 10, 1),
        "poster": hashlib.sha1(cover).hexdigest(),
    }


def shown(item: PlexItem, studio: str | None) -> dict:
    """The same fields as the Plex item shows them."""
    return {
        "title": item.title,
        "summary": item.summary or "",
        "date": item.originally_available_at,
        "studio": item.studio,
        "performers": sorted(set(item.actors)),
        "tags": sorted(set(item.genres)),
        # the studio is added as a collection; other collections are left alone
        "collection": studio if studio in item.collections else sorted(item.collections),
        "rating": None if item.user_rating is None else round(item.user_rating, 1),
        "poster": item.poster_sha1,
    }


@dataclass(frozen=True)
class Difference:
    """One way in which Plex does not say what Stash says."""

    scene_id: str
    rating_key: int | None
    field: str
    plex: object
    stash: object

    def __str__(self) -> str:
        if self.rating_key is None:
            return f"scene {self.scene_id}: {self.plex} Plex items hold {self.stash!r}"
        return (
            f"scene {self.scene_id} / Plex item {self.rating_key}: {self.field} is "
            f"{self.plex!r}, Stash says {self.stash!r}"
        )


def differences(
    scenes: Iterable[dict],
    items: Iterable[PlexItem],
    path_map: Sequence[tuple[str, str]],
    covers: dict[str, bytes] | None = None,
    fields: Sequence[str] = FIELDS,
) -> list[Difference]:
    """Every way in which Plex does not say what Stash says; empty when all agree.

    Each Stash scene's primary file must be held by exactly one Plex item, and that item must
    show every synced field as the scene has it.
    """
    holders: dict[str, list[PlexItem]] = defaultdict(list)
    for item in items:
        for file in item.files:
            holders[file].append(item)
    found_differences: list[Difference] = []
    for scene in scenes:
        files = scene.get("files") or []
        if not files:
            continue
        path = to_plex_path(files[0]["path"], path_map)
        found = holders.get(path, [])
        if len(found) != 1:
            found_differences.append(Difference(str(scene["id"]), None, "file", len(found), path))
            continue
        item = found[0]
        want = wanted(scene, covers)
        have = shown(item, want["studio"])
        for name in fields:
            if want[name] != have[name]:
                found_differences.append(
                    Difference(str(scene["id"]), item.rating_key, name, have[name], want[name])
                )
    return found_differences


def mismatches(
    scenes: Iterable[dict],
    items: Iterable[PlexItem],
    path_map: Sequence[tuple[str, str]],
    covers: dict[str, bytes] | None = None,
    fields: Sequence[str] = FIELDS,
) -> list[str]:
    """`differences`, as lines for an assertion message."""
    return [str(d) for d in differences(scenes, items, path_map, covers, fields)]


def queue_problems(store) -> list[str]:
    """What must be empty once stashplex has caught up: jobs, pending scenes, dead letters."""
    problems = []
    jobs = store.jobs()
    per_scene: dict[str, int] = defaultdict(int)
    for job in jobs:
        per_scene[job.scene_id] += 1
    duplicates = sorted(scene for scene, count in per_scene.items() if count > 1)
    if duplicates:
        problems.append(f"duplicate jobs for scenes {duplicates}")
    if jobs:
        problems.append(
            "jobs left: "
            + ", ".join(f"scene {j.scene_id} ({j.state}, {j.last_error})" for j in jobs)
        )
    pending = store.pending_scene_ids()
    if pending:
        problems.append(f"scenes left pending: {sorted(pending)}")
    letters = store.dead_letters()
    if letters:
        problems.append(
            "dead letters: "
            + ", ".join(f"scene {d.scene_id}: {d.error_message}" for d in letters)
        )
    return problems

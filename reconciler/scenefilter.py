"""Which scenes stashplex syncs at all: `sync.require` and `sync.exclude_tags` (pure).

A scene that does not pass is left alone: no job, no dead letter, nothing written to its
Plex item. It is looked at again whenever it changes, so one that passes later (organized
at last, a StashDB id added, the excluded tag removed) is synced then.
"""

from __future__ import annotations

from reconciler.config import SyncConfig
from reconciler.models import Scene

SKIPPED_BY_REQUIRE = "skipped_by_require"  # Setting key: the count of the last full pass


def _has(scene: Scene, requirement: str) -> bool:
    if requirement == "organized":
        return scene.organized
    if requirement == "stash_id":
        return bool(scene.stash_ids)
    return bool(scene.urls)  # "url"


def skip_reason(scene: Scene, sync: SyncConfig) -> str | None:
    """Why the scene is not synced ("sync.require: organized", ...), None when it is."""
    for requirement in sync.require:
        if not _has(scene, requirement):
            return f"sync.require: {requirement}"
    if sync.exclude_tags:
        excluded = {name.casefold() for name in sync.exclude_tags}
        for tag in scene.tags:
            if tag.casefold() in excluded:
                return f"sync.exclude_tags: {tag}"
    return None


def kept_tags(tags: list[str], sync: SyncConfig) -> list[str]:
    """The scene's tags without `sync.ignore_tags` (compared without regard to case)."""
    if not sync.ignore_tags:
        return list(tags)
    ignored = {name.casefold() for name in sync.ignore_tags}
    return [tag for tag in tags if tag.casefold() not in ignored]

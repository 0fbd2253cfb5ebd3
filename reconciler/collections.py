"""Which Plex collections a scene belongs in, by the `collections:` rules (pure).

A rule names one collection per studio, parent studio, group, performer or tag the scene
has (`{name}`), or one for an organized scene, or one per star rating (`{stars}`, rating100
// 20, none below one star). `sync.ignore_tags` names never become tag collections. The
result is a set of names compared without regard to case, since Plex may keep one tag per
name whatever its case.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable

from reconciler.config import CollectionRule, SyncConfig
from reconciler.models import Scene
from reconciler.scenefilter import kept_tags


def _source_names(scene: Scene, source: str, sync: SyncConfig) -> list[str]:
    """The names a named source gives for this scene."""
    if source == "studio":
        return [scene.studio] if scene.studio else []
    if source == "parent_studio":
        return [scene.parent_studio] if scene.parent_studio else []
    if source == "groups":
        return list(scene.groups)
    if source == "performers":
        return list(scene.performers)
    return kept_tags(scene.tags, sync)  # "tags"


def _chosen(names: Iterable[str], rule: CollectionRule) -> list[str]:
    cleaned = [name.strip() for name in names if name and name.strip()]
    if rule.only:
        wanted = {name.casefold() for name in rule.only}
        return [name for name in cleaned if name.casefold() in wanted]
    if rule.excluded:
        unwanted = {name.casefold() for name in rule.excluded}
        return [name for name in cleaned if name.casefold() not in unwanted]
    return cleaned


def stars(rating100: int | None) -> int:
    """Whole stars out of five: rating100 // 20 (0 for unrated or below 20)."""
    if not isinstance(rating100, int) or isinstance(rating100, bool) or rating100 <= 0:
        return 0
    return min(rating100, 100) // 20


def rule_names(scene: Scene, rule: CollectionRule, sync: SyncConfig) -> list[str]:
    """The collection names one rule gives the scene."""
    if rule.source == "organized":
        return [rule.name] if scene.organized else []
    if rule.source == "rating":
        count = stars(scene.rating100)
        return [rule.name.format(stars=count)] if count > 0 else []
    names = _chosen(_source_names(scene, rule.source, sync), rule)
    if not names and rule.fallback:
        names = _chosen(_source_names(scene, rule.fallback, sync), rule)
    return [rule.name.format(name=name) for name in names]


def collection_names(scene: Scene, sync: SyncConfig) -> list[str]:
    """Every collection the rules in force put the scene in, each name once (first spelling)."""
    seen: dict[str, str] = {}
    for rule in sync.collection_rules:
        for name in rule_names(scene, rule, sync):
            name = name.strip()
            if name and name.casefold() not in seen:
                seen[name.casefold()] = name
    return list(seen.values())


def rules_fingerprint(sync: SyncConfig) -> str:
    """The rules in force as text, for the content hash: editing them re-syncs every scene."""
    return _fingerprint(sync.collection_rules)


@functools.lru_cache(maxsize=8)
def _fingerprint(rules: tuple[CollectionRule, ...]) -> str:
    """Made once per set of rules, not once per scene of a full pass."""
    return json.dumps(
        [
            [
                rule.source,
                rule.name,
                rule.fallback,
                sorted(n.casefold() for n in rule.only),
                sorted(n.casefold() for n in rule.excluded),
            ]
            for rule in rules
        ]
    )

"""Pure diffing: what must change on a Plex item so that it says what the Stash scene says.

Only the fields in `sync.fields` are considered, and on episodes only those Plex keeps
on episodes. An empty Stash value leaves Plex alone unless `clear_empty` is set. A field
whose value already matches but is not locked is written again with its lock, so Plex's
agents cannot revert it later. Tag lists are compared without regard to case, and what
Plex was seen to show for a value once sent (the read-back memory) counts as that value.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler.collections import collection_names, rules_fingerprint
from reconciler.config import SyncConfig
from reconciler.errors import InvalidSceneData
from reconciler.models import PlexItem, Scene
from reconciler.photos import actor_thumbs
from reconciler.scenefilter import kept_tags
from reconciler.titles import render_title

if TYPE_CHECKING:
    from reconciler.readback import Remembered

# sync field -> (Plex field or tag name, kind)
PLEX_FIELDS: dict[str, tuple[str, str]] = {
    "title": ("title", "text"),
    "summary": ("summary", "text"),
    "date": ("originallyAvailableAt", "text"),
    "studio": ("studio", "text"),
    "rating": ("userRating", "rating"),
    "performers": ("actor", "tags"),
    "tags": ("genre", "tags"),
    "collection": ("collection", "tags"),
    "year": ("year", "text"),
    "content_rating": ("contentRating", "text"),
}

# the read-back memory's name for the actor photos Plex shows (not a field of its own)
PHOTOS_SHOWN = "performer_photos"

# Plex keeps neither a studio nor genres on episodes: plexapi's `EpisodeEditMixins` has no
# StudioMixin or GenreMixin (plexapi/mixins/__init__.py), and real episode payloads hold
# neither (shared/reference/plex-http.md §8)
NOT_ON_EPISODES: tuple[str, ...] = ("studio", "tags")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class FieldChange:
    """One field to write: `old` is what Plex has, `new` what Stash says (tuples for tag lists)."""

    field: str
    old: Any
    new: Any

    @property
    def lock_only(self) -> bool:
        return self.old == self.new


@dataclass
class Edit:
    """Everything one Plex item needs; text fields and tags go out in one request when they fit.

    `lock_poster` asks for the poster's lock (`thumb.locked=1`), `lock_art` for the
    background's (`art.locked=1`); `art` is the cover to upload as background art;
    `actor_thumbs` are the photo URLs sent with the actors (name folded to case -> URL);
    `shortened` is filled by the write with the values that had to be shortened to fit a
    request (field -> value sent).
    """

    changes: list[FieldChange] = field(default_factory=list)
    poster: str | None = None
    lock_poster: bool = False
    art: str | None = None
    lock_art: bool = False
    actor_thumbs: dict[str, str] = field(default_factory=dict)
    shortened: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return (
            bool(self.changes)
            or self.poster is not None
            or self.lock_poster
            or self.art is not None
            or self.lock_art
        )

    @property
    def wants_image(self) -> bool:
        """The scene's cover is needed: as the poster, the background art, or both."""
        return self.poster is not None or self.art is not None

    @property
    def fields(self) -> list[str]:
        names = [change.field for change in self.changes]
        names += ["poster"] if self.poster is not None else []
        return names + (["background"] if self.art is not None else [])


def clean_text(value: str | None) -> str:
    """Text as Plex can store it: no control characters, no surrounding whitespace."""
    if not value:
        return ""
    return _CONTROL.sub("", value).strip()


def clean_tags(names: list[str]) -> tuple[str, ...]:
    """Tag names cleaned, without blanks or repeats (Plex keeps one tag per name)."""
    seen: dict[str, str] = {}
    for name in names:
        cleaned = clean_text(name)
        if cleaned and cleaned.casefold() not in seen:
            seen[cleaned.casefold()] = cleaned
    return tuple(sorted(seen.values(), key=str.casefold))


def check_date(scene: Scene) -> str:
    """The scene's date if it is a real calendar date, '' if unset; invalid data otherwise."""
    value = clean_text(scene.date)
    if not value:
        return ""
    if _DATE.match(value):
        try:
            dt.date.fromisoformat(value)
            return value
        except ValueError:
            pass
    raise InvalidSceneData(f"{scene.label}: date {value!r} is not a valid calendar date")


def check_rating(scene: Scene) -> float | None:
    """rating100 (1-100) as Plex's 0-10 userRating."""
    if scene.rating100 is None:
        return None
    if (
        isinstance(scene.rating100, bool)
        or not isinstance(scene.rating100, int)
        or not (1 <= scene.rating100 <= 100)
    ):
        raise InvalidSceneData(f"{scene.label}: rating100 {scene.rating100!r} is outside 1-100")
    return round(scene.rating100 / 10, 1)


def desired_values(scene: Scene, sync: SyncConfig) -> dict[str, Any]:
    """What Stash says for each synced field; None where Stash is empty."""
    studio = clean_text(scene.studio)
    date = check_date(scene)
    title = render_title(scene, sync, clean_text(scene.title))
    values: dict[str, Any] = {
        "title": clean_text(title) or None,
        "summary": clean_text(scene.details) or None,
        "date": date or None,
        "year": int(date[:4]) if date else None,
        "studio": studio or None,
        "rating": check_rating(scene),
        "performers": clean_tags(scene.performers) or None,
        "tags": clean_tags(kept_tags(scene.tags, sync)) or None,
        "collection": clean_tags(collection_names(scene, sync)) or None,
    }
    if sync.content_rating:
        values["content_rating"] = sync.content_rating  # "" leaves Plex's own rating alone
    return {name: values[name] for name in sync.fields if name in values}


def content_hash(scene: Scene, sync: SyncConfig, photos: str = "") -> str:
    """A fingerprint of what Stash says about the scene and of what stashplex is set to write.

    Tag, performer and studio renames change it without changing the scene's `updated_at`,
    and so does a performer's new photo (its `image_path` is stamped with its `updated_at`).
    `photos` is where actor photo URLs point (`photos.photo_source`).

    The text hashed is the JSON array of the scene's values, the configuration's and (with
    actor photos synced) the photos'; the configuration's part is encoded once per setting,
    not once per scene of a full pass.
    """
    values = [
        scene.title,
        scene.details,
        scene.date,
        scene.rating100,
        scene.studio,
        scene.performers,
        scene.tags,
        scene.files,
        scene.screenshot,
        scene.code,
        scene.parent_studio,
        scene.groups,
        scene.organized,
    ]
    text = json.dumps(values)[:-1] + ", " + _settings_text(_settings_key(sync))
    if "performer_photos" in sync.fields and scene.performer_images:
        images = sorted(scene.performer_images.items())
        text += ", " + json.dumps([images, photos])[1:-1]
    return hashlib.blake2b((text + "]").encode(), digest_size=16).hexdigest()


def _settings_key(sync: SyncConfig) -> tuple:
    """What of `sync` the content hash covers, as a key for `_settings_text`."""
    return (
        tuple(sync.fields),
        rules_fingerprint(sync),
        sync.clear_empty,
        sync.content_rating,
        sync.title_format,
        sync.title_fallback,
        tuple(sync.ignore_tags),
    )


@functools.lru_cache(maxsize=16)
def _settings_text(key: tuple) -> str:
    """The configuration's values of the hashed array, encoded (without the brackets)."""
    fields_, rules, clear_empty, content_rating, title_format, title_fallback, ignored = key
    values = [
        sorted(fields_),
        rules,
        clear_empty,
        content_rating,
        title_format,
        title_fallback,
        sorted(name.casefold() for name in ignored),
    ]
    return json.dumps(values)[1:-1]


def fields_for(item_type: str, names: list[str]) -> list[str]:
    """The sync fields Plex keeps on an item of this type."""
    if item_type != "episode":
        return list(names)
    return [name for name in names if name not in NOT_ON_EPISODES]


_CURRENT: dict[str, Callable[[PlexItem], Any]] = {
    "title": lambda item: item.title or "",
    "summary": lambda item: item.summary or "",
    "date": lambda item: item.originally_available_at or "",
    "studio": lambda item: item.studio or "",
    "rating": lambda item: item.user_rating,
    "year": lambda item: item.year,
    "content_rating": lambda item: item.content_rating or "",
    "performers": lambda item: clean_tags(item.actors),
    "tags": lambda item: clean_tags(item.genres),
    "collection": lambda item: clean_tags(item.collections),
}


def current_value(item: PlexItem, name: str) -> Any:
    """What Plex shows for a sync field, in the shape `desired_values` gives (only that
    field's: a diff asks for each synced field of every item it compares)."""
    return _CURRENT[name](item)


def _same_rating(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) < 0.05


def same_value(name: str, a: Any, b: Any) -> bool:
    """Whether Plex showing `a` means it holds `b`: ratings within a rounding step, tag
    lists without regard to case (Plex may merge tags that differ only in case)."""
    kind = PLEX_FIELDS[name][1]
    if kind == "rating":
        return _same_rating(a, b)
    if kind == "tags":
        return [n.casefold() for n in a or ()] == [n.casefold() for n in b or ()]
    return a == b


def _collection_change(
    current: tuple[str, ...], wanted: tuple[str, ...], owned: Collection[str], locked: bool
) -> FieldChange | None:
    """The rules' collections added, the owned ones no rule gives any more taken off, and
    every other collection (made in Plex) kept as it is; None when nothing must change."""
    keep = {name.casefold() for name in wanted}
    stale = {name.casefold() for name in owned} - keep
    has = {name.casefold() for name in current}
    if not stale & has and keep <= has and (locked or not keep):
        return None
    remaining = [name for name in current if name.casefold() not in stale]
    return FieldChange("collection", current, clean_tags([*remaining, *wanted]))


def diff(
    scene: Scene,
    item: PlexItem,
    sync: SyncConfig,
    poster_synced: str | None = None,
    read_back: Mapping[str, Remembered] | None = None,
    owned: Collection[str] = (),
    photos: str = "",
    art_synced: str | None = None,
) -> Edit:
    """The edit that brings `item` in line with `scene`.

    `poster_synced` is the screenshot URL last uploaded for this scene (Stash stamps
    it with the scene's update time); only a new URL makes the poster a candidate,
    and the worker uploads it only when the bytes differ too. `read_back` is what Plex
    was seen to show for values sent before (field -> memory): a field showing that is
    in sync until Stash changes. `owned` are the collection tags stashplex added to the
    item before: one no rule gives any more (the studio changed, the tag left an `only:`
    list, the rule was removed) is taken off; collections made in Plex are never touched.
    `photos` is where actor photo URLs point (none when empty): an actor whose
    `<Role thumb>` is not its photo's URL rewrites the actor list. `art_synced` is, like
    `poster_synced`, the cover last uploaded as background art.
    """
    edit = Edit()
    read_back = read_back or {}
    kept = set(fields_for(item.type, list(sync.fields)))
    for name, wanted in desired_values(scene, sync).items():
        if name not in kept:
            continue
        plex_name, kind = PLEX_FIELDS[name]
        current = current_value(item, name)
        locked = plex_name in item.locked
        if name == "collection":
            change = _collection_change(current, wanted or (), owned, locked)
            if change is not None:
                edit.changes.append(change)
            continue
        if wanted is None:
            if not sync.clear_empty or name == "title":
                continue
            wanted = () if kind == "tags" else None if kind == "rating" else ""
            empty = current in ((), None, "")
            if empty:
                continue
        same = same_value(name, current, wanted)
        if not same and name in read_back:
            same = read_back[name].matches(wanted, current)
        thumbs_shown = True
        if name == "performers" and wanted:
            edit.actor_thumbs = actor_thumbs(scene.performer_images, wanted, photos)
            thumbs_shown = _thumbs_shown(item, edit.actor_thumbs, read_back.get(PHOTOS_SHOWN))
        if same and locked and thumbs_shown:
            continue
        edit.changes.append(FieldChange(name, current, wanted))
    if "poster" in sync.fields and scene.screenshot:
        if poster_synced != scene.screenshot:
            edit.poster = scene.screenshot
        elif "thumb" not in item.locked:
            edit.lock_poster = True
    if "background" in sync.fields and scene.screenshot:
        if art_synced != scene.screenshot:
            edit.art = scene.screenshot
        elif "art" not in item.locked:
            edit.lock_art = True
    return edit


def sent_thumbs(thumbs: Mapping[str, str]) -> list[tuple[str, str]]:
    """The photo URLs sent with the actors, in a stable order (for the read-back memory)."""
    return sorted(thumbs.items())


def shown_thumbs(item: PlexItem, thumbs: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """What Plex shows (`<Role thumb>`) for each actor a photo was sent for."""
    shown = {name.casefold(): url for name, url in item.actor_thumbs.items()}
    return [(name, shown.get(name)) for name, _ in sent_thumbs(thumbs)]


def _thumbs_shown(
    item: PlexItem, thumbs: Mapping[str, str], remembered: Remembered | None
) -> bool:
    """Whether each actor with a photo shows that photo's URL, as sent or in the form Plex was
    seen to show it after it was sent (an actor without a photo in Stash is not compared)."""
    sent, shown = sent_thumbs(thumbs), shown_thumbs(item, thumbs)
    return shown == sent or (remembered is not None and remembered.matches(sent, shown))

"""`PUT /library/sections/{id}/all` and `PUT /:/rate`: the edit wire format, applied like PMS.

The query arrives already split by `parse_qsl` (one decoding pass). The whole request is
validated before anything changes, so a 400 leaves the library untouched. As on a real
PMS (shared/reference/plex-http.md §8), episodes ignore studio and genre edits, and the
library's `WriteRules` decide the 414 limit, tag case merging and when `updatedAt` moves.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from .plex_model import (
    FIELDS,
    LOCKABLE,
    NOT_ON_EPISODES,
    SEARCH_TYPES,
    TAGS,
    EditError,
    PlexLibrary,
    WriteRules,
    _Item,
    check_date,
    check_rating,
)

_VALUE = re.compile(r"^([A-Za-z]+)\.value$")
_LOCK = re.compile(r"^([A-Za-z]+)\.locked$")
_INDEXED = re.compile(r"^([a-z]+)\[(\d+)\]\.(tag\.tag|tagging\.text|tag\.thumb|tagging\.thumb)$")
_REMOVE = re.compile(r"^([a-z]+)\[\]\.tag\.tag-$")
_CLEAR = re.compile(r"^([a-z]+)\[\]\.tag$")
_IGNORED = {"id", "type", "X-Plex-Token"}


@dataclass
class _Plan:
    values: dict[str, object] = field(default_factory=dict)  # attribute -> new value
    locks: dict[str, bool] = field(default_factory=dict)
    replace: dict[str, dict[int, dict[str, str]]] = field(default_factory=dict)
    remove: dict[str, list[str]] = field(default_factory=dict)
    clear: set[str] = field(default_factory=set)


def _tag(name: str) -> str:
    if name not in TAGS:
        raise EditError(400, f"unknown tag type {name!r}")
    return name


def _field_value(name: str, raw: str) -> object:
    if name not in FIELDS:
        raise EditError(400, f"unknown field {name!r}")
    if name == "title":
        if not raw.strip():
            raise EditError(400, "title cannot be empty")
        return raw
    if name == "summary":
        return raw
    if raw == "":
        return None
    if name == "originallyAvailableAt":
        return check_date(raw)
    if name == "userRating":
        return check_rating(raw)
    if name in ("year", "addedAt"):
        try:
            return int(raw)
        except ValueError:
            raise EditError(400, f"{name} must be an integer, got {raw!r}") from None
    return raw


def check_request_line(rules: WriteRules, method: str, path: str, query: str) -> None:
    """414 for a request line over `rules.max_request_line` bytes, as PMS or its proxy does."""
    if rules.max_request_line is None:
        return
    size = len(method) + 1 + len(path) + (1 + len(query) if query else 0) + len(" HTTP/1.1")
    if size > rules.max_request_line:
        raise EditError(414, f"request line of {size} bytes is over {rules.max_request_line}")


def _plan(params: list[tuple[str, str]]) -> _Plan:
    plan = _Plan()
    for key, raw in params:
        if key in _IGNORED or key.startswith("X-Plex-"):
            continue
        if m := _VALUE.match(key):
            value = _field_value(m.group(1), raw)  # 400 for unknown fields
            plan.values[FIELDS[m.group(1)]] = value
        elif m := _LOCK.match(key):
            if m.group(1) not in LOCKABLE:
                raise EditError(400, f"cannot lock unknown field {m.group(1)!r}")
            if raw not in ("0", "1"):
                raise EditError(400, f"{key} must be 0 or 1, got {raw!r}")
            plan.locks[m.group(1)] = raw == "1"
        elif m := _INDEXED.match(key):
            slot = plan.replace.setdefault(_tag(m.group(1)), {}).setdefault(int(m.group(2)), {})
            slot[m.group(3)] = raw
        elif m := _REMOVE.match(key):
            plan.remove[_tag(m.group(1))] = [unquote(v) for v in raw.split(",") if v != ""]
        elif m := _CLEAR.match(key):
            plan.clear.add(_tag(m.group(1)))
        else:
            raise EditError(400, f"unknown edit parameter {key!r}")
    for tag, slots in plan.replace.items():
        for index, slot in slots.items():
            if not slot.get("tag.tag", "").strip():
                raise EditError(400, f"{tag}[{index}] has no tag.tag name")
    return plan


def _apply(library: PlexLibrary, item: _Item, plan: _Plan) -> None:
    ignored = NOT_ON_EPISODES if item.type == "episode" else set()
    for attr, value in plan.values.items():
        if attr in ignored:
            continue
        setattr(item, attr, "" if attr == "summary" and value is None else value)
    for tag in plan.clear - ignored:
        item.tags[tag] = []
    for tag, slots in plan.replace.items():
        if tag in ignored:
            continue
        names: list[str] = []
        roles: dict[str, str] = {}
        thumbs: dict[str, str] = {}
        for index in sorted(slots):
            slot = slots[index]
            name = library.spelling(tag, slot["tag.tag"].strip())
            if name not in names:
                names.append(name)
            if "tagging.text" in slot:
                roles[name] = slot["tagging.text"]
            thumb = slot.get("tag.thumb") or slot.get("tagging.thumb")
            if thumb and library.rules.own_actor_thumbs:
                digest = hashlib.sha1(thumb.encode()).hexdigest()[:16]
                thumb = f"/library/people/{library.tag_id(tag, name)}/thumb/{digest}"
            if thumb:
                thumbs[name] = thumb
        item.tags[tag] = names
        if tag == "actor":
            item.roles, item.role_thumbs = roles, thumbs
    for tag, names in plan.remove.items():
        if tag in ignored:
            continue
        gone = {n.lower() for n in names}
        item.tags[tag] = [t for t in item.tags.get(tag, []) if t.lower() not in gone]
        if tag == "actor":
            item.roles = {k: v for k, v in item.roles.items() if k.lower() not in gone}
    for name, locked in plan.locks.items():
        if name in ignored:
            continue
        if locked:
            item.locked.add(name)
        else:
            item.locked.discard(name)


def apply_section_edit(
    library: PlexLibrary, section_key: int, params: list[tuple[str, str]]
) -> list[int]:
    """Apply one edit PUT; returns the ratingKeys changed. Raises EditError with PMS's status."""
    query = dict(params)
    with library.lock:
        section = library.sections.get(section_key)
        if section is None:
            raise EditError(404, f"no library section {section_key}")
        type_raw = query.get("type")
        try:
            search_type = int(type_raw) if type_raw else None
        except ValueError:
            raise EditError(400, f"bad type {type_raw!r}") from None
        if search_type is not None and search_type not in SEARCH_TYPES.values():
            raise EditError(400, f"unsupported type {search_type}")
        wanted = next((k for k, v in SEARCH_TYPES.items() if v == search_type), None)
        if query.get("id"):
            items = []
            for raw in query["id"].split(","):
                try:
                    item = library.get(raw.strip())
                except KeyError:
                    raise EditError(404, f"no item {raw!r}") from None
                if item.section_id != section_key:
                    raise EditError(400, f"item {raw} is not in section {section_key}")
                if wanted is not None and item.type != wanted:
                    raise EditError(400, f"item {raw} is a {item.type}, not type {search_type}")
                items.append(item)
        else:
            if search_type is None:
                raise EditError(400, "an edit without id needs a type")
            items = [it for it in section.ordered() if it.type == wanted]
        plan = _plan(params)
        for item in items:
            _apply(library, item, plan)
            library.stamp_edit(item)
            library.changed(item)
        return [it.rating_key for it in items]


def apply_rate(library: PlexLibrary, params: list[tuple[str, str]]) -> None:
    """`PUT /:/rate`: a user star rating. It is per-user data, so it stamps `lastRatedAt`
    and leaves `updatedAt` (metadata change time) alone."""
    query = dict(params)
    if query.get("identifier") != "com.plexapp.plugins.library":
        raise EditError(400, f"unknown identifier {query.get('identifier')!r}")
    if "key" not in query or "rating" not in query:
        raise EditError(400, "rate needs key and rating")
    try:
        rating = float(query["rating"])
    except ValueError:
        raise EditError(400, f"bad rating {query['rating']!r}") from None
    with library.lock:
        try:
            item = library.get(query["key"])
        except KeyError:
            raise EditError(404, f"no item {query['key']!r}") from None
        if rating == -1:
            item.user_rating = None
        else:
            item.user_rating = check_rating(rating)
        item.last_rated_at = library.now()
        library.changed(item)

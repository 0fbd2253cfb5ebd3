"""In-memory library of the Plex emulator: sections, items, tags, locks, images.

Kept apart from the HTTP layer so the same rules (what an edit does, what an agent
refresh resets, what a lock protects) apply to wire requests and to the test-facing
helpers alike. Every public method takes the library lock, so HTTP threads and the
test thread can share one instance.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ntpath
import posixpath
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# Wire name of an editable scalar field -> attribute of _Item.
FIELDS: dict[str, str] = {
    "title": "title",
    "titleSort": "title_sort",
    "originalTitle": "original_title",
    "summary": "summary",
    "tagline": "tagline",
    "studio": "studio",
    "contentRating": "content_rating",
    "originallyAvailableAt": "originally_available_at",
    "year": "year",
    "userRating": "user_rating",
    "addedAt": "added_at",
}
# Tag type (singular wire name, also the lock name) -> XML element.
TAGS: dict[str, str] = {
    "genre": "Genre",
    "collection": "Collection",
    "actor": "Role",
    "director": "Director",
    "writer": "Writer",
    "producer": "Producer",
    "country": "Country",
    "label": "Label",
}
# Wire image kind -> (lock name, upload folder in the ratingKey).
IMAGES: dict[str, tuple[str, str]] = {"posters": ("thumb", "posters"), "arts": ("art", "arts")}
LOCKABLE = set(FIELDS) | set(TAGS) | {"thumb", "art", "clearLogo", "theme"}
SECTION_TYPES = {
    "movie": "movie",
    "show": "episode",
}  # section type -> type of its file-backed items
SEARCH_TYPES = {"movie": 1, "show": 2, "season": 3, "episode": 4}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EPISODE = re.compile(r"[Ss](\d{1,3})[ ._-]?[Ee](\d{1,4})")
_PLURAL = {
    "genres": "genre",
    "actors": "actor",
    "collections": "collection",
    "directors": "director",
    "writers": "writer",
    "producers": "producer",
    "countries": "country",
    "labels": "label",
}


TOKEN_ACCOUNT = 1  # the account whose token the daemon uses: the server's owner


@dataclass
class WriteRules:
    """How strictly the emulated PMS treats writes; each rule is a real server's behaviour
    from shared/reference/plex-http.md §8, and the [U] ones (unknown on a real PMS) are
    switches so tests can run both ways.

    - `max_request_line`: longer request lines (method, target, version) get 414. The PMS
      limit is not documented; nginx in front of it allows 8 KB (§8 [M]: spotify-to-plex
      PR 23, plex-playlist-sync issue 66). None turns the limit off.
    - `max_upload_bytes`: larger poster/art uploads get 500 (§8 [M]: Kometa `modules/plex.py`
      `MAX_IMAGE_SIZE = 10480000`, PR 2449; Mediux-Posters issue 44).
    - `merge_tag_case`: a tag name that differs only in case from one the library has
      becomes that tag ([U]: Kometa issue 201 says merged, labelarr compares without case).
    - `lock_on_upload`: an upload locks the image ([U]: §6 of the same file, unverified);
      off, only `thumb.locked=1` locks it.
    - `updated_at_delay`: seconds before an edit's new `updatedAt` shows ([U]: "a change
      stamp read back right after a write may still move"); 0 shows it at once.
    - `reselect_held_uploads`: posting bytes the item already holds selects them again. Off
      by default, as a real PMS does: such bytes are stored but not re-selected (§8 [M]/[C]:
      Incipit.bundle `RESELECT_PAD` notes, 2026; plexapi `mixins/resources.py`). Only
      measured by a third party, so the other answer is a switch for the contract check.
    - `own_actor_thumbs`: an actor photo URL sent as `actor[i].tag.thumb` shows in the detail
      XML (`<Role thumb=..>`) in a form of Plex's own (a path on the server) instead of as
      sent ([U]: plexapi documents the request, issue #462 / PR #510, not what PMS shows
      afterwards; agents' photos show as the URL the agent gave). Off: shown as sent.

    Always on, as a real PMS does: episodes ignore studio and genre edits (§8 [C]: plexapi
    `video.py` Episode mixins).
    """

    max_request_line: int | None = 8192
    max_upload_bytes: int = 10_480_000
    merge_tag_case: bool = False
    lock_on_upload: bool = True
    updated_at_delay: int = 0
    reselect_held_uploads: bool = False
    own_actor_thumbs: bool = False


# what Plex keeps no value of on an episode (edits of these are ignored there)
NOT_ON_EPISODES = {"studio", "genre"}


class EditError(Exception):
    """A request the real server would refuse; `status` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class UnknownKey(KeyError):
    """No such item or section: the HTTP layer answers 404."""


@dataclass
class PlexItem:
    """A snapshot of one library item, as a test wants to assert on it."""

    rating_key: int
    section_id: int
    title: str
    summary: str
    studio: str | None
    originally_available_at: str | None
    user_rating: float | None
    genres: list[str]
    actors: list[str]
    collections: list[str]
    locked: set[str]
    poster_sha1: str | None
    poster_uploads: int
    files: list[str]
    added_at: int
    updated_at: int
    type: str = "movie"
    title_sort: str | None = None
    original_title: str | None = None
    tagline: str | None = None
    content_rating: str | None = None
    year: int | None = None
    directors: list[str] = field(default_factory=list)
    writers: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)
    last_rated_at: int | None = None
    art_sha1: str | None = None
    art_uploads: int = 0
    role_thumbs: dict[str, str] = field(default_factory=dict)  # actor name -> thumb URL
    guid: str = ""
    guids: list[str] = field(default_factory=list)
    view_count: int = 0
    last_viewed_at: int | None = None
    view_offset: int = 0


@dataclass
class _Part:
    path: str
    media_id: int
    part_id: int
    size: int


@dataclass
class _Images:
    uploads: list[str] = field(default_factory=list)  # sha1s, oldest first
    selected: str | None = None
    count: int = 0  # upload requests received


@dataclass(eq=False)
class _Item:
    rating_key: int
    section_id: int
    type: str
    parts: list[_Part]
    title: str
    added_at: int
    updated_at: int
    summary: str = ""
    title_sort: str | None = None
    original_title: str | None = None
    tagline: str | None = None
    studio: str | None = None
    content_rating: str | None = None
    originally_available_at: str | None = None
    year: int | None = None
    user_rating: float | None = None
    last_rated_at: int | None = None
    # the token's account's activity (`viewCount`, `lastViewedAt`, `viewOffset` in ms), and the
    # play history of every account on the server: (viewedAt, accountID)
    view_count: int = 0
    last_viewed_at: int | None = None
    view_offset: int = 0
    views: list[tuple[int, int]] = field(default_factory=list)
    tags: dict[str, list[str]] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    role_thumbs: dict[str, str] = field(default_factory=dict)
    locked: set[str] = field(default_factory=set)
    guids: list[str] = field(default_factory=list)
    images: dict[str, _Images] = field(default_factory=dict)
    episode: tuple[str, int, int] | None = None  # (show title, season, episode)
    cache: dict[Any, str] = field(default_factory=dict)  # rendered XML fragments

    @property
    def guid(self) -> str:
        return f"local://{self.rating_key}"

    @property
    def shown_year(self) -> int | None:
        if self.year is not None:
            return self.year
        return int(self.originally_available_at[:4]) if self.originally_available_at else None

    def image(self, lock: str) -> _Images:
        return self.images.setdefault(lock, _Images())


@dataclass
class _Section:
    key: int
    title: str
    type: str
    locations: list[str]
    uuid: str
    created_at: int
    items: dict[int, _Item] = field(default_factory=dict)
    _ordered: list[_Item] | None = None

    @property
    def item_type(self) -> str:
        return SECTION_TYPES[self.type]

    def ordered(self) -> list[_Item]:
        """Items by ratingKey; rebuilt only after adds/removals so paging is a slice."""
        if self._ordered is None:
            self._ordered = sorted(self.items.values(), key=lambda it: it.rating_key)
        return self._ordered


def basename_title(path: str) -> str:
    """What Plex's scanner names an unmatched file: its basename without extension."""
    name = ntpath.basename(path) if "\\" in path else posixpath.basename(path)
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem else name


def check_date(value: str) -> str:
    """PMS stores release dates as calendar dates; anything else is a 400."""
    try:
        valid = bool(_DATE.match(value)) and bool(datetime.date.fromisoformat(value))
    except ValueError:
        valid = False
    if not valid:
        raise EditError(400, f"originallyAvailableAt must be a YYYY-MM-DD date, got {value!r}")
    return value


def check_rating(value: Any) -> float:
    try:
        rating = float(value)
    except (TypeError, ValueError):
        raise EditError(400, f"userRating must be a number, got {value!r}") from None
    if not 0 <= rating <= 10:
        raise EditError(400, f"userRating must be within 0-10, got {value!r}")
    return rating


def _dedupe(values: Iterable[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        text = str(value).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)


class PlexLibrary:
    """The emulated library database. All times are int epoch seconds from `clock`."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.version = 0  # bumped on every change; keys listing caches
        self.rules = WriteRules()
        self.progress_moves_viewed = True  # see `progress`
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.machine_identifier = uuid.uuid4().hex + uuid.uuid4().hex[:8]
            self.sections: dict[int, _Section] = {}
            self.by_key: dict[int, _Item] = {}
            self.blobs: dict[str, bytes] = {}
            self.tag_ids: dict[tuple[str, str], int] = {}
            self.next_rating_key = 1
            self.next_media_id = 1
            self.created_at = self.now()
            self.pending_stamps: dict[int, tuple[int, int]] = {}  # key -> (stamp, shows at)
            self.changed()

    def now(self) -> int:
        return int(self.clock())

    def changed(self, item: _Item | None = None) -> None:
        self.version += 1
        if item is not None:
            item.cache.clear()

    def stamp_edit(self, item: _Item) -> None:
        """An edit's `updatedAt`: now, or after `rules.updated_at_delay` seconds."""
        now = self.now()
        if self.rules.updated_at_delay > 0:
            self.pending_stamps[item.rating_key] = (now, now + self.rules.updated_at_delay)
        else:
            item.updated_at = now

    def settle(self) -> None:
        """Show the delayed `updatedAt` stamps that are due (called before each request)."""
        with self.lock:
            now = self.now()
            for key, (stamp, shows_at) in list(self.pending_stamps.items()):
                if now >= shows_at:
                    del self.pending_stamps[key]
                    item = self.by_key.get(key)
                    if item is not None:
                        item.updated_at = max(item.updated_at, stamp)
                        self.changed(item)

    def spelling(self, tag: str, name: str) -> str:
        """The name a tag gets: with `rules.merge_tag_case`, the spelling the library already
        has for it in any case (a scan of the library: the emulator's libraries are small
        wherever this is switched on)."""
        if not self.rules.merge_tag_case:
            return name
        folded = name.casefold()
        for item in self.by_key.values():
            for existing in item.tags.get(tag, ()):
                if existing.casefold() == folded:
                    return existing
        return name

    def tag_id(self, tag: str, name: str) -> int:
        """Plex gives every (tag type, name) one id; filters refer to it."""
        key = (tag, name.lower())
        if key not in self.tag_ids:
            self.tag_ids[key] = len(self.tag_ids) + 1
        return self.tag_ids[key]

    # -- structure -------------------------------------------------------------------------

    def add_section(
        self, title: str, locations: list[str], type: str = "movie", key: int | None = None
    ) -> int:
        if type not in SECTION_TYPES:
            raise ValueError(
                f"unsupported section type {type!r} (supported: {sorted(SECTION_TYPES)})"
            )
        with self.lock:
            key = key or max(self.sections, default=0) + 1
            if key in self.sections:
                raise ValueError(f"section {key} exists")
            self.sections[key] = _Section(
                key, title, type, list(locations), str(uuid.uuid4()), self.now()
            )
            self.changed()
            return key

    def section(self, ref: str | int) -> _Section:
        with self.lock:
            if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
                found = self.sections.get(int(ref))
            else:
                found = next((s for s in self.sections.values() if s.title == ref), None)
            if found is None:
                raise UnknownKey(f"no library section {ref!r}")
            return found

    def get(self, rating_key: int | str) -> _Item:
        try:
            return self.by_key[int(rating_key)]
        except (KeyError, ValueError):
            raise UnknownKey(f"no item with ratingKey {rating_key!r}") from None

    def add_item(
        self,
        section: str | int,
        files: str | list[str],
        title: str | None = None,
        *,
        rating_key: int | None = None,
        **fields: Any,
    ) -> int:
        with self.lock:
            sec = self.section(section)
            paths = [files] if isinstance(files, str) else list(files)
            if not paths:
                raise ValueError("an item needs at least one file")
            now = self.now()
            key = rating_key or self.next_rating_key
            if key in self.by_key:
                raise ValueError(f"ratingKey {key} exists")
            self.next_rating_key = max(self.next_rating_key, key + 1)
            parts = []
            for path in paths:
                parts.append(_Part(path, self.next_media_id, self.next_media_id, _fake_size(path)))
                self.next_media_id += 1
            item = _Item(
                key, sec.key, sec.item_type, parts, title or basename_title(paths[0]), now, now
            )
            if sec.type == "show":
                item.episode = self._episode_of(sec, paths[0])
            added_at = fields.pop("added_at", None)
            updated_at = fields.pop("updated_at", None)
            self._assign(item, fields)
            item.added_at = int(added_at) if added_at is not None else now
            item.updated_at = int(updated_at) if updated_at is not None else item.added_at
            sec.items[key] = item
            if sec._ordered is not None and (not sec._ordered or key > sec._ordered[-1].rating_key):
                sec._ordered.append(item)
            else:
                sec._ordered = None
            self.by_key[key] = item
            self.changed(item)
            return key

    def _episode_of(self, sec: _Section, path: str) -> tuple[str, int, int]:
        """Show/season/episode the way a TV scanner reads `Show/Season 1/Show - S01E02.mkv`."""
        norm = path.replace("\\", "/")
        rel = norm
        for loc in sec.locations:
            prefix = loc.replace("\\", "/").rstrip("/") + "/"
            if norm.startswith(prefix):
                rel = norm[len(prefix) :]
                break
        dirs = [d for d in rel.split("/")[:-1] if d]
        show = dirs[0] if dirs else basename_title(path)
        match = _EPISODE.search(posixpath.basename(norm))
        if match:
            return show, int(match.group(1)), int(match.group(2))
        count = sum(1 for it in sec.items.values() if it.episode and it.episode[0] == show)
        return show, 1, count + 1

    def remove_item(self, rating_key: int | str) -> None:
        with self.lock:
            item = self.get(rating_key)
            sec = self.sections[item.section_id]
            del sec.items[item.rating_key]
            if sec._ordered is not None:
                sec._ordered.remove(item)
            del self.by_key[item.rating_key]
            self.changed(item)

    # -- edits from the test side --------------------------------------------------------------

    def _assign(self, item: _Item, fields: dict[str, Any]) -> None:
        """Set snake_case fields (helpers' vocabulary); validates like the wire does."""
        for name, value in fields.items():
            if name in _PLURAL:
                item.tags[_PLURAL[name]] = _dedupe(value or ())
            elif name == "roles":
                item.roles = {str(k): str(v) for k, v in dict(value or {}).items()}
            elif name == "locked":
                bad = set(value or ()) - LOCKABLE
                if bad:
                    raise ValueError(f"cannot lock unknown fields {sorted(bad)}")
                item.locked = set(value or ())
            elif name == "guids":
                item.guids = [str(g) for g in value or ()]
            elif name == "originally_available_at":
                item.originally_available_at = check_date(value) if value else None
            elif name == "user_rating":
                item.user_rating = None if value is None else check_rating(value)
                item.last_rated_at = self.now()
            elif name == "summary":
                item.summary = value or ""
            elif name == "title":
                if not value:
                    raise ValueError("title cannot be empty")
                item.title = str(value)
            elif name == "year":
                item.year = None if value is None else int(value)
            elif name in ("title_sort", "original_title", "tagline", "studio", "content_rating"):
                setattr(item, name, value or None)
            else:
                raise TypeError(f"unknown item field {name!r}")

    def edit_item(self, rating_key: int | str, **fields: Any) -> None:
        """A hand edit; a rating among the fields is given with the stars (see `rate_item`)."""
        with self.lock:
            item = self.get(rating_key)
            try:
                self._assign(item, fields)
            except EditError as exc:
                raise ValueError(exc.reason) from None
            if set(fields) - {"user_rating"}:
                item.updated_at = self.now()
            self.changed(item)

    def rate_item(self, rating_key: int | str, rating: float | None) -> None:
        """The stars in Plex Web (`PUT /:/rate`): a rating moves `lastRatedAt`, not `updatedAt`.

        Source: `shared/reference/plex-http.md` §8 (bomer/plexify `docs/PLEX-API.md` §3.3;
        plexapi `library.py` lists `lastRatedAt` among the date filter fields)."""
        with self.lock:
            item = self.get(rating_key)
            item.user_rating = None if rating is None else check_rating(rating)
            item.last_rated_at = self.now()
            self.changed(item)

    def scrobble(self, rating_key: int | str, account_id: int = TOKEN_ACCOUNT) -> None:
        """A play watched to the end (`GET /:/scrobble`, what a player sends at ~90%).

        The play enters the server's history for its account; `viewCount` and `lastViewedAt`
        are the token's account's, so another account's play moves neither. The resume point
        is cleared. `updatedAt` stays: viewing is per-user data, not metadata (like ratings,
        `shared/reference/plex-http.md` §8)."""
        with self.lock:
            item = self.get(rating_key)
            now = self.now()
            item.views.append((now, account_id))
            if account_id == TOKEN_ACCOUNT:
                item.view_count += 1
                item.last_viewed_at = now
                item.view_offset = 0
            self.changed(item)

    def unscrobble(self, rating_key: int | str) -> None:
        """Marked unwatched: the count and resume point go, the server's history stays, and
        no stamp moves ([U]: whether PMS also clears `lastViewedAt` is not in the reference;
        either way no change filter lists the item)."""
        with self.lock:
            item = self.get(rating_key)
            item.view_count = 0
            item.view_offset = 0
            self.changed(item)

    def progress(self, rating_key: int | str, offset_ms: int) -> None:
        """A player's timeline report: the resume point moves, and `lastViewedAt` with it; no
        play is counted. [U] that a progress report moves `lastViewedAt` is inferred (Plex
        orders Continue Watching by it), not read in a source: the reference has nothing on
        it, so `progress_moves_viewed` (the emulator's switch) turns it off: then a resume
        point alone waits for the next full pass."""
        with self.lock:
            item = self.get(rating_key)
            item.view_offset = max(0, int(offset_ms))
            if self.progress_moves_viewed:
                item.last_viewed_at = self.now()
            self.changed(item)

    def agent_refresh(self, rating_key: int | str) -> None:
        """Re-run the 'agent': unlocked fields, tag lists and images revert to scanner values."""
        with self.lock:
            item = self.get(rating_key)
            keep = item.locked
            agent = {
                "title": basename_title(item.parts[0].path),
                "title_sort": None,
                "original_title": None,
                "summary": "",
                "tagline": None,
                "studio": None,
                "content_rating": None,
                "originally_available_at": None,
                "year": None,
            }
            for wire, attr in FIELDS.items():
                if wire not in keep and attr in agent:
                    setattr(item, attr, agent[attr])
            for tag in TAGS:
                if tag not in keep:
                    item.tags.pop(tag, None)
                    if tag == "actor":
                        item.roles.clear()
                        item.role_thumbs.clear()
            for lock, images in item.images.items():
                if lock not in keep:
                    images.selected = None
            item.updated_at = self.now()
            self.changed(item)

    # -- images -----------------------------------------------------------------------------

    def add_image(self, rating_key: int | str, lock: str, data: bytes) -> str:
        """An upload: new bytes become the selected image, bytes the item already holds are
        kept but not selected again (unless `rules.reselect_held_uploads`); over
        `rules.max_upload_bytes` it is a 500 (see `WriteRules` for the sources)."""
        if len(data) > self.rules.max_upload_bytes:
            raise EditError(500, f"upload of {len(data)} bytes is over the limit")
        with self.lock:
            item = self.get(rating_key)
            sha1 = hashlib.sha1(data).hexdigest()
            self.blobs[sha1] = data
            images = item.image(lock)
            if sha1 not in images.uploads:
                images.uploads.append(sha1)
                images.selected = sha1
            elif self.rules.reselect_held_uploads:
                images.selected = sha1
            images.count += 1
            if self.rules.lock_on_upload:
                item.locked.add(lock)
            item.updated_at = self.now()
            self.changed(item)
            return sha1

    def select_image(self, rating_key: int | str, lock: str, url: str) -> None:
        with self.lock:
            item = self.get(rating_key)
            images = item.image(lock)
            folder = next(f for lk, f in IMAGES.values() if lk == lock)
            sha1 = url.rsplit("/", 1)[-1]
            if not url.startswith(f"upload://{folder}/") or sha1 not in images.uploads:
                raise EditError(404, f"no {folder} entry {url!r}")
            images.selected = sha1
            item.locked.add(lock)
            item.updated_at = self.now()
            self.changed(item)

    def delete_image(self, rating_key: int | str, lock: str) -> None:
        with self.lock:
            item = self.get(rating_key)
            item.image(lock).selected = None
            item.updated_at = self.now()
            self.changed(item)

    # -- snapshots and persistence ----------------------------------------------------------

    def snapshot(self, item: _Item) -> PlexItem:
        with self.lock:
            thumb, art = item.images.get("thumb"), item.images.get("art")
            return PlexItem(
                rating_key=item.rating_key,
                section_id=item.section_id,
                title=item.title,
                summary=item.summary,
                studio=item.studio,
                originally_available_at=item.originally_available_at,
                user_rating=item.user_rating,
                genres=list(item.tags.get("genre", [])),
                actors=list(item.tags.get("actor", [])),
                collections=list(item.tags.get("collection", [])),
                locked=set(item.locked),
                poster_sha1=thumb.selected if thumb else None,
                poster_uploads=thumb.count if thumb else 0,
                files=[p.path for p in item.parts],
                added_at=item.added_at,
                updated_at=item.updated_at,
                type=item.type,
                title_sort=item.title_sort,
                original_title=item.original_title,
                tagline=item.tagline,
                content_rating=item.content_rating,
                year=item.shown_year,
                directors=list(item.tags.get("director", [])),
                writers=list(item.tags.get("writer", [])),
                labels=list(item.tags.get("label", [])),
                roles=dict(item.roles),
                last_rated_at=item.last_rated_at,
                art_sha1=art.selected if art else None,
                art_uploads=art.count if art else 0,
                role_thumbs=dict(item.role_thumbs),
                guid=item.guid,
                guids=list(item.guids),
                view_count=item.view_count,
                last_viewed_at=item.last_viewed_at,
                view_offset=item.view_offset,
            )

    def dump(self) -> dict:
        with self.lock:
            return {
                "format": "stashplex-plex-emulator/1",
                "machine_identifier": self.machine_identifier,
                "next_rating_key": self.next_rating_key,
                "next_media_id": self.next_media_id,
                "sections": [
                    {
                        "key": s.key,
                        "title": s.title,
                        "type": s.type,
                        "locations": s.locations,
                        "uuid": s.uuid,
                        "created_at": s.created_at,
                    }
                    for s in self.sections.values()
                ],
                "items": [
                    _dump_item(it)
                    for it in sorted(self.by_key.values(), key=lambda i: i.rating_key)
                ],
                "blobs": {k: base64.b64encode(v).decode() for k, v in self.blobs.items()},
                "tag_ids": [[t, n, i] for (t, n), i in self.tag_ids.items()],
            }

    def load(self, fixture: dict) -> None:
        """Replace the state with `dump()` output or a hand-written minimal fixture.

        Minimal form: `{"sections": [{"title", "locations", "type"}],
        "items": [{"section", "files", "title", "genres", ...}]}`."""
        with self.lock:
            self.reset()
            self.machine_identifier = fixture.get("machine_identifier", self.machine_identifier)
            for sec in fixture.get("sections", []):
                key = self.add_section(
                    sec["title"],
                    sec.get("locations", []),
                    sec.get("type", "movie"),
                    key=sec.get("key"),
                )
                if "uuid" in sec:
                    self.sections[key].uuid = sec["uuid"]
                if "created_at" in sec:
                    self.sections[key].created_at = int(sec["created_at"])
            self.blobs = {k: base64.b64decode(v) for k, v in fixture.get("blobs", {}).items()}
            for t, n, i in fixture.get("tag_ids", []):
                self.tag_ids[(t, n)] = i
            for data in fixture.get("items", []):
                self._load_item(dict(data))
            self.next_rating_key = max(self.next_rating_key, int(fixture.get("next_rating_key", 1)))
            self.next_media_id = max(self.next_media_id, int(fixture.get("next_media_id", 1)))
            self.changed()

    def _load_item(self, data: dict) -> None:
        section = data.pop("section_id", None) or data.pop("section")
        files = data.pop("files")
        paths = [
            f["path"] if isinstance(f, dict) else f
            for f in ([files] if isinstance(files, str) else files)
        ]
        tags = data.pop("tags", {})
        images = data.pop("images", {})
        activity = ("view_count", "last_viewed_at", "view_offset", "views")
        extra = {
            k: data.pop(k)
            for k in ("role_thumbs", "last_rated_at", "episode", *activity)
            if k in data
        }
        key = self.add_item(
            section, paths, data.pop("title", None), rating_key=data.pop("rating_key", None), **data
        )
        item = self.by_key[key]
        for tag, values in tags.items():
            item.tags[tag] = list(values)
        for part, spec in zip(item.parts, files if isinstance(files, list) else [], strict=False):
            if isinstance(spec, dict):
                part.media_id = spec.get("media_id", part.media_id)
                part.part_id = spec.get("part_id", part.part_id)
                part.size = spec.get("size", part.size)
                self.next_media_id = max(self.next_media_id, part.media_id + 1, part.part_id + 1)
        for lock, spec in images.items():
            item.images[lock] = _Images(
                list(spec.get("uploads", [])), spec.get("selected"), spec.get("count", 0)
            )
        item.role_thumbs = dict(extra.get("role_thumbs", {}))
        item.last_rated_at = extra.get("last_rated_at", item.last_rated_at)
        item.view_count = extra.get("view_count", 0)
        item.last_viewed_at = extra.get("last_viewed_at")
        item.view_offset = extra.get("view_offset", 0)
        item.views = [tuple(v) for v in extra.get("views", [])]  # type: ignore[misc]
        if extra.get("episode"):
            item.episode = tuple(extra["episode"])  # type: ignore[assignment]


def _dump_item(item: _Item) -> dict:
    return {
        "rating_key": item.rating_key,
        "section_id": item.section_id,
        "title": item.title,
        "files": [
            {"path": p.path, "media_id": p.media_id, "part_id": p.part_id, "size": p.size}
            for p in item.parts
        ],
        "summary": item.summary,
        "title_sort": item.title_sort,
        "original_title": item.original_title,
        "tagline": item.tagline,
        "studio": item.studio,
        "content_rating": item.content_rating,
        "originally_available_at": item.originally_available_at,
        "year": item.year,
        "user_rating": item.user_rating,
        "last_rated_at": item.last_rated_at,
        "view_count": item.view_count,
        "last_viewed_at": item.last_viewed_at,
        "view_offset": item.view_offset,
        "views": [list(v) for v in item.views],
        "added_at": item.added_at,
        "updated_at": item.updated_at,
        "tags": {k: list(v) for k, v in item.tags.items()},
        "roles": dict(item.roles),
        "role_thumbs": dict(item.role_thumbs),
        "locked": sorted(item.locked),
        "guids": list(item.guids),
        "images": {
            k: {"uploads": v.uploads, "selected": v.selected, "count": v.count}
            for k, v in item.images.items()
        },
        "episode": list(item.episode) if item.episode else None,
    }


def _fake_size(path: str) -> int:
    """A stable, plausible file size (the emulator never touches the file)."""
    digest = hashlib.sha1(path.encode("utf-8", "surrogatepass")).digest()
    return 50_000_000 + int.from_bytes(digest[:4], "big") % 4_000_000_000

"""A local stand-in for a Stash server: its GraphQL API, its screenshots and its authentication.

stashplex only ever talks to Stash over HTTP, so this emulator is a real HTTP server that answers
the way Stash v0.30 does, quirks included, so the daemon's tests meet Stash's traps here first:

* Every document is parsed and validated against the schema subset in `stash_schema`; a field
  Stash lacks fails here too. Like Stash (gqlgen), parse/validation/variable errors answer HTTP
  422 when the client accepts `application/json` (or sends no Accept) and HTTP 400 with
  `application/graphql-response+json` when it sends `Accept: */*` (python-requests does); errors
  while running a valid query answer HTTP 200 with an `errors` array.
* `created_at`/`updated_at` are stored as Go RFC3339 strings with whole seconds in the host's zone
  (`Z` when the offset is zero) and filters compare them AS STRINGS, as SQLite does.
* Renaming a tag, performer or studio bumps only that object's `updated_at`; deleting one
  removes it from its scenes and moves no scene's `updated_at` (only the object count and the
  set of ids change: `../shared/reference/stash-graphql.md`, "More facts", read from Stash's
  `tagDestroy` & co.).
* Paging is `LIMIT/OFFSET` over the sort, answered afresh for every page, as Stash's SQL is:
  when a row already read is edited while a client pages over `updated_at`, it moves to the end
  and every later row shifts down one place, so offset paging skips one (same reference, same
  section). `per_page: 0` returns no rows but the count, `per_page: -1` every row (Stash's
  `FindFilterType.GetPageSize`/`IsGetAll` in `pkg/models/filter.go`).
* Stamps are stored as the text Stash wrote, in the zone of the moment: after `restart(tz=...)`
  old rows keep their offset and new writes carry the new one, so a zone west of the old one
  writes stamps that sort below the old ones as text (same reference, "Timestamps").
* Auth as Stash does it: with a key configured, `/graphql` without one is 401 +
  `WWW-Authenticate: FormBased`; a page without an extension (such as `/scene/1/screenshot`)
  is a 302 to `/login` instead; a wrong key is 401 everywhere. A key sent to a Stash that has
  none configured is also 401. The key may also come as `?apikey=`.
* find* queries: `ids` override the filter and paging (order kept, a missing id fails the
  query); an unknown `sort` is an error (`invalid sort: x`); ties sort by COALESCE(title, id)
  in natural case-insensitive order, then id; with no sort, scenes come in id order (Stash
  leaves that order unspecified). Filter fields Stash has but the emulator does not model are
  errors (`stash emulator: scene_filter.x is not supported`), never silently ignored.
* Groups (formerly movies) and parent studios as Stash >= 0.27 serves them: `Scene.groups
  { group { id name } scene_index }`, with the deprecated `Scene.movies { movie scene_index }`
  over the same rows, and `Studio.parent_studio` (`../shared/reference/stash-graphql.md`,
  "Scene fields" and "More facts", read from stashapp/stash v0.30 `graphql/schema`).
  Renaming a group, like a studio, moves only the group's `updated_at`.
* `GET /scene/{id}/screenshot` serves the cover: a small generated JPEG per scene, the bytes of
  `set_cover`, or Stash's SVG placeholder after `set_cover(id, b"")`; ETag and Cache-Control
  as Stash sets them.
* Performer images: `Performer.image_path` is `{base}/performer/{id}/image?t={updated_at}`,
  with `&default=true` while the performer has no image of its own, and
  `GET /performer/{id}/image` serves the bytes of `set_performer_image` (a generated
  placeholder otherwise); like every page, it needs the API key when one is set
  (`../shared/reference/stash-graphql.md`, "More facts", read from Stash's
  `internal/api/urlbuilders/performer.go`). A new image bumps the performer's `updated_at`.

Run it in-process (`StashEmulator(...).start()`) or as a process:
`python -m reconciler.emulators.stash --port P [--api-key K] [--tz Zone] [--fixture file.json]`.
Control endpoints outside Stash's URL space live under `/_emulator/` (see `_control`).
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    execute_sync,
    get_operation_ast,
    parse,
    validate,
)

from .http import EmulatorServer, Request, Response, parse_latency
from .stash_engine import (
    KINDS,
    OBJECT_DEFAULTS,
    GraphQLContext,
    StashQueryEngine,
    format_time,
    scene_defaults,
    split_path,
    unix_seconds,
)
from .stash_schema import OLD_SDL, SDL

__all__ = ["StashEmulator", "format_time", "unix_seconds", "default_screenshot", "main"]


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# the keyword arguments of add_scene/update_scene that describe a scene
_SCENE_FIELDS = _names(
    "title details date rating100 studio performers tags files code urls organized director "
    "stash_ids groups"
)


# --- images -----------------------------------------------------------------------------------


def default_screenshot(scene_id: int) -> bytes:
    """A valid 8x8 grey baseline JPEG, different per scene, standing in for a generated screenshot.

    One 8x8 block, DC only: a one-symbol DC table (category 6) and a one-symbol AC table (EOB)
    make the entropy-coded data a single byte. A COM segment names the scene.
    """
    level = 32 + scene_id % 32  # quantised DC difference, category 6
    quant = bytes([8] * 64)
    comment = f"stashplex stash emulator scene {scene_id}".encode()

    def segment(marker: int, payload: bytes) -> bytes:
        return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload

    return b"".join(
        [
            b"\xff\xd8",
            segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            segment(0xFE, comment),
            segment(0xDB, b"\x00" + quant),
            segment(0xC0, b"\x08\x00\x08\x00\x08\x01\x01\x11\x00"),
            segment(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x06"),
            segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00"),
            segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
            bytes([level << 1]),
            b"\xff\xd9",
        ]
    )


DEFAULT_PERFORMER_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 300">'
    b'<rect width="200" height="300" fill="#5c7080"/></svg>'
)
DEFAULT_SCENE_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 360">'
    b'<rect width="640" height="360" fill="#30404d"/></svg>'
)


def sniff_image_type(data: bytes) -> str:
    """The Content-Type Stash sends for an image: Go's content sniffing, text taken as SVG."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:14] == b"WEBPVP":
        return "image/webp"
    if data.startswith(b"BM"):
        return "image/bmp"
    if not any(b < 0x20 and b not in b"\t\n\x0c\r\x1b" for b in data[:512]):
        return "image/svg+xml"
    return "application/octet-stream"


# --- helpers ----------------------------------------------------------------------------------


def _path_ext(path: str) -> str:
    """Go's path.Ext."""
    for i in range(len(path) - 1, -1, -1):
        if path[i] == "/":
            break
        if path[i] == ".":
            return path[i:]
    return ""


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value))


class StashEmulator(StashQueryEngine, EmulatorServer):
    """Stash's GraphQL API and scene screenshots over real HTTP, with a Python API to change state.

    Edits through the Python API behave like edits in Stash's UI: they stamp `updated_at` with the
    emulated clock, `(now or time.time)() + clock_offset`, written in zone `tz`.
    """

    name = "stash-emulator"

    def __init__(
        self,
        api_key: str | None = "stash-test-key",
        port: int | None = None,
        tz: str = "UTC",
        clock_offset: float = 0.0,
        now: Callable[[], float] | float | None = None,
        play_history: bool = True,
        read_only_key: bool = False,
    ) -> None:
        super().__init__(port)
        self.api_key = api_key
        # [U] how a key that may not write is refused: every mutation answers a GraphQL error
        self.read_only_key = read_only_key
        self.clock_offset = clock_offset
        self.now_fn = now
        self._zone = ZoneInfo(tz)
        self._tz_name = tz
        self._state_lock = threading.RLock()
        # one answer computed and encoded at a time: two handler threads computing at once
        # would only trade the interpreter lock back and forth
        self._answering = threading.Lock()
        self._documents: OrderedDict[str, tuple[DocumentNode | None, list[GraphQLError]]] = (
            OrderedDict()
        )
        self.play_history = play_history
        self._stats_mark = 0
        # called with each GraphQL request's variables before it is answered: lets a test
        # edit the library between the pages of a client's walk, as a user in Stash's UI would
        self.before_query: Callable[[dict], None] | None = None
        self._reset_state()

    @property
    def play_history(self) -> bool:
        """False: a Stash before v0.25, whose schema has no `sceneAddPlay`."""
        return self._play_history

    @play_history.setter
    def play_history(self, present: bool) -> None:
        with self._state_lock:
            self._play_history = present
            self._schema = build_schema(SDL if present else OLD_SDL)
            self._install_resolvers()
            with self._lock:
                self._documents.clear()

    # --- clock and zone -----------------------------------------------------------------------

    @property
    def tz(self) -> str:
        """IANA zone of the emulated Stash host; every timestamp written from now on uses it."""
        return self._tz_name

    @tz.setter
    def tz(self, name: str) -> None:
        with self._state_lock:
            self._zone = ZoneInfo(name)
            self._tz_name = name

    def restart(self, tz: str | None = None) -> None:
        """Stop and start again on the same port, in zone `tz` when given (a container
        restarted with another `TZ`); the library and its stored stamps stay as they were."""
        self.stop()
        if tz is not None:
            self.tz = tz
        self.start()

    def clock(self) -> float:
        """The emulated host's Unix time."""
        source = self.now_fn
        if source is None:
            base = time.time()
        elif callable(source):
            base = float(source())
        else:
            base = float(source)
        return base + self.clock_offset

    def now_string(self) -> str:
        """The current time as Stash would write it into `updated_at`."""
        return format_time(self.clock(), self._zone)

    # --- state ----------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        with self._state_lock:
            self._store: dict[str, dict[int, dict]] = {kind: {} for kind in KINDS}
            self._next_id = {kind: 1 for kind in (*KINDS, "file", "folder")}
            self._folders: dict[str, dict] = {}
            self._names: dict[str, dict[str, int]] = {
                "tag": {},
                "performer": {},
                "studio": {},
                "group": {},
            }
            self._changed()

    def _changed(self) -> None:
        self._cache: dict[Any, Any] = {}

    def _new_id(self, kind: str) -> int:
        value = self._next_id[kind]
        self._next_id[kind] = value + 1
        return value

    def _scene(self, scene_id: str | int) -> dict:
        try:
            return self._store["scene"][int(scene_id)]
        except (KeyError, ValueError, TypeError):
            raise KeyError(f"no scene with id {scene_id!r}") from None

    def _lookup(self, kind: str, name: str) -> dict | None:
        object_id = self._names[kind].get(name.casefold())
        return self._store[kind].get(object_id) if object_id is not None else None

    def _index_names(self) -> None:
        for kind in self._names:
            index: dict[str, int] = {}
            for record in self._store[kind].values():
                index.setdefault(record["name"].casefold(), record["id"])
            self._names[kind] = index

    def _new_object(self, kind: str, name: str, **extra: Any) -> dict:
        stamp = self.now_string()
        record: dict[str, Any] = {"id": self._new_id(kind), "name": name, **OBJECT_DEFAULTS[kind]()}
        record.update(extra)
        record["created_at"] = record.get("created_at") or stamp
        record["updated_at"] = record.get("updated_at") or stamp
        self._store[kind][record["id"]] = record
        self._names[kind].setdefault(name.casefold(), record["id"])
        self._changed()
        return record

    def _ensure(self, kind: str, name: str) -> int:
        record = self._lookup(kind, name)
        if record is None:
            record = self._new_object(kind, name)
        return record["id"]

    def _folder(self, path: str) -> dict:
        folder = self._folders.get(path)
        if folder is None:
            parent = None
            if path not in ("/", "."):
                parent_path, _ = split_path(path)
                if parent_path != path:
                    parent = self._folder(parent_path)["id"]
            stamp = self.now_string()
            folder = {
                "id": self._new_id("folder"),
                "path": path,
                "parent_folder_id": parent,
                "mod_time": stamp,
                "created_at": stamp,
                "updated_at": stamp,
            }
            self._folders[path] = folder
        return folder

    def _new_file(self, spec: str | dict) -> dict:
        spec = {"path": spec} if isinstance(spec, str) else dict(spec)
        file_id = self._new_id("file")
        stamp = self.now_string()
        record = {
            "id": file_id,
            "path": spec["path"],
            "size": 100_000_000 + 1_000 * file_id,
            "duration": 1200.0 + file_id,
            "width": 1920,
            "height": 1080,
            "format": "mp4",
            "video_codec": "h264",
            "audio_codec": "aac",
            "frame_rate": 29.97,
            "bit_rate": 5_000_000,
            "interactive": False,
            "oshash": hashlib.sha256(spec["path"].encode()).hexdigest()[:16],
            "mod_time": stamp,
            "created_at": stamp,
            "updated_at": stamp,
        }
        record.update(spec)
        self._folder(split_path(record["path"])[0])
        return record

    def _scene_group(self, spec: str | dict) -> dict:
        """A scene's group row from a name, or from `{"name", "scene_index"}`."""
        spec = {"name": spec} if isinstance(spec, str) else spec
        group_id = self._ensure("group", spec["name"])
        return {"group_id": group_id, "scene_index": spec.get("scene_index")}

    def _apply_scene_fields(self, record: dict, fields: dict) -> None:
        unknown = set(fields) - _SCENE_FIELDS
        if unknown:
            raise TypeError(f"unknown scene field(s): {', '.join(sorted(unknown))}")
        for key, value in fields.items():
            if key == "studio":
                record["studio_id"] = self._ensure("studio", value) if value else None
            elif key == "performers":
                record["performer_ids"] = sorted({self._ensure("performer", n) for n in value})
            elif key == "tags":
                record["tag_ids"] = sorted({self._ensure("tag", n) for n in value})
            elif key == "files":
                record["files"] = [self._new_file(f) for f in value]
            elif key == "urls":
                record["urls"] = list(value)
            elif key == "groups":
                record["groups"] = [self._scene_group(g) for g in value]
            elif key == "stash_ids":
                record["stash_ids"] = [
                    {
                        "endpoint": s["endpoint"],
                        "stash_id": s["stash_id"],
                        "updated_at": s.get("updated_at") or self.now_string(),
                    }
                    for s in value
                ]
            elif key == "organized":
                record["organized"] = bool(value)
            else:
                record[key] = value

    # --- Python API: scenes ---------------------------------------------------------------------

    def add_scene(
        self,
        *,
        title: str | None = None,
        details: str | None = None,
        date: str | None = None,
        rating100: int | None = None,
        studio: str | None = None,
        performers: Sequence[str] = (),
        tags: Sequence[str] = (),
        files: Sequence[str | dict] = (),
        code: str | None = None,
        urls: Sequence[str] = (),
        organized: bool = False,
        director: str | None = None,
        groups: Sequence[str | dict] = (),
        created_at: str | None = None,
        updated_at: str | None = None,
    ) -> str:
        """Create a scene (and any tag, performer or studio named that does not exist yet).

        `files` are paths, or dicts with `path` and any VideoFile field; `groups` are group
        names, or dicts with `name` and `scene_index`. `created_at`/`updated_at`
        override the clock for seeding fixtures. Returns the new id ("1", "2", ...).
        """
        with self._state_lock:
            stamp = self.now_string()
            record = scene_defaults()
            record["id"] = self._new_id("scene")
            self._apply_scene_fields(
                record,
                {
                    "title": title,
                    "details": details,
                    "date": date,
                    "rating100": rating100,
                    "studio": studio,
                    "performers": performers,
                    "tags": tags,
                    "files": files,
                    "code": code,
                    "urls": urls,
                    "organized": organized,
                    "director": director,
                    "groups": groups,
                },
            )
            record["created_at"] = created_at or stamp
            record["updated_at"] = updated_at or created_at or stamp
            self._store["scene"][record["id"]] = record
            self._changed()
            return str(record["id"])

    def update_scene(self, scene_id: str | int, **fields: Any) -> None:
        """Edit a scene like Stash's editor does; always bumps the scene's `updated_at`."""
        with self._state_lock:
            record = self._scene(scene_id)
            self._apply_scene_fields(record, fields)
            record["updated_at"] = self.now_string()
            self._changed()

    def play_scene(self, scene_id: str | int, resume_time: float | None = None) -> None:
        """Someone watches the scene in Stash's player: a play now, and where they stopped."""
        with self._state_lock:
            record = self._scene(scene_id)
            record["play_history"] = [*record["play_history"], self.now_string()]
            record["play_count"] = len(record["play_history"])
            record["last_played_at"] = record["play_history"][-1]
            if resume_time is not None:
                record["resume_time"] = float(resume_time)
            self._changed()

    def set_cover(self, scene_id: str | int, data: bytes) -> None:
        """Replace the scene's screenshot (bumps `updated_at`); empty bytes leave it without one,
        so Stash's default placeholder (an SVG) is served."""
        with self._state_lock:
            record = self._scene(scene_id)
            record["cover"] = bytes(data)
            record["updated_at"] = self.now_string()
            self._changed()

    def move_file(self, scene_id: str | int, new_path: str, touch_scene: bool = False) -> None:
        """Move the scene's primary file, as a rescan after a rename does: the file changes, the
        scene's `updated_at` does not (unless `touch_scene`)."""
        with self._state_lock:
            record = self._scene(scene_id)
            if not record["files"]:
                raise ValueError(f"scene {scene_id} has no file to move")
            stamp = self.now_string()
            primary = record["files"][0]
            primary["path"] = new_path
            primary["updated_at"] = stamp
            self._folder(split_path(new_path)[0])
            if touch_scene:
                record["updated_at"] = stamp
            self._changed()

    def delete_scene(self, scene_id: str | int) -> None:
        """Destroy a scene; nothing else changes (Stash leaves no trace a poller could see)."""
        with self._state_lock:
            record = self._scene(scene_id)
            del self._store["scene"][record["id"]]
            self._changed()

    def scene(self, scene_id: str | int) -> dict:
        """The scene as `findScene` returns it to a client (plain JSON-able dict)."""
        with self._state_lock:
            self._scene(scene_id)
            data = self._run_internal(_FULL_SCENE_QUERY, {"id": str(scene_id)})
            return data["findScene"]

    def scenes(self) -> list[dict]:
        """Every scene as `findScenes` returns it, by id."""
        with self._state_lock:
            data = self._run_internal(_ALL_SCENES_QUERY, {})
            return data["findScenes"]["scenes"]

    # --- Python API: tags, performers, studios --------------------------------------------------

    def add_tag(self, name: str, *, parents: Sequence[str] = ()) -> str:
        """Create a tag (optionally under parent tags, for `depth` queries); returns its id."""
        with self._state_lock:
            if self._lookup("tag", name):
                raise ValueError(f"tag with name '{name}' already exists")
            parent_ids = [self._ensure("tag", p) for p in parents]
            return str(self._new_object("tag", name, parent_ids=parent_ids)["id"])

    def add_performer(self, name: str, *, disambiguation: str | None = None) -> str:
        """Create a performer; returns its id."""
        with self._state_lock:
            return str(self._new_object("performer", name, disambiguation=disambiguation)["id"])

    def set_performer_image(self, name: str, data: bytes) -> None:
        """Give a performer an image of its own (bumps its `updated_at`, as Stash's
        `performerUpdate` does); empty bytes take it away (the placeholder again)."""
        with self._state_lock:
            record = self._lookup("performer", name)
            if record is None:
                raise KeyError(f"no performer named {name!r}")
            record["image"] = base64.b64encode(data).decode() if data else None
            record["updated_at"] = self.now_string()
            self._changed()

    def add_studio(self, name: str, *, parent: str | None = None) -> str:
        """Create a studio, optionally under a parent studio; returns its id."""
        with self._state_lock:
            if self._lookup("studio", name):
                raise ValueError(f"studio with name '{name}' already exists")
            parent_id = self._ensure("studio", parent) if parent else None
            return str(self._new_object("studio", name, parent_id=parent_id)["id"])

    def set_studio_parent(self, name: str, parent: str | None) -> None:
        """Put a studio under a parent studio (or none), as Stash's studio editor does: the
        studio's `updated_at` moves, its scenes' do not."""
        with self._state_lock:
            record = self._lookup("studio", name)
            if record is None:
                raise KeyError(f"no studio named {name!r}")
            record["parent_id"] = self._ensure("studio", parent) if parent else None
            record["updated_at"] = self.now_string()
            self._changed()

    def add_group(self, name: str, *, studio: str | None = None) -> str:
        """Create a group (formerly a movie), optionally of a studio; returns its id."""
        with self._state_lock:
            studio_id = self._ensure("studio", studio) if studio else None
            return str(self._new_object("group", name, studio_id=studio_id)["id"])

    def _rename(self, kind: str, old: str, new: str, unique: bool) -> None:
        with self._state_lock:
            record = self._lookup(kind, old)
            if record is None:
                raise KeyError(f"no {kind} named {old!r}")
            other = self._lookup(kind, new)
            if unique and other is not None and other is not record:
                raise ValueError(f"{kind} with name '{new}' already exists")
            record["name"] = new
            record["updated_at"] = self.now_string()
            self._index_names()
            self._changed()

    def rename_tag(self, old: str, new: str) -> None:
        """Rename a tag: bumps the tag's `updated_at` only, never its scenes'."""
        self._rename("tag", old, new, unique=True)

    def rename_performer(self, old: str, new: str) -> None:
        """Rename a performer: bumps the performer's `updated_at` only."""
        self._rename("performer", old, new, unique=False)

    def rename_studio(self, old: str, new: str) -> None:
        """Rename a studio: bumps the studio's `updated_at` only."""
        self._rename("studio", old, new, unique=True)

    def rename_group(self, old: str, new: str) -> None:
        """Rename a group: bumps the group's `updated_at` only, never its scenes'."""
        self._rename("group", old, new, unique=False)

    def delete_tag(self, name: str) -> None:
        """Destroy a tag: it leaves its scenes without touching their `updated_at`."""
        self._delete("tag", name)

    def delete_performer(self, name: str) -> None:
        """Destroy a performer: scenes lose it without an `updated_at` change."""
        self._delete("performer", name)

    def delete_studio(self, name: str) -> None:
        """Destroy a studio: its scenes end up without a studio, `updated_at` untouched."""
        self._delete("studio", name)

    def _delete(self, kind: str, name: str) -> None:
        with self._state_lock:
            record = self._lookup(kind, name)
            if record is None:
                raise KeyError(f"no {kind} named {name!r}")
            object_id = record["id"]
            del self._store[kind][object_id]
            for scene in self._store["scene"].values():
                if kind == "tag" and object_id in scene["tag_ids"]:
                    scene["tag_ids"].remove(object_id)
                elif kind == "performer" and object_id in scene["performer_ids"]:
                    scene["performer_ids"].remove(object_id)
                elif kind == "studio" and scene["studio_id"] == object_id:
                    scene["studio_id"] = None
                elif kind == "group":
                    scene["groups"] = [g for g in scene["groups"] if g["group_id"] != object_id]
            for other in self._store[kind].values():
                if kind == "tag" and object_id in other["parent_ids"]:
                    other["parent_ids"].remove(object_id)
                if kind == "studio" and other["parent_id"] == object_id:
                    other["parent_id"] = None
            self._index_names()
            self._changed()

    def tags(self) -> list[dict]:
        """Every tag as `findTags` returns it, by id."""
        return self._list("findTags", "tags", "tag_filter: null", "id name created_at updated_at")

    def performers(self) -> list[dict]:
        """Every performer as `findPerformers` returns it, by id."""
        return self._list(
            "findPerformers",
            "performers",
            "performer_filter: null",
            "id name disambiguation created_at updated_at image_path",
        )

    def studios(self) -> list[dict]:
        """Every studio as `findStudios` returns it, by id."""
        return self._list(
            "findStudios",
            "studios",
            "studio_filter: null",
            "id name parent_studio { id name } created_at updated_at",
        )

    def _list(self, field: str, key: str, arg: str, selection: str) -> list[dict]:
        find_filter = '{per_page: -1, sort: "id"}'
        query = f"{{ {field}({arg}, filter: {find_filter}) {{ {key} {{ {selection} }} }} }}"
        with self._state_lock:
            return self._run_internal(query, {})[field][key]

    # --- Python API: fixtures -------------------------------------------------------------------

    def dump(self) -> dict:
        """The whole state as JSON-able data; `load` restores it (also across processes)."""
        with self._state_lock:

            def with_cover(scene: dict) -> dict:
                out = copy.deepcopy({k: v for k, v in scene.items() if k != "cover"})
                cover = scene.get("cover")
                out["cover"] = None if cover is None else base64.b64encode(cover).decode()
                return out

            return {
                "format": "stashplex-stash-emulator/1",
                "next_id": dict(self._next_id),
                "folders": copy.deepcopy(list(self._folders.values())),
                "tags": copy.deepcopy(list(self._store["tag"].values())),
                "performers": copy.deepcopy(list(self._store["performer"].values())),
                "studios": copy.deepcopy(list(self._store["studio"].values())),
                "groups": copy.deepcopy(list(self._store["group"].values())),
                "scenes": [with_cover(s) for s in self._store["scene"].values()],
            }

    def load(self, fixture: dict) -> None:
        """Replace the state with `fixture`: a `dump()`, or a hand-written one whose entries
        without an `id` are created through `add_tag`/`add_performer`/`add_studio`/`add_scene`
        (their keyword arguments)."""
        with self._state_lock:
            self._reset_state()
            for folder in fixture.get("folders", ()):
                self._folders[folder["path"]] = dict(folder)
            kinds = (("tag", "tags"), ("studio", "studios"), ("performer", "performers"))
            for kind, key in (*kinds, ("group", "groups")):
                for entry in fixture.get(key, ()):
                    if "id" in entry:
                        record = {**OBJECT_DEFAULTS[kind](), **copy.deepcopy(entry)}
                        record["id"] = int(record["id"])
                        self._store[kind][record["id"]] = record
                        self._next_id[kind] = max(self._next_id[kind], record["id"] + 1)
                    else:
                        {
                            "tag": self.add_tag,
                            "studio": self.add_studio,
                            "performer": self.add_performer,
                            "group": self.add_group,
                        }[kind](**entry)
                self._index_names()
            for entry in fixture.get("scenes", ()):
                if "id" in entry:
                    record = {**scene_defaults(), **copy.deepcopy(entry)}
                    record["id"] = int(record["id"])
                    cover = entry.get("cover")
                    record["cover"] = None if cover is None else base64.b64decode(cover)
                    self._store["scene"][record["id"]] = record
                    self._next_id["scene"] = max(self._next_id["scene"], record["id"] + 1)
                    for f in record["files"]:
                        self._next_id["file"] = max(self._next_id["file"], int(f["id"]) + 1)
                else:
                    self.add_scene(**entry)
            for kind, value in fixture.get("next_id", {}).items():
                self._next_id[kind] = max(self._next_id.get(kind, 1), int(value))
            self._changed()

    # --- HTTP -----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Route a request the way Stash's router does, authentication first."""
        path = request.path
        if path.startswith("/_emulator/"):
            return self._control(request)
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        if path == "/graphql":
            return self._graphql_http(request)
        match = re.fullmatch(r"/scene/([^/]+)/screenshot", path)
        if match:
            return self._screenshot(request, match.group(1))
        match = re.fullmatch(r"/performer/([^/]+)/image", path)
        if match:
            return self._performer_image(request, match.group(1))
        if path == "/login" or path.startswith("/login/"):
            return Response(200, _LOGIN_PAGE, "text/html; charset=utf-8")
        if path == "/playground":
            return Response(
                200, b"<!DOCTYPE html><title>GraphQL playground</title>", "text/html; charset=utf-8"
            )
        return Response(404, b"404 page not found\n", "text/plain; charset=utf-8")

    def _authenticate(self, request: Request) -> Response | None:
        key = request.header("ApiKey") or ""
        if not key:
            key = (parse_qs(request.query).get("apikey") or [""])[0]
        if key:
            if key != (self.api_key or ""):
                return _unauthorized()
            return None
        if not self.api_key:
            return None
        path = request.path
        if path.startswith("/login") or path in ("/logout", "/css") or path.startswith("/assets"):
            return None
        ext = _path_ext(path)
        if path == "/graphql" or (ext and ext != ".html"):
            return _unauthorized()
        return_url = path + (f"?{request.query}" if request.query else "")
        location = "/login?" + urlencode({"returnURL": return_url})
        body = (
            f'<a href="{location}">Found</a>.\n\n'.encode()
            if request.method in ("GET", "HEAD")
            else b""
        )
        return Response(302, body, "text/html; charset=utf-8", {"Location": location})

    def _base_url(self, request: Request) -> str:
        scheme = "https" if request.header("X-Forwarded-Proto") == "https" else "http"
        host = request.header("Host") or f"127.0.0.1:{self.port}"
        prefix = (request.header("X-Forwarded-Prefix") or "").rstrip("/")
        return f"{scheme}://{host}{prefix}"

    def _screenshot(self, request: Request, raw_id: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"", "text/plain; charset=utf-8")
        try:
            scene_id = int(raw_id)
        except ValueError:
            return Response(400, b"Bad Request\n", "text/plain; charset=utf-8")
        with self._state_lock:
            record = self._store["scene"].get(scene_id)
            if record is None:
                return Response(404, b"Not Found\n", "text/plain; charset=utf-8")
            cover = record.get("cover")
        if cover is None:
            data = default_screenshot(scene_id)
        elif cover == b"":
            data = DEFAULT_SCENE_SVG
        else:
            data = cover
        etag = '"' + hashlib.md5(data).hexdigest() + '"'
        cache = (
            "private, max-age=31536000, immutable"
            if "t" in parse_qs(request.query, keep_blank_values=True)
            else "no-cache"
        )
        headers = {"ETag": etag, "Cache-Control": cache}
        if request.header("If-None-Match") == etag:
            return Response(304, b"", sniff_image_type(data), headers)
        return Response(200, data, sniff_image_type(data), headers)

    def _performer_image(self, request: Request, raw_id: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"", "text/plain; charset=utf-8")
        with self._state_lock:
            record = self._store["performer"].get(int(raw_id)) if raw_id.isdigit() else None
            if record is None:
                return Response(404, b"Not Found\n", "text/plain; charset=utf-8")
            image = record.get("image")
        data = base64.b64decode(image) if image else DEFAULT_PERFORMER_SVG
        return Response(200, data, sniff_image_type(data), {"Cache-Control": "no-cache"})

    def _graphql_http(self, request: Request) -> Response:
        accept_type = _response_content_type(request.header("Accept"))
        headers = {"Cache-Control": "no-store"}
        if request.method == "OPTIONS":
            return Response(200, b"", "text/plain; charset=utf-8", {"Allow": "OPTIONS, GET, POST"})
        if request.method == "GET":
            params = parse_qs(request.query)
            query = (params.get("query") or [""])[0]
            operation = (params.get("operationName") or [None])[0]
            variables: Any = None
            if params.get("variables"):
                try:
                    variables = json.loads(params["variables"][0])
                except ValueError:
                    return _json_response(
                        400, _error_payload("variables could not be decoded"), accept_type, headers
                    )
            get_only = True
        elif request.method == "POST":
            content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return _json_response(
                    400, _error_payload("transport not supported"), "text/plain; charset=utf-8"
                )
            try:
                body = json.loads(request.body or b"null")
                if not isinstance(body, dict):
                    raise ValueError("expected a JSON object")
            except ValueError as exc:
                text = request.body.decode(errors="replace")
                message = f"json request body could not be decoded: {exc} body:{text}"
                return _json_response(400, _error_payload(message), accept_type, headers)
            query = body.get("query") or ""
            variables = body.get("variables")
            operation = body.get("operationName") or None
            get_only = False
        else:
            return _json_response(
                400, _error_payload("transport not supported"), "text/plain; charset=utf-8"
            )
        if variables is not None and not isinstance(variables, dict):
            return _json_response(
                400, _error_payload("variables must be an object"), accept_type, headers
            )
        if self.before_query is not None:
            self.before_query(variables or {})
        with self._answering:
            status, payload = self.execute(
                str(query), variables, operation, base_url=self._base_url(request),
                get_only=get_only,
            )
            if status == 422 and accept_type == "application/graphql-response+json":
                status = 400
            return _json_response(status, payload, accept_type, headers)

    # --- GraphQL --------------------------------------------------------------------------------

    def execute(
        self,
        query: str,
        variables: dict | None = None,
        operation_name: str | None = None,
        *,
        base_url: str | None = None,
        get_only: bool = False,
    ) -> tuple[int, dict]:
        """Run one GraphQL request as Stash would; returns (HTTP status for an
        application/json client, JSON body)."""
        document, errors = self._document(query)
        if errors:
            return 422, {
                "errors": [_format_error(e, "GRAPHQL_VALIDATION_FAILED") for e in errors],
                "data": None,
            }
        assert document is not None
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            name = operation_name or ""
            return 422, _error_payload(f"operation {name} not found", "GRAPHQL_VALIDATION_FAILED")
        if get_only and operation.operation != OperationType.QUERY:
            return 406, _error_payload("GET requests only allow query operations")
        context = GraphQLContext(self, base_url or self.url)
        with self._state_lock:
            result = execute_sync(
                self._schema,
                document,
                context_value=context,
                variable_values=variables,
                operation_name=operation_name,
            )
        if result.errors and result.data is None and all(e.path is None for e in result.errors):
            return 422, {
                "errors": [_format_error(e, "GRAPHQL_VALIDATION_FAILED") for e in result.errors],
                "data": None,
            }
        payload: dict[str, Any] = {}
        if result.errors:
            payload["errors"] = [_format_error(e) for e in result.errors]
        payload["data"] = result.data
        return 200, payload

    def _document(self, query: str) -> tuple[DocumentNode | None, list[GraphQLError]]:
        with self._lock:
            cached = self._documents.get(query)
            if cached is not None:
                self._documents.move_to_end(query)
                return cached
        entry: tuple[DocumentNode | None, list[GraphQLError]]
        if not query.strip():
            return None, [GraphQLError("no operation provided")]
        try:
            document = parse(query)
        except GraphQLError as exc:
            entry = (None, [exc])
        else:
            if not any(isinstance(d, OperationDefinitionNode) for d in document.definitions):
                entry = (None, [GraphQLError("no operation provided")])
            else:
                entry = (document, list(validate(self._schema, document)))
        with self._lock:
            self._documents[query] = entry
            while len(self._documents) > 512:
                self._documents.popitem(last=False)
        return entry

    def _run_internal(self, query: str, variables: dict) -> dict:
        status, payload = self.execute(query, variables, base_url=self.url)
        if status != 200 or payload.get("errors"):
            raise RuntimeError(f"stash emulator internal query failed: {payload}")
        return payload["data"]

    # --- control endpoints (outside Stash's URL space) ------------------------------------------

    def stats(self) -> dict[str, int]:
        """Requests received since the last reset: GraphQL, images, anything else."""
        with self._lock:
            if self._stats_mark > len(self.requests):
                self._stats_mark = 0
            counts = {"graphql": 0, "image": 0, "other": 0}
            for _method, path, _query in self.requests[self._stats_mark :]:
                if path.startswith("/_emulator/"):
                    continue
                if path == "/graphql":
                    counts["graphql"] += 1
                elif re.fullmatch(r"/scene/[^/]+/screenshot", path):
                    counts["image"] += 1
                else:
                    counts["other"] += 1
            return counts

    def reset_stats(self) -> None:
        with self._lock:
            self._stats_mark = len(self.requests)

    def latency_kind(self, request: Request) -> str:
        """The latency model delays requests by the kinds `/_emulator/stats` counts."""
        if request.path == "/graphql":
            return "graphql"
        if re.fullmatch(r"/scene/[^/]+/screenshot", request.path):
            return "image"
        return "other"

    def _control(self, request: Request) -> Response:
        """JSON control API for a separate-process emulator:

        GET /_emulator/stats, POST /_emulator/reset-stats, GET|POST /_emulator/state (dump/load),
        POST /_emulator/call {"method", "args", "kwargs"} (a Python API method; `data_base64` for
        bytes), POST /_emulator/config {"clock_offset", "tz", "api_key"},
        POST /_emulator/inject {inject() kwargs, "body" as text}, POST /_emulator/clear-faults.
        """
        action = request.path[len("/_emulator/") :]
        try:
            body = json.loads(request.body) if request.body else {}
            if action == "stats":
                result: Any = self.stats()
            elif action == "reset-stats":
                self.reset_stats()
                result = {"ok": True}
            elif action == "state":
                if request.method == "POST":
                    self.load(body)
                    result = {"ok": True}
                else:
                    result = self.dump()
            elif action == "call":
                method = body.get("method")
                if method not in _CALLABLE:
                    return _plain_json(400, {"error": f"unknown method {method!r}"})
                kwargs = dict(body.get("kwargs") or {})
                if "data_base64" in kwargs:
                    kwargs["data"] = base64.b64decode(kwargs.pop("data_base64"))
                result = {
                    "result": _jsonable(getattr(self, method)(*(body.get("args") or []), **kwargs))
                }
            elif action == "config":
                if "clock_offset" in body:
                    self.clock_offset = float(body["clock_offset"])
                if "tz" in body:
                    self.tz = body["tz"]
                if "api_key" in body:
                    self.api_key = body["api_key"]
                if "play_history" in body:
                    self.play_history = bool(body["play_history"])
                if "read_only_key" in body:
                    self.read_only_key = bool(body["read_only_key"])
                result = {
                    "clock_offset": self.clock_offset,
                    "tz": self.tz,
                    "api_key": self.api_key,
                    "now": self.now_string(),
                }
            elif action == "inject":
                kwargs = dict(body)
                kwargs["body"] = str(kwargs.get("body", "")).encode()
                self.inject(**kwargs)
                result = {"ok": True}
            elif action == "clear-faults":
                self.clear_faults()
                result = {"ok": True}
            else:
                return _plain_json(404, {"error": f"no control endpoint {action!r}"})
        except (KeyError, ValueError, TypeError) as exc:
            return _plain_json(400, {"error": f"{type(exc).__name__}: {exc}"})
        return _plain_json(200, result)


# --- module data --------------------------------------------------------------------------------


# Python API methods that POST /_emulator/call may run
_CALLABLE = _names(
    "add_scene update_scene play_scene set_cover move_file delete_scene scene scenes add_tag "
    "add_performer add_studio rename_tag rename_performer rename_studio delete_tag "
    "delete_performer delete_studio tags performers studios now_string"
)


_FILE_SELECTION = (
    "id path basename size duration width height format video_codec audio_codec frame_rate "
    "bit_rate "
    "mod_time created_at updated_at fingerprints { type value }"
)
_SCENE_SELECTION = (
    "id title code details director urls date rating100 organized o_counter interactive "
    "created_at updated_at play_count play_history last_played_at resume_time play_duration "
    f"files {{ {_FILE_SELECTION} }} "
    "paths { screenshot preview stream webp vtt sprite funscript interactive_heatmap caption } "
    "studio { id name created_at updated_at parent_studio { id name created_at updated_at } } "
    "performers { id name disambiguation created_at updated_at } "
    "tags { id name created_at updated_at } "
    "groups { scene_index group { id name } } stash_ids { endpoint stash_id updated_at }"
)
_FULL_SCENE_QUERY = (
    f"query EmulatorScene($id: ID!) {{ findScene(id: $id) {{ {_SCENE_SELECTION} }} }}"
)
_ALL_SCENES_QUERY = (
    'query EmulatorScenes { findScenes(filter: {per_page: -1, sort: "id"}) '
    f"{{ scenes {{ {_SCENE_SELECTION} }} }} }}"
)

_LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Login</title></head><body>"
    b'<form method="POST" action="/login"><input name="username">'
    b'<input name="password" type="password">'
    b"<button>Login</button></form></body></html>"
)


def _unauthorized() -> Response:
    return Response(401, b"", "text/plain; charset=utf-8", {"WWW-Authenticate": "FormBased"})


def _response_content_type(accept: str | None) -> str:
    """gqlgen's choice of response type from the Accept header."""
    if not accept:
        return "application/json"
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("*/*", "application/*"):
            return "application/graphql-response+json"
        if media == "application/json":
            return "application/json"
        if media == "application/graphql-response+json":
            return "application/graphql-response+json"
    return "application/graphql-response+json"


def _quote_names(message: str) -> str:
    """graphql-core quotes names with '...'; gqlparser (Stash's) uses "..."."""
    return re.sub(r"'([^'\s]+)'", r'"\1"', message)


def _format_error(error: GraphQLError, code: str | None = None) -> dict:
    out: dict[str, Any] = {"message": _quote_names(error.message)}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = list(error.path)
    if code:
        out["extensions"] = {"code": code}
    return out


def _error_payload(message: str, code: str | None = None) -> dict:
    error: dict[str, Any] = {"message": message}
    if code:
        error["extensions"] = {"code": code}
    return {"errors": [error], "data": None}


def _json_response(
    status: int, payload: dict, content_type: str, headers: dict | None = None
) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(status, body, content_type, dict(headers or {}))


def _plain_json(status: int, payload: Any) -> Response:
    return Response(status, json.dumps(payload).encode(), "application/json")


# --- command line -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a Stash emulator until SIGTERM/SIGINT (then exit 0), for subprocess tests and demos."""
    parser = argparse.ArgumentParser(
        prog="python -m reconciler.emulators.stash", description=main.__doc__
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)"
    )
    parser.add_argument(
        "--api-key", default=None, help="require this ApiKey (default: no authentication)"
    )
    parser.add_argument("--tz", default="UTC", help="IANA zone of the emulated host (default: UTC)")
    parser.add_argument(
        "--clock-offset", type=float, default=0.0, help="seconds added to the clock"
    )
    parser.add_argument("--fixture", help="JSON state to load (a dump() or a hand-written fixture)")
    parser.add_argument(
        "--latency",
        type=parse_latency,
        default={},
        metavar="KIND=MS,...",
        help="delay each request of a kind (graphql, image, other)",
    )
    args = parser.parse_args(argv)

    emulator = StashEmulator(
        api_key=args.api_key, port=args.port or None, tz=args.tz, clock_offset=args.clock_offset
    )
    emulator.latency = args.latency
    return emulator.serve_until_signalled(args.fixture)


if __name__ == "__main__":
    sys.exit(main())

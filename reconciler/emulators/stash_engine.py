"""How the Stash emulator answers GraphQL: resolvers, find* queries, sorting and filters.

A mixin for `StashEmulator`, kept apart from the HTTP and Python-API side. It reads the state the
emulator keeps (`_store`, `_folders`, `_cache`) and follows Stash v0.30's query layer: `ids`
override filters and paging, unknown sorts are errors, ties sort by COALESCE(title, id) in
Stash's natural case-insensitive order, and timestamps are compared and sorted as text.
"""

from __future__ import annotations

import base64
import bisect
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from graphql import GraphQLError, GraphQLSchema

from . import stash_query as sq

STASH_VERSION = {"version": "v0.30.1", "hash": "b23b0267", "build_time": "2025-12-18 03:57:33"}
APP_SCHEMA = 75
ZERO_TIME_UNIX = -62135596800  # what Go's zero time gives for .Unix()


# --- time -------------------------------------------------------------------------------------


def format_time(ts: float, zone: ZoneInfo) -> str:
    """Go's `time.RFC3339` in the host's zone: whole seconds, offset `+hh:mm`, `Z` when zero."""
    dt = datetime.fromtimestamp(math.floor(ts), zone)
    offset = dt.utcoffset() or timedelta(0)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        return text + "Z"
    sign = "+" if minutes > 0 else "-"
    minutes = abs(minutes)
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@lru_cache(maxsize=65536)
def unix_seconds(stamp: str | None) -> int:
    """Unix seconds of a stored timestamp (naive text counts as UTC, as Stash's driver reads it)."""
    if not stamp:
        return ZERO_TIME_UNIX
    try:
        dt = datetime.fromisoformat(stamp)
    except ValueError:
        return ZERO_TIME_UNIX
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return math.floor(dt.timestamp())


def parse_timestamp(value: str) -> float:
    """A `Timestamp` argument: RFC3339 (Stash's `utils.ParseDateStringAsTime`; relative forms
    such as `<4h` are not modelled)."""
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise GraphQLError(f"cannot parse timestamp {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def split_path(path: str) -> tuple[str, str]:
    """(folder, basename) the way Stash stores a file on a Linux host."""
    if "/" not in path:
        return ".", path
    folder, _, base = path.rpartition("/")
    return folder or "/", base


def to_int(value: Any) -> int:
    """An ID argument as Stash parses it (strconv.Atoi), failing with Stash's message."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise GraphQLError(f'strconv.Atoi: parsing "{value}": invalid syntax') from None


@dataclass
class GraphQLContext:
    """What resolvers need from the request: the base URL for the paths Stash builds."""

    emu: StashQueryEngine
    base_url: str


KINDS = ("scene", "tag", "performer", "studio", "group")
# what `Group` has and the deprecated `Movie` lacks
_GROUP_ONLY_FIELDS = (
    "containing_groups",
    "sub_groups",
    "performer_count",
    "sub_group_count",
    "o_counter",
)


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# the sorts Stash accepts (anything else is `invalid sort: ...`)
_SORTS = {
    "scene": _names(
        "bitrate created_at code date file_count filesize duration file_mod_time framerate "
        "group_scene_number id interactive interactive_speed last_o_at last_played_at "
        "movie_scene_number o_counter organized performer_count play_count play_duration "
        "resume_time path perceptual_similarity random rating resolution studio tag_count "
        "title updated_at performer_age"
    ),
    "tag": _names(
        "created_at galleries_count groups_count id images_count movies_count name "
        "performers_count random scene_markers_count scenes_count scenes_duration "
        "studios_count updated_at"
    ),
    "studio": _names(
        "child_count created_at galleries_count id images_count name random rating "
        "scenes_count scenes_duration tag_count updated_at"
    ),
    "performer": _names(
        "birthdate career_length created_at galleries_count height id images_count last_o_at "
        "last_played_at measurements name o_counter penis_length play_count random rating "
        "scenes_count scenes_duration tag_count updated_at weight"
    ),
}


class StashQueryEngine:
    """How Stash answers queries: resolvers, find* paging and sorting, filters (a mixin)."""

    api_key: str | None
    read_only_key: bool
    _schema: GraphQLSchema
    _zone: ZoneInfo
    _store: dict[str, dict[int, dict]]
    _folders: dict[str, dict]
    _cache: dict[Any, Any]

    def clock(self) -> float:
        raise NotImplementedError

    def now_string(self) -> str:
        raise NotImplementedError

    def _changed(self) -> None:
        raise NotImplementedError

    def _folder(self, path: str) -> dict:
        raise NotImplementedError

    # --- resolvers ------------------------------------------------------------------------------

    def _install_resolvers(self) -> None:
        fields = self._schema.type_map

        def set_resolvers(type_name: str, resolvers: dict[str, Callable[..., Any]]) -> None:
            type_fields = fields[type_name].fields  # type: ignore[attr-defined]
            for name, fn in resolvers.items():
                type_fields[name].resolve = fn

        empty = _constant([])
        zero = _constant(0)
        set_resolvers(
            "Query",
            {
                "findScene": self._r_find_scene,
                "findScenes": self._r_find_scenes,
                "findTag": lambda _s, info, id: self._r_find_one("tag", id),
                "findTags": self._finder("tag"),
                "findPerformer": lambda _s, info, id: self._r_find_one("performer", id),
                "findPerformers": self._finder("performer"),
                "findStudio": lambda _s, info, id: self._r_find_one("studio", id),
                "findStudios": self._finder("studio"),
                "version": lambda _s, info: dict(STASH_VERSION),
                "systemStatus": lambda _s, info: {
                    "databaseSchema": APP_SCHEMA,
                    "appSchema": APP_SCHEMA,
                    "status": "OK",
                    "os": "linux",
                    "databasePath": "/root/.stash/stash-go.sqlite",
                    "configPath": "/root/.stash/config.yml",
                    "workingDir": "/root",
                    "homeDir": "/root",
                    "ffmpegPath": "/usr/bin/ffmpeg",
                    "ffprobePath": "/usr/bin/ffprobe",
                },
            },
        )
        mutations = {
            "sceneUpdate": self._r_scene_update,
            "sceneAddPlay": self._r_scene_add_play,
            "sceneSaveActivity": self._r_scene_save_activity,
        }
        set_resolvers(
            "Mutation",
            {
                name: self._writing(fn)
                for name, fn in mutations.items()
                if name in fields["Mutation"].fields  # type: ignore[attr-defined]
            },
        )
        set_resolvers(
            "Scene",
            {
                "url": lambda r, info: r["urls"][0] if r["urls"] else None,
                "captions": empty,
                "paths": self._r_scene_paths,
                "scene_markers": empty,
                "galleries": empty,
                "studio": lambda r, info: self._store["studio"].get(r["studio_id"]),
                "groups": lambda r, info: self._scene_groups(r, "group"),
                "movies": lambda r, info: self._scene_groups(r, "movie"),
                "tags": lambda r, info: self._tags_sorted(r["tag_ids"]),
                "performers": lambda r, info: [
                    self._store["performer"][i]
                    for i in sorted(r["performer_ids"])
                    if i in self._store["performer"]
                ],
                "sceneStreams": lambda r, info: [
                    {
                        "url": self._stream_url(info.context.base_url, r["id"]),
                        "mime_type": "video/mp4",
                        "label": "Direct stream",
                    }
                ],
            },
        )
        file_resolvers = {
            "basename": lambda f, info: split_path(f["path"])[1],
            "parent_folder_id": lambda f, info: self._folder(split_path(f["path"])[0])["id"],
            "parent_folder": lambda f, info: self._folder(split_path(f["path"])[0]),
            "fingerprint": lambda f, info, type: (
                f.get("oshash") if type == "oshash" else f.get(type)
            ),
            "fingerprints": lambda f, info: [
                {"type": t, "value": f[t]} for t in ("oshash", "md5", "phash") if f.get(t)
            ],
        }
        for type_name in ("VideoFile", "BasicFile", "GalleryFile"):
            set_resolvers(type_name, file_resolvers)
        set_resolvers(
            "Folder",
            {
                "parent_folder": lambda d, info: next(
                    (f for f in self._folders.values() if f["id"] == d["parent_folder_id"]), None
                ),
            },
        )
        set_resolvers(
            "Tag",
            {
                "image_path": lambda r, info: (
                    f"{info.context.base_url}/tag/{r['id']}/image?t={unix_seconds(r['updated_at'])}"
                ),
                "scene_count": lambda r, info, depth=None: self._scene_count("tag", r["id"], depth),
                "scene_marker_count": zero,
                "image_count": zero,
                "gallery_count": zero,
                "performer_count": lambda r, info, depth=None: sum(
                    1 for p in self._store["performer"].values() if r["id"] in p["tag_ids"]
                ),
                "studio_count": lambda r, info, depth=None: sum(
                    1 for s in self._store["studio"].values() if r["id"] in s["tag_ids"]
                ),
                "group_count": zero,
                "movie_count": zero,
                "parents": lambda r, info: self._tags_sorted(r["parent_ids"]),
                "children": lambda r, info: self._tags_sorted(
                    self._children("tag").get(r["id"], [])
                ),
                "parent_count": lambda r, info: len(r["parent_ids"]),
                "child_count": lambda r, info: len(self._children("tag").get(r["id"], [])),
            },
        )
        set_resolvers(
            "Performer",
            {
                "url": lambda r, info: (r.get("urls") or [None])[0],
                "twitter": _constant(None),
                "instagram": _constant(None),
                "tags": lambda r, info: self._tags_sorted(r["tag_ids"]),
                "image_path": lambda r, info: (
                    f"{info.context.base_url}/performer/{r['id']}/image"
                    f"?t={unix_seconds(r['updated_at'])}"
                    + ("" if r.get("image") else "&default=true")
                ),
                "scene_count": lambda r, info: self._scene_count("performer", r["id"], None),
                "image_count": zero,
                "gallery_count": zero,
                "group_count": zero,
                "movie_count": zero,
                "performer_count": zero,
                "o_counter": zero,
                "scenes": lambda r, info: [
                    s for s in self._store["scene"].values() if r["id"] in s["performer_ids"]
                ],
                "groups": empty,
                "movies": empty,
            },
        )
        set_resolvers(
            "Studio",
            {
                "url": lambda r, info: (r.get("urls") or [None])[0],
                "parent_studio": lambda r, info: self._store["studio"].get(r["parent_id"]),
                "child_studios": lambda r, info: [
                    self._store["studio"][i] for i in self._children("studio").get(r["id"], [])
                ],
                "tags": lambda r, info: self._tags_sorted(r["tag_ids"]),
                "image_path": lambda r, info: (
                    f"{info.context.base_url}/studio/{r['id']}/image?t={unix_seconds(r['updated_at'])}"
                ),
                "scene_count": lambda r, info, depth=None: self._scene_count(
                    "studio", r["id"], depth
                ),
                "image_count": zero,
                "gallery_count": zero,
                "performer_count": lambda r, info, depth=None: len(
                    {
                        p
                        for s in self._store["scene"].values()
                        if s["studio_id"] in self._expand("studio", r["id"], depth or 0)
                        for p in s["performer_ids"]
                    }
                ),
                "group_count": zero,
                "movie_count": zero,
                "groups": empty,
                "movies": empty,
                "o_counter": zero,
            },
        )

        group_resolvers = {
            "studio": lambda r, info: self._store["studio"].get(r["studio_id"]),
            "tags": lambda r, info: self._tags_sorted(r["tag_ids"]),
            "containing_groups": empty,
            "sub_groups": empty,
            "front_image_path": _constant(None),
            "back_image_path": _constant(None),
            "scene_count": lambda r, info, depth=None: len(self._group_scenes(r["id"])),
            "performer_count": lambda r, info, depth=None: len(
                {p for s in self._group_scenes(r["id"]) for p in s["performer_ids"]}
            ),
            "sub_group_count": lambda r, info, depth=None: 0,
            "scenes": lambda r, info: self._group_scenes(r["id"]),
            "o_counter": zero,
        }
        set_resolvers("Group", group_resolvers)
        movie_resolvers = {k: v for k, v in group_resolvers.items() if k not in _GROUP_ONLY_FIELDS}
        movie_resolvers["url"] = lambda r, info: (r.get("urls") or [None])[0]
        set_resolvers("Movie", movie_resolvers)

    def _group_scenes(self, group_id: int) -> list[dict]:
        return [
            s
            for s in self._store["scene"].values()
            if any(g["group_id"] == group_id for g in s["groups"])
        ]

    def _scene_groups(self, record: dict, field: str) -> list[dict]:
        """`Scene.groups` (`SceneGroup { group scene_index }`), or the deprecated `movies`
        (`SceneMovie { movie scene_index }`) over the same rows, as Stash serves both."""
        groups = self._store["group"]
        return [
            {field: groups[g["group_id"]], "scene_index": g["scene_index"]}
            for g in record["groups"]
            if g["group_id"] in groups
        ]

    def _stream_url(self, base_url: str, scene_id: int) -> str:
        url = f"{base_url}/scene/{scene_id}/stream"
        return url + "?" + urlencode({"apikey": self.api_key}) if self.api_key else url

    def _r_scene_paths(self, record: dict, info: Any) -> dict:
        base = info.context.base_url
        sid = record["id"]
        files = record["files"]
        checksum = (files[0].get("oshash") or "") if files else ""
        return {
            "screenshot": f"{base}/scene/{sid}/screenshot?t={unix_seconds(record['updated_at'])}",
            "preview": f"{base}/scene/{sid}/preview",
            "stream": self._stream_url(base, sid),
            "webp": f"{base}/scene/{sid}/webp",
            "vtt": f"{base}/scene/{checksum}_thumbs.vtt",
            "sprite": f"{base}/scene/{checksum}_sprite.jpg",
            "funscript": f"{base}/scene/{sid}/funscript",
            "interactive_heatmap": f"{base}/scene/{sid}/interactive_heatmap",
            "caption": f"{base}/scene/{sid}/caption",
        }

    def _tags_sorted(self, ids: Iterable[int]) -> list[dict]:
        tags = [self._store["tag"][i] for i in ids if i in self._store["tag"]]
        tags.sort(key=lambda t: (sq.natural_key(t.get("sort_name") or t["name"]), t["id"]))
        return tags

    def _children(self, kind: str) -> dict[int, list[int]]:
        key = ("children", kind)
        children = self._cache.get(key)
        if children is None:
            children = {}
            for record in self._store[kind].values():
                parents = record["parent_ids"] if kind == "tag" else [record["parent_id"]]
                for parent in parents:
                    if parent is not None:
                        children.setdefault(parent, []).append(record["id"])
            self._cache[key] = children
        return children

    def _expand(self, kind: str, object_id: Any, depth: int) -> set:
        """The object and its descendants `depth` levels down (-1: all)."""
        found = {object_id}
        frontier = [object_id]
        level = 0
        children = self._children(kind)
        while frontier and (depth < 0 or level < depth):
            frontier = [c for p in frontier for c in children.get(p, []) if c not in found]
            found.update(frontier)
            level += 1
        return found

    def _counts(self) -> dict[str, Counter]:
        counts = self._cache.get("counts")
        if counts is None:
            counts = {"tag": Counter(), "performer": Counter(), "studio": Counter()}
            for scene in self._store["scene"].values():
                counts["tag"].update(scene["tag_ids"])
                counts["performer"].update(scene["performer_ids"])
                if scene["studio_id"] is not None:
                    counts["studio"][scene["studio_id"]] += 1
            self._cache["counts"] = counts
        return counts

    def _scene_count(self, kind: str, object_id: int, depth: int | None) -> int:
        if not depth:
            return self._counts()[kind][object_id]
        ids = self._expand(kind, object_id, depth)
        getter = RELATED[kind]
        return sum(1 for s in self._store["scene"].values() if not ids.isdisjoint(getter(s)))

    def _r_find_scene(
        self, _source: Any, info: Any, id: str | None = None, checksum: str | None = None
    ) -> dict | None:
        if id is not None:
            return self._store["scene"].get(to_int(id))
        if checksum is not None:
            return next(
                (
                    s
                    for s in self._store["scene"].values()
                    if any(f.get("md5") == checksum for f in s["files"])
                ),
                None,
            )
        return None

    def _r_find_one(self, kind: str, object_id: str) -> dict | None:
        return self._store[kind].get(to_int(object_id))

    def _by_ids(self, kind: str, ids: Sequence[Any], validate_ids: bool) -> list[dict]:
        if validate_ids:
            seen: set[str] = set()
            for raw in ids:
                if str(raw) in seen:
                    raise GraphQLError(f"validating ids: duplicate id found: {raw}")
                seen.add(str(raw))
        numbers = []
        for raw in ids:
            try:
                numbers.append(int(raw))
            except ValueError:
                raise GraphQLError(
                    f'converting ids: strconv.Atoi: parsing "{raw}": invalid syntax'
                ) from None
        out = []
        for pos, number in enumerate(numbers):
            record = self._store[kind].get(number)
            if record is None or numbers.index(number) != pos:
                raise GraphQLError(f"{kind} with id {number} not found")
            out.append(record)
        return out

    def _r_find_scenes(
        self,
        _source: Any,
        info: Any,
        scene_filter: dict | None = None,
        scene_ids: list[int] | None = None,
        ids: list[str] | None = None,
        filter: dict | None = None,
    ) -> dict:
        if ids:
            matched = self._by_ids("scene", ids, validate_ids=True)
            page = matched
        elif scene_ids:
            matched = self._by_ids("scene", scene_ids, validate_ids=False)
            page = matched
        else:
            matched, page = self._query("scene", scene_filter, filter)

        def primary_sum(key: str) -> float:
            return float(sum(s["files"][0][key] for s in matched if s["files"]))

        return {
            "count": len(matched),
            "scenes": page,
            "duration": lambda info: primary_sum("duration"),
            "filesize": lambda info: primary_sum("size"),
        }

    def _finder(self, kind: str) -> Callable[..., dict]:
        def resolve(_source: Any, info: Any, **args: Any) -> dict:
            ids = args.get("ids") or args.get(f"{kind}_ids")
            return self._r_find_many(kind, args.get(f"{kind}_filter"), args.get("filter"), ids)

        return resolve

    def _r_find_many(
        self, kind: str, object_filter: dict | None, find_filter: dict | None, ids: Any
    ) -> dict:
        if ids:
            matched = self._by_ids(kind, ids, validate_ids=True)
            page = matched
        else:
            matched, page = self._query(kind, object_filter, find_filter)
        return {"count": len(matched), f"{kind}s": page}

    def _writing(self, resolve: Callable[..., Any]) -> Callable[..., Any]:
        """A mutation, refused while the emulated key may only read (`read_only_key`)."""

        def guarded(source: Any, info: Any, **args: Any) -> Any:
            if self.read_only_key:
                raise GraphQLError("forbidden: this API key may not change anything")
            return resolve(source, info, **args)

        return guarded

    def _r_scene_add_play(
        self, _source: Any, info: Any, id: str, times: list | None = None
    ) -> dict:
        """Play history entries (now when no times are given); `play_count` and
        `last_played_at` follow from them and `updated_at` stays
        (`shared/reference/stash-graphql.md`, "More facts": the activity mutations write
        `scenes_view_dates`, not `updated_at`)."""
        record = self._store["scene"].get(to_int(id))
        if record is None:
            raise GraphQLError(f"scene with id {id} not found")
        stamps = [self.clock()] if not times else [parse_timestamp(t) for t in times]
        record["play_history"] = sorted(
            [*record["play_history"], *(format_time(t, self._zone) for t in stamps)],
            key=unix_seconds,
        )
        record["play_count"] = len(record["play_history"])
        record["last_played_at"] = record["play_history"][-1]
        self._changed()
        return {"count": record["play_count"], "history": list(record["play_history"])}

    def _r_scene_save_activity(
        self,
        _source: Any,
        info: Any,
        id: str,
        resume_time: float | None = None,
        playDuration: float | None = None,  # noqa: N803 - Stash's own argument name
    ) -> bool:
        """Sets `resume_time` and adds to `play_duration`; `updated_at` stays (same source)."""
        record = self._store["scene"].get(to_int(id))
        if record is None:
            raise GraphQLError(f"scene with id {id} not found")
        if resume_time is not None:
            record["resume_time"] = float(resume_time)
        if playDuration is not None:
            record["play_duration"] = float(record["play_duration"] or 0) + float(playDuration)
        self._changed()
        return True

    def _r_scene_update(self, _source: Any, info: Any, input: dict) -> dict:
        record = self._store["scene"].get(to_int(input["id"]))
        if record is None:
            raise GraphQLError(f"scene with id {input['id']} not found")
        updates: dict[str, Any] = {}
        for key in ("title", "code", "details", "director", "rating100"):
            if key in input:
                updates[key] = input[key]
        if input.get("organized") is not None:
            updates["organized"] = input["organized"]
        if "date" in input:
            date = input["date"] or None
            if date is not None and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", date):
                raise GraphQLError(f"converting date: invalid date: {date}")
            updates["date"] = date
        if "urls" in input:
            updates["urls"] = list(input["urls"] or [])
        elif input.get("url") is not None:
            updates["urls"] = [input["url"]]
        for key, kind, store_key in (
            ("tag_ids", "tag", "tag_ids"),
            ("performer_ids", "performer", "performer_ids"),
        ):
            if key in input:
                wanted = [to_int(v) for v in input[key] or []]
                for object_id in wanted:
                    if object_id not in self._store[kind]:
                        raise GraphQLError(f"{kind} with id {object_id} not found")
                updates[store_key] = sorted(set(wanted))
        if "studio_id" in input:
            studio_id = to_int(input["studio_id"]) if input["studio_id"] is not None else None
            if studio_id is not None and studio_id not in self._store["studio"]:
                raise GraphQLError(f"studio with id {studio_id} not found")
            updates["studio_id"] = studio_id
        if input.get("cover_image"):
            match = re.match(r"data:[^;,]*;base64,(.*)$", input["cover_image"], re.DOTALL)
            if not match:
                raise GraphQLError("stash emulator: cover_image must be a base64 data URL")
            updates["cover"] = base64.b64decode(match.group(1))
        if "stash_ids" in input:
            updates["stash_ids"] = [
                {
                    "endpoint": s["endpoint"],
                    "stash_id": s["stash_id"],
                    "updated_at": s.get("updated_at") or self.now_string(),
                }
                for s in input["stash_ids"] or []
            ]
        for key in ("resume_time", "play_duration"):
            if input.get(key) is not None:
                updates[key] = input[key]
        record.update(updates)
        record["updated_at"] = self.now_string()
        self._changed()
        return record

    # --- querying -------------------------------------------------------------------------------

    def _query(
        self, kind: str, object_filter: dict | None, find_filter: dict | None
    ) -> tuple[list[dict], list[dict]]:
        """(every match in order, the requested page) for a find* query."""
        find_filter = find_filter or {}
        keyset = self._id_keyset(kind, object_filter, find_filter)
        if keyset is not None:
            return keyset
        try:
            pred = sq.and_all(
                [
                    self._compile(kind, object_filter),
                    sq.search_predicate(find_filter.get("q"), _SEARCH_COLUMNS[kind](self)),
                ]
            )
            ordered = self._ordered(kind, find_filter.get("sort"), find_filter.get("direction"))
            matched = ordered if pred is None else [r for r in ordered if pred(r) is True]
        except sq.QueryError as exc:
            raise GraphQLError(str(exc)) from None
        per_page = find_filter.get("per_page")
        if per_page is None:
            per_page = 25
        if per_page < 0:
            return matched, matched
        page = find_filter.get("page")
        page = page if page is not None and page >= 1 else 1
        start = (page - 1) * per_page
        return matched, matched[start : start + per_page]

    def _id_keyset(
        self, kind: str, object_filter: dict | None, find_filter: dict
    ) -> tuple[list[dict], list[dict]] | None:
        """`id > N` sorted by id, or `id < N` sorted by id descending, and nothing else: what
        SQLite answers from the rowid index without looking at the rows beyond N. The answer
        is the general path's, only sooner (a full pass pages 100,000 scenes this way, from
        both ends at once; `id: IntCriterionInput`, `LESS_THAN` and `direction: DESC` as
        `shared/reference/stash-graphql.md` lists them)."""
        criterion = (object_filter or {}).get("id")
        if (
            set(object_filter or {}) != {"id"}
            or not isinstance(criterion, dict)
            or find_filter.get("sort") != "id"
            or find_filter.get("q")
            or (find_filter.get("page") or 1) != 1
            or (find_filter.get("per_page") or 0) < 1
        ):
            return None
        walk = (criterion.get("modifier"), find_filter.get("direction") or "ASC")
        if walk not in (("GREATER_THAN", "ASC"), ("LESS_THAN", "DESC")):
            return None
        ordered = self._ordered(kind, "id", "ASC")
        key = ("ids", kind)
        ids = self._cache.get(key)
        if ids is None:
            ids = self._cache[key] = [r["id"] for r in ordered]
        if walk[1] == "ASC":
            matched = ordered[bisect.bisect_right(ids, criterion["value"]) :]
        else:
            matched = ordered[: bisect.bisect_left(ids, criterion["value"])][::-1]
        return matched, matched[: find_filter["per_page"]]

    def _ordered(self, kind: str, sort: str | None, direction: str | None) -> list[dict]:
        if kind != "scene" and not sort:
            sort = "name"
        if sort and sort not in _SORTS[kind] and not sort.startswith("random_"):
            raise sq.QueryError(f"invalid sort: {sort}")
        if sort and sort.startswith("random_"):
            try:
                seed: int | None = int(sort[len("random_") :])
            except ValueError:
                raise sq.QueryError(f"invalid random seed: {sort[len('random_') :]}") from None
        else:
            seed = None
        descending = direction == "DESC"
        key = ("sorted", kind, sort, descending)
        if sort != "random":
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        records = list(self._store[kind].values())
        records.sort(key=lambda r: r["id"])
        if sort:
            records.sort(key=_TIEBREAK[kind])
            if sort == "random" or seed is not None:
                random.Random(seed).shuffle(records)
            else:
                records.sort(key=self._sort_key(kind, sort), reverse=descending)
        if sort != "random":
            self._cache[key] = records
        return records

    def _sort_key(self, kind: str, sort: str) -> Callable[[dict], Any]:
        counts = self._counts()
        direct = {
            "id": "id",
            "created_at": "created_at",
            "updated_at": "updated_at",
            "rating": "rating100",
            "date": "date",
            "code": "code",
            "organized": "organized",
            "o_counter": "o_counter",
            "play_count": "play_count",
            "play_duration": "play_duration",
            "resume_time": "resume_time",
            "birthdate": "birthdate",
            "career_length": "career_length",
            "height": "height_cm",
            "measurements": "measurements",
            "penis_length": "penis_length",
            "weight": "weight",
        }
        if sort in direct:
            field = direct[sort]
            return lambda r: sq.nulls_first(r.get(field))
        if sort == "name":
            return lambda r: sq.natural_key(r["name"])
        if sort in ("scenes_count",):
            return lambda r: counts[kind][r["id"]]
        if sort in ("tag_count",):
            return lambda r: len(r["tag_ids"])
        if sort == "child_count":
            children = self._children("studio")
            return lambda r: len(children.get(r["id"], []))
        if sort == "scenes_duration":
            totals: Counter = Counter()
            for s in self._store["scene"].values():
                duration = sum(f["duration"] for f in s["files"])
                for object_id in RELATED[kind](s):
                    totals[object_id] += duration
            return lambda r: totals[r["id"]]
        if kind == "scene":
            return self._scene_sort_key(sort)
        return lambda r: 0  # counts of things the emulator does not model (images, galleries, ...)

    def _scene_sort_key(self, sort: str) -> Callable[[dict], Any]:
        def primary(field: str) -> Callable[[dict], Any]:
            return lambda r: sq.nulls_first(r["files"][0][field] if r["files"] else None)

        if sort == "title":

            def title_key(r: dict) -> Any:
                folder, base = split_path(r["files"][0]["path"]) if r["files"] else (None, None)
                title = r["title"] if r["title"] is not None else base
                return (
                    sq.nulls_first(sq.natural_key(title) if title is not None else None),
                    sq.nulls_first(sq.natural_key(folder) if folder is not None else None),
                )

            return title_key
        if sort == "path":

            def path_key(r: dict) -> Any:
                folder, base = split_path(r["files"][0]["path"]) if r["files"] else ("", "")
                return sq.natural_key(folder + base)

            return path_key
        if sort == "studio":
            studios = self._store["studio"]
            return lambda r: sq.nulls_first(
                sq.natural_key(studios[r["studio_id"]]["name"])
                if r["studio_id"] in studios
                else None
            )
        if sort == "filesize":
            return primary("size")
        if sort in ("duration", "interactive"):
            return primary(sort)
        if sort == "bitrate":
            return primary("bit_rate")
        if sort == "framerate":
            return primary("frame_rate")
        if sort == "file_mod_time":
            return primary("mod_time")
        if sort == "resolution":
            return lambda r: sq.nulls_first(
                min(r["files"][0]["width"], r["files"][0]["height"]) if r["files"] else None
            )
        if sort == "file_count":
            return lambda r: len(r["files"])
        if sort == "performer_count":
            return lambda r: len(r["performer_ids"])
        return lambda r: sq.nulls_first(None)  # play history, markers, groups: not modelled

    # --- filters --------------------------------------------------------------------------------

    def _compile(self, kind: str, object_filter: dict | None) -> sq.Pred | None:
        if not object_filter:
            return None
        operators = [op for op in ("AND", "OR", "NOT") if object_filter.get(op) is not None]
        if len(operators) > 1:
            raise sq.QueryError(f"cannot have {operators[0]} and {operators[1]} in the same filter")
        own = sq.and_all(
            [
                self._criterion(kind, name, value)
                for name, value in object_filter.items()
                if name not in ("AND", "OR", "NOT") and value is not None
            ]
        )
        if operators:
            return sq.combine_sub_filter(
                own, operators[0], self._compile(kind, object_filter[operators[0]])
            )
        return own

    def _upper_default(self) -> str:
        return format_time(self.clock() + 86400, self._zone)

    def _related_filter(
        self, kind: str, sub_filter: dict, related: Callable[[dict], Iterable[int]]
    ) -> sq.Pred | None:
        pred = self._compile(kind, sub_filter)
        if pred is None:
            return None
        store = self._store[kind]

        def check(record: dict) -> bool | None:
            rows = [store[i] for i in related(record) if i in store]
            if not rows:
                return None  # the LEFT JOIN gives one row of NULLs
            return sq.or_any(pred(row) for row in rows)

        return check

    def _scenes_filter(self, kind: str, scene_filter: dict) -> sq.Pred | None:
        pred = self._compile("scene", scene_filter)
        if pred is None:
            return None
        matching: set[int] = set()
        for scene in self._store["scene"].values():
            if pred(scene) is True:
                matching.update(RELATED[kind](scene))
        return lambda r: r["id"] in matching

    def _criterion(self, kind: str, name: str, c: Any) -> sq.Pred | None:
        handler = getattr(self, f"_c_{kind}_{name}", None)
        if handler is not None:
            return handler(c)
        common = self._common_criterion(kind, name, c)
        if common is not _UNSUPPORTED:
            return common
        raise sq.QueryError(f"stash emulator: {kind}_filter.{name} is not supported")

    def _common_criterion(self, kind: str, name: str, c: Any) -> Any:
        text_fields = {
            "scene": {"title", "code", "details", "director"},
            "tag": {"name", "sort_name", "description"},
            "performer": {
                "name",
                "disambiguation",
                "details",
                "ethnicity",
                "country",
                "eye_color",
                "measurements",
                "fake_tits",
                "career_length",
                "tattoos",
                "piercings",
                "hair_color",
            },
            "studio": {"name", "details"},
        }[kind]
        numbers = {
            "scene": {
                "id",
                "rating100",
                "o_counter",
                "interactive_speed",
                "resume_time",
                "play_count",
                "play_duration",
            },
            "tag": set(),
            "performer": {"rating100", "height_cm", "weight", "penis_length"},
            "studio": {"rating100"},
        }[kind]
        booleans = {
            "scene": {"organized": "organized", "interactive": "interactive"},
            "tag": {"favorite": "favorite", "ignore_auto_tag": "ignore_auto_tag"},
            "performer": {"filter_favorites": "favorite", "ignore_auto_tag": "ignore_auto_tag"},
            "studio": {"favorite": "favorite", "ignore_auto_tag": "ignore_auto_tag"},
        }[kind]
        if name in text_fields:
            return sq.string_criterion(c, lambda r: r.get(name))
        if name in numbers:
            return sq.number_criterion(c, lambda r: r.get(name))
        if name in booleans:
            field = booleans[name]
            return lambda r: bool(r.get(field)) == bool(c)
        if name in (
            "created_at",
            "updated_at",
            "date",
            "last_played_at",
            "birthdate",
            "death_date",
        ):
            return sq.text_time_criterion(c, lambda r: r.get(name), self._upper_default())
        if name == "url" or name == "aliases":
            field = {"url": "urls", "aliases": "alias_list" if kind == "performer" else "aliases"}[
                name
            ]
            return sq.string_rows_criterion(c, lambda r: r.get(field) or [])
        if name == "scene_count" and kind != "scene":
            counts = self._counts()[kind]
            return sq.number_criterion(c, lambda r: counts[r["id"]])
        if name == "tag_count":
            return sq.number_criterion(c, lambda r: len(r["tag_ids"]))
        if name == "tags" and kind != "scene":
            return sq.hierarchical_criterion(
                c, lambda r: r["tag_ids"], lambda v, d: self._expand("tag", v, d)
            )
        if name == "scenes_filter" and kind != "scene":
            return self._scenes_filter(kind, c)
        if name == "tags_filter":
            return self._related_filter("tag", c, lambda r: r["tag_ids"])
        if name in ("image_count", "gallery_count", "movie_count", "group_count", "marker_count"):
            return sq.number_criterion(c, lambda r: 0)
        return _UNSUPPORTED

    # scene-only criteria

    def _c_scene_path(self, c: dict) -> sq.Pred:
        def paths(r: dict) -> list:
            out = []
            for f in r["files"]:
                folder, base = split_path(f["path"])
                out.append(f"{folder}/{base}")
            return out

        return sq.path_criterion(c, paths)

    def _c_scene_oshash(self, c: dict) -> sq.Pred:
        return sq.rows_criterion(
            sq.string_criterion(c, lambda v: v), lambda r: [f.get("oshash") for f in r["files"]]
        )

    def _c_scene_checksum(self, c: dict) -> sq.Pred:
        return sq.rows_criterion(
            sq.string_criterion(c, lambda v: v), lambda r: [f.get("md5") for f in r["files"]]
        )

    def _c_scene_video_codec(self, c: dict) -> sq.Pred:
        return sq.rows_criterion(
            sq.string_criterion(c, lambda v: v), lambda r: [f["video_codec"] for f in r["files"]]
        )

    def _c_scene_audio_codec(self, c: dict) -> sq.Pred:
        return sq.rows_criterion(
            sq.string_criterion(c, lambda v: v), lambda r: [f["audio_codec"] for f in r["files"]]
        )

    def _file_number(self, c: dict, field: str) -> sq.Pred:
        single = sq.number_criterion(c, lambda v: v)
        return sq.rows_criterion(single, lambda r: [int(f[field]) for f in r["files"]])

    def _c_scene_duration(self, c: dict) -> sq.Pred:
        return self._file_number(c, "duration")

    def _c_scene_framerate(self, c: dict) -> sq.Pred:
        return self._file_number(c, "frame_rate")

    def _c_scene_bitrate(self, c: dict) -> sq.Pred:
        return self._file_number(c, "bit_rate")

    def _c_scene_file_count(self, c: dict) -> sq.Pred:
        return sq.number_criterion(c, lambda r: len(r["files"]))

    def _c_scene_performer_count(self, c: dict) -> sq.Pred:
        return sq.number_criterion(c, lambda r: len(r["performer_ids"]))

    def _c_scene_has_markers(self, c: str) -> sq.Pred:
        return lambda r: c != "true"

    def _c_scene_is_missing(self, c: str) -> sq.Pred:
        checks: dict[str, Callable[[dict], bool]] = {
            "title": lambda r: not (r["title"] or "").strip(),
            "details": lambda r: not (r["details"] or "").strip(),
            "code": lambda r: not (r["code"] or "").strip(),
            "director": lambda r: not (r["director"] or "").strip(),
            "url": lambda r: not r["urls"],
            "date": lambda r: not r["date"],
            "rating": lambda r: r["rating100"] is None,
            "studio": lambda r: r["studio_id"] is None,
            "performers": lambda r: not r["performer_ids"],
            "tags": lambda r: not r["tag_ids"],
            "stash_id": lambda r: not r["stash_ids"],
            "cover": lambda r: r.get("cover") == b"",
            "galleries": lambda r: True,
            "movie": lambda r: not r["groups"],
            "group": lambda r: not r["groups"],
        }
        if c not in checks:
            raise sq.QueryError(f"stash emulator: scene_filter.is_missing={c!r} is not supported")
        return checks[c]

    def _c_scene_studios(self, c: dict) -> sq.Pred | None:
        c = dict(c)
        if c.get("modifier") == "EQUALS":
            c["modifier"] = "INCLUDES_ALL"
        elif c.get("modifier") == "NOT_EQUALS":
            c["modifier"] = "EXCLUDES"
        return sq.hierarchical_criterion(
            c,
            lambda r: () if r["studio_id"] is None else (r["studio_id"],),
            lambda v, d: self._expand("studio", v, d),
        )

    def _c_scene_tags(self, c: dict) -> sq.Pred | None:
        return sq.hierarchical_criterion(
            c, lambda r: r["tag_ids"], lambda v, d: self._expand("tag", v, d)
        )

    def _c_scene_performers(self, c: dict) -> sq.Pred | None:
        return sq.multi_criterion(c, lambda r: r["performer_ids"])

    def _c_scene_stash_id_endpoint(self, c: dict) -> sq.Pred:
        endpoint, stash_id, modifier = c.get("endpoint"), c.get("stash_id"), c.get("modifier")

        def has(r: dict) -> bool:
            return any(
                (endpoint is None or s["endpoint"] == endpoint)
                and (stash_id is None or s["stash_id"] == stash_id)
                for s in r["stash_ids"]
            )

        if modifier in ("EQUALS", "NOT_NULL"):
            return has
        if modifier in ("NOT_EQUALS", "IS_NULL"):
            return lambda r: not has(r)
        raise sq.QueryError(f"unsupported stash id modifier {modifier}")

    def _c_scene_performers_filter(self, c: dict) -> sq.Pred | None:
        return self._related_filter("performer", c, lambda r: r["performer_ids"])

    def _c_scene_studios_filter(self, c: dict) -> sq.Pred | None:
        return self._related_filter(
            "studio", c, lambda r: () if r["studio_id"] is None else (r["studio_id"],)
        )

    # tag, performer and studio criteria

    def _c_tag_parents(self, c: dict) -> sq.Pred | None:
        return sq.hierarchical_criterion(
            c, lambda r: r["parent_ids"], lambda v, d: self._expand("tag", v, d)
        )

    def _c_tag_children(self, c: dict) -> sq.Pred | None:
        children = self._children("tag")
        return sq.hierarchical_criterion(
            c, lambda r: children.get(r["id"], []), lambda v, d: self._expand("tag", v, d)
        )

    def _c_tag_parent_count(self, c: dict) -> sq.Pred:
        return sq.number_criterion(c, lambda r: len(r["parent_ids"]))

    def _c_tag_child_count(self, c: dict) -> sq.Pred:
        children = self._children("tag")
        return sq.number_criterion(c, lambda r: len(children.get(r["id"], [])))

    def _c_tag_performer_count(self, c: dict) -> sq.Pred:
        counts = Counter(t for p in self._store["performer"].values() for t in p["tag_ids"])
        return sq.number_criterion(c, lambda r: counts[r["id"]])

    def _c_tag_studio_count(self, c: dict) -> sq.Pred:
        counts = Counter(t for s in self._store["studio"].values() for t in s["tag_ids"])
        return sq.number_criterion(c, lambda r: counts[r["id"]])

    def _c_studio_parents(self, c: dict) -> sq.Pred | None:
        return sq.multi_criterion(c, lambda r: () if r["parent_id"] is None else (r["parent_id"],))

    def _c_studio_child_count(self, c: dict) -> sq.Pred:
        children = self._children("studio")
        return sq.number_criterion(c, lambda r: len(children.get(r["id"], [])))

    def _c_performer_gender(self, c: dict) -> sq.Pred:
        modifier = c.get("modifier")
        values = set(c.get("value_list") or ([c["value"]] if c.get("value") else []))
        if modifier == "IS_NULL":
            return lambda r: r.get("gender") is None
        if modifier == "NOT_NULL":
            return lambda r: r.get("gender") is not None
        if modifier in ("EQUALS", "INCLUDES"):
            return lambda r: None if r.get("gender") is None else r["gender"] in values
        if modifier in ("NOT_EQUALS", "EXCLUDES"):
            return lambda r: None if r.get("gender") is None else r["gender"] not in values
        raise sq.QueryError("unsupported gender modifier")

    def _c_performer_studios(self, c: dict) -> sq.Pred | None:
        studios: dict[int, set] = {}
        for scene in self._store["scene"].values():
            if scene["studio_id"] is not None:
                for p in scene["performer_ids"]:
                    studios.setdefault(p, set()).add(scene["studio_id"])
        return sq.hierarchical_criterion(
            c, lambda r: studios.get(r["id"], ()), lambda v, d: self._expand("studio", v, d)
        )


# --- module data --------------------------------------------------------------------------------


_UNSUPPORTED = object()


RELATED: dict[str, Callable[[dict], Iterable[int]]] = {
    "tag": lambda s: s["tag_ids"],
    "performer": lambda s: s["performer_ids"],
    "studio": lambda s: () if s["studio_id"] is None else (s["studio_id"],),
}


def _scene_tiebreak(r: dict) -> Any:
    return sq.natural_key(r["title"] if r["title"] is not None else str(r["id"]))


_TIEBREAK: dict[str, Callable[[dict], Any]] = {
    "scene": _scene_tiebreak,
    "tag": lambda r: sq.natural_key(r.get("sort_name") or r["name"]),
    "performer": lambda r: sq.natural_key(r["name"]),
    "studio": lambda r: sq.natural_key(r["name"]),
}


def _scene_search_columns(emu: StashQueryEngine) -> Callable[[dict], list]:
    def columns(r: dict) -> list:
        cols = [r["title"], r["details"]]
        for f in r["files"] or [{}]:
            if f:
                folder, base = split_path(f["path"])
                cols.append(f"{folder}/{base}")
                cols.append(f.get("oshash"))
            else:
                cols.extend([None, None])
        return cols

    return columns


_SEARCH_COLUMNS: dict[str, Callable[[StashQueryEngine], Callable[[dict], list]]] = {
    "scene": _scene_search_columns,
    "tag": lambda emu: lambda r: [r["name"], r.get("sort_name"), *(r["aliases"] or [None])],
    "performer": lambda emu: lambda r: [r["name"], *(r["alias_list"] or [None])],
    "studio": lambda emu: lambda r: [r["name"], *(r["aliases"] or [None])],
}


def scene_defaults() -> dict:
    return {
        "id": 0,
        "title": None,
        "code": None,
        "details": None,
        "director": None,
        "urls": [],
        "date": None,
        "rating100": None,
        "organized": False,
        "o_counter": 0,
        "interactive": False,
        "interactive_speed": None,
        "last_played_at": None,
        "resume_time": 0.0,
        "play_duration": 0.0,
        "play_count": 0,
        "play_history": [],
        "o_history": [],
        "files": [],
        "studio_id": None,
        "performer_ids": [],
        "tag_ids": [],
        "groups": [],  # {"group_id", "scene_index"} in the order Stash lists them
        "stash_ids": [],
        "cover": None,
        "created_at": None,
        "updated_at": None,
    }


OBJECT_DEFAULTS: dict[str, Callable[[], dict]] = {
    "group": lambda: {
        "aliases": None,
        "duration": None,
        "date": None,
        "rating100": None,
        "studio_id": None,
        "director": None,
        "synopsis": None,
        "urls": [],
        "tag_ids": [],
    },
    "tag": lambda: {
        "sort_name": None,
        "description": None,
        "aliases": [],
        "ignore_auto_tag": False,
        "favorite": False,
        "stash_ids": [],
        "parent_ids": [],
    },
    "performer": lambda: {
        "disambiguation": None,
        "urls": [],
        "gender": None,
        "birthdate": None,
        "ethnicity": None,
        "country": None,
        "eye_color": None,
        "height_cm": None,
        "measurements": None,
        "fake_tits": None,
        "penis_length": None,
        "circumcised": None,
        "career_length": None,
        "tattoos": None,
        "piercings": None,
        "alias_list": [],
        "favorite": False,
        "tag_ids": [],
        "ignore_auto_tag": False,
        "stash_ids": [],
        "rating100": None,
        "details": None,
        "death_date": None,
        "hair_color": None,
        "weight": None,
        "custom_fields": {},
    },
    "studio": lambda: {
        "parent_id": None,
        "urls": [],
        "aliases": [],
        "tag_ids": [],
        "ignore_auto_tag": False,
        "stash_ids": [],
        "rating100": None,
        "favorite": False,
        "details": None,
    },
}


def _constant(value: Any) -> Callable[..., Any]:
    return lambda *_args, **_kwargs: value

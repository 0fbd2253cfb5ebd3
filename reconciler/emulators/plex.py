"""A Plex Media Server emulator that plexapi 4.18.3 can drive like the real thing.

It answers with the URLs, XML shapes, paging, status codes and edit semantics of a real
server, on a real socket, so the daemon's Plex client is tested through plexapi
rather than against mocks. Where a real PMS is known to differ from the obvious (relative
dates, strict `>>=`, `titleSort` order, ignored unknown filters, ratings, the maintenance 503,
multi-id reads, unknown filters), the behaviour and its source are given where it is modelled
(`plex_query`, `rate_item`, `maintenance`, the constructor's switches). Writes follow a real
PMS's rules (the 414 limit, the upload limit, held poster bytes not re-selected, episodes
without studio and genres) and its unknowns are switches: see `WriteRules` in plex_model.py
for each rule's source. Actor photos: `actor[i].tag.thumb=<url>` in the section edit is kept
as the actor's `<Role thumb="...">` in the detail XML (plexapi's `_edit_tags` spelling,
issue #462 / PR #510; `tagtype[idx].tagging.object` with object thumb in Plex's API spec:
shared/reference/plex-http.md §2 and §6.6). Background art takes the poster's rules:
`POST /library/metadata/{id}/arts` (body or `?url=`), `GET .../arts`, `PUT .../art?url=`,
the upload limit and the lock (`art.locked`; §2 and §6.8). Run standalone with
`python -m reconciler.emulators.plex --port P [--token T] [--fixture state.json]`.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import time
import urllib.request
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qsl

from . import plex_meta, plex_xml
from .http import EmulatorServer, Request, Response, parse_latency
from .plex_edit import apply_rate, apply_section_edit, check_request_line
from .plex_model import IMAGES, EditError, PlexItem, PlexLibrary, UnknownKey, _Item
from .plex_query import parse_query, run_query

__all__ = ["PlexEmulator", "PlexItem", "main"]

_HTML = "text/html"
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    414: "Request-URI Too Long",
    500: "Internal Server Error",
}
MISSING_IN_BATCH = ("rest", "404")
UNKNOWN_FILTERS = ("ignored", "400")
_SECTION = re.compile(r"^/library/sections/(\d+)(?:/([A-Za-z]+))?/?$")
COLLECTION_TYPE = "18"  # the search type of collections (plex-http.md: `type=<searchType>`)
_COLLECTION = re.compile(r"^/library/collections/(\d+)/children/?$")
_METADATA = re.compile(r"^/library/metadata/([^/]+)(?:/([A-Za-z]+)(?:/(\d+))?)?/?$")
_KINDS = ("listing", "detail", "write", "image", "other")
_IMAGE_PATHS = {"posters", "arts", "poster", "art", "thumb", "file"}
_CALLABLE = {
    "add_section",
    "add_item",
    "edit_item",
    "rate_item",
    "play_item",
    "progress_item",
    "unwatch_item",
    "remove_item",
    "maintenance",
    "agent_refresh",
    "item",
    "items",
    "stage_item",
    "scans",
}


def _png_1x1() -> bytes:
    """A valid 1x1 grey PNG: the 'generated' thumbnail of an item without a poster."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


DEFAULT_THUMB = _png_1x1()


def _image_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"GIF8"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


def _html_error(status: int, reason: str = "") -> Response:
    """PMS answers errors with a tiny HTML page; the emulator's reason goes in a header."""
    text = f"{status} {_REASONS.get(status, 'Error')}"
    body = (
        f"<html><head><title>{_REASONS.get(status, 'Error')}</title></head>"
        f"<body><h1>{text}</h1></body></html>"
    ).encode()
    headers = (
        {"X-Plex-Emulator-Reason": reason.encode("ascii", "replace").decode()[:300]}
        if reason
        else {}
    )
    return Response(status, body, _HTML, headers)


def _xml(body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(200, body, "text/xml;charset=utf-8", headers or {})


def _empty() -> Response:
    return Response(200, b"", "text/xml;charset=utf-8")


def _json(data: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(data, sort_keys=True).encode(), "application/json")


def _classify(method: str, path: str) -> str:
    """Request kind for `/_emulator/stats`: what a benchmark wants to count."""
    if path in ("/:/rate", "/:/scrobble", "/:/unscrobble"):
        return "write"
    if m := _METADATA.match(path):
        if m.group(2) in ("posters", "arts"):
            # an upload is an image; listing what an item holds is not
            return "image" if method == "POST" else "other"
        if m.group(2) in ("poster", "art") and method == "PUT":
            return "write"  # selecting one of the images the item holds
        if m.group(2) in _IMAGE_PATHS:
            return "image"
        return "detail" if m.group(2) is None and method == "GET" else "other"
    if m := _SECTION.match(path):
        if m.group(2) == "all":
            return {"GET": "listing", "PUT": "write"}.get(method, "other")
        return "listing" if method == "GET" and m.group(2) in (None, "collections") else "other"
    if path.rstrip("/") == "/library/sections" and method == "GET":
        return "listing"
    return "other"


class PlexEmulator(EmulatorServer):
    """Plex Media Server as plexapi sees it. The state methods are thread-safe."""

    name = "plex-emulator"

    def __init__(
        self,
        token: str | None = "plex-test-token",
        port: int | None = None,
        clock: Callable[[], float] | None = None,
        *,
        or_groups: bool = True,
        missing_in_batch: str = "rest",
        unknown_filters: str = "ignored",
        history: bool = True,
        progress_moves_viewed: bool = True,
    ) -> None:
        """`or_groups`, `missing_in_batch` and `unknown_filters` are switches for what is not
        known for certain of real PMS; each default is what a real PMS is reported to do.

        `or_groups=False`: a PMS that does not understand `push=1 ... or=1 ... pop=1` ignores
        the grouped filter, as it ignores any unknown filter (so the whole library answers).
        `missing_in_batch`: how `GET /library/metadata/1,2,3` answers when some of the ids are
        gone, `"rest"` (200 with the others) or `"404"` (`shared/reference/plex-http.md` §8
        marks it unknown). When none of them exist it is a 404 either way.
        `unknown_filters`: how a listing filter on a field PMS does not know is answered,
        `"ignored"` (200 with the whole library, as if the filter were absent) or `"400"`.
        §8 marks "ignored" measured by a third party only ([M]: bomer/plexify
        `docs/PLEX-API.md` §3.3 and its delta-filter probe), so the other answer is kept for
        tests and for what `python -m reconciler.contract` may find on a server.
        `history=False`: `/status/sessions/history/all` answers 404 (a server, or a token of a
        managed user, that does not share its play history).
        `progress_moves_viewed=False`: a player's progress report moves the resume point but
        not `lastViewedAt` (the reference has nothing on it: `PlexLibrary.progress`)."""
        super().__init__(port)
        if missing_in_batch not in MISSING_IN_BATCH:
            raise ValueError(f"missing_in_batch must be one of {MISSING_IN_BATCH}")
        if unknown_filters not in UNKNOWN_FILTERS:
            raise ValueError(f"unknown_filters must be one of {UNKNOWN_FILTERS}")
        self.token = token
        self.library = PlexLibrary(clock or time.time)
        self.or_groups = or_groups
        self.missing_in_batch = missing_in_batch
        self.unknown_filters = unknown_filters
        self.history = history
        self.library.progress_moves_viewed = progress_moves_viewed
        self._maintenance: str | None = None
        self._staged: list[tuple[str | int, list[str], str | None, dict[str, Any]]] = []
        self._scans: list[tuple[int, str | None]] = []
        self._stats: Counter[str] = Counter()
        self._cache: dict[tuple[Any, ...], list[_Item]] = {}

    # -- test-facing API ----------------------------------------------------------------

    def add_section(self, title: str, locations: list[str], type: str = "movie") -> int:
        """Create a library section (`movie` or `show`); keys are 1, 2, ..."""
        return self.library.add_section(title, locations, type)

    def add_item(
        self,
        section: str | int,
        files: str | list[str],
        title: str | None = None,
        *,
        summary: str = "",
        studio: str | None = None,
        originally_available_at: str | None = None,
        user_rating: float | None = None,
        genres: Iterable[str] = (),
        actors: Iterable[str] = (),
        collections: Iterable[str] = (),
        locked: Iterable[str] = (),
        added_at: int | None = None,
        **extra: Any,
    ) -> int:
        """Add a scanned item (one Media>Part per file); title defaults to the file's basename.

        `extra` takes the other snake_case fields: title_sort, original_title, tagline,
        content_rating, year, directors, writers, labels, countries, producers, roles, guids,
        updated_at."""
        fields = dict(
            summary=summary,
            studio=studio,
            originally_available_at=originally_available_at,
            genres=list(genres),
            actors=list(actors),
            collections=list(collections),
            locked=set(locked),
            added_at=added_at,
            **extra,
        )
        if user_rating is not None:
            fields["user_rating"] = user_rating
        return self.library.add_item(section, files, title, **fields)

    def stage_item(
        self, section: str | int, files: str | list[str], title: str | None = None, **fields: Any
    ) -> None:
        """A file on disk that Plex has not scanned yet: no listing shows it until a scan of
        its library (or of a folder holding it) adds it, as `add_item` would."""
        paths = [files] if isinstance(files, str) else list(files)
        with self.library.lock:
            self._staged.append((section, paths, title, fields))

    def scans(self) -> list[tuple[int, str | None]]:
        """The scans asked for: (library key, the folder, or None for the whole library)."""
        with self.library.lock:
            return list(self._scans)

    def _scan(self, section_key: int, folder: str | None) -> None:
        """`GET|POST /library/sections/{id}/refresh[?path=<folder>]` (plexapi's
        `LibrarySection.update(path=)` sends the GET; `shared/reference/plex-http.md` §2, §5
        and checklist item 9). A real PMS answers at once and scans afterwards, so new items
        show up a while later; the emulator adds the staged items of that library lying in
        the folder (or below it) before it answers, which a client must not count on."""
        with self.library.lock:
            self._scans.append((section_key, folder))
            prefix = None if folder is None else folder.rstrip("/") + "/"
            kept = []
            for staged in self._staged:
                section, paths, title, fields = staged
                inside = self.library.section(section).key == section_key and (
                    prefix is None or paths[0].startswith(prefix)
                )
                if inside:
                    self.library.add_item(section, paths, title, **fields)
                else:
                    kept.append(staged)
            self._staged = kept

    def item(self, rating_key: int | str) -> PlexItem:
        with self.library.lock:
            return self.library.snapshot(self.library.get(rating_key))

    def items(self, section: str | int | None = None) -> list[PlexItem]:
        with self.library.lock:
            if section is None:
                found = sorted(self.library.by_key.values(), key=lambda it: it.rating_key)
            else:
                found = self.library.section(section).ordered()
            return [self.library.snapshot(it) for it in found]

    def rate_item(self, rating_key: int | str, rating: float | None) -> None:
        """A user's stars in Plex Web: `userRating` and `lastRatedAt` move, `updatedAt` not."""
        self.library.rate_item(rating_key, rating)

    def play_item(self, rating_key: int | str, account_id: int = 1) -> None:
        """Someone watches the item to the end (the player scrobbles it); account 1 is the
        token's, the one whose `viewCount` and `lastViewedAt` the listings show."""
        self.library.scrobble(rating_key, account_id)

    def progress_item(self, rating_key: int | str, offset_ms: int) -> None:
        """The token's account stops part-way: the resume point (`viewOffset`, ms) moves."""
        self.library.progress(rating_key, offset_ms)

    def unwatch_item(self, rating_key: int | str) -> None:
        """Mark as unwatched in Plex Web."""
        self.library.unscrobble(rating_key)

    def maintenance(self, status: str | None) -> None:
        """Answer every Plex request with PMS's 503 maintenance body until called with None.

        During database migrations PMS answers `<Response code="503" title="Maintenance"
        status="..."/>` (`shared/reference/plex-http.md` §8: linuxserver/docker-plex issues
        431 and 456, captured bodies)."""
        with self._lock:
            self._maintenance = status

    def remove_item(self, rating_key: int | str) -> None:
        """The file is gone and the trash emptied: the ratingKey answers 404 from now on."""
        self.library.remove_item(rating_key)

    def edit_item(self, rating_key: int | str, **fields: Any) -> None:
        """An edit made by a user in Plex Web: bumps updatedAt, leaves locks alone."""
        self.library.edit_item(rating_key, **fields)

    def agent_refresh(self, rating_key: int | str) -> None:
        """What `PUT /library/metadata/{id}/refresh` does: unlocked fields revert to agent data."""
        self.library.agent_refresh(rating_key)

    def load(self, fixture: dict) -> None:
        self.library.load(fixture)

    def dump(self) -> dict:
        return self.library.dump()

    def stats(self) -> dict[str, int]:
        """Requests received by kind (listing/detail/write/image/other), faulted ones included."""
        with self._lock:
            return {kind: self._stats.get(kind, 0) for kind in _KINDS}

    def reset_stats(self) -> None:
        with self._lock:
            self._stats.clear()

    # -- HTTP -----------------------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response | None:
        if not request.path.startswith("/_emulator/"):
            with self._lock:
                self._stats[_classify(request.method, request.path)] += 1
        return super()._dispatch(request)

    def latency_kind(self, request: Request) -> str:
        """The latency model delays requests by the kinds `/_emulator/stats` counts."""
        return _classify(request.method, request.path)

    def _authorized(self, request: Request, params: list[tuple[str, str]]) -> bool:
        if self.token is None:
            return True
        supplied = request.header("X-Plex-Token") or dict(params).get("X-Plex-Token")
        return supplied == self.token

    def handle(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path.startswith("/_emulator/"):
            return self._control(request)
        with self._lock:
            maintenance = self._maintenance
        if maintenance is not None:
            body = plex_xml.document(
                plex_xml.element(
                    "Response", [("code", 503), ("title", "Maintenance"), ("status", maintenance)]
                )
            )
            return Response(503, body, "text/xml;charset=utf-8")
        try:
            check_request_line(self.library.rules, method, path, request.query)
        except EditError as exc:
            return _html_error(exc.status, exc.reason)
        self.library.settle()
        params = parse_qsl(request.query, keep_blank_values=True)
        if path == "/identity" and method in ("GET", "HEAD"):
            return _xml(plex_xml.identity(self.library))
        if not self._authorized(request, params):
            return _html_error(401)
        try:
            return self._route(request, method, path, params)
        except EditError as exc:
            return _html_error(exc.status, exc.reason)
        except UnknownKey as exc:
            return _html_error(404, str(exc))

    def _route(
        self, request: Request, method: str, path: str, params: list[tuple[str, str]]
    ) -> Response:
        lib = self.library
        if path == "/" and method == "GET":
            return _xml(plex_xml.root(lib))
        if path == "/library" and method == "GET":
            return _xml(plex_xml.library_root())
        if path in ("/library/sections", "/library/sections/") and method == "GET":
            with lib.lock:
                return _xml(plex_xml.sections(lib))
        if path == "/:/rate" and method == "PUT":
            apply_rate(lib, params)
            return _empty()
        if path in ("/:/scrobble", "/:/unscrobble") and method == "GET":
            flags = dict(params)
            if flags.get("identifier") != "com.plexapp.plugins.library" or "key" not in flags:
                return _html_error(400, "scrobble needs key and identifier")
            try:
                act = lib.scrobble if path == "/:/scrobble" else lib.unscrobble
                act(flags["key"])
            except UnknownKey:
                return _html_error(404, f"no item {flags['key']}")
            return _empty()
        if path == "/status/sessions/history/all" and method == "GET":
            return self._history(params)
        if m := _SECTION.match(path):
            return self._section_route(request, method, int(m.group(1)), m.group(2), params)
        if m := _METADATA.match(path):
            return self._metadata_route(request, method, m.group(1), m.group(2), params)
        if (m := _COLLECTION.match(path)) and method == "GET":
            return self._collection_children(int(m.group(1)))
        return _html_error(404, f"no route for {method} {path}")

    def _section_route(
        self,
        request: Request,
        method: str,
        key: int,
        sub: str | None,
        params: list[tuple[str, str]],
    ) -> Response:
        lib = self.library
        with lib.lock:
            section = lib.sections.get(key)
            if section is None:
                raise EditError(404, f"no library section {key}")
            if sub == "all" and method == "GET" and dict(params).get("type") == COLLECTION_TYPE:
                start, size = self._page(request, params)  # plexapi's section.collections()
                return _xml(plex_xml.collections(lib, section, "", start, size))
            if sub == "all" and method in ("GET", "HEAD"):
                return self._listing(request, section, params)
            if sub == "all" and method == "PUT":
                apply_section_edit(lib, key, params)
                return _empty()
            if sub == "collections" and method == "GET":
                meta = (
                    plex_meta.collections_meta(section)
                    if dict(params).get("includeMeta") == "1"
                    else ""
                )
                start, size = self._page(request, params)
                return _xml(plex_xml.collections(lib, section, meta, start, size))
            if sub == "refresh" and method in ("GET", "POST"):
                self._scan(key, dict(params).get("path"))
                return _empty()
            if sub == "refresh" and method == "DELETE":
                return _empty()
            if sub and method == "GET":
                wanted = dict(params).get("type")
                items = [
                    it for it in section.ordered() if not wanted or str(_search_type(it)) == wanted
                ]
                choices = plex_meta.filter_choices(lib, section, sub, items)
                if choices is not None:
                    return _xml(
                        plex_xml.document(
                            plex_xml.element(
                                "MediaContainer",
                                [("size", choices.count("<Directory")), ("allowSync", 0)],
                                choices,
                            )
                        )
                    )
        return _html_error(404, f"no route for {method} {request.path}")

    def _collection_children(self, key: int) -> Response:
        """The items a collection holds (`Collection.items()` in plexapi)."""
        lib = self.library
        with lib.lock:
            for section in lib.sections.values():
                for name, items in plex_xml.collection_members(section).items():
                    if plex_xml.COLLECTION_KEYS + lib.tag_id("collection", name) == key:
                        return _xml(
                            plex_xml.listing(
                                lib,
                                section,
                                items,
                                offset=0,
                                total=len(items),
                                include_guids=False,
                            )
                        )
        return _html_error(404, f"no collection {key}")

    def _page(self, request: Request, params: list[tuple[str, str]]) -> tuple[int, int | None]:
        """Paging from the query string or, as plexapi sends it, from request headers."""
        query = dict(params)
        values = []
        for name in ("X-Plex-Container-Start", "X-Plex-Container-Size"):
            raw = query.get(name) or request.header(name)
            try:
                values.append(None if raw in (None, "") else int(raw))
            except ValueError:
                raise EditError(400, f"bad {name} {raw!r}") from None
        start, size = values
        if (start is not None and start < 0) or (size is not None and size < 0):
            raise EditError(400, "negative container start/size")
        return start or 0, size

    def _listing(self, request: Request, section: Any, params: list[tuple[str, str]]) -> Response:
        lib = self.library
        query = parse_query(
            section, params, lib.now(), self.or_groups, self.unknown_filters == "400"
        )
        start, size = self._page(request, params)
        cache_key = (section.key, query, lib.version)
        matched = self._cache.get(cache_key)
        if matched is None:
            matched = run_query(section, query, lib.tag_id)
            if len(self._cache) > 16:
                self._cache.clear()
            self._cache[cache_key] = matched
        page = matched[start:] if size is None else matched[start : start + size]
        flags = dict(params)
        meta = plex_meta.section_meta(section) if flags.get("includeMeta") == "1" else ""
        body = plex_xml.listing(
            lib,
            section,
            page,
            offset=start,
            total=len(matched),
            include_guids=flags.get("includeGuids") == "1",
            meta=meta,
        )
        return _xml(
            body,
            {
                "X-Plex-Container-Start": str(start),
                "X-Plex-Container-Total-Size": str(len(matched)),
            },
        )

    def _metadata_route(
        self,
        request: Request,
        method: str,
        ids: str,
        sub: str | None,
        params: list[tuple[str, str]],
    ) -> Response:
        lib = self.library
        query = dict(params)
        if sub is None:
            if method in ("GET", "HEAD"):
                wanted = list(dict.fromkeys(ids.split(",")))
                with lib.lock:
                    found = [
                        lib.by_key[int(i)] for i in wanted if i.isdigit() and int(i) in lib.by_key
                    ]
                    if not found or (self.missing_in_batch == "404" and len(found) < len(wanted)):
                        raise EditError(404, f"no item {ids}")
                    return _xml(plex_xml.details(lib, found))
            if method == "DELETE":
                lib.remove_item(ids)
                return _empty()
            raise EditError(404, f"no route for {method} {request.path}")
        item = lib.get(ids)
        if sub == "refresh" and method == "PUT":
            lib.agent_refresh(item.rating_key)
            return _empty()
        if sub in IMAGES:
            lock = IMAGES[sub][0]
            if method == "GET":
                with lib.lock:
                    return _xml(plex_xml.images(lib, item, sub))
            if method == "POST":
                data = request.body or (self._download(query["url"]) if query.get("url") else b"")
                if not data:
                    raise EditError(400, "upload needs a body or ?url=")
                lib.add_image(item.rating_key, lock, data)
                return _empty()
        if sub in ("poster", "art") and method == "PUT":
            lib.select_image(
                item.rating_key, "thumb" if sub == "poster" else "art", query.get("url", "")
            )
            return _empty()
        if sub in ("thumb", "art") and method == "GET":
            with lib.lock:
                shelf = item.images.get(sub)
                sha1 = shelf.selected if shelf else None
                data = lib.blobs.get(sha1, DEFAULT_THUMB) if sha1 else DEFAULT_THUMB
            return Response(200, data, _image_type(data))
        if sub in ("thumb", "art") and method == "DELETE":
            lib.delete_image(item.rating_key, sub)
            return _empty()
        if sub == "file" and method == "GET":
            sha1 = query.get("url", "").rsplit("/", 1)[-1]
            with lib.lock:
                data = lib.blobs.get(sha1)
            if data is None:
                raise EditError(404, "no such image")
            return Response(200, data, _image_type(data))
        raise EditError(404, f"no route for {method} {request.path}")

    @staticmethod
    def _download(url: str) -> bytes:
        """PMS fetches `?url=` uploads itself; so does the emulator (http/https only)."""
        if not url.startswith(("http://", "https://")):
            raise EditError(400, f"cannot download {url!r}")
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return answer.read()
        except OSError as exc:
            raise EditError(400, f"download of {url!r} failed: {exc}") from None

    # -- control endpoint (outside Plex's URL space) -------------------------------------

    def _control(self, request: Request) -> Response:
        path, method = request.path, request.method
        if path == "/_emulator/stats" and method == "GET":
            return _json(self.stats())
        if path == "/_emulator/reset-stats" and method == "POST":
            self.reset_stats()
            return _json(self.stats())
        if path == "/_emulator/state" and method == "GET":
            return _json(self.dump())
        if path == "/_emulator/state" and method in ("POST", "PUT"):
            self.load(json.loads(request.body or b"{}"))
            return _json({"ok": True})
        if path == "/_emulator/call" and method == "POST":
            return self._call(json.loads(request.body or b"{}"))
        return _json({"error": f"no control route {method} {path}"}, 404)

    def _history(self, params: list[tuple[str, str]]) -> Response:
        """The server's play history (plexapi `PlexServer.history`: `metadataItemID`,
        `accountID` filters); every account's plays unless `accountID` is given."""
        if not self.history:
            return _html_error(404, "history is switched off")
        flags = dict(params)
        lib = self.library
        with lib.lock:
            if "metadataItemID" in flags:
                try:
                    items = [lib.get(flags["metadataItemID"])]
                except UnknownKey:
                    items = []
            else:
                items = list(lib.by_key.values())
            account = int(flags["accountID"]) if flags.get("accountID", "").isdigit() else None
            return _xml(plex_xml.history(lib, items, account))

    def _call(self, payload: dict) -> Response:
        """Drive a helper from another process.

        Payload: `{"method": "edit_item", "args": [1], "kwargs": {"title": "x"}}`."""
        name = payload.get("method")
        if name not in _CALLABLE:
            return _json({"error": f"method must be one of {sorted(_CALLABLE)}"}, 400)
        try:
            result = getattr(self, name)(*payload.get("args", []), **payload.get("kwargs", {}))
        except (KeyError, ValueError, TypeError) as exc:
            return _json({"error": f"{type(exc).__name__}: {exc}"}, 400)
        return _json({"result": _jsonable(result)})


def _search_type(item: _Item) -> int:
    return {"movie": 1, "episode": 4}[item.type]


def _jsonable(value: Any) -> Any:
    if isinstance(value, PlexItem):
        data = asdict(value)
        data["locked"] = sorted(value.locked)
        return data
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT, then stop cleanly (exit status 0)."""
    parser = argparse.ArgumentParser(
        prog="python -m reconciler.emulators.plex", description=__doc__
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", default=None, help="required X-Plex-Token (default: no auth)")
    parser.add_argument("--fixture", help="JSON state (dump() output or a minimal fixture)")
    parser.add_argument(
        "--no-or-groups", action="store_true", help="ignore push/or/pop filter groups"
    )
    parser.add_argument(
        "--missing-in-batch",
        choices=MISSING_IN_BATCH,
        default="rest",
        help="how a multi-id read answers when some ids are gone",
    )
    parser.add_argument(
        "--unknown-filters",
        choices=UNKNOWN_FILTERS,
        default="ignored",
        help="how a listing filter on an unknown field is answered",
    )
    parser.add_argument(
        "--latency",
        type=parse_latency,
        default={},
        metavar="KIND=MS,...",
        help="delay each request of a kind (listing, detail, write, image, other)",
    )
    args = parser.parse_args(argv)
    emulator = PlexEmulator(
        token=args.token,
        port=args.port,
        or_groups=not args.no_or_groups,
        missing_in_batch=args.missing_in_batch,
        unknown_filters=args.unknown_filters,
    )
    emulator.latency = args.latency
    return emulator.serve_until_signalled(args.fixture)


if __name__ == "__main__":
    raise SystemExit(main())

"""Switches for the real-server behaviours that the live contract check settles.

Each switch picks one side of a behaviour that `/work/shared/reference/plex-http.md` §8 marks
unknown ([U]) or measured by third parties ([M]), so `python -m reconciler.contract` can be
tested against the emulator both ways. They sit in a subclass, apart from the emulator's own
behaviour, so they can be folded into it later:

- `multi_read_404` [U] (§8 "A multi-id detail read ... when some ids no longer exist: 200 with
  the rest, or 404"): a `/library/metadata/1,2,3` read naming a missing id answers 404.
- `tag_case_merged` [U] (§8 "Tag names differing only in case: kept apart or merged"; Kometa
  issue 201, labelarr): tags that differ only in case are merged into the first spelling.
- `updated_at_lag` [U] (§8 "Whether an edit PUT moves updatedAt at once or a moment later"):
  an edit's new `updatedAt` shows only this many seconds (of the emulator's clock) later.
- `unknown_filters_ignored` [M] (§8, bomer/plexify `docs/PLEX-API.md` §3.3): a listing filter
  on an unknown field is ignored and the whole library comes back, instead of a 400.
- `max_request_line` [M] (§8, spotify-to-plex PR 23, plex-playlist-sync issue 66; nginx's
  default is 8 KB): a longer request line answers 414.
- `reselect_held_posters` [M] (§8, Incipit.bundle `RESELECT_PAD` notes): when False, posting
  poster bytes the item already holds stores them without selecting them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .http import Request, Response
from .plex import PlexEmulator
from .plex_model import EditError
from .plex_query import parse_query

_SECTION_ALL = re.compile(r"^/library/sections/(\d+)/all/?$")
_METADATA_IDS = re.compile(r"^/library/metadata/([0-9,]+)/?$")
_POSTERS = re.compile(r"^/library/metadata/(\d+)/posters/?$")
_UNKNOWN_FIELD = re.compile(r"unknown filter field '([^']+)'")
_FIELD_OF_KEY = re.compile(r"^(?:[a-z]+\.)?([A-Za-z]+)")


@dataclass
class PlexSwitches:
    multi_read_404: bool = False
    tag_case_merged: bool = False
    updated_at_lag: int = 0
    unknown_filters_ignored: bool = False
    max_request_line: int | None = None
    reselect_held_posters: bool = True


def _html(status: int, title: str) -> Response:
    body = f"<html><head><title>{title}</title></head><body><h1>{status} {title}</h1></body></html>"
    return Response(status, body.encode(), "text/html")


class SwitchablePlexEmulator(PlexEmulator):
    """The Plex emulator with `switches` choosing how it answers in the cases listed above."""

    def __init__(self, *args: Any, switches: PlexSwitches | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.switches = switches or PlexSwitches()
        self._lagged: dict[int, tuple[int, int]] = {}  # ratingKey -> (new stamp, shows at)

    def handle(self, request: Request) -> Response:
        switches = self.switches
        if request.path.startswith("/_emulator/"):
            return super().handle(request)
        line = f"{request.method} {request.path}{'?' if request.query else ''}{request.query}"
        if switches.max_request_line is not None and len(line) + 9 > switches.max_request_line:
            return _html(414, "Request-URI Too Long")
        self._show_lagged_stamps()
        params = parse_qsl(request.query, keep_blank_values=True)
        if not self._authorized(request, params):
            return super().handle(request)
        if request.method == "GET":
            if switches.multi_read_404 and (m := _METADATA_IDS.match(request.path)):
                ids = [i for i in m.group(1).split(",") if i]
                if len(ids) > 1 and any(int(i) not in self.library.by_key for i in ids):
                    return _html(404, "Not Found")
            if switches.unknown_filters_ignored and (m := _SECTION_ALL.match(request.path)):
                request = self._without_unknown_filters(request, int(m.group(1)), params)
            return super().handle(request)
        return self._write(request, params)

    def _write(self, request: Request, params: list[tuple[str, str]]) -> Response:
        lib = self.library
        touched = self._items_touched(request, params)
        with lib.lock:
            stamps = {key: lib.by_key[key].updated_at for key in touched if key in lib.by_key}
            held_selection = self._held_poster_selection(request)
            response = super().handle(request)
            if response.status != 200:
                return response
            if held_selection is not None:
                key, selected = held_selection
                lib.by_key[key].image("thumb").selected = selected
            for key, old in stamps.items():
                item = lib.by_key.get(key)
                if item is None:
                    continue
                if self.switches.tag_case_merged:
                    for tag, names in item.tags.items():
                        item.tags[tag] = _merge_case(names)
                if self.switches.updated_at_lag and item.updated_at != old:
                    self._lagged[key] = (item.updated_at, lib.now() + self.switches.updated_at_lag)
                    item.updated_at = old
                lib.changed(item)
        return response

    def _items_touched(self, request: Request, params: list[tuple[str, str]]) -> list[int]:
        query = dict(params)
        if _SECTION_ALL.match(request.path):
            return [int(i) for i in query.get("id", "").split(",") if i.strip().isdigit()]
        if request.path == "/:/rate" and query.get("key", "").isdigit():
            return [int(query["key"])]
        m = re.match(r"^/library/metadata/(\d+)/", request.path)
        return [int(m.group(1))] if m else []

    def _held_poster_selection(self, request: Request) -> tuple[int, str | None] | None:
        """(item, its selection) when this upload brings bytes the item holds and must not
        re-select them."""
        m = _POSTERS.match(request.path)
        if self.switches.reselect_held_posters or not m or request.method != "POST":
            return None
        item = self.library.by_key.get(int(m.group(1)))
        if item is None or not request.body:
            return None
        images = item.image("thumb")
        if hashlib.sha1(request.body).hexdigest() not in images.uploads:
            return None
        return item.rating_key, images.selected

    def _show_lagged_stamps(self) -> None:
        lib = self.library
        with lib.lock:
            for key, (stamp, shows_at) in list(self._lagged.items()):
                if lib.now() >= shows_at and key in lib.by_key:
                    lib.by_key[key].updated_at = stamp
                    lib.changed(lib.by_key[key])
                    del self._lagged[key]

    def _without_unknown_filters(
        self, request: Request, section_key: int, params: list[tuple[str, str]]
    ) -> Request:
        section = self.library.sections.get(section_key)
        if section is None:
            return request
        while True:
            try:
                parse_query(section, params, self.library.now())
            except EditError as exc:
                unknown = _UNKNOWN_FIELD.search(exc.reason)
                if not unknown:
                    break
                kept = [(k, v) for k, v in params if _field_of(k) != unknown.group(1)]
                if kept == params:
                    break
                params = kept
                continue
            break
        return Request(request.method, request.path, urlencode(params), request.headers,
                       request.body)


def _field_of(key: str) -> str:
    m = _FIELD_OF_KEY.match(key)
    return m.group(1) if m else key


def _merge_case(names: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.casefold(), name)
    return list(seen.values())

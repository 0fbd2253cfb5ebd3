"""The probes of the live contract check, each settling one real-server behaviour.

The behaviours are the rows of `/work/shared/reference/plex-http.md` §8 marked unknown [U]
or measured only by third parties [M]; each probe says what the server did and which
setting of the Plex emulator matches it, named as an attribute of `PlexEmulator`
(`missing_in_batch`, `unknown_filters`, set by its constructor) or of its write rules
(`library.rules.*`, `WriteRules` in `reconciler/emulators/plex_model.py`).
Everything goes through raw HTTP (`PlexWire`): the point is what the server answers, not
how plexapi reads it. All edits land on one item of a scratch library, the one with the
lowest ratingKey (a stable pick: the default listing order is `titleSort`, which an edit
can change), and it is put back as it was at the end (`restore`).
"""

from __future__ import annotations

import hashlib
import struct
import time
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

SEARCH_TYPES = {"movie": 1, "show": 4}
MISSING_KEY_OFFSET = 1_000_000_000
PROBE_TAG = "Stashplex Probe"
LONG_SUMMARY_SIZES = (9_000, 20_000)
LAG_WAITS = (1.0, 2.0, 4.0)


class ContractError(Exception):
    """The check cannot run (no such library, an empty one, a server that refuses)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    url_length: int

    def xml(self) -> ET.Element:
        try:
            return ET.fromstring(self.body)
        except ET.ParseError:
            raise ContractError(
                f"Plex answered {self.status} with a body that is not XML"
            ) from None


class PlexWire:
    """Raw requests to one Plex server, the token in a header, counted."""

    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"X-Plex-Token": token, "Accept": "application/xml"})
        self.timeout = timeout
        self.requests = 0

    def send(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, Any]] = (),
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Answer:
        prepared = self.session.prepare_request(
            requests.Request(method, self.url + path, params=list(params), headers=headers,
                             data=body)
        )
        self.requests += 1
        try:
            answer = self.session.send(prepared, timeout=self.timeout)
        except requests.exceptions.RequestException as exc:
            raise ContractError(f"cannot reach Plex at {self.url}: {type(exc).__name__}") from None
        if answer.status_code == 401:
            raise ContractError("Plex answered 401: STASHPLEX_RECORD_PLEX_TOKEN is not accepted")
        return Answer(answer.status_code, answer.content, len(prepared.path_url))


@dataclass
class ItemState:
    """What the probes change on the scratch item, as read before and after."""

    rating_key: int
    title: str
    summary: str
    genres: list[str]
    locked: set[str]
    user_rating: str | None
    updated_at: int
    last_rated_at: int | None

    @classmethod
    def read(cls, wire: PlexWire, rating_key: int) -> ItemState:
        answer = wire.send("GET", f"/library/metadata/{rating_key}")
        if answer.status != 200:
            raise ContractError(f"reading item {rating_key} answered {answer.status}")
        video = answer.xml().find("Video")
        if video is None:
            raise ContractError(f"item {rating_key} is not a video")
        rated = video.get("lastRatedAt")
        return cls(
            rating_key=rating_key,
            title=video.get("title", ""),
            summary=video.get("summary", ""),
            genres=[g.get("tag", "") for g in video.findall("Genre")],
            locked={f.get("name", "") for f in video.findall("Field") if f.get("locked") == "1"},
            user_rating=video.get("userRating"),
            updated_at=int(video.get("updatedAt", "0")),
            last_rated_at=int(rated) if rated else None,
        )


@dataclass(frozen=True)
class Finding:
    behaviour: str
    mark: str  # [U] or [M], as in §8
    observed: str
    value: Any
    switch: str  # the emulator setting that matches what was observed


@dataclass
class Scratch:
    """The scratch library's one item that the probes edit."""

    section_key: int
    search_type: int
    total: int
    before: ItemState
    selected_poster: str | None


@dataclass
class Report:
    library: str
    item: ItemState
    findings: list[Finding] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    not_restored: list[str] = field(default_factory=list)
    requests: int = 0


def find_scratch(wire: PlexWire, library: str) -> Scratch:
    sections = wire.send("GET", "/library/sections").xml()
    titles = [d.get("title", "") for d in sections.findall("Directory")]
    directory = next((d for d in sections.findall("Directory") if d.get("title") == library), None)
    if directory is None:
        raise ContractError(f"no library named {library!r} (libraries: {', '.join(titles)})")
    kind = directory.get("type", "")
    if kind not in SEARCH_TYPES:
        raise ContractError(f"library {library!r} is a {kind} library; use a movie or show one")
    key, search_type = int(directory.get("key", "0")), SEARCH_TYPES[kind]
    listing = wire.send(
        "GET",
        f"/library/sections/{key}/all",
        [("type", search_type), ("sort", "id")],
        headers={"X-Plex-Container-Start": "0", "X-Plex-Container-Size": "1"},
    ).xml()
    oldest = listing.find("Video")
    if oldest is None:
        raise ContractError(f"library {library!r} has no item: scan one file into it first")
    rating_key = int(oldest.get("ratingKey", "0"))
    total = int(listing.get("totalSize") or listing.get("size") or 0)
    before = ItemState.read(wire, rating_key)
    return Scratch(key, search_type, total, before, selected_poster(wire, rating_key))


def selected_poster(wire: PlexWire, rating_key: int) -> str | None:
    answer = wire.send("GET", f"/library/metadata/{rating_key}/posters")
    if answer.status != 200:
        return None
    chosen = next((p for p in answer.xml().findall("Photo") if p.get("selected") == "1"), None)
    return chosen.get("ratingKey") if chosen is not None else None


def _count(wire: PlexWire, scratch: Scratch, extra: Sequence[tuple[str, Any]]) -> Answer:
    return wire.send(
        "GET",
        f"/library/sections/{scratch.section_key}/all",
        [("type", scratch.search_type), *extra],
        headers={"X-Plex-Container-Start": "0", "X-Plex-Container-Size": "0"},
    )


def _edit(wire: PlexWire, scratch: Scratch, fields: Sequence[tuple[str, Any]]) -> Answer:
    params = [("type", scratch.search_type), ("id", scratch.before.rating_key), *fields]
    return wire.send("PUT", f"/library/sections/{scratch.section_key}/all", params)


def probe_multi_read(wire: PlexWire, scratch: Scratch) -> Finding:
    key = scratch.before.rating_key
    answer = wire.send("GET", f"/library/metadata/{key},{key + MISSING_KEY_OFFSET}")
    if answer.status == 200:
        keys = [v.get("ratingKey") for v in answer.xml().findall("Video")]
        observed, value = f"200 with the ids that exist ({', '.join(keys)})", "rest"
    elif answer.status == 404:
        observed, value = "404 for the whole read", "404"
    else:
        observed, value = f"answered {answer.status}", answer.status
    setting = f"missing_in_batch={value!r}" if value in ("rest", "404") else "-"
    return Finding("multi-id read naming a missing id", "[U]", observed, value, setting)


def probe_unknown_filter(wire: PlexWire, scratch: Scratch) -> Finding:
    answer = _count(wire, scratch, [("stashplexNoSuchField>>", "1")])
    if answer.status == 200:
        found = int(answer.xml().get("totalSize") or 0)
        if found == scratch.total:
            observed, value = f"ignored: 200 with the whole library ({found} items)", "ignored"
            setting = "unknown_filters='ignored'"
        else:
            observed, value = f"200 with {found} of {scratch.total} items", "filtered"
            setting = "-"
    else:
        observed, value = f"rejected with {answer.status}", "rejected"
        setting = "unknown_filters='400'" if answer.status == 400 else "-"
    return Finding("listing filter on an unknown field", "[M]", observed, value, setting)


def probe_after_is_strict(wire: PlexWire, scratch: Scratch) -> Finding:
    stamp = scratch.before.updated_at
    answer = _count(wire, scratch, [("id", scratch.before.rating_key), ("updatedAt>>", stamp)])
    if answer.status != 200:
        return Finding("updatedAt>>= at the item's own stamp", "[M]",
                       f"answered {answer.status}", answer.status, "-")
    found = int(answer.xml().get("totalSize") or 0)
    value = "strict" if found == 0 else "inclusive"
    observed = ("strict: the item stamped exactly then is left out" if found == 0
                else "inclusive: the item stamped exactly then is listed")
    return Finding("updatedAt>>= at the item's own stamp", "[M]", observed, value, "-")


def probe_tag_case_and_stamp(
    wire: PlexWire, scratch: Scratch, sleep: Callable[[float], None]
) -> tuple[Finding, Finding, ItemState]:
    # the first spelling is made a tag of the library before the second one arrives, so a
    # server that merges by case has something to merge into
    for spellings in ((PROBE_TAG,), (PROBE_TAG, PROBE_TAG.lower())):
        fields = [(f"genre[{i}].tag.tag", name) for i, name in enumerate(spellings)]
        edit = _edit(wire, scratch, [*fields, ("genre.locked", 1)])
        if edit.status != 200:
            raise ContractError(f"a genre edit answered {edit.status}")
    after = ItemState.read(wire, scratch.before.rating_key)
    kept = [g for g in after.genres if g.casefold() == PROBE_TAG.casefold()]
    if len(kept) == 1:
        case = Finding("tags differing only in case", "[U]", f"merged into {kept[0]!r}",
                       "merged", "library.rules.merge_tag_case=True")
    else:
        case = Finding("tags differing only in case", "[U]",
                       f"kept apart: {', '.join(repr(k) for k in kept)}", "kept",
                       "library.rules.merge_tag_case=False")
    waited = 0.0
    for wait in (0.0, *LAG_WAITS):
        if wait:
            sleep(wait)
            waited += wait
            after = ItemState.read(wire, scratch.before.rating_key)
        if after.updated_at != scratch.before.updated_at:
            break
    if after.updated_at == scratch.before.updated_at:
        stamp = Finding("updatedAt after an edit", "[U]",
                        f"did not move within {waited:g} s", None, "-")
    elif waited == 0:
        stamp = Finding("updatedAt after an edit", "[U]", "moved at once", 0,
                        "library.rules.updated_at_delay=0")
    else:
        stamp = Finding("updatedAt after an edit", "[U]", f"moved within {waited:g} s",
                        waited, f"library.rules.updated_at_delay>0 (<= {waited:g})")
    return case, stamp, after


def probe_rating_stamp(wire: PlexWire, scratch: Scratch, current: ItemState) -> Finding:
    rating = 3 if current.user_rating not in ("3", "3.0") else 7
    answer = wire.send("PUT", "/:/rate", [
        ("key", scratch.before.rating_key),
        ("identifier", "com.plexapp.plugins.library"),
        ("rating", rating),
    ])
    if answer.status != 200:
        return Finding("a rating change and updatedAt", "[M]", f"answered {answer.status}",
                       answer.status, "-")
    after = ItemState.read(wire, scratch.before.rating_key)
    moved = after.updated_at != current.updated_at
    rated = after.last_rated_at != current.last_rated_at
    observed = (f"updatedAt {'moved' if moved else 'stayed'}, "
                f"lastRatedAt {'moved' if rated else 'stayed'}")
    return Finding("a rating change and updatedAt", "[M]", observed,
                   {"updatedAt": moved, "lastRatedAt": rated}, "-")


def probe_long_request(wire: PlexWire, scratch: Scratch) -> Finding:
    passed = 0
    for size in LONG_SUMMARY_SIZES:
        answer = _edit(wire, scratch, [("summary.value", "x" * size)])
        if answer.status == 414:
            observed = f"414 at a request line of {answer.url_length} bytes"
            if passed:
                observed += f" ({passed} bytes passed)"
            return Finding("an over-long edit request", "[M]", observed, answer.url_length,
                           f"library.rules.max_request_line<={answer.url_length}")
        if answer.status != 200:
            return Finding("an over-long edit request", "[M]",
                           f"answered {answer.status} at {answer.url_length} bytes",
                           answer.status, "-")
        passed = answer.url_length
    return Finding("an over-long edit request", "[M]", f"no 414 up to {passed} bytes", None,
                   f"library.rules.max_request_line=None (or >{passed})")


def probe_poster_reselect(wire: PlexWire, scratch: Scratch) -> Finding:
    first, second = png_1x1((200, 30, 30)), png_1x1((30, 30, 200))
    path = f"/library/metadata/{scratch.before.rating_key}/posters"
    for image in (first, second, first):
        answer = wire.send("POST", path, body=image)
        if answer.status != 200:
            return Finding("re-uploading bytes the item holds", "[M]",
                           f"an upload answered {answer.status}", answer.status, "-")
    chosen = selected_poster(wire, scratch.before.rating_key) or ""
    if chosen.endswith(hashlib.sha1(first).hexdigest()):
        return Finding("re-uploading bytes the item holds", "[M]", "selected again", True,
                       "library.rules.reselect_held_uploads=True")
    return Finding("re-uploading bytes the item holds", "[M]",
                   "stored, not selected: the previous upload stays selected", False,
                   "library.rules.reselect_held_uploads=False")


def restore(wire: PlexWire, scratch: Scratch, report: Report) -> None:
    """Put the item back: rating, poster, then text, genres and locks (a selection locks)."""
    before, key = scratch.before, scratch.before.rating_key
    wire.send("PUT", "/:/rate", [
        ("key", key),
        ("identifier", "com.plexapp.plugins.library"),
        ("rating", before.user_rating if before.user_rating is not None else -1),
    ])
    if scratch.selected_poster:
        wire.send("PUT", f"/library/metadata/{key}/poster", [("url", scratch.selected_poster)])
    else:
        wire.send("DELETE", f"/library/metadata/{key}/thumb")
    fields: list[tuple[str, Any]] = [
        ("title.value", before.title),
        ("summary.value", before.summary),
    ]
    if before.genres:
        fields += [(f"genre[{i}].tag.tag", name) for i, name in enumerate(before.genres)]
    else:
        fields.append(("genre[].tag", ""))
    for name in ("title", "summary", "genre", "thumb"):
        fields.append((f"{name}.locked", int(name in before.locked)))
    _edit(wire, scratch, fields)
    after = ItemState.read(wire, key)
    checks = {
        "title": after.title == before.title,
        "summary": after.summary == before.summary,
        "genres": after.genres == before.genres,
        "locks": after.locked == before.locked,
        "rating": after.user_rating == before.user_rating,
        "poster": selected_poster(wire, key) == scratch.selected_poster,
    }
    report.restored = [name for name, ok in checks.items() if ok]
    report.not_restored = [name for name, ok in checks.items() if not ok]


def run_probes(
    wire: PlexWire, library: str, sleep: Callable[[float], None] = time.sleep
) -> Report:
    """Every probe against the lowest-ratingKey item of `library`, restored whatever happens."""
    scratch = find_scratch(wire, library)
    report = Report(library, scratch.before)
    try:
        report.findings.append(probe_multi_read(wire, scratch))
        report.findings.append(probe_unknown_filter(wire, scratch))
        report.findings.append(probe_after_is_strict(wire, scratch))
        case, stamp, current = probe_tag_case_and_stamp(wire, scratch, sleep)
        report.findings += [case, stamp]
        report.findings.append(probe_rating_stamp(wire, scratch, current))
        report.findings.append(probe_long_request(wire, scratch))
        report.findings.append(probe_poster_reselect(wire, scratch))
    finally:
        restore(wire, scratch, report)
        report.requests = wire.requests
    return report


def png_1x1(rgb: tuple[int, int, int]) -> bytes:
    """A one-pixel PNG of the given colour: an image any server accepts, unique per colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + bytes(rgb))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(
        b"IEND", b"")

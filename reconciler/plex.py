"""The Plex client: listing libraries, reading items in batches, writing edits and posters.

plexapi carries every request (its session, headers and token handling); this
module asks for the raw XML and parses only what stashplex needs, which keeps a
sweep of 100,000 items cheap. Everything plexapi or requests raises leaves here
translated into a stashplex error class.
"""

from __future__ import annotations

import hashlib
import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from plexapi.server import PlexServer
from plexapi.utils import joinArgs

from reconciler.config import PlexConfig, tls_verify
from reconciler.diff import PLEX_FIELDS, Edit
from reconciler.errors import (
    LibraryNotFound,
    PlexNotFound,
    PlexTemporaryError,
    translate_plex_error,
)
from reconciler.httpsession import ConfiguredSession
from reconciler.models import PlexItem

log = logging.getLogger(__name__)

T = TypeVar("T")

LISTING_PAGE_SIZE = 250
DETAIL_BATCH_SIZE = 100

# Plex's search type per listed kind; show sections are listed by episode, where the files are
SEARCH_TYPE = {"movie": 1, "show": 4, "episode": 4}


@dataclass(frozen=True)
class Section:
    key: int
    title: str
    type: str
    locations: tuple[str, ...]

    @property
    def search_type(self) -> int:
        return SEARCH_TYPE.get(self.type, 1)


def _int(value: str | None) -> int:
    try:
        return int(value) if value else 0
    except ValueError:
        return 0


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def parse_item(element: ET.Element, section_id: int = 0) -> PlexItem:
    """A `Video` element (from a listing or a detail answer) as a `PlexItem`."""
    attrib = element.attrib
    tags: dict[str, list[str]] = {"Genre": [], "Role": [], "Collection": []}
    locked: set[str] = set()
    files: list[str] = []
    for child in element:
        if child.tag in tags:
            tags[child.tag].append(child.attrib.get("tag", ""))
        elif child.tag == "Field" and child.attrib.get("locked") == "1":
            locked.add(child.attrib.get("name", ""))
        elif child.tag == "Media":
            files.extend(
                part.attrib["file"] for part in child.iter("Part") if part.attrib.get("file")
            )
    return PlexItem(
        rating_key=_int(attrib.get("ratingKey")),
        section_id=_int(attrib.get("librarySectionID")) or section_id,
        title=attrib.get("title", ""),
        summary=attrib.get("summary", ""),
        originally_available_at=attrib.get("originallyAvailableAt") or None,
        studio=attrib.get("studio") or None,
        user_rating=_float(attrib.get("userRating")),
        genres=tags["Genre"],
        actors=tags["Role"],
        collections=tags["Collection"],
        locked=locked,
        files=files,
        updated_at=_int(attrib.get("updatedAt")),
        added_at=_int(attrib.get("addedAt")),
        type=attrib.get("type", "movie"),
        last_rated_at=_int(attrib.get("lastRatedAt")),
    )


def fingerprint(item: PlexItem) -> str:
    """The item's text fields as a listing shows them: tells an outside edit from stashplex's
    own write made in the same second (Plex stamps are whole seconds)."""
    rating = "" if item.user_rating is None else f"{item.user_rating:g}"
    text = "\x1f".join(
        [item.title, item.summary, item.studio or "", item.originally_available_at or "", rating]
    )
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _tag_args(tag: str, wanted: Sequence[str], current: Sequence[str]) -> dict[str, Any]:
    """Set a tag list to exactly `wanted`: the indexed list replaces, a removal drops leftovers."""
    args: dict[str, Any] = {f"{tag}.locked": 1}
    for i, name in enumerate(wanted):
        args[f"{tag}[{i}].tag.tag"] = name
    leftovers = [name for name in current if name.casefold() not in {w.casefold() for w in wanted}]
    if leftovers:
        args[f"{tag}[].tag.tag-"] = ",".join(quote(name) for name in leftovers)
    return args


def edit_args(item: PlexItem, edit: Edit) -> dict[str, Any]:
    """The query arguments of the one PUT that applies `edit` to `item`, every field locked."""
    args: dict[str, Any] = {
        "id": item.rating_key,
        "type": SEARCH_TYPE.get(item.type, 1),
    }
    for change in edit.changes:
        plex_name, kind = PLEX_FIELDS[change.field]
        if kind == "tags":
            args.update(_tag_args(plex_name, change.new, change.old))
        else:
            value = change.new
            if kind == "rating" and value is not None:
                value = f"{value:g}"
            args[f"{plex_name}.value"] = "" if value is None else value
            args[f"{plex_name}.locked"] = 1
    return args


class PlexClient:
    """stashplex's view of one Plex Media Server."""

    def __init__(self, config: PlexConfig, session: requests.Session | None = None) -> None:
        self.config = config
        self.session = session or ConfiguredSession(tls_verify(config), config.url)
        self._server: PlexServer | None = None
        self._sections: list[Section] | None = None

    def _call(self, action: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except Exception as exc:
            raise translate_plex_error(exc, action) from None

    @property
    def server(self) -> PlexServer:
        """The plexapi server object, connected on first use (one `GET /`, checks the token)."""
        if self._server is None:
            self._server = self._call(
                f"connecting to {self.config.url}",
                lambda: PlexServer(
                    self.config.url,
                    self.config.token,
                    session=self.session,
                    timeout=self.config.timeout,
                ),
            )
        return self._server

    def query(self, key: str, action: str, method: str = "get", **kwargs: Any) -> ET.Element | None:
        server = self.server
        send = getattr(server._session, method)
        root = self._call(action, lambda: server.query(key, method=send, **kwargs))
        if method == "get" and (root is None or root.tag != "MediaContainer"):
            # a proxy's HTML page can be well-formed XML; it is still not Plex's answer
            raise PlexTemporaryError(
                f"Plex sent {'an empty answer' if root is None else f'<{root.tag}>'} "
                f"instead of a MediaContainer while {action}"
            )
        return root

    def identity(self) -> bool:
        """Whether Plex answers at all (`/identity` needs no token): the outage probe."""
        try:
            response = self.session.get(
                f"{self.config.url}/identity", timeout=min(self.config.timeout, 10)
            )
        except requests.RequestException:
            return False
        return response.status_code == 200

    # -- libraries -----------------------------------------------------------

    def sections(self, refresh: bool = False) -> list[Section]:
        if self._sections is None or refresh:
            root = self.query("/library/sections", "listing the libraries")
            found = []
            for directory in root.iter("Directory") if root is not None else []:
                found.append(
                    Section(
                        key=_int(directory.attrib.get("key")),
                        title=directory.attrib.get("title", ""),
                        type=directory.attrib.get("type", ""),
                        locations=tuple(
                            loc.attrib.get("path", "") for loc in directory.iter("Location")
                        ),
                    )
                )
            self._sections = found
        return self._sections

    def configured_sections(self) -> list[Section]:
        """The sections named in `plex.libraries`; a missing one is a permanent error naming it."""
        sections = self.sections()
        by_title = {section.title: section for section in sections}
        chosen = []
        for title in self.config.libraries:
            if title not in by_title:
                existing = ", ".join(repr(s.title) for s in sections) or "none"
                raise LibraryNotFound(
                    f"plex.libraries: library {title!r} not found on Plex; it has {existing}"
                )
            chosen.append(by_title[title])
        return chosen

    def list_items(
        self,
        section: Section,
        where: Sequence[tuple[str, Any]] = (),
        *,
        page_size: int = LISTING_PAGE_SIZE,
    ) -> Iterator[PlexItem]:
        """Page through a section's items matching `where` (partial: files and stamps matter).

        Pages by key (`sort=id`, then `id>>=` the last ratingKey): Plex's default order is by
        title, and a title changed or an item removed during a long listing would shift
        items across offset pages. `where` keeps its order (Plex's OR groups depend on it).
        Paging ends on a short or empty page, or when `totalSize` (optional in Plex's
        answers) says nothing is left.
        """
        base = f"/library/sections/{section.key}/all"
        headers = {"X-Plex-Container-Start": "0", "X-Plex-Container-Size": str(page_size)}
        last: int | None = None
        while True:
            args = [("type", section.search_type), *where, ("sort", "id")]
            if last is not None:
                args.append(("id>>", last))
            query = "&".join(f"{key}={quote(str(value), safe='')}" for key, value in args)
            root = self.query(
                f"{base}?{query}",
                f"listing library {section.title!r} after item {last or 0}",
                headers=headers,
            )
            children = (
                [el for el in root if el.tag in ("Video", "Directory")] if root is not None else []
            )
            for element in children:
                item = parse_item(element, section.key)
                if last is not None and item.rating_key <= last:
                    if item.rating_key == last:
                        continue  # a `>>=` read as `>=` lists the last item again
                    raise PlexTemporaryError(
                        f"Plex did not list library {section.title!r} by ratingKey "
                        f"(item {item.rating_key} after {last})"
                    )
                last = item.rating_key
                yield item
            total = root.attrib.get("totalSize") if root is not None else None
            if len(children) < page_size or (total is not None and _int(total) <= page_size):
                return

    def fetch_items(self, rating_keys: Sequence[int]) -> dict[int, PlexItem]:
        """Full metadata (every tag, every lock) for many items, 100 per request."""
        found: dict[int, PlexItem] = {}
        keys = list(dict.fromkeys(rating_keys))
        for start in range(0, len(keys), DETAIL_BATCH_SIZE):
            self._fetch_chunk(keys[start : start + DETAIL_BATCH_SIZE], found)
        return found

    def _fetch_chunk(self, keys: list[int], found: dict[int, PlexItem]) -> None:
        """One multi-id read. Plex may answer 404 when only some ids are gone, so a 404 is
        split in halves and asked again: only a single id's 404 says that item is gone."""
        ids = ",".join(str(k) for k in keys)
        try:
            root = self.query(f"/library/metadata/{ids}", f"reading items {ids}")
        except PlexNotFound:
            if len(keys) > 1:
                middle = len(keys) // 2
                self._fetch_chunk(keys[:middle], found)
                self._fetch_chunk(keys[middle:], found)
            return
        for element in root if root is not None else []:
            if element.tag in ("Video", "Directory"):
                item = parse_item(element)
                found[item.rating_key] = item

    # -- writing -------------------------------------------------------------

    def write(self, item: PlexItem, edit: Edit) -> None:
        """Every text field and tag list of the edit, locked, in one request."""
        if not edit.changes:
            return
        args = edit_args(item, edit)
        self.query(
            f"/library/sections/{item.section_id}/all{joinArgs(args)}",
            f"editing item {item.rating_key} ({', '.join(c.field for c in edit.changes)})",
            method="put",
        )

    def upload_poster(self, rating_key: int, image: bytes) -> None:
        self.query(
            f"/library/metadata/{rating_key}/posters",
            f"uploading the poster of item {rating_key}",
            method="post",
            data=image,
        )

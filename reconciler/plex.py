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
from urllib.parse import quote, urlsplit

import requests
from plexapi.server import PlexServer
from plexapi.utils import joinArgs

from reconciler.config import DEFAULT_FIELDS, MIN_REQUEST_BYTES, PlexConfig, tls_verify
from reconciler.diff import NOT_ON_EPISODES, Edit
from reconciler.editplan import EditPlan, plan_edit, query_size, wire_query
from reconciler.errors import (
    LibraryNotFound,
    PlexNotFound,
    PlexPermanentError,
    PlexRequestTooLong,
    PlexTemporaryError,
    translate_plex_error,
)
from reconciler.httpsession import ConfiguredSession
from reconciler.images import MAX_UPLOAD_BYTES, fit_for_upload
from reconciler.models import PlexItem

log = logging.getLogger(__name__)

T = TypeVar("T")

LISTING_PAGE_SIZE = 250
DETAIL_BATCH_SIZE = 100

# Plex's search type per listed kind; show sections are listed by episode, where the files are
SEARCH_TYPE = {"movie": 1, "show": 4, "episode": 4}


@dataclass(frozen=True)
class ImageKind:
    """An image an item shows: its name in messages, its upload list, its selection path."""

    name: str
    folder: str
    select: str


POSTER = ImageKind("poster", "posters", "poster")
ART = ImageKind("background art", "arts", "art")


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
    genres: list[str] = []
    actors: list[str] = []
    collections: list[str] = []
    locked: set[str] = set()
    files: list[str] = []
    thumbs: dict[str, str] = {}
    for child in element:
        tag = child.tag
        if tag == "Media":
            for part in child.iter("Part"):
                file = part.get("file")
                if file:
                    files.append(file)
        elif tag == "Genre":
            genres.append(child.get("tag", ""))
        elif tag == "Role":
            name = child.get("tag", "")
            actors.append(name)
            thumb = child.get("thumb")
            if thumb:
                thumbs[name] = thumb
        elif tag == "Collection":
            collections.append(child.get("tag", ""))
        elif tag == "Field" and child.get("locked") == "1":
            locked.add(child.get("name", ""))
    return PlexItem(
        rating_key=_int(attrib.get("ratingKey")),
        section_id=_int(attrib.get("librarySectionID")) or section_id,
        title=attrib.get("title", ""),
        summary=attrib.get("summary", ""),
        originally_available_at=attrib.get("originallyAvailableAt") or None,
        studio=attrib.get("studio") or None,
        user_rating=_float(attrib.get("userRating")),
        year=_int(attrib.get("year")) or None,
        content_rating=attrib.get("contentRating") or None,
        genres=genres,
        actors=actors,
        actor_thumbs=thumbs,
        collections=collections,
        locked=locked,
        files=files,
        updated_at=_int(attrib.get("updatedAt")),
        added_at=_int(attrib.get("addedAt")),
        type=attrib.get("type", "movie"),
        last_rated_at=_int(attrib.get("lastRatedAt")),
        view_count=_int(attrib.get("viewCount")),
        last_viewed_at=_int(attrib.get("lastViewedAt")),
        view_offset=_int(attrib.get("viewOffset")),
    )


def fingerprint(item: PlexItem) -> str:
    """The item's text fields as a listing shows them: tells an outside edit from stashplex's
    own write made in the same second (Plex stamps are whole seconds)."""
    rating = "" if item.user_rating is None else f"{item.user_rating:g}"
    text = "\x1f".join(
        [item.title, item.summary, item.studio or "", item.originally_available_at or "", rating]
    )
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _sender(session: requests.Session, method: str) -> Callable[..., requests.Response]:
    """How plexapi is to send `method` on `session`. Writes go out as they are
    (`ConfiguredSession.send_encoded`): an edit's long query string, re-parsed and re-quoted
    byte by byte by requests and urllib3, was the costliest part of the cold pass's requests.
    A key not yet encoded as on the wire still goes the usual way."""
    if method == "get" or not isinstance(session, ConfiguredSession):
        return getattr(session, method)

    def send(url: str, headers: Any = None, params: Any = None, **kwargs: Any) -> Any:
        if params:
            return session.request(method, url, headers=headers, params=params, **kwargs)
        return session.send_encoded(method, url, headers=headers, **kwargs)

    send.__name__ = method  # plexapi logs the method by its name
    return send


def _item_args(item: PlexItem) -> dict[str, Any]:
    return {"id": item.rating_key, "type": SEARCH_TYPE.get(item.type, 1)}


class PlexClient:
    """stashplex's view of one Plex Media Server."""

    def __init__(
        self,
        config: PlexConfig,
        session: requests.Session | None = None,
        synced_fields: Sequence[str] = DEFAULT_FIELDS,
    ) -> None:
        self.config = config
        self.session = session or ConfiguredSession(tls_verify(config), config.url)
        self.synced_fields = list(synced_fields)
        # lowered for the rest of the run when Plex (or a proxy) answers 414 below it
        self.request_budget = config.max_request_bytes
        self._server: PlexServer | None = None
        self._sections: list[Section] | None = None
        self._told_show_limits = False

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
        send = _sender(server._session, method)
        root = self._call(action, lambda: server.query(key, method=send, **kwargs))
        if method == "get" and (root is None or root.tag != "MediaContainer"):
            # a proxy's HTML page can be well-formed XML; it is still not Plex's answer
            raise PlexTemporaryError(
                f"Plex sent {'an empty answer' if root is None else f'<{root.tag}>'} "
                f"instead of a MediaContainer while {action}"
            )
        return root

    @property
    def machine_id(self) -> str:
        """The server's `machineIdentifier` (from the `GET /` made when connecting)."""
        return str(self.server.machineIdentifier or "")

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
        self._tell_show_limits(chosen)
        return chosen

    def _tell_show_limits(self, sections: list[Section]) -> None:
        """Say once which configured fields a show library's episodes cannot take."""
        if self._told_show_limits:
            return
        self._told_show_limits = True
        lost = [name for name in self.synced_fields if name in NOT_ON_EPISODES]
        for section in sections:
            if section.type == "show" and lost:
                log.info(
                    "library %r is a show library: Plex keeps no %s on episodes, so "
                    "stashplex does not write them there",
                    section.title,
                    " and ".join(lost),
                )

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

    def play_times(self, rating_key: int, after: int, until: int) -> list[int] | None:
        """When the item was played (epoch seconds, oldest first) in `(after, until]`, from the
        server's history; None when Plex keeps none it will show (answers 404 or 401).

        The history lists every account's plays: a caller counts plays by `viewCount` and
        takes only the times from here."""
        args = {"metadataItemID": rating_key, "sort": "viewedAt:desc"}
        try:
            root = self.query(
                f"/status/sessions/history/all{joinArgs(args)}",
                f"reading the play history of item {rating_key}",
            )
        except (PlexNotFound, PlexPermanentError):
            return None
        times = [
            _int(el.attrib.get("viewedAt")) for el in root if el.tag in ("Video", "Track")
        ] if root is not None else []
        return sorted(t for t in times if after < t <= until)

    # -- writing -------------------------------------------------------------

    def write(self, item: PlexItem, edit: Edit, about: str = "") -> EditPlan:
        """The edit's fields and tag lists, each locked, in as few PUTs as the size budget
        allows (one when it fits). A 414 lowers the budget and the edit goes out again split
        further. Values shortened to fit are logged once, naming `about` (the scene), and
        returned in the plan."""
        if not edit.changes and not edit.lock_poster and not edit.lock_art:
            return EditPlan()
        key = f"/library/sections/{item.section_id}/all"
        fixed = len("PUT ") + len(urlsplit(self.config.url).path.rstrip("/")) + len(key)
        fixed += len(" HTTP/1.1")
        what = ", ".join(edit.fields) or "image locks"
        while True:
            plan = plan_edit(_item_args(item), edit, self.request_budget - fixed)
            try:
                for args in plan.requests:
                    self.query(
                        f"{key}{wire_query(args)}",
                        f"editing item {item.rating_key} ({what})",
                        method="put",
                    )
            except PlexRequestTooLong:
                size = fixed + query_size(args)
                if self.request_budget <= MIN_REQUEST_BYTES:
                    raise PlexRequestTooLong(
                        f"Plex answered 414 (request too long) even to an edit of {size} bytes "
                        f"for item {item.rating_key}: a proxy in front of Plex may limit "
                        "request lines; raise its limit"
                    ) from None
                lowered = min(self.request_budget, size) * 3 // 4
                self.request_budget = max(MIN_REQUEST_BYTES, lowered)
                log.warning(
                    "Plex answered 414 to an edit of %d bytes; keeping edits under %d bytes "
                    "from now on (set plex.max_request_bytes to stay there)",
                    size,
                    self.request_budget,
                )
                continue
            break
        for name, value in plan.shortened.items():
            shown = f"{len(value)} tags" if isinstance(value, tuple) else f"{len(value)} characters"
            log.warning(
                "%s: %s is too long for one request to Plex (plex.max_request_bytes %d); "
                "written shortened to %s",
                about or f"item {item.rating_key}",
                name,
                self.request_budget,
                shown,
            )
        return plan

    def scan_folder(self, section: Section, folder: str) -> None:
        """Ask Plex to scan one folder of a library for new files (`plex.scan_missing`).

        `GET /library/sections/{id}/refresh?path=<folder>`, as plexapi's
        `LibrarySection.update(path=)` sends it (`shared/reference/plex-http.md` §2 and §5:
        the scan runs after the answer, so new items show up a while later)."""
        key = f"/library/sections/{section.key}/refresh{joinArgs({'path': folder})}"
        server = self.server
        self._call(
            f"asking Plex to scan {folder!r} in library {section.title!r}",
            lambda: server.query(key, method=server._session.get),
        )

    def upload_poster(
        self, rating_key: int, image: bytes, about: str = "", may_hold: bool = True
    ) -> str | None:
        """`upload_image` as the item's poster."""
        return self.upload_image(rating_key, image, POSTER, about, may_hold)

    def upload_image(
        self,
        rating_key: int,
        image: bytes,
        kind: ImageKind,
        about: str = "",
        may_hold: bool = True,
    ) -> str | None:
        """Upload a poster (or background art) Plex can take and make sure it is the one Plex
        shows; returns the sha1 of the bytes Plex now shows, None when none was sent or kept.

        An image over Plex's upload limit is re-encoded or scaled down first, and skipped
        (with one warning naming `about`) when it cannot be made small enough. Plex selects
        uploaded bytes only when the item does not hold them already, so when it may
        (`may_hold`: stashplex uploaded to this item before) the selected image is read
        after the upload and, when it is another one, the uploaded one is selected. A first
        upload to an item is selected by Plex itself and costs no check. Posters and arts
        follow the same rules (`POST /library/metadata/{id}/arts`, `GET .../arts`,
        `PUT .../art?url=`: shared/reference/plex-http.md §2 and §8).
        """
        what = f"{kind.name} of item {rating_key}"
        data = fit_for_upload(image)
        if data is None:
            reason = (
                f"the cover is {len(image):,} bytes, over Plex's upload limit of "
                f"{MAX_UPLOAD_BYTES:,}, and cannot be made smaller"
            )
            log.warning("%s: %s not sent: %s", about or f"item {rating_key}", kind.name, reason)
            return None
        if len(data) != len(image):
            log.info(
                "%s: cover of %s bytes re-encoded to %s bytes to fit Plex's upload limit",
                about or f"item {rating_key}",
                f"{len(image):,}",
                f"{len(data):,}",
            )
        sha1 = hashlib.sha1(data).hexdigest()
        key = f"/library/metadata/{rating_key}/{kind.folder}"
        self.query(key, f"uploading the {what}", method="post", data=data)
        if not may_hold:
            return sha1
        wanted = f"upload://{kind.folder}/{sha1}"
        root = self.query(key, f"reading the {kind.folder} of item {rating_key}")
        photos = [el for el in root if el.tag == "Photo"] if root is not None else []
        selected = next(
            (p.attrib.get("ratingKey") for p in photos if p.attrib.get("selected") == "1"), None
        )
        if selected != wanted:
            if not any(p.attrib.get("ratingKey") == wanted for p in photos):
                log.warning(
                    "%s: Plex does not list the uploaded %s %s; it shows %s",
                    about or f"item {rating_key}",
                    kind.name,
                    sha1,
                    selected or "none",
                )
                return None
            self.query(
                f"/library/metadata/{rating_key}/{kind.select}{joinArgs({'url': wanted})}",
                f"selecting the {what}",
                method="put",
            )
        return sha1

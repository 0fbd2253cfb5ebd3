"""The Stash client: paged GraphQL reads over gql's requests transport, and screenshot downloads.

Every failure leaves here as a stashplex error: no connection or a 5xx is
transient (naming `stash.url`), a 401 is a configuration error naming `stash.api_key`,
and a GraphQL `errors` array is reported with the name of the query that got it.

Reads never page by offset over a key that moves: lists of changes page by `updated_at`
(keyset, one second of overlap), everything else by `id`. Stash compares timestamp
criteria as text: `>` , `=` and `BETWEEN` (both ends included) in `getTimestampWhereClause`,
`pkg/sqlite/sql.go` (see `../shared/reference/stash-graphql.md`).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from gql import Client, GraphQLRequest, gql
from gql.transport.exceptions import (
    TransportAlreadyConnected,
    TransportConnectionFailed,
    TransportError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.requests import RequestsHTTPTransport
from requests.compat import json as complexjson

from reconciler.config import StashConfig, tls_verify
from reconciler.errors import (
    PermanentError,
    StashActivityRefused,
    StashAuthError,
    StashplexError,
    StashQueryError,
    StashTemporaryError,
    StashUnavailable,
    StashUnreachable,
    answers_plain_http,
    is_transient_status,
)
from reconciler.httpsession import Answered, ConfiguredSession, PendingResponse
from reconciler.models import Scene
from reconciler.photos import served_path
from reconciler.readahead import STASH_IN_FLIGHT
from reconciler.walks import DOWN, UP, MeetingWalks
from reconciler.watermark import shifted

log = logging.getLogger(__name__)

PAGE_SIZE = 250
RENAMABLE = ("tags", "performers", "studios")

SCENE_FIELDS = """
    id title code details date rating100 organized urls updated_at
    files { path }
    paths { screenshot }
    stash_ids { endpoint stash_id }
    studio { id name parent_studio { id name } }
    performers { id name image_path }
    tags { id name }
    groups { group { id name } }
"""
OBJECT_FIELDS = "id name created_at updated_at"

FIND_SCENES = f"""
query FindScenes($filter: FindFilterType!, $scene_filter: SceneFilterType, $ids: [ID!]) {{
  findScenes(filter: $filter, scene_filter: $scene_filter, ids: $ids) {{
    count
    scenes {{ {SCENE_FIELDS} }}
  }}
}}
"""

FIND_SCENE = f"""
query FindScene($id: ID!) {{
  findScene(id: $id) {{ {SCENE_FIELDS} }}
}}
"""


def _filter_type(kind: str) -> str:
    return f"{kind[:-1].title()}FilterType"


FIND_OBJECTS = {
    kind: f"""
query Find{kind.title()}($filter: FindFilterType!, $object_filter: {_filter_type(kind)}) {{
  find{kind.title()}(filter: $filter, {kind[:-1]}_filter: $object_filter) {{
    count
    {kind} {{ {OBJECT_FIELDS} }}
  }}
}}
"""
    for kind in RENAMABLE
}

# The newest of each kind (`id`, `updated_at`) and how many there are, in one request: what a
# full pass starts the polls from (`$scenes` of them for scenes, `$count` for the others).
NEWEST_KINDS = ("scenes", *RENAMABLE)
NEWEST = (
    "query Newest($scenes: Int!, $count: Int!) {\n"
    + "".join(
        f"  {kind}: find{kind.title()}(filter: {{ page: 1, "
        f"per_page: ${'scenes' if kind == 'scenes' else 'count'}, "
        'sort: "updated_at", direction: DESC }) '
        f"{{ count {kind} {{ id updated_at }} }}\n"
        for kind in NEWEST_KINDS
    )
    + "}\n"
)

# An idle poll in one request: the first page of every "changed since" list, how many
# tags, performers and studios exist (a drop means one was deleted: deleting does not
# move any `updated_at`), and the newest stamps in the day below the watermark (one in an
# offset west of the watermark's means Stash restarted in another zone and now writes
# stamps that sort below the watermark as text).
_COUNT_ONLY = "{ per_page: 1 }"
BAND_PAGE = {"page": 1, "per_page": 1000, "sort": "updated_at", "direction": "DESC"}
POLL = (
    "query Poll($page: FindFilterType!, $band_page: FindFilterType!, "
    + ", ".join(
        f"${kind}{band}: {_filter_type(kind)}!"
        for kind in ("scenes", *RENAMABLE)
        for band in ("", "_band")
    )
    + ") {\n"
    "  scenes: findScenes(filter: $page, scene_filter: $scenes) "
    f"{{ count scenes {{ {SCENE_FIELDS} }} }}\n"
    + "".join(
        f"  {kind}: find{kind.title()}(filter: $page, {kind[:-1]}_filter: ${kind}) "
        f"{{ count {kind} {{ {OBJECT_FIELDS} }} }}\n"
        f"  {kind}_total: find{kind.title()}(filter: {_COUNT_ONLY}) {{ count }}\n"
        for kind in RENAMABLE
    )
    + "".join(
        f"  {kind}_band: find{kind.title()}"
        f"(filter: $band_page, {kind[:-1]}_filter: ${kind}_band) "
        f"{{ {kind} {{ updated_at }} }}\n"
        for kind in ("scenes", *RENAMABLE)
    )
    + "}\n"
)


def since(value: str) -> dict[str, Any]:
    """The criterion "`updated_at` after `value`", compared as text by Stash."""
    return {"updated_at": {"value": value, "modifier": "GREATER_THAN"}}


def between(low: str, high: str) -> dict[str, Any]:
    """The criterion "`updated_at` from `low` to `high`, both included" (SQL BETWEEN, as text)."""
    return {"updated_at": {"value": low, "value2": high, "modifier": "BETWEEN"}}


@dataclass
class PollAnswer:
    """What the one-request poll document returned."""

    scenes: list[Scene]
    scene_count: int
    changed: dict[str, list[dict[str, Any]]]
    changed_count: dict[str, int]
    totals: dict[str, int]
    band: dict[str, list[str]]  # per kind: the newest stamps (as text) in its band


VERSION = "query Version { version { version } }"

# what stashplex carries back from Plex, in Stash's own mutations (names and argument types
# as Stash v0.30 declares them: `shared/reference/stash-graphql.md`, "More facts")
SCENE_ACTIVITY = """
query SceneActivity($ids: [ID!], $filter: FindFilterType) {
  findScenes(ids: $ids, filter: $filter) {
    scenes { id rating100 urls updated_at play_history resume_time }
  }
}
"""
ADD_PLAYS = """
mutation AddPlays($id: ID!, $times: [Timestamp!]) {
  sceneAddPlay(id: $id, times: $times) { count }
}
"""
SAVE_RESUME = """
mutation SaveResume($id: ID!, $resume_time: Float) {
  sceneSaveActivity(id: $id, resume_time: $resume_time)
}
"""
UPDATE_ACTIVITY = """
mutation UpdateActivity($input: SceneUpdateInput!) {
  sceneUpdate(input: $input) { id updated_at }
}
"""
_MISSING_MUTATION = ("cannot query field", "unknown argument", "unknown type")
_FORBIDDEN = ("forbidden", "not authorized", "unauthorized", "permission", "not allowed")


# what gql passes for a document posted as JSON, with no files
_PLAIN_POST = {"headers", "auth", "cookies", "timeout", "verify", "json"}


class _GraphQLSession(ConfiguredSession):
    """The session gql posts each document on. A plain JSON post (all gql sends for
    stashplex) is encoded here as requests encodes `json=` and sent by `send_encoded`: to a
    plain-HTTP Stash that is one kept connection, which reads each answer in a few large reads
    where requests reads 8 KiB at a time. In a full pass each read gives up the interpreter
    lock while the comparing thread holds it, and waiting to take it back held the next page's
    request back. Anything else goes requests' way. GraphQL answers are UTF-8: for a media type
    such as `application/graphql-response+json` without a charset, requests would guess."""

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        payload = kwargs.get("json")
        plain = (
            not args
            and method.upper() == "POST"
            and payload is not None
            and set(kwargs) <= _PLAIN_POST
            and kwargs.get("auth") is None
            and not kwargs.get("cookies")
            and kwargs.get("verify") in (None, True, self.verify)
        )
        if plain:
            response = self.send_encoded(
                "POST",
                url,
                headers=kwargs.get("headers"),
                data=complexjson.dumps(payload, allow_nan=False).encode("utf-8"),
                timeout=kwargs.get("timeout"),
                content_type="application/json",
            )
        else:
            response = super().request(method, url, *args, **kwargs)
        if response.encoding is None:
            response.encoding = "utf-8"
        return response


class _ConfiguredTransport(RequestsHTTPTransport):
    """gql's requests transport on a `ConfiguredSession`, like every other request stashplex
    makes: the environment (proxies, CA bundle) is read once, not on every page, and no
    password from `~/.netrc` goes to Stash. A plain session looked for `~/.netrc` on each
    request: two stat() calls, each giving up the interpreter lock while a full pass's other
    threads held it, before the next page could be asked for."""

    def __init__(self, config: StashConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._config = config

    def connect(self) -> None:
        if self.session is not None:
            raise TransportAlreadyConnected("Transport is already connected")
        self.session = _GraphQLSession(tls_verify(self._config), self._config.url)


@functools.lru_cache(maxsize=64)
def _parsed(query: str) -> GraphQLRequest:
    """A GraphQL document parsed once: a full pass sends the same `FindScenes` for each page."""
    return gql(query)


def scene_from_graphql(data: dict[str, Any]) -> Scene:
    """A `Scene` from one entry of `findScenes.scenes` (each list walked once: a full pass
    turns every scene of the library into one)."""
    get = data.get
    studio = get("studio") or {}
    names: list[str] = []
    images: dict[str, str] = {}
    performer_ids: list[str] = []
    for performer in get("performers") or ():
        name = performer.get("name")
        if name:
            names.append(name)
            image = performer.get("image_path")
            if image:
                images[name] = image
        if "id" in performer:
            performer_ids.append(str(performer["id"]))
    tags: list[str] = []
    tag_ids: list[str] = []
    for tag in get("tags") or ():
        name = tag.get("name")
        if name:
            tags.append(name)
        if "id" in tag:
            tag_ids.append(str(tag["id"]))
    performer_ids.sort()
    tag_ids.sort()
    studio_id = studio.get("id")
    return Scene(
        str(data["id"]),
        get("updated_at") or "",
        get("title"),
        get("details"),
        get("date"),
        get("rating100"),
        studio.get("name"),
        names,
        images,
        tags,
        [f["path"] for f in get("files") or () if f.get("path")],
        (get("paths") or {}).get("screenshot"),
        get("code"),
        (studio.get("parent_studio") or {}).get("name"),
        [g["group"]["name"] for g in get("groups") or () if (g.get("group") or {}).get("name")],
        bool(get("organized")),
        [u for u in get("urls") or () if u],
        [
            f"{s.get('endpoint', '')}#{s['stash_id']}"
            for s in get("stash_ids") or ()
            if s.get("stash_id")
        ],
        str(studio_id) if studio_id is not None else None,
        performer_ids,
        tag_ids,
    )


def _stamp_of(kind: str) -> Callable[[Any], str]:
    if kind == "scenes":
        return lambda scene: scene.updated_at
    return lambda row: row["updated_at"]


def _key(kind: str, row: Any) -> tuple[str, str]:
    """(id, updated_at): one version of one row."""
    if kind == "scenes":
        return row.id, row.updated_at
    return str(row["id"]), row["updated_at"]


def translate_stash_error(
    exc: BaseException, action: str, url: str | None = None
) -> StashplexError:
    """Map gql/requests failures while doing `action` onto stashplex's classes; connection
    failures name `url` (the configured `stash.url`), the first thing to check."""
    if isinstance(exc, StashplexError):
        return exc
    where = f" at {url}" if url else ""
    cause = exc.__cause__ if isinstance(exc, TransportConnectionFailed) else exc
    if isinstance(cause, requests.exceptions.Timeout):
        return StashTemporaryError(f"Stash{where} did not answer in time while {action}")
    if isinstance(cause, requests.exceptions.SSLError) and answers_plain_http(cause):
        return StashAuthError(
            f"Stash answers plain HTTP, not HTTPS, while {action}: write stash.url with http://"
        )
    if isinstance(cause, requests.exceptions.SSLError):
        return StashAuthError(
            f"Stash's TLS certificate is not trusted while {action}: set stash.ca_bundle to "
            "its CA certificate, or stash.verify_ssl: false"
        )
    if isinstance(cause, requests.exceptions.ConnectionError | TransportConnectionFailed):
        return StashUnreachable(f"cannot connect to Stash{where} while {action}")
    status = getattr(exc, "code", None)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
    if isinstance(exc, TransportServerError | requests.HTTPError) and status is not None:
        if status == 401:
            return StashAuthError(
                "Stash refused the API key (401): set stash.api_key "
                "(or STASHPLEX_STASH_API_KEY) to the key from Stash's Settings > Security"
            )
        if status == 503:
            return StashUnavailable(f"Stash is unavailable (503) while {action}")
        if is_transient_status(status):
            return StashTemporaryError(f"Stash answered HTTP {status} while {action}")
        return PermanentError(f"Stash answered HTTP {status} while {action}")
    if isinstance(exc, TransportQueryError):
        messages = "; ".join(
            str(error.get("message", error)) for error in (exc.errors or [])
        ) or str(exc)
        return StashQueryError(f"Stash rejected the query while {action}: {messages}")
    if isinstance(exc, TransportError | ValueError):
        return StashTemporaryError(f"Stash sent an unreadable answer while {action}: {exc}")
    if isinstance(exc, requests.RequestException):
        return StashTemporaryError(f"the connection to Stash broke while {action}")
    return PermanentError(f"unexpected {type(exc).__name__} while {action}: {exc}")


class StashClient:
    """stashplex's view of one Stash server."""

    def __init__(
        self, config: StashConfig, in_flight: threading.BoundedSemaphore | None = None
    ) -> None:
        self.config = config
        self.headers = {"ApiKey": config.api_key} if config.api_key else {}
        self.http = ConfiguredSession(tls_verify(config), config.url)
        self.http.headers.update(self.headers)
        self._client: Client | None = None
        self._session: Any = None
        # every request waits for one: a full pass's two walks, the photos served to Plex
        # (from threads of their own) and the worker's covers all ask Stash; a cover asked
        # ahead holds its place until the worker reads it
        self._in_flight = in_flight or threading.BoundedSemaphore(STASH_IN_FLIGHT)

    def twin(self) -> StashClient:
        """Another client of the same server, on a connection of its own (for a second
        request in flight), sharing this one's limit of requests in flight; close it when
        done."""
        return StashClient(self.config, self._in_flight)

    def __enter__(self) -> StashClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None and self._session is not None:
            self._client.close_sync()
        self._client = self._session = None
        self.http.close()

    def _gql(self) -> Any:
        if self._session is None:
            transport = _ConfiguredTransport(
                self.config,
                url=f"{self.config.url}/graphql",
                headers=self.headers,
                timeout=self.config.timeout,
                retries=0,
                verify=tls_verify(self.config),
            )
            self._client = Client(transport=transport, fetch_schema_from_transport=False)
            self._session = self._client.connect_sync()
        return self._session

    def execute(self, query: str, variables: dict[str, Any], action: str) -> dict[str, Any]:
        """Run one GraphQL document; `action` says what for, in error messages."""
        try:
            request = GraphQLRequest(_parsed(query), variable_values=variables)
            with self._in_flight:
                return self._gql().execute(request)
        except Exception as exc:
            raise translate_stash_error(exc, action, self.config.url) from None

    def version(self) -> str:
        data = self.execute(VERSION, {}, "asking Stash for its version (query Version)")
        return (data.get("version") or {}).get("version") or "unknown"

    def _find(
        self, kind: str, variables: dict[str, Any], action: str
    ) -> tuple[list[Any], int]:
        """One page of a find query: rows (scenes as `Scene`) and the total count."""
        rows, count = self._find_rows(kind, variables, action)
        if kind == "scenes":
            rows = [scene_from_graphql(row) for row in rows]
        return rows, count

    def _find_rows(
        self, kind: str, variables: dict[str, Any], action: str
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of a find query as Stash answered it: rows and the total count."""
        query = FIND_SCENES if kind == "scenes" else FIND_OBJECTS[kind]
        name = f"Find{kind.title()}"
        data = self.execute(query, variables, f"{action} (query {name})")[f"find{kind.title()}"]
        return data[kind], data["count"]

    def _object_filter(self, kind: str, criteria: dict[str, Any]) -> dict[str, Any]:
        return {"scene_filter" if kind == "scenes" else "object_filter": criteria}

    def scenes_by_id(
        self, scene_filter: dict[str, Any] | None = None, per_page: int = PAGE_SIZE
    ) -> Iterator[tuple[list[Scene], int]]:
        """Pages of scenes in `id` order (see `scene_rows_by_id`), as `Scene`s."""
        for rows, total in self.scene_rows_by_id(scene_filter, per_page):
            yield [scene_from_graphql(row) for row in rows], total

    def scene_rows_by_id(
        self,
        scene_filter: dict[str, Any] | None = None,
        per_page: int = PAGE_SIZE,
        walks: MeetingWalks | None = None,
        side: str = UP,
    ) -> Iterator[tuple[list[dict[str, Any]], int]]:
        """Pages of scenes in `id` order, each page asked for as "`id` greater than the last
        one read" (keyset): `id` never moves, so edits and deletions during the walk skip
        nothing. Yields each page as Stash answered it (`scene_from_graphql` makes `Scene`s
        of its rows) with the count of the first answer; the full sweep turns the rows into
        scenes while the next page is being asked for.

        With `walks`, this is one of two walks that meet (`reconciler.walks`): `side` DOWN
        walks from the highest id down ("`id` less than the last one read"), and each yields
        only the rows it kept (a walk alone keeps every row and ends at a short page)."""
        walks = MeetingWalks() if walks is None else walks
        last: int | None = None
        total = None
        down = side == DOWN
        while not walks.met:
            criteria = dict(scene_filter or {})
            if not down or last is not None:
                modifier = "LESS_THAN" if down else "GREATER_THAN"
                criteria["id"] = {"value": last or 0, "modifier": modifier}
            direction = "DESC" if down else "ASC"
            paging = {"page": 1, "per_page": per_page, "sort": "id", "direction": direction}
            if not down:
                where = f"after id {last or 0}"
            else:
                where = "from the highest id" if last is None else f"below id {last}"
            rows, count = self._find_rows(
                "scenes",
                {"filter": paging, "scene_filter": criteria},
                f"reading scenes {where}",
            )
            total = count if total is None else total
            ids = [int(row["id"]) for row in rows]
            kept, more = walks.keep(side, ids, len(rows) == per_page)
            if kept:
                yield rows if kept == len(rows) else rows[:kept], total
            if not more:
                return
            last = ids[-1]

    def all_scenes(
        self, scene_filter: dict[str, Any] | None = None, per_page: int = PAGE_SIZE
    ) -> list[Scene]:
        return [scene for page, _ in self.scenes_by_id(scene_filter, per_page) for scene in page]

    def poll(
        self,
        lower: dict[str, str],
        band: dict[str, tuple[str, str]],
        per_page: int = PAGE_SIZE,
    ) -> PollAnswer:
        """The first page of everything changed after `lower` (per kind), the object totals and
        the newest stamps within each kind's `band` (both ends included), in one request."""
        variables: dict[str, Any] = {
            "page": {"page": 1, "per_page": per_page, "sort": "updated_at", "direction": "ASC"},
            "band_page": BAND_PAGE,
        }
        for kind, value in lower.items():
            variables[kind] = since(value)
            variables[f"{kind}_band"] = between(*band[kind])
        data = self.execute(POLL, variables, "polling for changes (query Poll)")
        return PollAnswer(
            scenes=[scene_from_graphql(row) for row in data["scenes"]["scenes"]],
            scene_count=data["scenes"]["count"],
            changed={kind: data[kind][kind] for kind in RENAMABLE},
            changed_count={kind: data[kind]["count"] for kind in RENAMABLE},
            totals={kind: data[f"{kind}_total"]["count"] for kind in RENAMABLE},
            band={
                kind: [row["updated_at"] for row in data[f"{kind}_band"][kind]]
                for kind in ("scenes", *RENAMABLE)
            },
        )

    def changed_since(
        self,
        kind: str,
        lower: str,
        per_page: int = PAGE_SIZE,
        first: tuple[list[Any], int] | None = None,
    ) -> Iterator[list[Any]]:
        """Every scene (or tag, performer, studio) whose `updated_at` is after `lower`, oldest
        first, in pages; `first` is the first page and its count when the caller has them.

        Keyset paging, not offsets: the next page is "after the last stamp read, less its own
        second", deduplicated by (id, updated_at). A row edited during the walk moves to the end
        and is read again there; offset paging would skip the row that slid into its place. A
        page that lies all within one second (a bulk edit) is walked by id within that second.
        """
        stamp = _stamp_of(kind)
        seen: set[tuple[str, str]] = set()
        page, count = first or (None, 0)
        while True:
            if page is None:
                page, count = self._find(
                    kind,
                    {
                        "filter": {
                            "page": 1,
                            "per_page": per_page,
                            "sort": "updated_at",
                            "direction": "ASC",
                        },
                        **self._object_filter(kind, since(lower)),
                    },
                    f"reading {kind} changed after {lower}",
                )
            fresh = [row for row in page if _key(kind, row) not in seen]
            seen.update(_key(kind, row) for row in fresh)
            if fresh:
                yield fresh
            if len(page) < per_page or len(page) >= count:
                return  # later edits are newer than what was read: the next poll has them
            top = stamp(page[-1])
            if stamp(page[0]) == top or not fresh:
                for rows in self._one_second(kind, top, per_page):
                    rows = [row for row in rows if _key(kind, row) not in seen]
                    seen.update(_key(kind, row) for row in rows)
                    if rows:
                        yield rows
                lower = top
            else:
                lower = shifted(top, -1)
            page = None

    def _one_second(self, kind: str, stamp: str, per_page: int) -> Iterator[list[Any]]:
        """Every row stamped exactly `stamp`, in id order: scenes by keyset on id; tags,
        performers and studios (whose filters have no id criterion) by page number."""
        exact = {"updated_at": {"value": stamp, "modifier": "EQUALS"}}
        last, page = 0, 1
        while True:
            criteria = dict(exact)
            if kind == "scenes":
                criteria["id"] = {"value": last, "modifier": "GREATER_THAN"}
            paging = {
                "page": 1 if kind == "scenes" else page,
                "per_page": per_page,
                "sort": "id",
                "direction": "ASC",
            }
            rows, _ = self._find(
                kind,
                {"filter": paging, **self._object_filter(kind, criteria)},
                f"reading {kind} changed at {stamp}",
            )
            if rows:
                yield rows
            if len(rows) < per_page:
                return
            last = int(_key(kind, rows[-1])[0])
            page += 1

    def object_ids(self, kind: str, per_page: int = 1000) -> set[str]:
        """The ids of every tag, performer or studio Stash has now.

        Paged by number in id order: an object deleted meanwhile can only make a later id look
        gone too, which costs a needless re-check, never a missed one."""
        ids: set[str] = set()
        page = 1
        while True:
            paging = {"page": page, "per_page": per_page, "sort": "id", "direction": "ASC"}
            rows, _ = self._find(
                kind, {"filter": paging, "object_filter": None}, f"listing {kind} page {page}"
            )
            ids.update(str(row["id"]) for row in rows)
            if len(rows) < per_page:
                return ids
            page += 1

    def scenes_by_ids(self, ids: list[str]) -> list[Scene]:
        """The scenes that still exist among `ids`: one missing id fails a whole batch in Stash."""
        found: list[Scene] = []
        for start in range(0, len(ids), PAGE_SIZE):
            chunk = ids[start : start + PAGE_SIZE]
            try:
                found.extend(self._by_ids(chunk))
            except StashQueryError:
                for scene_id in chunk:
                    data = self.execute(
                        FIND_SCENE, {"id": scene_id}, f"reading scene {scene_id} (query FindScene)"
                    )["findScene"]
                    if data:
                        found.append(scene_from_graphql(data))
        return found

    def _by_ids(self, ids: list[str]) -> list[Scene]:
        """These scenes in one request (`ids` override paging); a missing id fails it."""
        paging = {"page": 1, "per_page": len(ids)}
        scenes, _ = self._find(
            "scenes", {"filter": paging, "ids": ids}, f"reading {len(ids)} scenes by id"
        )
        return scenes

    def scenes_by_path(self, path: str) -> list[Scene]:
        """Scenes whose file is at `path` (for an item that Plex found before we knew it)."""
        return self.all_scenes({"path": {"value": path, "modifier": "EQUALS"}})

    def scenes_by_file_name(self, name: str) -> list[Scene]:
        """Scenes a path of which holds `name` (`match: filename`; Stash's INCLUDES compares
        without regard to case, and a quoted value is one phrase): the caller keeps those
        whose file name is `name` itself."""
        return self.all_scenes({"path": {"value": f'"{name}"', "modifier": "INCLUDES"}})

    def scenes_carrying(self, kind: str, ids: list[str], per_page: int = PAGE_SIZE) -> list[Scene]:
        """Every scene that carries one of these tags, performers or studios (keyset on id).

        Studios one level down too: a renamed parent studio is the `parent_studio` of its
        children's scenes (`studios` is a HierarchicalMultiCriterionInput with `depth`)."""
        criterion: dict[str, Any] = {"value": ids, "modifier": "INCLUDES"}
        if kind == "studios":
            criterion["depth"] = 1
        return self.all_scenes({kind: criterion}, per_page)

    def newest(
        self, scenes: int = 1, count: int = 1
    ) -> dict[str, tuple[list[dict[str, Any]], int]]:
        """The `scenes` newest scenes and the `count` newest tags, performers and studios
        (`id`, `updated_at`), and how many of each there are, by kind: one request."""
        data = self.execute(
            NEWEST,
            {"scenes": scenes, "count": count},
            "reading the newest scenes, tags, performers and studios (query Newest)",
        )
        return {kind: (data[kind][kind], data[kind]["count"]) for kind in NEWEST_KINDS}

    # -- activity carried back from Plex ------------------------------------------------

    def scene_activity(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """What Stash holds of these scenes' activity, by id (a deleted scene is absent)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), PAGE_SIZE):
            chunk = ids[start : start + PAGE_SIZE]
            try:
                rows = self._activity_of(chunk)
            except StashQueryError:
                rows = [row for one in chunk for row in self._activity_of([one], missing_ok=True)]
            found.update({str(row["id"]): row for row in rows})
        return found

    def _activity_of(self, ids: list[str], missing_ok: bool = False) -> list[dict[str, Any]]:
        paging = {"page": 1, "per_page": len(ids)}
        try:
            data = self.execute(
                SCENE_ACTIVITY,
                {"ids": ids, "filter": paging},
                f"reading the activity of {len(ids)} scenes (query SceneActivity)",
            )
        except StashQueryError:
            if missing_ok:
                return []
            raise
        return data["findScenes"]["scenes"]

    def _mutate(
        self, query: str, variables: dict[str, Any], mutation: str, feature: str, scene_id: str
    ) -> dict[str, Any]:
        """One activity mutation; a Stash that lacks it or refuses it says so once, as a
        `StashActivityRefused` naming the feature to turn off."""
        action = f"carrying {feature} to scene {scene_id} (mutation {mutation})"
        try:
            return self.execute(query, variables, action)
        except StashQueryError as exc:
            text = str(exc).lower()
            if any(sign in text for sign in _MISSING_MUTATION) and mutation.lower() in text:
                raise StashActivityRefused(
                    f"Stash has no {mutation} (it came with Stash v0.25): upgrade Stash, or set "
                    f"plex_to_stash.{feature}: false",
                    feature,
                ) from None
            if any(sign in text for sign in _FORBIDDEN):
                raise StashActivityRefused(
                    f"Stash refused {mutation}: the API key may read but not change scenes "
                    f"({exc}); give stash.api_key write access, or set "
                    f"plex_to_stash.{feature}: false",
                    feature,
                ) from None
            raise

    def add_plays(self, scene_id: str, times: list[str]) -> int:
        """Add play history entries at these RFC3339 times; returns the scene's play count."""
        data = self._mutate(
            ADD_PLAYS, {"id": scene_id, "times": times}, "sceneAddPlay", "plays", scene_id
        )
        return int(data["sceneAddPlay"]["count"])

    def save_resume(self, scene_id: str, seconds: float) -> None:
        """Set where playback resumes (`resume_time`, seconds)."""
        self._mutate(
            SAVE_RESUME,
            {"id": scene_id, "resume_time": seconds},
            "sceneSaveActivity",
            "resume",
            scene_id,
        )

    def update_scene(self, scene_id: str, feature: str, **fields: Any) -> str:
        """`sceneUpdate` with these fields (`rating100`, `urls`); returns the new `updated_at`."""
        data = self._mutate(
            UPDATE_ACTIVITY,
            {"input": {"id": scene_id, **fields}},
            "sceneUpdate",
            feature,
            scene_id,
        )
        return (data.get("sceneUpdate") or {}).get("updated_at") or ""

    def fetch_image(self, url: str) -> bytes:
        """A screenshot's bytes, fetched with the API key (Plex never needs to reach Stash).

        Asked of `stash.url` whatever host the URL names (Stash may name its public
        address), so the key goes to no other server.
        """
        return self._start_image(self._on_stash(url), "a screenshot", ahead=False).result()

    def start_image(self, url: str) -> PendingImage:
        """`fetch_image`'s request, sent now; its bytes are read by `PendingImage.result()`.
        Stash works on it while the caller writes to Plex, and it counts as one of the
        requests in flight to Stash until it is read."""
        return self._start_image(self._on_stash(url), "a screenshot", ahead=True)

    def _on_stash(self, url: str) -> str:
        """`url`'s path and query on `stash.url`, whatever host it names."""
        parts = urlsplit(url)
        return f"{self.config.url}{parts.path}" + (f"?{parts.query}" if parts.query else "")

    def fetch_performer_image(self, performer_id: str, stamp: str) -> tuple[bytes, str]:
        """A performer's photo and its content type, fetched with the API key (for
        stashplex's own photo endpoint: Plex is never given a URL that needs the key)."""
        path = served_path(performer_id, stamp)
        pending = self._start_image(
            f"{self.config.url}{path}", f"the photo of performer {performer_id}", ahead=False
        )
        return pending.result(), pending.kind

    def _start_image(self, url: str, what: str, ahead: bool) -> PendingImage:
        """An image's request to `url` (on `stash.url`), sent now (what sending it raised is
        raised by `result()`, translated as every failure is); `ahead`: read later, so made
        in a thread of its own where the kept connection cannot carry it."""
        action = f"downloading {what} from {url.split('?')[0]}"
        self._in_flight.acquire()
        try:
            sent = self.http.start_encoded(
                "GET", url, timeout=self.config.timeout, allow_redirects=False,
                in_thread=ahead,
            )
        except Exception as exc:
            sent = Answered(error=exc)
        except BaseException:
            self._in_flight.release()
            raise
        return PendingImage(sent, action, self)


class PendingImage:
    """An image asked of Stash whose answer is not read yet (`StashClient.start_image`):
    `result()` reads it (raising stashplex's error for what went wrong), `abandon()` lets
    it go unread. Either gives its place among the requests in flight back."""

    def __init__(self, sent: PendingResponse, action: str, client: StashClient) -> None:
        self._sent, self._action, self._client = sent, action, client
        self._open = True
        self.kind = ""  # the content type, once read

    def _done(self) -> None:
        if self._open:
            self._open = False
            self._client._in_flight.release()

    def abandon(self) -> None:
        if self._open:
            try:
                self._sent.abandon()
            finally:
                self._done()

    def result(self) -> bytes:
        try:
            try:
                response = self._sent.result()
            finally:
                self._done()
            response.raise_for_status()
        except Exception as exc:
            raise translate_stash_error(exc, self._action, self._client.config.url) from None
        if response.is_redirect:
            # Stash sends requests without a valid key to its login page
            raise StashAuthError(
                f"Stash redirected to its login page while {self._action}: set stash.api_key"
            )
        kind = response.headers.get("Content-Type", "")
        if not kind.startswith("image/"):
            what = kind or "no content type"
            raise StashTemporaryError(f"Stash sent {what} while {self._action}")
        self.kind = kind
        return response.content

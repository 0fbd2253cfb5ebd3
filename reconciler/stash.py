"""The Stash client: paged GraphQL reads over gql's requests transport, and screenshot downloads.

Every failure leaves here as a stashplex error: no connection or a 5xx is
transient, a 401 is a configuration error naming `stash.api_key`, and a GraphQL
`errors` array is reported with the name of the query that got it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import requests
from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportConnectionFailed,
    TransportError,
    TransportQueryError,
    TransportServerError,
)
from gql.transport.requests import RequestsHTTPTransport

from reconciler.config import StashConfig, tls_verify
from reconciler.errors import (
    PermanentError,
    StashAuthError,
    StashplexError,
    StashQueryError,
    StashTemporaryError,
    StashUnavailable,
    StashUnreachable,
    is_transient_status,
)
from reconciler.httpsession import ConfiguredSession
from reconciler.models import Scene

log = logging.getLogger(__name__)

PAGE_SIZE = 250

SCENE_FIELDS = """
    id title details date rating100 updated_at
    files { path }
    paths { screenshot }
    studio { name }
    performers { name }
    tags { name }
"""

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

FIND_CHANGED = {
    kind: f"""
query Changed{kind.title()}($filter: FindFilterType!, $since: String!) {{
  find{kind.title()}(filter: $filter, {kind[:-1]}_filter: {{
      updated_at: {{ value: $since, modifier: GREATER_THAN }} }}) {{
    count
    {kind} {{ id name updated_at }}
  }}
}}
"""
    for kind in ("tags", "performers", "studios")
}

LATEST = {
    kind: f"""
query Latest{kind.title()}($count: Int!) {{
  find{kind.title()}(
      filter: {{ page: 1, per_page: $count, sort: "updated_at", direction: DESC }}) {{
    {kind} {{ id updated_at }}
  }}
}}
"""
    for kind in ("scenes", "tags", "performers", "studios")
}


VERSION = "query Version { version { version } }"


def _utf8_unless_declared(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """GraphQL answers are UTF-8; for a media type such as `application/graphql-response+json`
    without a charset, requests would otherwise guess (and mangle non-ASCII paths)."""
    if response.encoding is None:
        response.encoding = "utf-8"


def scene_from_graphql(data: dict[str, Any]) -> Scene:
    """A `Scene` from one entry of `findScenes.scenes`."""
    studio = data.get("studio") or {}
    paths = data.get("paths") or {}
    return Scene(
        id=str(data["id"]),
        updated_at=data.get("updated_at") or "",
        title=data.get("title"),
        details=data.get("details"),
        date=data.get("date"),
        rating100=data.get("rating100"),
        studio=studio.get("name"),
        performers=[p["name"] for p in data.get("performers") or [] if p.get("name")],
        tags=[t["name"] for t in data.get("tags") or [] if t.get("name")],
        files=[f["path"] for f in data.get("files") or [] if f.get("path")],
        screenshot=paths.get("screenshot"),
    )


def translate_stash_error(exc: BaseException, action: str) -> StashplexError:
    """Map gql/requests failures while doing `action` onto stashplex's classes."""
    if isinstance(exc, StashplexError):
        return exc
    cause = exc.__cause__ if isinstance(exc, TransportConnectionFailed) else exc
    if isinstance(cause, requests.exceptions.Timeout):
        return StashTemporaryError(f"Stash did not answer in time while {action}")
    if isinstance(cause, requests.exceptions.SSLError):
        return StashAuthError(
            f"Stash's TLS certificate is not trusted while {action}: set stash.ca_bundle to "
            "its CA certificate, or stash.verify_ssl: false"
        )
    if isinstance(cause, requests.exceptions.ConnectionError | TransportConnectionFailed):
        return StashUnreachable(f"cannot connect to Stash while {action}")
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

    def __init__(self, config: StashConfig) -> None:
        self.config = config
        self.headers = {"ApiKey": config.api_key} if config.api_key else {}
        self.http = ConfiguredSession(tls_verify(config), config.url)
        self.http.headers.update(self.headers)
        self._client: Client | None = None
        self._session: Any = None

    def close(self) -> None:
        if self._client is not None and self._session is not None:
            self._client.close_sync()
        self._client = self._session = None
        self.http.close()

    def _gql(self) -> Any:
        if self._session is None:
            transport = RequestsHTTPTransport(
                url=f"{self.config.url}/graphql",
                headers=self.headers,
                timeout=self.config.timeout,
                retries=0,
                verify=tls_verify(self.config),
            )
            self._client = Client(transport=transport, fetch_schema_from_transport=False)
            self._session = self._client.connect_sync()
            transport.session.hooks["response"].append(_utf8_unless_declared)
        return self._session

    def execute(self, query: str, variables: dict[str, Any], action: str) -> dict[str, Any]:
        """Run one GraphQL document; `action` says what for, in error messages."""
        request = GraphQLRequest(query, variable_values=variables)
        try:
            return self._gql().execute(request)
        except Exception as exc:
            raise translate_stash_error(exc, action) from None

    def version(self) -> str:
        data = self.execute(VERSION, {}, "asking Stash for its version (query Version)")
        return (data.get("version") or {}).get("version") or "unknown"

    def _pages(
        self, query: str, name: str, kind: str, variables: dict[str, Any], per_page: int
    ) -> Iterator[tuple[list[dict[str, Any]], int]]:
        """Every page of a find query, oldest `updated_at` first, with the total count."""
        page, seen = 1, 0
        while True:
            paging = {"page": page, "per_page": per_page, "sort": "updated_at", "direction": "ASC"}
            data = self.execute(
                query,
                {"filter": paging, **variables},
                f"reading {kind} page {page} (query {name})",
            )[f"find{kind.title()}"]
            seen += len(data[kind])
            yield data[kind], data["count"]
            if not data[kind] or seen >= data["count"]:
                return
            page += 1

    def scene_pages(
        self,
        scene_filter: dict[str, Any] | None = None,
        ids: list[str] | None = None,
        per_page: int = PAGE_SIZE,
    ) -> Iterator[tuple[list[Scene], int]]:
        """Pages of scenes sorted by `updated_at` ascending, with the total count."""
        variables = {"scene_filter": scene_filter, "ids": ids}
        for rows, count in self._pages(FIND_SCENES, "FindScenes", "scenes", variables, per_page):
            yield [scene_from_graphql(row) for row in rows], count

    def changed(self, kind: str, since: str, per_page: int = PAGE_SIZE) -> list[dict[str, Any]]:
        """Tags, performers or studios whose own `updated_at` is after `since` (renames)."""
        name = f"Changed{kind.title()}"
        pages = self._pages(FIND_CHANGED[kind], name, kind, {"since": since}, per_page)
        return [row for rows, _ in pages for row in rows]

    def all_scenes(self, **kwargs: Any) -> list[Scene]:
        return [scene for page, _ in self.scene_pages(**kwargs) for scene in page]

    def scenes_by_ids(self, ids: list[str]) -> list[Scene]:
        """The scenes that still exist among `ids`: one missing id fails a whole batch in Stash."""
        found: list[Scene] = []
        for start in range(0, len(ids), PAGE_SIZE):
            chunk = ids[start : start + PAGE_SIZE]
            try:
                found.extend(self.all_scenes(ids=chunk))
            except StashQueryError:
                for scene_id in chunk:
                    data = self.execute(
                        FIND_SCENE, {"id": scene_id}, f"reading scene {scene_id} (query FindScene)"
                    )["findScene"]
                    if data:
                        found.append(scene_from_graphql(data))
        return found

    def scenes_by_path(self, path: str) -> list[Scene]:
        """Scenes whose file is at `path` (for an item that Plex found before we knew it)."""
        return self.all_scenes(scene_filter={"path": {"value": path, "modifier": "EQUALS"}})

    def scenes_carrying(self, kind: str, ids: list[str]) -> list[Scene]:
        """Every scene that carries one of these tags, performers or studios."""
        criterion = {"value": ids, "modifier": "INCLUDES"}
        return self.all_scenes(scene_filter={kind: criterion})

    def latest(self, kind: str, count: int = 1) -> list[dict[str, Any]]:
        """The `count` newest scenes, tags, performers or studios (`id`, `updated_at`)."""
        return self.execute(
            LATEST[kind],
            {"count": count},
            f"reading the newest of {kind} (query Latest{kind.title()})",
        )[f"find{kind.title()}"][kind]

    def fetch_image(self, url: str) -> bytes:
        """A screenshot's bytes, fetched with the API key (Plex never needs to reach Stash).

        Asked of `stash.url` whatever host the URL names (Stash may name its public
        address), so the key goes to no other server.
        """
        parts = urlsplit(url)
        url = f"{self.config.url}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        action = f"downloading a screenshot from {url.split('?')[0]}"
        try:
            response = self.http.get(url, timeout=self.config.timeout, allow_redirects=False)
            response.raise_for_status()
        except Exception as exc:
            raise translate_stash_error(exc, action) from None
        if response.is_redirect:
            # Stash sends requests without a valid key to its login page
            raise StashAuthError(
                f"Stash redirected to its login page while {action}: set stash.api_key"
            )
        kind = response.headers.get("Content-Type", "")
        if not kind.startswith("image/"):
            raise StashTemporaryError(f"Stash sent {kind or 'no content type'} while {action}")
        return response.content

"""stashplex's error classes, and the translation of what plexapi, requests and gql raise.

Every error a job can meet belongs to one retry class (`transient`, `not_found`,
`permanent`); `retry.py` turns the class into a decision. Two properties cut across the
classes and are set here, at each client's boundary, for both servers alike: `waits` (the
server is unreachable or answers 503: the job waits, no retry is spent, the server is probed)
and `refused` (the server refused the credentials: one problem for the whole daemon, not one
per job). `server` names the server the error came from. Messages say what failed and where,
and never carry a secret.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import requests
from plexapi import exceptions as plex_exc

from reconciler.redact import redact

TRANSIENT = "transient"
NOT_FOUND = "not_found"
PERMANENT = "permanent"
PLEX = "plex"
STASH = "stash"


class StashplexError(Exception):
    """Base of every error stashplex raises on purpose."""

    error_class = PERMANENT
    server: str | None = None
    waits = False
    due_in: float | None = None  # set: the job waits this long, and spends no retry
    refused = False
    server_problem = False  # about the server as a whole, not one item: health shows it

    def __init__(self, message: str, *, refused: bool | None = None) -> None:
        super().__init__(redact(message))
        if refused is not None:
            self.refused = refused


class ConfigError(StashplexError):
    """The configuration cannot work; the command line exits 2 with this line."""


class TransientError(StashplexError):
    """Worth retrying soon: the server hiccuped."""

    error_class = TRANSIENT
    server_problem = True


class UnexpectedError(TransientError):
    """A fault of stashplex itself: retried with backoff like a hiccup, then dead-lettered
    with the original exception's type and message."""

    server_problem = False

    @classmethod
    def of(cls, exc: BaseException) -> UnexpectedError:
        return cls(f"unexpected {type(exc).__name__}: {exc}")


class PlexTemporaryError(TransientError):
    """Plex answered with a timeout, 408, 429, a 5xx or an unreadable body."""

    server = PLEX


class PlexUnreachable(PlexTemporaryError):
    """No connection to Plex at all: jobs wait without spending retries."""

    waits = True


class PlexUnavailable(PlexUnreachable):
    """Plex answers 503 (starting up, maintenance): as good as unreachable, no retries spent."""


class StashTemporaryError(TransientError):
    """Stash answered with a timeout or a 5xx."""

    server = STASH


class StashUnreachable(StashTemporaryError):
    """No connection to Stash at all (restarting, say): jobs wait without spending retries."""

    waits = True


class StashUnavailable(StashUnreachable):
    """Stash answers 503: as good as unreachable, no retries spent."""


class PlaysInDoubt(TransientError):
    """Plays sent by a request that did not finish may still be on their way into Stash:
    the job waits until that request is surely over. Stash itself failed nothing here."""

    server_problem = False

    def __init__(self, message: str, due_in: float) -> None:
        super().__init__(message)
        self.due_in = due_in


class PlexNotFound(StashplexError):
    """Plex has no item for the file yet, usually because it has not scanned it."""

    error_class = NOT_FOUND
    server = PLEX


class PermanentError(StashplexError):
    """Retrying cannot help: the job goes straight to the dead-letter queue."""


class PlexPermanentError(PermanentError):
    """Plex refused the request for good (401/403, other 4xx, a missing library, ambiguity)."""

    server = PLEX


class PlexRequestTooLong(PlexPermanentError):
    """Plex (or a proxy in front of it) answered 414: the request line was too long.

    The writer splits such an edit further and retries; only an edit that cannot be
    split any more lets this escape.
    """


class InvalidSceneData(PermanentError):
    """The scene from Stash holds data Plex cannot take (a missing path, an impossible date...)."""


class LibraryNotFound(PlexPermanentError):
    """A library named in `plex.libraries` does not exist on the server."""

    server_problem = True


class StashAuthError(PermanentError):
    """Stash refused the API key (or its certificate is not trusted): a one-shot run stops
    with exit 3; the daemon stops Stash work and probes until the key works again."""

    server = STASH
    refused = True


class StashQueryError(PermanentError):
    """Stash answered a query with a GraphQL `errors` array."""

    server = STASH


class StashActivityRefused(StashQueryError):
    """Stash will not take activity (an old Stash without the mutation, or a key that may not
    write): one problem for the whole feature, not one per play."""

    def __init__(self, message: str, feature: str) -> None:
        super().__init__(message)
        self.feature = feature


_STATUS = re.compile(r"^\((\d{3})\)")
_TRANSIENT_STATUSES = {408, 429}


def is_transient_status(status: int) -> bool:
    return status in _TRANSIENT_STATUSES or 500 <= status <= 599


_PLAIN_HTTP = ("WRONG_VERSION_NUMBER", "wrong version number", "record layer failure",
               "http request")


def answers_plain_http(exc: BaseException) -> bool:
    """A TLS handshake that met a plain-HTTP server: OpenSSL reads its answer as a bad record
    ("wrong version number" up to OpenSSL 3.1, "record layer failure" from 3.2)."""
    return any(marker in str(exc) for marker in _PLAIN_HTTP)


def status_of(exc: BaseException) -> int | None:
    """The HTTP status plexapi put at the start of its message, e.g. `(503) service_unavailable`."""
    match = _STATUS.match(str(exc))
    return int(match.group(1)) if match else None


def translate_plex_error(exc: BaseException, action: str) -> StashplexError:
    """Map anything plexapi/requests raised while doing `action` onto a stashplex class.

    plexapi raises `BadRequest` for every status but 401 and 404 (so the status is
    read back from the message), and `TypeError` for a status outside requests'
    table (498, 520-524).
    """
    if isinstance(exc, StashplexError):
        return exc
    detail = str(exc).split(";")[0]
    if isinstance(exc, plex_exc.Unauthorized):
        return PlexPermanentError(
            f"Plex refused the token (401) while {action}: check plex.token", refused=True
        )
    if isinstance(exc, plex_exc.NotFound):
        return PlexNotFound(f"Plex has no such item (404) while {action}")
    if isinstance(exc, plex_exc.BadRequest):
        status = status_of(exc)
        if status == 403:
            return PlexPermanentError(
                f"Plex forbids this (403) while {action}: the token's account may not edit "
                "this server",
                refused=True,
            )
        if status == 503:
            return PlexUnavailable(f"Plex is unavailable (503) while {action}")
        if status == 414:
            return PlexRequestTooLong(f"Plex answered 414 (request too long) while {action}")
        if status is not None and is_transient_status(status):
            return PlexTemporaryError(f"Plex answered {detail} while {action}")
        return PlexPermanentError(f"Plex rejected the request with {detail} while {action}")
    if isinstance(exc, requests.exceptions.Timeout):
        return PlexTemporaryError(f"Plex did not answer in time while {action}")
    if isinstance(exc, requests.exceptions.SSLError) and answers_plain_http(exc):
        return PlexPermanentError(
            f"Plex answers plain HTTP, not HTTPS, while {action}: write plex.url with http://"
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return PlexPermanentError(
            f"Plex's TLS certificate is not trusted while {action}: set plex.ca_bundle to its "
            "CA certificate, or plex.verify_ssl: false"
        )
    if isinstance(exc, requests.exceptions.ConnectionError):
        return PlexUnreachable(f"cannot connect to Plex while {action}")
    if isinstance(exc, requests.exceptions.RequestException):
        return PlexTemporaryError(
            f"the connection to Plex broke while {action}: {type(exc).__name__}"
        )
    if isinstance(exc, ET.ParseError):
        return PlexTemporaryError(f"Plex sent a body that is not XML while {action}")
    if isinstance(exc, TypeError) and "not subscriptable" in str(exc):
        return PlexTemporaryError(
            f"Plex (or a proxy in front of it) answered with a non-standard status while {action}"
        )
    return PlexPermanentError(f"unexpected {type(exc).__name__} while {action}: {exc}")

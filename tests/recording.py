"""How recorded traffic is matched on replay and scrubbed before it is saved.

Pure functions, so they are unit-tested without a server (`tests/unit/test_recording.py`)
and shared by the emulator recordings and the recordings against real servers.

Matching: a GraphQL request matches on its operation name, its query (parsed and printed
again, so formatting does not count) and its variables; a JSON request (the emulators'
set-up calls) on its parsed body; any other body on its bytes; every request on its method,
path and query, the query compared as a multiset (order free, blank values kept) without
the token or API key; and on which credential it carries, recorded only as a placeholder
(the one the test configured, or another, so a wrong token a test is about still counts).

Scrubbing: credentials, Plex server ids (machineIdentifier) and every file path outside
the scratch library are replaced by placeholders before an interaction is written.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit, urlunsplit

from graphql import GraphQLSyntaxError, parse, print_ast

TOKEN_PLACEHOLDER = "<PLEX_TOKEN>"
API_KEY_PLACEHOLDER = "<STASH_API_KEY>"
OTHER_TOKEN_PLACEHOLDER = "<OTHER_PLEX_TOKEN>"
OTHER_API_KEY_PLACEHOLDER = "<OTHER_STASH_API_KEY>"
CREDENTIAL_PLACEHOLDERS = frozenset(
    {TOKEN_PLACEHOLDER, API_KEY_PLACEHOLDER, OTHER_TOKEN_PLACEHOLDER, OTHER_API_KEY_PLACEHOLDER}
)
MACHINE_ID_PLACEHOLDER = "scrubbed-machine-identifier"
COOKIE_PLACEHOLDER = "<COOKIE>"
SCRUBBED_PATH_ROOT = "/outside-scratch/"

SECRET_HEADERS = {"x-plex-token": TOKEN_PLACEHOLDER, "apikey": API_KEY_PLACEHOLDER}
SECRET_PARAMETERS = {"x-plex-token": TOKEN_PLACEHOLDER, "apikey": API_KEY_PLACEHOLDER}
COOKIE_HEADERS = ("cookie", "set-cookie")

_MACHINE_ID_XML = re.compile(r'(machineIdentifier=")[^"]*(")')
_MACHINE_ID_JSON = re.compile(r'("machineIdentifier"\s*:\s*")[^"]*(")')
_PATH_XML = re.compile(r'(\s(?:file|path)=")([^"]*)(")')
_PATH_JSON = re.compile(r'("(?:path|file)"\s*:\s*")((?:[^"\\]|\\.)*)(")')


# -- matching ------------------------------------------------------------------------------


def graphql_operation(body: bytes | str | None) -> tuple[str | None, str, Any]:
    """(operationName, normalised query, variables) of a GraphQL POST body."""
    data = json.loads(body or b"{}")
    query = data.get("query") or ""
    try:
        query = print_ast(parse(query))
    except GraphQLSyntaxError:
        query = " ".join(query.split())
    return data.get("operationName"), query, data.get("variables") or {}


def query_multiset(uri: str) -> Counter:
    """The query parameters of `uri` as a multiset, blank values kept, credentials left out."""
    pairs = parse_qsl(urlsplit(uri).query, keep_blank_values=True)
    return Counter((k, v) for k, v in pairs if k.lower() not in SECRET_PARAMETERS)


def _json_or_none(body: bytes | str | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _as_bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    return body.encode("utf-8") if isinstance(body, str) else body


def match_query(r1: Any, r2: Any) -> None:
    """vcrpy matcher: same query parameters, in any order."""
    q1, q2 = query_multiset(r1.uri), query_multiset(r2.uri)
    assert q1 == q2, f"query differs: {sorted(q1.elements())} != {sorted(q2.elements())}"


def match_body(r1: Any, r2: Any) -> None:
    """vcrpy matcher: GraphQL by operation and variables, JSON parsed, anything else by bytes.

    Requests to different paths are the path matcher's business (vcrpy runs every matcher)."""
    path = urlsplit(r1.uri).path
    if path != urlsplit(r2.uri).path:
        return
    if path.endswith("/graphql"):
        op1, op2 = graphql_operation(r1.body), graphql_operation(r2.body)
        assert op1[0] == op2[0], f"operation differs: {op1[0]!r} != {op2[0]!r}"
        assert op1[1] == op2[1], "GraphQL query differs"
        assert op1[2] == op2[2], f"variables differ: {op1[2]!r} != {op2[2]!r}"
        return
    j1, j2 = _json_or_none(r1.body), _json_or_none(r2.body)
    if j1 is not None or j2 is not None:
        assert j1 == j2, f"JSON body differs: {j1!r} != {j2!r}"
        return
    b1, b2 = _as_bytes(r1.body), _as_bytes(r2.body)
    assert b1 == b2, (
        f"body differs: {len(b1)} bytes sha1 {hashlib.sha1(b1).hexdigest()[:12]} != "
        f"{len(b2)} bytes sha1 {hashlib.sha1(b2).hexdigest()[:12]}"
    )


def credential_placeholder(value: str, configured: Iterable[str], placeholder: str,
                           other: str) -> str:
    """The placeholder a credential is recorded as: `placeholder` for the one the test
    configured, `other` for any other value (a wrong token a test is about), so a replay can
    tell them apart without either value reaching a cassette."""
    if value in CREDENTIAL_PLACEHOLDERS:
        return value
    return placeholder if value in set(configured) else other


def match_credentials(r1: Any, r2: Any) -> None:
    """vcrpy matcher: the same credential placeholder (the configured one, or another)."""
    for name in ("X-Plex-Token", "ApiKey"):
        assert r1.headers.get(name) == r2.headers.get(name), f"{name} differs"


def match_plex_container(r1: Any, r2: Any) -> None:
    """vcrpy matcher: Plex pages by request headers, which the default matchers ignore."""
    for name in ("X-Plex-Container-Start", "X-Plex-Container-Size"):
        assert r1.headers.get(name) == r2.headers.get(name), name


def played_out_of_order(played: Iterable[int]) -> int | None:
    """Position in `played` (cassette indexes, in the order the replay used them) of the first
    one that comes before an earlier-played one, or None when the replay kept the recorded order."""
    highest = -1
    for position, index in enumerate(played):
        if index < highest:
            return position
        highest = index
    return None


# -- scrubbing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScrubRules:
    """What to hide: secret values (each with its placeholder) and the paths that may stay."""

    secrets: Mapping[str, str] = field(default_factory=dict)
    scratch_roots: tuple[str, ...] = ()

    def keeps_path(self, path: str) -> bool:
        norm = path.replace("\\", "/")
        for root in self.scratch_roots:
            root = root.replace("\\", "/").rstrip("/")
            if norm == root or norm.startswith(root + "/"):
                return True
        return False


def scrubbed_path(path: str) -> str:
    """A stable stand-in for a path outside the scratch library (the same path, the same
    stand-in, so matching and lookups by path still line up within a cassette)."""
    return SCRUBBED_PATH_ROOT + hashlib.sha1(path.encode("utf-8")).hexdigest()[:12]


def text_placeholder(placeholder: str) -> str:
    """The placeholder as it goes into a body: without angle brackets, so XML still parses."""
    return placeholder.strip("<>")


def scrub_text(text: str, rules: ScrubRules) -> str:
    """Hide secret values (plain and URL-quoted), server ids and outside paths in a body."""
    for secret, placeholder in rules.secrets.items():
        if not secret:
            continue
        for spelling in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(spelling, text_placeholder(placeholder))
    text = _MACHINE_ID_XML.sub(rf"\g<1>{MACHINE_ID_PLACEHOLDER}\g<2>", text)
    text = _MACHINE_ID_JSON.sub(rf"\g<1>{MACHINE_ID_PLACEHOLDER}\g<2>", text)

    def xml_path(match: re.Match) -> str:
        path = html.unescape(match.group(2))
        if not path or rules.keeps_path(path):
            return match.group(0)
        return f"{match.group(1)}{scrubbed_path(path)}{match.group(3)}"

    def json_path(match: re.Match) -> str:
        try:
            path = json.loads(f'"{match.group(2)}"')
        except ValueError:
            return match.group(0)
        if not path or rules.keeps_path(path):
            return match.group(0)
        return f"{match.group(1)}{scrubbed_path(path)}{match.group(3)}"

    text = _PATH_XML.sub(xml_path, text)
    return _PATH_JSON.sub(json_path, text)


def scrub_uri(uri: str, rules: ScrubRules) -> str:
    """Credentials in the query string become placeholders, and a `path`/`file` parameter
    outside the scratch library a stand-in; an URI with nothing to hide is kept as it is."""
    parts = urlsplit(uri)
    if not parts.query:
        return uri
    pairs, changed = [], False
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        clean = SECRET_PARAMETERS.get(key.lower())
        if clean is not None and value in CREDENTIAL_PLACEHOLDERS:
            clean = value
        if clean is None and key.lower() in ("path", "file") and value:
            clean = value if rules.keeps_path(value) else scrubbed_path(value)
        if clean is None:
            clean = scrub_text(value, rules)
        changed = changed or clean != value
        pairs.append((key, clean))
    if not changed:
        return uri
    query = "&".join(f"{quote(k, safe='[]')}={quote(v, safe='<>')}" for k, v in pairs)
    return urlunsplit(parts._replace(query=query))


def _scrub_headers(headers: Mapping[str, Any], rules: ScrubRules) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, values in headers.items():
        lower = name.lower()
        listed = values if isinstance(values, list) else [values]
        if lower in SECRET_HEADERS:
            listed = [v if v in CREDENTIAL_PLACEHOLDERS else SECRET_HEADERS[lower]
                      for v in listed]
        elif lower in COOKIE_HEADERS:
            listed = [COOKIE_PLACEHOLDER for _ in listed]
        else:
            listed = [scrub_text(str(v), rules) for v in listed]
        out[name] = listed if isinstance(values, list) else listed[0]
    return out


def _scrub_body(body: Any, rules: ScrubRules) -> Any:
    if isinstance(body, str):
        return scrub_text(body, rules)
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body  # image bytes: nothing textual to hide
        return scrub_text(text, rules).encode("utf-8")
    return body


def scrub_interaction(
    request: Mapping[str, Any], response: Mapping[str, Any], rules: ScrubRules
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One recorded exchange (vcrpy's dict forms) with nothing in it that must not be committed.

    `request` has `method`, `uri`, `body`, `headers`; `response` has `status`, `headers` and
    `body: {"string": ...}`. The inputs are left untouched."""
    clean_request = dict(request)
    clean_request["uri"] = scrub_uri(request["uri"], rules)
    clean_request["headers"] = _scrub_headers(request.get("headers") or {}, rules)
    clean_request["body"] = _scrub_body(request.get("body"), rules)
    clean_response = dict(response)
    clean_response["headers"] = _scrub_headers(response.get("headers") or {}, rules)
    body = dict(response.get("body") or {})
    if "string" in body:
        body["string"] = _scrub_body(body["string"], rules)
    clean_response["body"] = body
    return clean_request, clean_response

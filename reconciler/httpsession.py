"""The requests session both clients use."""

from __future__ import annotations

import functools
import http.client
import os
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.cookies import MockRequest, MockResponse, RequestsCookieJar
from requests.structures import CaseInsensitiveDict
from requests.utils import select_proxy

from reconciler.keepalive import KeptConnection, KeptRequest

# a target made only of characters urllib3 leaves as they are, with no "%" it would re-encode
# (not followed by two upper-case hex digits), is as it goes on the wire; two scans, each a
# tight loop in C, take a fraction of one alternation tried at every character
_WIRE_CHARACTERS = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@/?%-]*")
_LONE_PERCENT = re.compile(r"%(?![0-9A-F]{2})")


def on_the_wire(target: str) -> bool:
    """Whether urllib3 would send `target` unchanged (nothing left to percent-encode)."""
    return _WIRE_CHARACTERS.fullmatch(target) is not None and not _LONE_PERCENT.search(target)


class ConfiguredSession(requests.Session):
    """A session whose configured certificate check wins over the environment.

    requests lets `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE` replace `Session.verify`; a
    `ca_bundle` or `verify_ssl: false` from stashplex's config must not be overridden.
    """

    def __init__(self, verify: bool | str = True, base_url: str | None = None) -> None:
        super().__init__()
        self.headers = _CountedHeaders(self.headers)
        self._merges: dict[tuple, dict[str, str]] = {}
        self._kept: dict[str, KeptConnection | None] = {}
        # taken now, before any thread of stashplex's runs (see `KeptConnection`)
        self._connection_class = http.client.HTTPConnection
        # a server on plain HTTP has no certificate to check: the environment's bundle would
        # only cost a stat() of its path on every request
        plain = base_url is not None and base_url.lower().startswith("http://")
        if verify is True and not plain:
            verify = (
                os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            )
        self.verify = verify
        if verify is False:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        if base_url is not None:
            # read the proxy settings once: requests would read the environment on every request
            self.proxies.update(requests.utils.get_environ_proxies(base_url))
            self.trust_env = False

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self.verify is not True and verify in (None, True):
            settings["verify"] = self.verify
        return settings

    def close(self) -> None:
        for kept in self._kept.values():
            if kept is not None:
                kept.close()
        super().close()

    def send_encoded(self, method: str, url: str, **options: Any) -> requests.Response:
        """`start_encoded`'s request, its answer read at once (any way but the kept
        connection, the request is made in this thread)."""
        return self.start_encoded(method, url, in_thread=False, **options).result()

    def start_encoded(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        timeout: float | None = None,
        allow_redirects: bool = True,
        content_type: str | None = None,
        in_thread: bool = True,
    ) -> PendingResponse:
        """Send `url`, already percent-encoded, as it is, with the headers and body
        `Session.request` would send (`content_type`: the type requests gives a body it
        encoded, such as `json=`'s, unless the headers name one). `PendingResponse.result()`
        is the answer, or raises what sending it raised.

        `Session.request` parses and re-quotes every URL, character by character, and
        requests' adapter and urllib3's pool around each request cost more than the request:
        for the cold pass's edits, uploads and cover downloads that was most of their cost. A
        session that reads no environment (built with a `base_url`), holds no cookies and has
        no auth has nothing else to add, so the request is prepared here and, to a plain-HTTP
        server without a proxy, sent on a kept-alive connection of its own (`KeptConnection`;
        one at a time: a request made while it is busy goes the usual way). There the answer
        is read when asked for, and the server works on the request meanwhile. Anything else
        goes the usual way, in a thread of its own (`in_thread`; else before this returns):
        HTTPS keeps requests' certificate handling as it is.
        """
        parts = url.split("/", 3)
        netloc = parts[2] if "://" in url else ""
        if content_type is not None and not any(
            name.lower() == "content-type" for name in headers or {}
        ):
            headers = {**(headers or {}), "Content-Type": content_type}
        else:
            content_type = None

        usual = _InThread if in_thread else _answered

        def the_usual_way() -> requests.Response:
            return self.request(
                method, url, headers=headers, data=data, timeout=timeout,
                allow_redirects=allow_redirects,
            )

        if (
            self.trust_env
            or self.auth is not None
            or self.params
            or len(self.cookies)
            or any(mark in netloc for mark in "@?#")
        ):
            return usual(the_usual_way)
        method = method.upper()
        merged = self._merged(headers)
        if data is not None:
            merged["Content-Length"] = str(len(data))
        elif method not in ("GET", "HEAD"):
            merged["Content-Length"] = "0"
        if content_type is not None:
            # where requests puts the type of a body it encoded: after the length
            merged["Content-Type"] = merged.pop("Content-Type")
        target = f"/{parts[3]}" if len(parts) > 3 else "/"
        if not on_the_wire(target):
            return usual(the_usual_way)
        kept = self._kept_for(url, netloc)
        if kept is not None and not self.hooks["response"]:
            try:
                sent = kept.start(method, target, url, merged, data, timeout)
            except Exception as exc:
                return Answered(error=exc)
            if sent is not None:
                finish = functools.partial(
                    self._kept_answer, method, url, merged, data, timeout, allow_redirects
                )
                return _OnKept(sent, finish)
        return usual(lambda: self.send(
            self._prepared(method, url, merged, data),
            timeout=timeout,
            proxies=dict(self.proxies),
            allow_redirects=allow_redirects,
        ))

    def _merged(self, headers: Mapping[str, str | None] | None) -> dict[str, str]:
        """`_merged` for this session's headers, kept for a set of request headers seen
        before: each request of a client brings the same dozen (plexapi's `X-Plex-*`), and
        matching them without regard to case cost more than sending them."""
        session = self.headers
        if type(session) is not _CountedHeaders:
            return _merged(session, headers)
        key = (session.changes, tuple(headers.items()) if headers else ())
        merged = self._merges.get(key)
        if merged is None:
            merged = _merged(session, headers)
            if len(self._merges) < _MERGES_KEPT:
                self._merges[key] = merged
        return dict(merged)

    def _kept_answer(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        data: bytes | None,
        timeout: float | None,
        allow_redirects: bool,
        response: requests.Response,
        message: http.client.HTTPMessage | None,
    ) -> requests.Response:
        """An answer read on a kept connection, its cookies (`message`: its headers, when
        it sets one) and redirect taken as `Session.send` takes them."""
        if message is not None:
            # kept as `Session.send` keeps them (and sent on: the next request goes the
            # usual way)
            request = self._prepared(method, url, headers, data)
            self.cookies.extract_cookies(MockResponse(message), MockRequest(request))
        if allow_redirects and response.is_redirect:
            return self._follow(response, self._prepared(method, url, headers, data), timeout)
        return response

    def _prepared(
        self, method: str, url: str, headers: dict[str, str], data: bytes | None
    ) -> requests.PreparedRequest:
        request = requests.PreparedRequest()
        request.method = method
        request.url = url
        request.headers = CaseInsensitiveDict(headers)
        request.body = data
        request.prepare_cookies(RequestsCookieJar())
        request.prepare_hooks(self.hooks)
        return request

    def _follow(
        self, response: requests.Response, request: requests.PreparedRequest, timeout: Any
    ) -> requests.Response:
        """A redirect answered on the kept connection, followed as `Session.send` follows it."""
        response.request = request
        history = list(
            self.resolve_redirects(
                response, request, stream=self.stream, timeout=timeout, verify=self.verify,
                cert=self.cert, proxies=dict(self.proxies),
            )
        )
        if history:
            history.insert(0, response)
            response = history.pop()
            response.history = history
        return response

    def _kept_for(self, url: str, netloc: str) -> KeptConnection | None:
        """The kept connection for `netloc`, None when requests' own path must carry it
        (HTTPS, a proxy, a client certificate, an adapter mounted in place of requests')."""
        if netloc in self._kept:
            return self._kept[netloc]
        parts = urlsplit(url)
        direct = (
            parts.scheme == "http"
            and parts.hostname is not None
            and select_proxy(url, self.proxies) is None
            and self.cert is None
            and type(self.get_adapter(url)) is HTTPAdapter
        )
        kept = (
            KeptConnection(parts.hostname, parts.port or 80, self._connection_class)
            if direct
            else None
        )
        self._kept[netloc] = kept
        return kept


_MERGES_KEPT = 32  # sets of request headers a session keeps merged (a client sends a few)


class _CountedHeaders(CaseInsensitiveDict):
    """A session's headers, counting their changes: a merge made before any change holds."""

    changes = 0

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.changes += 1

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.changes += 1


def _merged(session: Mapping[str, str | None], request: Mapping[str, str | None] | None
            ) -> dict[str, str]:
    """The request's headers over the session's, as requests merges them: matched without
    regard to case, in the session's order, named as the request names them, None dropping one."""
    store = {name.lower(): (name, value) for name, value in session.items()}
    for name, value in (request or {}).items():
        store[name.lower()] = (name, value)
    return {name: value for name, value in store.values() if value is not None}


class PendingResponse:
    """A request sent by `ConfiguredSession.start_encoded`: `result()` is its answer (or
    raises what sending it raised); `abandon()` lets it go unread."""

    def result(self) -> requests.Response:
        raise NotImplementedError

    def abandon(self) -> None:
        """Nothing to let go: overridden where a connection waits for the answer."""


def _answered(request: Callable[[], requests.Response]) -> PendingResponse:
    """`request` made now: its answer, or what it raised, for `result()`."""
    try:
        return Answered(request())
    except Exception as exc:
        return Answered(error=exc)


class Answered(PendingResponse):
    """A request answered, or failed, already."""

    def __init__(
        self, response: requests.Response | None = None, error: Exception | None = None
    ) -> None:
        self._response, self._error = response, error

    def result(self) -> requests.Response:
        if self._error is not None:
            raise self._error
        assert self._response is not None
        return self._response


class _InThread(PendingResponse):
    """A request made in a thread of its own (a way other than the kept connection), so
    that the server still works on it while the caller does something else."""

    def __init__(self, request: Callable[[], requests.Response]) -> None:
        self._answered: PendingResponse | None = None
        self._thread = threading.Thread(
            target=self._make, args=(request,), name="request", daemon=True
        )
        self._thread.start()

    def _make(self, request: Callable[[], requests.Response]) -> None:
        self._answered = _answered(request)

    def result(self) -> requests.Response:
        self._thread.join()
        assert self._answered is not None
        return self._answered.result()

    def abandon(self) -> None:
        """The request in hand is finished, its answer dropped: nothing stays in flight."""
        self._thread.join()


class _OnKept(PendingResponse):
    """A request sent on a kept connection, its answer read by `result()`."""

    def __init__(
        self,
        sent: KeptRequest,
        finish: Callable[[requests.Response, http.client.HTTPMessage | None], requests.Response],
    ) -> None:
        self._sent, self._finish = sent, finish  # finish: cookies and redirects

    def result(self) -> requests.Response:
        return self._finish(*self._sent.answer())

    def abandon(self) -> None:
        self._sent.abandon()

"""The session both clients use: the environment's CA bundle applies to servers on HTTPS
only, and a write sent as already encoded goes out as requests would send it."""

from __future__ import annotations

import gzip
import re
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO
from urllib.parse import quote

import pytest
from plexapi.utils import joinArgs

from reconciler.editplan import wire_query
from reconciler.httpsession import ConfiguredSession
from reconciler.stash import _GraphQLSession


@contextmanager
def _serving(handler: type[socketserver.BaseRequestHandler]) -> Iterator[str]:
    """A local HTTP server answering with `handler`, at the URL this yields."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _heads(stream: BinaryIO) -> Iterator[bytes]:
    """Each request's head (request line and headers) as it arrives, until the client closes."""
    while True:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = stream.readline()
            if not line:
                return
            head += line
        yield head


def test_a_plain_http_server_gets_no_ca_bundle_to_stat_on_every_request(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert ConfiguredSession(True, "http://stash.lan:9999").verify is True
    assert ConfiguredSession(True, "https://plex.lan:32400").verify == str(bundle)
    assert ConfiguredSession(False, "https://plex.lan:32400").verify is False


class _Capture(socketserver.BaseRequestHandler):
    """Keeps each request's bytes as they arrived and answers a small MediaContainer."""

    seen: list[bytes] = []

    def handle(self) -> None:
        stream = self.request.makefile("rb")
        for head in _heads(stream):
            length = re.search(rb"(?i)content-length: *(\d+)", head)
            body = stream.read(int(length.group(1))) if length else b""
            self.seen.append(head + body)
            answer = b"<MediaContainer size='0'/>"
            self.request.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/xml;charset=utf-8\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer)
            )


@pytest.fixture
def capture():
    _Capture.seen = []
    with _serving(_Capture) as base:
        yield base, _Capture.seen


def test_a_write_sent_as_encoded_goes_out_byte_for_byte_as_requests_sends_it(capture):
    base, seen = capture
    session = ConfiguredSession(True, base)
    args = {
        "type": 1,
        "id": 7,
        "summary.value": "Ünïcode, spaces & symbols: 100% ~ [x] 日本語",
        "summary.locked": 1,
        "genre[0].tag.tag": "Blue Fern",
        "genre[].tag.tag-": ",".join(quote(n) for n in ["Old, tag", "Ümlaut"]),
    }
    headers = {"X-Plex-Token": "secret", "Accept": "application/xml"}
    images = [bytes(range(256)) * 4, b"\x89PNG" * 3]
    for send, query in (
        (session.request, joinArgs(args)),
        (session.send_encoded, wire_query(args)),
    ):
        # twice each: the kept connection sends a set of headers it has seen from its store
        for image in images:
            send(
                "PUT", f"{base}/library/sections/1/all{query}", headers=headers, timeout=5
            ).raise_for_status()
            send(
                "POST", f"{base}/library/metadata/7/posters", headers=headers, data=image
            ).raise_for_status()
            send("GET", f"{base}/library/metadata/7", headers=headers).raise_for_status()
    assert len(seen) == 12
    assert seen[6:] == seen[:6]
    assert b"genre%5B0%5D.tag.tag=Blue%20Fern" in seen[0]
    assert seen[1].endswith(images[0]) and seen[4].endswith(images[1])
    assert b"Content-Length: 12\r\n" in seen[4]


def test_a_graphql_document_goes_out_byte_for_byte_as_requests_posts_json(capture):
    base, seen = capture
    sessions = (ConfiguredSession(True, base), _GraphQLSession(True, base))
    for session in sessions:
        for value in ("Ünï 日本 \\ \"", "a longer value, sent after the first"):
            payload = {"query": "query Q($v: String) { x(v: $v) }", "variables": {"v": value}}
            post = {"headers": {"ApiKey": "k"}, "auth": None, "cookies": None, "timeout": 5,
                    "verify": True, "json": payload}
            answer = session.request("POST", f"{base}/graphql", **post)
    assert len(seen) == 4 and seen[2:] == seen[:2]
    assert b"Content-Type: application/json" in seen[3]
    assert answer.text == "<MediaContainer size='0'/>"


def test_a_session_with_cookies_sends_them_on_an_encoded_write_too(capture):
    base, seen = capture
    session = ConfiguredSession(True, base)
    session.cookies.set("plex", "crumb")
    session.send_encoded("PUT", f"{base}/x?a=1", headers={"X-Plex-Token": "t"})
    assert b"Cookie: plex=crumb" in seen[0]


def test_a_target_not_yet_encoded_is_encoded_as_requests_would(capture):
    base, seen = capture
    session = ConfiguredSession(True, base)
    url = f"{base}/library/sections/1/all?genre[0].tag.tag=a%2Cb&title.value=50%"
    session.request("PUT", url, headers={"X-Plex-Token": "t"})
    session.send_encoded("PUT", url, headers={"X-Plex-Token": "t"})
    assert seen[1] == seen[0] and b"genre%5B0%5D" in seen[0]
    lone = f"{base}/library/sections/1/all?title.value=50%&summary.value=%2c"
    session.request("PUT", lone, headers={"X-Plex-Token": "t"})
    session.send_encoded("PUT", lone, headers={"X-Plex-Token": "t"})
    assert seen[3] == seen[2] and b"50%25" in seen[2]


class _Redirecting(socketserver.BaseRequestHandler):
    """Sends `/old` on to `/new` (307), answers anything else; keeps each request line."""

    lines: list[bytes] = []

    def handle(self) -> None:
        for head in _heads(self.request.makefile("rb")):
            line = head.split(b"\r\n", 1)[0]
            self.lines.append(line)
            if line.split()[1].startswith(b"/old"):
                self.request.sendall(
                    b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /new?b=2\r\n"
                    b"Content-Length: 0\r\n\r\n"
                )
            else:
                self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def test_a_redirected_write_is_followed_as_requests_follows_it():
    answers = []
    with _serving(_Redirecting) as base:
        for send in ("request", "send_encoded"):
            _Redirecting.lines = []
            answer = getattr(ConfiguredSession(True, base), send)("PUT", f"{base}/old?a=1")
            answers.append((answer.status_code, answer.url, answer.text,
                            [r.status_code for r in answer.history], _Redirecting.lines))
    assert answers[1] == answers[0]
    assert answers[0][3] == [307] and answers[0][4][-1] == b"PUT /new?b=2 HTTP/1.1"


def test_a_url_without_a_path_keeps_its_query(capture):
    base, seen = capture
    session = ConfiguredSession(True, base)
    session.request("PUT", f"{base}?a=2", headers={"X-Plex-Token": "t"})
    session.send_encoded("PUT", f"{base}?a=2", headers={"X-Plex-Token": "t"})
    assert seen[0].startswith(b"PUT /?a=2 HTTP/1.1\r\n") and seen[1] == seen[0]


class _Answers(socketserver.BaseRequestHandler):
    """Answers `/cookie` with a cookie, `/gzip` with a compressed body, anything else plainly."""

    def handle(self) -> None:
        for head in _heads(self.request.makefile("rb")):
            path = head.split()[1]
            body, extra = b"<MediaContainer size='0'/>", b""
            if path.startswith(b"/cookie"):
                extra = b"Set-Cookie: crumb=abc; Path=/\r\n"
            elif path.startswith(b"/gzip"):
                body, extra = gzip.compress(body), b"Content-Encoding: gzip\r\n"
            self.request.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n%sContent-Length: %d\r\n\r\n%s"
                % (extra, len(body), body)
            )


@pytest.fixture
def answers():
    with _serving(_Answers) as base:
        yield base


def test_an_answer_s_cookie_and_compression_are_taken_as_requests_takes_them(answers):
    results = []
    for send in ("request", "send_encoded"):
        session = ConfiguredSession(True, answers)
        unzipped = getattr(session, send)("PUT", f"{answers}/gzip?a=1")
        getattr(session, send)("PUT", f"{answers}/cookie?a=1")
        results.append((unzipped.content, unzipped.text, session.cookies.get("crumb")))
    assert results[1] == results[0] == (
        b"<MediaContainer size='0'/>", "<MediaContainer size='0'/>", "abc"
    )


def test_a_request_that_failed_to_go_out_leaves_nothing_for_the_next_one(capture):
    base, seen = capture
    session = ConfiguredSession(True, base)
    with pytest.raises(ValueError, match="header"):
        session.send_encoded("PUT", f"{base}/edit?a=1", headers={"X-Bad": "v\nInjected: 1"})
    session.send_encoded("GET", f"{base}/next")
    assert len(seen) == 1 and seen[0].startswith(b"GET /next HTTP/1.1\r\n")
    assert b"edit" not in seen[0] and b"Injected" not in seen[0]


class _Held(socketserver.BaseRequestHandler):
    """Answers `/held` only once `release` is set; anything else at once."""

    release = threading.Event()
    asked: list[bytes] = []

    def handle(self) -> None:
        for head in _heads(self.request.makefile("rb")):
            path = head.split()[1]
            self.asked.append(path)
            if path.startswith(b"/held"):
                assert self.release.wait(10)
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


@pytest.fixture
def held():
    _Held.release, _Held.asked = threading.Event(), []
    with _serving(_Held) as base:
        yield base
    _Held.release.set()


@pytest.mark.parametrize("way", ["kept connection", "requests' own"])
def test_a_started_request_is_worked_on_while_the_caller_goes_on(held, way):
    session = ConfiguredSession(True, held)
    if way == "requests' own":
        session.cookies.set("crumb", "a")  # a session with cookies goes requests' way
    pending = session.start_encoded("GET", f"{held}/held")
    # the caller goes on: another request (the kept connection is the first one's) ...
    assert session.send_encoded("GET", f"{held}/other").text == "ok"
    deadline = time.monotonic() + 5
    while b"/held" not in _Held.asked and time.monotonic() < deadline:
        time.sleep(0.01)
    assert b"/held" in _Held.asked  # ... while the server has the first one in hand
    _Held.release.set()
    assert pending.result().text == "ok"

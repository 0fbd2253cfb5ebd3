"""The kept connection's answers, read with lean header parsing, come out as the standard
`http.client.HTTPResponse` reads them: status, headers (order, case, repeats), lengths,
chunks, closing and body."""

from __future__ import annotations

import http.client
import io

import pytest
import requests

from reconciler.keepalive import KeptResponse, LeanResponse, _headers


class _Socket:
    """What `HTTPResponse` needs of a socket: `makefile` over fixed bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self.data))


def _read(cls: type[http.client.HTTPResponse], raw: bytes, method: str = "GET") -> dict:
    answer = cls(_Socket(raw), method=method)  # type: ignore[arg-type]
    answer.begin()
    seen = {
        "status": answer.status,
        "reason": answer.reason,
        "version": answer.version,
        "headers": answer.msg.items(),
        # the pairs the kept connection builds requests' headers from
        "pairs": answer.header_pairs if cls is LeanResponse else answer.getheaders(),
        "cookies": answer.msg.get_all("Set-Cookie"),
        "type": answer.getheader("content-type"),
        "chunked": answer.chunked,
        "length": answer.length,
        "will_close": answer.will_close,
    }
    seen["body"] = answer.read()
    return seen


ANSWERS = {
    "plain": b"HTTP/1.1 200 OK\r\nContent-Type: text/xml;charset=utf-8\r\n"
    b"Content-Length: 5\r\n\r\nhello",
    "empty PUT answer": b"HTTP/1.1 200 OK\r\nX-Plex-Protocol: 1.0\r\nContent-Length: 0\r\n\r\n",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    "closing": b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    "no length": b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil the end",
    "repeated": b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n"
    b"Content-Length: 0\r\n\r\n",
    "blanks and odd values": b"HTTP/1.1 404 Not Found \r\nX-A:\t  spaced value  \r\n"
    b"X-B:\r\nX-C:no-space\r\nContent-Length: 1\r\n\r\n!",
    "bare newlines": b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    "folded line": b"HTTP/1.1 200 OK\r\nX-Long: first\r\n  second\r\nContent-Length: 0\r\n\r\n",
    "lone carriage return": b"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n",
    "no colon": b"HTTP/1.1 200 OK\r\nnot a header\r\nContent-Length: 0\r\n\r\n",
    "after a 100": b"HTTP/1.1 100 Continue\r\nX-Skipped: 1\r\n\r\n"
    b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
    "no content": b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n",
    "1.0 kept alive": b"HTTP/1.0 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n",
    "1.0 asked to keep": b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
    b"Content-Length: 0\r\n\r\n",
    "1.0 proxy kept": b"HTTP/1.0 200 OK\r\nProxy-Connection: keep-alive\r\n"
    b"Content-Length: 0\r\n\r\n",
    "repeated length": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 9\r\n\r\nok",
    "bad length": b"HTTP/1.1 200 OK\r\nContent-Length: -4\r\nConnection: keep-alive\r\n\r\nrest",
}


@pytest.mark.parametrize("name", list(ANSWERS))
def test_answer_reads_as_the_standard_class_reads_it(name: str) -> None:
    raw = ANSWERS[name]
    assert _read(LeanResponse, raw) == _read(http.client.HTTPResponse, raw)


def test_head_answer_has_no_body() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n"
    lean = _read(LeanResponse, raw, method="HEAD")
    assert lean == _read(http.client.HTTPResponse, raw, method="HEAD")
    assert lean["length"] == 0 and lean["body"] == b""


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(http.client.UnknownProtocol):
        _read(LeanResponse, b"HTTP/2.0 200 OK\r\n\r\n")


def test_a_kept_answer_has_every_attribute_requests_gives_an_answer() -> None:
    headers = _headers([("Content-Type", "text/xml")])
    kept = KeptResponse(200, "OK", "http://plex/x", headers, b"<a/>")
    assert len(kept.cookies) == 0
    assert set(vars(kept)) == set(vars(requests.Response()))
    assert (kept.text, kept.content, kept.encoding) == ("<a/>", b"<a/>", "ISO-8859-1")
    assert kept.ok and kept.raw.read() == b"<a/>"


def test_repeated_headers_are_joined_as_requests_joins_them() -> None:
    headers = _headers([("Set-Cookie", "a=1"), ("X-One", "1"), ("set-cookie", "b=2")])
    assert dict(headers) == {"Set-Cookie": "a=1, b=2", "X-One": "1"}

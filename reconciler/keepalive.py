"""One kept-alive HTTP connection to one server, for requests whose target is already encoded.

requests' path around a request (its adapter, urllib3's pool and connection wrappers and its
re-encoding of the target, the `Response` it builds from a stream) cost more than the request
itself in a cold pass: three requests an item. This sends on one `http.client.HTTPConnection`
(the standard library's public API, which urllib3's connection extends): the request goes
out with the same request line, headers and body as requests sends (`test_httpsession.py`
compares the bytes), TCP_NODELAY set as urllib3 sets it, and vcrpy, which patches that class,
still sees every request. What requests raises for each failure is raised here too (see
`_failure` and `_body_failure`), so the clients translate errors at their boundary as before.
"""

from __future__ import annotations

import contextlib
import email.parser
import http.client
import io
import re
import socket
import threading
from collections.abc import Mapping

import requests
import urllib3
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.util import wait_for_read


def _failure(exc: BaseException, answering: bool) -> requests.RequestException:
    """What requests raises for `exc`, met before the answer's headers were read: urllib3
    retries nothing (requests' default), gives up on a connect error and re-raises a read
    error; a timeout is a ReadTimeout only while waiting for the answer (`answering`)."""
    if answering and isinstance(exc, TimeoutError):
        return requests.exceptions.ReadTimeout(exc)
    return requests.exceptions.ConnectionError(exc)


def _body_failure(exc: BaseException) -> requests.RequestException:
    """What requests raises for `exc`, met while reading the answer's body
    (`Response.iter_content`: a timeout there is a ConnectionError, a cut body a
    ChunkedEncodingError, an undecodable one a ContentDecodingError)."""
    if isinstance(exc, urllib3.exceptions.DecodeError):
        return requests.exceptions.ContentDecodingError(exc)
    if isinstance(exc, TimeoutError):
        return requests.exceptions.ConnectionError(exc)
    return requests.exceptions.ChunkedEncodingError(exc)


def _headers(pairs: list[tuple[str, str]]) -> CaseInsensitiveDict:
    """The answer's headers as requests holds them: a repeated header's values joined by
    ", " (as urllib3's `HTTPHeaderDict` joins them)."""
    headers: CaseInsensitiveDict = CaseInsensitiveDict()
    for name, value in pairs:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _decoded(content: bytes, headers: Mapping[str, str]) -> bytes:
    """The body decoded as urllib3 decodes it, when the server compressed it (requests asks
    for gzip and deflate)."""
    coding = headers.get("Content-Encoding", "").strip().lower()
    if not content or coding in ("", "identity"):
        return content
    return urllib3.response.HTTPResponse(
        body=io.BytesIO(content), headers=dict(headers), decode_content=True,
        preload_content=True,
    ).data


# a header line the email parser takes as it is: a name of printable characters but space
# and colon, then the colon (anything else, a folded line say, goes to the email parser)
_PLAIN_HEADER = re.compile(r"[!-9;-~]+:")


def _parsed_headers(fp: io.BufferedIOBase) -> http.client.HTTPMessage:
    """The answer's header block as `http.client.parse_headers` gives it, without the email
    parser's feed machinery for the plain lines every answer has (it was a tenth of the
    cold pass's CPU, three answers an item). Each line is kept as that parser keeps it
    (`Compat32.header_source_parse`: blanks after the colon and the line end dropped); a
    block with any other line is handed to the email parser whole."""
    lines = http.client._read_headers(fp)
    message = http.client.HTTPMessage()
    for line in lines:
        text = line.decode("iso-8859-1")
        if text in ("\r\n", "\n", ""):
            break
        found = _PLAIN_HEADER.match(text)
        if found is None:
            block = b"".join(lines).decode("iso-8859-1")
            return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(block)
        end = found.end()
        message.set_raw(text[: end - 1], text[end:].lstrip(" \t").rstrip("\r\n"))
    return message


class LeanResponse(http.client.HTTPResponse):
    """`http.client.HTTPResponse` with its headers read by `_parsed_headers`; everything
    after the status line and headers (lengths, chunks, closing) is the standard class's,
    decided from them as `HTTPResponse.begin` decides it."""

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._read_status()
            if status != http.client.CONTINUE:
                break
            http.client._read_headers(self.fp)  # a 100 answer's headers, skipped
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = _parsed_headers(self.fp)
        coding = self.headers.get("transfer-encoding")
        self.chunked = bool(coding and coding.lower() == "chunked")
        if self.chunked:
            self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED) or (
            100 <= status < 200 or self._method == "HEAD"
        ):
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


_STANDARD = http.client.HTTPConnection
_LINES_KEPT = 64  # header lines a connection keeps encoded; more (a new length each) are not


class _EncodedOnce(http.client.HTTPConnection):
    """The standard connection, each header line encoded and checked once.

    A kept connection sends the same dozen headers (plexapi's `X-Plex-*` among them) with
    every request, and http.client encodes and checks each of them every time: a cold pass
    sends three requests an item. A line seen before goes out as the bytes http.client made
    of it the first time. Its answers are read by `LeanResponse`."""

    response_class = LeanResponse

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._lines: dict[tuple[str, str], bytes] = {}

    def putheader(self, header: str | bytes, *values: object) -> None:
        if len(values) != 1 or type(header) is not str or type(values[0]) is not str:
            super().putheader(header, *values)
            return
        key = (header, values[0])
        line = self._lines.get(key)
        if line is None:
            super().putheader(header, *values)
            if len(self._lines) < _LINES_KEPT:
                self._lines[key] = self._buffer[-1]
        else:
            self._output(line)


class KeptConnection:
    """Requests to `host:port` over plain HTTP, one at a time, on a connection kept open.

    A connection the server closed (after `Connection: close`, or idle) is noticed before
    the next request and opened again, as urllib3's pool does; nothing is ever re-sent.

    `made_with` is the connection class in effect when the session was made. A class patched
    in later (vcrpy's, while a cassette is in use) replaces it at the next request; while the
    standard class shows, the connection in hand is kept: vcrpy puts the standard class back
    for a moment each time it sends a request it records, from whichever thread sent it,
    and a connection made in that moment would never be recorded.
    """

    def __init__(
        self, host: str, port: int, made_with: type[http.client.HTTPConnection] = _STANDARD
    ) -> None:
        self.host, self.port = host, port
        self._made_with = made_with
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def busy(self) -> bool:
        return self._lock.locked()

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        """Forget the connection (a request failed on it): the next request opens a new one."""
        if self._connection is not None:
            self._connection.close()

    def _ready(self, timeout: float | None) -> http.client.HTTPConnection:
        connection = self._connection
        patched = http.client.HTTPConnection
        patched = None if patched is _STANDARD else patched
        if connection is None or (patched is not None and type(connection) is not patched):
            if connection is not None:
                connection.close()
            made_with = patched or self._made_with
            if made_with is _STANDARD:
                made_with = _EncodedOnce
            connection = made_with(self.host, self.port)
            self._connection = connection
        elif connection.sock is not None and wait_for_read(connection.sock, timeout=0.0):
            # readable while idle: the server closed it (or sent what nobody asked for)
            connection.close()
        connection.timeout = timeout
        if connection.sock is None:
            try:
                connection.connect()
            except TimeoutError as exc:
                raise requests.exceptions.ConnectTimeout(exc) from exc
            except OSError as exc:
                raise requests.exceptions.ConnectionError(exc) from exc
            if hasattr(connection.sock, "setsockopt"):
                # as urllib3 sets it: headers and body in separate writes must not wait for
                # an ACK (Nagle against delayed ACKs holds each request back ~40 ms)
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        elif connection.sock.gettimeout() != timeout:
            connection.sock.settimeout(timeout)  # a system call: most requests keep the last one
        return connection

    def send(
        self,
        method: str,
        target: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float | None,
    ) -> tuple[requests.Response, http.client.HTTPMessage]:
        """Send `method target` (the target as it goes on the wire) and read the whole answer,
        as a `requests.Response` for `url` and the headers as http.client parsed them (for a
        cookie jar). Raises what requests would raise."""
        with self._lock:
            step = "request"
            try:
                connection = self._ready(timeout)
                # as urllib3: the server may have answered (a 4xx, say) before it hung up
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    connection.request(method, target, body=body, headers=headers)
                step = "answer"
                answer = connection.getresponse()
                step = "body"
                content = answer.read()
            except requests.RequestException:
                self._drop()
                raise
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                if step == "body":
                    raise _body_failure(exc) from exc
                raise _failure(exc, answering=step == "answer") from exc
        response = requests.Response()
        response.status_code = answer.status
        response.headers = _headers(answer.getheaders())
        response.encoding = get_encoding_from_headers(response.headers)
        response.reason = answer.reason
        response.url = url
        try:
            response.raw = io.BytesIO(_decoded(content, response.headers))
        except urllib3.exceptions.DecodeError as exc:
            raise _body_failure(exc) from exc
        return response, answer.msg

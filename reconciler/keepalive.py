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
import datetime
import email.parser
import functools
import http.client
import io
import re
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


def _from_the_transport(exc: BaseException) -> bool:
    """Whether `exc` is a socket's or http.client's, which requests would have turned into
    one of its own (`_failure`, `_body_failure`); requests' own pass as they are."""
    return isinstance(exc, (OSError, http.client.HTTPException)) and not isinstance(
        exc, requests.RequestException
    )


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
    ", " under the name it first came with (as urllib3's `HTTPHeaderDict` joins them)."""
    headers = CaseInsensitiveDict(pairs)
    if len(headers) == len(pairs):
        return headers
    joined: dict[str, tuple[str, str]] = {}
    for name, value in pairs:
        first = joined.get(name.lower())
        joined[name.lower()] = (first[0], f"{first[1]}, {value}") if first else (name, value)
    return CaseInsensitiveDict(joined.values())


@functools.lru_cache(maxsize=64)
def _encoding(content_type: str | None) -> str | None:
    """The text encoding requests gives an answer of this type (its `get_encoding_from_headers`,
    asked once a type: every answer of a server has one of a few)."""
    return get_encoding_from_headers({} if content_type is None else {"content-type": content_type})


class KeptResponse(requests.Response):
    """A `requests.Response` holding the whole of an answer read on a kept connection.

    `Response.__init__` makes an empty cookie jar for every answer, which nothing here reads
    (the session's jar takes an answer's cookies: `ConfiguredSession._kept_answer`); it is made
    when first asked for. The body is the content already, as after `Response.content`."""

    def __init__(self, status: int, reason: str, url: str, headers: CaseInsensitiveDict,
                 content: bytes) -> None:
        # every attribute `Response.__init__` sets (test_lean_response.py checks the list)
        self._content = content
        self._content_consumed = True
        self._next = None
        self.status_code = status
        self.headers = headers
        self.raw = io.BytesIO(content)
        self.url = url
        self.encoding = _encoding(headers.get("content-type"))
        self.history = []
        self.reason = reason
        self.elapsed = _NO_TIME
        self.request = None

    @functools.cached_property
    def cookies(self) -> requests.cookies.RequestsCookieJar:  # type: ignore[override]
        return requests.cookies.cookiejar_from_dict({})

    @property
    def is_redirect(self) -> bool:
        """`Response.is_redirect`, the status looked at first: most answers are no redirect."""
        return self.status_code in requests.models.REDIRECT_STATI and "location" in self.headers


_NO_TIME = datetime.timedelta(0)


def _decoded(content: bytes, headers: Mapping[str, str]) -> bytes:
    """The body decoded as urllib3 decodes it, when the server compressed it (requests asks
    for gzip and deflate)."""
    if not content:
        return content
    coding = headers.get("Content-Encoding", "").strip().lower()
    if coding in ("", "identity"):
        return content
    return urllib3.response.HTTPResponse(
        body=io.BytesIO(content), headers=dict(headers), decode_content=True,
        preload_content=True,
    ).data


# a block of header lines the email parser takes as they are: each a name of printable
# characters but space and colon, the colon, a value without line breaks, the line end; then
# the blank line (or the end of the answer). Anything else (a folded line, say) goes to the
# email parser.
_PLAIN_BLOCK = re.compile(r"(?:[!-9;-~]+:[^\r\n]*\r?\n)*(?:\r?\n)?")
_PLAIN_LINE = re.compile(r"([!-9;-~]+):[ \t]*([^\r\n]*)\r?\n")


def _parsed_headers(lines: list[bytes]) -> tuple[http.client.HTTPMessage, list[tuple[str, str]]]:
    """The header block read by `http.client._read_headers`, as `http.client.parse_headers`
    parses it, and its (name, value) pairs. The email parser's feed machinery was a tenth of
    the cold pass's CPU (three answers an item): a block of plain lines is taken apart by
    two scans in C instead, each line kept as that parser keeps it
    (`Compat32.header_source_parse`: blanks after the colon and the line end dropped)."""
    block = b"".join(lines).decode("iso-8859-1")
    if _PLAIN_BLOCK.fullmatch(block) is None:
        message = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(block)
        return message, message.items()
    message = http.client.HTTPMessage()
    pairs = _PLAIN_LINE.findall(block)
    for name, value in pairs:
        message.set_raw(name, value)
    return message, pairs


class LeanResponse(http.client.HTTPResponse):
    """`http.client.HTTPResponse` with its headers read by `_parsed_headers`, and kept as
    pairs too (`header_pairs`); everything after the status line and headers (lengths,
    chunks, closing) is the standard class's, decided from them as `HTTPResponse.begin`
    decides it."""

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
        self.headers, self.header_pairs = _parsed_headers(http.client._read_headers(self.fp))
        self.msg = self.headers
        first = self._first = _first_values(self.header_pairs)
        coding = first.get("transfer-encoding")
        self.chunked = bool(coding and coding.lower() == "chunked")
        if self.chunked:
            self.chunk_left = None
        self.will_close = self._check_close()
        self.length = None
        length = first.get("content-length")
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

    def _check_close(self) -> bool:
        """`HTTPResponse._check_close`, its headers looked up in `begin`'s table."""
        return _closes(self._first, self.version)


def _first_values(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Each header's value by its lower-cased name; a repeated header counts by its first
    value, as `Message.get` gives it."""
    first: dict[str, str] = {}
    for name, value in reversed(pairs):
        first[name.lower()] = value
    return first


def _closes(first: dict[str, str], version: int) -> bool:
    """`HTTPResponse._check_close`, on headers looked up by lower-cased name."""
    connection = first.get("connection")
    if version == 11:
        return bool(connection and "close" in connection.lower())
    if first.get("keep-alive"):
        return False
    if connection and "keep-alive" in connection.lower():
        return False
    proxy = first.get("proxy-connection")
    return not (proxy and "keep-alive" in proxy.lower())


_STANDARD = http.client.HTTPConnection
_BLOCKS_KEPT = 16  # header sets a connection keeps encoded (a client sends a few, over again)
_HEAD_LIMIT = 65536  # an answer's status line and headers read at once, at most
_RECEIVE = 65536  # bytes asked of the socket at a time
# what http.client sends of a target as it is (it refuses control characters and spaces)
_PLAIN_TARGET = re.compile(r"[!-~]+")
_BLANK_LINE = re.compile(rb"\n\r?\n")
_MAX_HEADERS = 100  # http.client's limit, the blank line counted
_PLAIN_STATUS = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9]{2}) ([^\r\n]*)\r\n")


@dataclass
class LeanAnswer:
    """An answer read whole by `_EncodedOnce.answer`: what `KeptRequest.answer` needs of it."""

    status: int
    reason: str
    header_pairs: list[tuple[str, str]]
    content: bytes

    @property
    def msg(self) -> http.client.HTTPMessage:
        """The headers as http.client parses them (for a cookie jar), made when asked for."""
        message = http.client.HTTPMessage()
        for name, value in self.header_pairs:
            message.set_raw(name, value)
        return message


class _Replay(io.RawIOBase):
    """The bytes read from a socket already, then the socket: for `LeanResponse` to read an
    answer `_EncodedOnce.answer` began to read and leaves to the standard class."""

    def __init__(self, first: bytes, sock: socket.socket) -> None:
        super().__init__()
        self.first, self._sock = memoryview(first), sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.first:
            size = min(len(buffer), len(self.first))
            buffer[:size] = self.first[:size]
            self.first = self.first[size:]
            return size
        return self._sock.recv_into(buffer)


class _Replaying:
    """What `HTTPResponse` needs of a socket: `makefile`, here over a `_Replay`."""

    def __init__(self, first: bytes, sock: socket.socket) -> None:
        self._raw = _Replay(first, sock)

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self._raw)

    def unread(self) -> bool:
        """Whether bytes received before remain that the reader never took."""
        return bool(self._raw.first)


class _EncodedOnce(http.client.HTTPConnection):
    """The standard connection, its common requests sent and answers read in a few steps.

    A kept connection sends the same dozen headers (plexapi's `X-Plex-*` among them) with
    every request, and the standard class lower-cases, encodes and checks each of them, and
    reads an answer line by line through a new file object, every time: a cold pass makes
    three requests an item, and that came to some 250 Python calls a request. Here a set of
    headers (all but its `Content-Length`) is made into lines once, by the standard class
    itself, and a request goes out as one write of its request line, those lines and its
    body (`send_whole`). Its answer (`answer`) is read in as few reads as it came in; an answer
    of the usual kind (a status line, plain header lines, a `Content-Length`) is taken
    apart here, any other (chunked, no length, a 1xx first, an odd line) is left to
    `LeanResponse`, which reads on from the bytes in hand, as the standard class would.
    Anything a request does not fit (a body not in bytes, no length for it, an odd target)
    goes the standard way, `request` and `getresponse`, on the same socket."""

    response_class = LeanResponse

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # (method, names in order, values but the length) -> the lines before the length
        # and those after it
        self._blocks: dict[tuple, tuple[bytes, bytes]] = {}

    @staticmethod
    def takes(method: str, target: str, headers: Mapping[str, str], body: bytes | None) -> bool:
        """Whether `send_whole` sends this request as the standard class would; anything
        the standard class adds or chunks itself goes its way."""
        length = headers.get("Content-Length")
        return (
            type(headers) is dict
            and (body is None or type(body) is bytes)
            and (length is not None or (
                body is None and method.upper() not in ("PATCH", "POST", "PUT")))
            and (length is None or (type(length) is str and length.isascii()
                                    and length.isdigit()))
            and target.isascii()
            and _PLAIN_TARGET.fullmatch(target) is not None
        )

    def send_whole(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes | None
    ) -> None:
        """Send a request `takes` in one write."""
        rest = dict(headers)
        length = rest.pop("Content-Length", None)
        key = (method, tuple(headers), tuple(rest.values()))
        block = self._blocks.get(key)
        if block is None:
            block = self._block(method, headers)
            if len(self._blocks) < _BLOCKS_KEPT:
                self._blocks[key] = block
        before, after = block
        parts = [f"{method} {target} HTTP/1.1\r\n".encode("ascii"), before]
        if length is not None:
            parts.append(b"Content-Length: %s\r\n" % length.encode("ascii"))
        parts += [after, b"\r\n", body or b""]
        if self.sock is None:
            self.connect()
        self.sock.sendall(b"".join(parts))

    def _block(self, method: str, headers: Mapping[str, str]) -> tuple[bytes, bytes]:
        """The header lines the standard class makes for `headers` (the `Host` line first,
        unless they name one; every name and value checked), before and after the length."""
        names = {name.lower() for name in headers}
        scratch = http.client.HTTPConnection(self.host, self.port)
        scratch.putrequest(
            method, "/", skip_host="host" in names,
            skip_accept_encoding="accept-encoding" in names,
        )
        cut = None
        for name, value in headers.items():
            if name == "Content-Length":
                cut = len(scratch._buffer)
                continue
            scratch.putheader(name, value)
        lines = [line + b"\r\n" for line in scratch._buffer[1:]]
        if cut is None:
            return b"".join(lines), b""
        return b"".join(lines[: cut - 1]), b"".join(lines[cut - 1 :])

    def answer(self, method: str, reading: list[str]) -> LeanAnswer:
        """The answer to the request `send_whole` sent, read whole; `reading` names the
        step reached ("body" once the headers are in), for the failure's translation."""
        sock = self.sock
        if sock is None:
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        data = sock.recv(_RECEIVE)
        while True:
            blank = _BLANK_LINE.search(data)
            if blank is not None or len(data) > _HEAD_LIMIT:
                break
            more = sock.recv(_RECEIVE)
            if not more:
                if not data:
                    raise http.client.RemoteDisconnected(
                        "Remote end closed connection without response"
                    )
                break
            data += more
        # the head ends at the first blank line; one with CRLF throughout, each line within
        # http.client's limit (the head to its last line end is), is read here
        end = blank.start() - 1 if blank is not None else -1
        plain = end >= 0 and end + 2 <= _HEAD_LIMIT and data[end : end + 4] == b"\r\n\r\n"
        status = _PLAIN_STATUS.match(data) if plain else None
        head = data[status.end() : end + 2].decode("iso-8859-1") if status else ""
        if status is None or status.group(2) == b"100" or _PLAIN_BLOCK.fullmatch(head) is None:
            return self._standard(data, sock, method, reading)
        pairs = _PLAIN_LINE.findall(head)
        if len(pairs) >= _MAX_HEADERS:
            return self._standard(data, sock, method, reading)
        first = _first_values(pairs)
        code = int(status.group(2))
        version = 11 if status.group(1) == b"1" else 10
        coding = first.get("transfer-encoding")
        if coding and coding.lower() == "chunked":
            return self._standard(data, sock, method, reading)
        length = 0
        if not (code in (204, 304) or code < 200 or method == "HEAD"):
            try:
                length = int(first.get("content-length", ""))
            except ValueError:
                return self._standard(data, sock, method, reading)
            if length < 0:
                return self._standard(data, sock, method, reading)
        reading[0] = "body"
        body = data[end + 4 :]
        if len(body) < length:
            parts = [body]
            missing = length - len(body)
            while missing > 0:
                more = sock.recv(min(missing, _RECEIVE))
                if not more:
                    self.close()
                    raise http.client.IncompleteRead(b"".join(parts), missing)
                parts.append(more)
                missing -= len(more)
            body = b"".join(parts)
        if len(body) > length or _closes(first, version):
            self.close()  # what nobody asked for, or a server that closes: a new connection
        return LeanAnswer(code, status.group(3).decode("iso-8859-1").strip(), pairs, body[:length])

    def _standard(
        self, data: bytes, sock: socket.socket, method: str, reading: list[str]
    ) -> LeanAnswer:
        """The answer read by `LeanResponse` (as the standard class reads it), from the bytes
        in hand on. Bytes received with it that it leaves unread were never asked for: the
        connection is not used again (as the standard class's check of an idle connection
        finds them)."""
        source = _Replaying(data, sock)
        answer = LeanResponse(source, method=method)  # type: ignore[arg-type]
        answer.begin()
        reading[0] = "body"
        content = answer.read()
        if answer.will_close or source.unread():
            self.close()
        return LeanAnswer(answer.status, answer.reason, answer.header_pairs, content)


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

    def close(self) -> None:
        """Close the connection; one a request still holds (stopping mid-request) is closed
        under it rather than waited for."""
        if self._lock.acquire(blocking=False):
            try:
                self._drop()
            finally:
                self._lock.release()
        elif self._connection is not None:
            self._connection.close()

    def _drop(self) -> None:
        """Forget the connection (a request failed on it): the next request opens a new one,
        with nothing left of the failed one (http.client keeps the lines a request put before
        it failed, to go out ahead of the next one's)."""
        connection = self._connection
        if connection is not None:
            connection.close()
            buffered = getattr(connection, "_buffer", None)
            if isinstance(buffered, list):
                buffered.clear()

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

    def start(
        self,
        method: str,
        target: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float | None,
    ) -> KeptRequest | None:
        """Send `method target` (the target as it goes on the wire) and return without
        waiting for the answer: `KeptRequest.answer` reads it, as a `requests.Response` for
        `url`, while the server works on it the caller may do something else (the
        connection is the request's until then). None when another request holds the
        connection. Raises what requests would raise."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            connection = self._ready(timeout)
            # the connection that sends this request whole, if it does
            whole = connection if isinstance(connection, _EncodedOnce) and connection.takes(
                method, target, headers, body
            ) else None
            # as urllib3: the server may have answered (a 4xx, say) before it hung up
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                if whole is not None:
                    whole.send_whole(method, target, headers, body)
                else:
                    connection.request(method, target, body=body, headers=headers)
        except BaseException as exc:
            self._drop()
            self._lock.release()
            if _from_the_transport(exc):
                raise _failure(exc, answering=False) from exc
            raise
        return KeptRequest(self, connection, url, method if whole is not None else None)


class KeptRequest:
    """A request sent on a `KeptConnection` whose answer is not read yet: the connection is
    its own until `answer()` reads the answer or `abandon()` drops the connection."""

    def __init__(
        self,
        kept: KeptConnection,
        connection: http.client.HTTPConnection,
        url: str,
        whole: str | None = None,
    ) -> None:
        self._kept, self._connection, self._url = kept, connection, url
        self._whole = whole  # the method, when sent by `_EncodedOnce.send_whole`
        self._open = True

    def _release(self) -> None:
        self._open = False
        self._kept._lock.release()

    def abandon(self) -> None:
        """Let the request go unread: the connection is closed (the next request opens
        another), as an answer half read would leave it unusable."""
        if self._open:
            try:
                self._kept._drop()
            finally:
                self._release()

    def answer(self) -> tuple[requests.Response, http.client.HTTPMessage | None]:
        """The whole answer (waiting for it), and its headers as http.client parsed them
        when it sets a cookie (for a cookie jar). Raises what requests would raise."""
        if not self._open:
            raise RuntimeError(f"the answer to {self._url} was read or abandoned already")
        step = ["answer"]
        answer: LeanAnswer | http.client.HTTPResponse
        try:
            if self._whole is not None:
                assert isinstance(self._connection, _EncodedOnce)
                answer = self._connection.answer(self._whole, step)
                content = answer.content
            else:
                answer = self._connection.getresponse()
                step[0] = "body"
                content = answer.read()
        except BaseException as exc:
            self._kept._drop()
            if _from_the_transport(exc):
                failure = _body_failure(exc) if step[0] == "body" else _failure(exc, True)
                raise failure from exc
            raise
        finally:
            self._release()
        lean = isinstance(answer, (LeanAnswer, LeanResponse))
        pairs = answer.header_pairs if lean else answer.getheaders()  # type: ignore[union-attr]
        headers = _headers(pairs)
        try:
            content = _decoded(content, headers)
        except urllib3.exceptions.DecodeError as exc:
            raise _body_failure(exc) from exc
        response = KeptResponse(answer.status, answer.reason, self._url, headers, content)
        cookies = "Set-Cookie" in headers or "Set-Cookie2" in headers
        return response, answer.msg if cookies else None

"""One kept-alive HTTP connection to one server, for requests whose target is already encoded.

requests' path around a request (its adapter, urllib3's pool and its re-encoding of the
target, the `Response` it builds from a stream) cost more than the request itself in a cold
pass: three requests an item. This sends on one `urllib3.connection.HTTPConnection`
(`request()` / `getresponse()`, urllib3 2.x's public API), the same class and calls urllib3's
pool would use, so the bytes on the wire are the same and vcrpy, which patches that class,
still sees every request. What requests raises for each failure is raised here too (see
`_failure` and `_body_failure`), so the clients translate errors at their boundary as before.
"""

from __future__ import annotations

import http.client
import io
import socket
import threading
from collections.abc import Mapping

import requests
import urllib3.connection
import urllib3.exceptions
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers


def _failure(exc: BaseException) -> requests.RequestException:
    """What requests raises for `exc`, met before the answer's headers were read (requests
    retries nothing: urllib3 gives up on a connect error, re-raises a read error)."""
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return requests.exceptions.ConnectionError(exc)
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return requests.exceptions.ConnectTimeout(exc)
    if isinstance(exc, socket.timeout | urllib3.exceptions.ReadTimeoutError):
        return requests.exceptions.ReadTimeout(exc)
    return requests.exceptions.ConnectionError(exc)


def _body_failure(exc: BaseException) -> requests.RequestException:
    """What requests raises for `exc`, met while reading the answer's body
    (`Response.iter_content`)."""
    if isinstance(exc, urllib3.exceptions.DecodeError):
        return requests.exceptions.ContentDecodingError(exc)
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | socket.timeout):
        return requests.exceptions.ConnectionError(exc)
    return requests.exceptions.ChunkedEncodingError(exc)


class KeptConnection:
    """Requests to `host:port` over plain HTTP, one at a time, on a connection kept open.

    A connection the server closed (after `Connection: close`, or idle) is noticed before
    the next request and opened again, as urllib3's pool does; nothing is ever re-sent.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._connection: urllib3.connection.HTTPConnection | None = None
        self._lock = threading.Lock()

    def busy(self) -> bool:
        return self._lock.locked()

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()

    def _ready(self, timeout: float | None) -> urllib3.connection.HTTPConnection:
        connection = self._connection
        if connection is None:
            # looked up on the module each time: a patched class (vcrpy's) is then used
            connection = urllib3.connection.HTTPConnection(self.host, self.port)
            self._connection = connection
        elif connection.sock is not None and not connection.is_connected:
            connection.close()
        connection.timeout = timeout
        if connection.sock is None:
            connection.connect()
        return connection

    def send(
        self,
        method: str,
        target: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float | None,
    ) -> requests.Response:
        """Send `method target` (target as it goes on the wire) and read the whole answer,
        as a `requests.Response` for `url`. Raises what requests would raise."""
        with self._lock:
            try:
                connection = self._ready(timeout)
                connection.request(method, target, body=body, headers=headers,
                                   preload_content=False)
                answer = connection.getresponse()
            except (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError) as exc:
                self._drop()
                raise _failure(exc) from exc
            try:
                content = answer.read()
            except (OSError, http.client.HTTPException, urllib3.exceptions.HTTPError) as exc:
                self._drop()
                raise _body_failure(exc) from exc
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.reason = answer.reason
        response.url = url
        response.raw = io.BytesIO(content)
        return response

    def _drop(self) -> None:
        """Forget a connection a request failed on: the next request opens a new one."""
        if self._connection is not None:
            self._connection.close()

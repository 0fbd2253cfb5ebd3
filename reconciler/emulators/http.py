"""A small threaded HTTP server that both emulators build on.

It owns what is common to faking a remote server: a real socket on 127.0.0.1,
start/stop on a fixed port (so a test can make the server refuse connections and
come back at the same address), a request log for counting, and fault injection
(a status for the next N requests, a delay, an arbitrary body).
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/xml;charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return default


@dataclass
class Fault:
    """What the next `remaining` matching requests get instead of a real answer."""

    remaining: int
    status: int | None = None
    body: bytes = b""
    content_type: str = "text/html"
    delay: float = 0.0
    path_prefix: str = ""
    skip: int = 0


CONTROL_PREFIX = "/_emulator/"


def parse_latency(text: str) -> dict[str, float]:
    """`write=20,image=40` (milliseconds per request kind) as seconds per kind."""
    latency = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, millis = part.partition("=")
        try:
            latency[kind.strip()] = float(millis) / 1000
        except ValueError:
            raise ValueError(f"--latency: {part!r} is not KIND=MILLISECONDS") from None
    return latency


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that timed out and hung up is not an emulator error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class EmulatorServer:
    """Serves `handle(request) -> Response` over real HTTP on 127.0.0.1."""

    name = "emulator"

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.tls: ssl.SSLContext | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._faults: list[Fault] = []
        self._lock = threading.RLock()
        self.requests: list[tuple[str, str, str]] = []
        self._connections: set[socket.socket] = set()
        # seconds each request of a kind waits before it is answered (`latency_kind`)
        self.latency: dict[str, float] = {}

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def use_tls(self, certfile: str, keyfile: str) -> None:
        """Serve HTTPS with this certificate (call before `start`)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certfile, keyfile)
        self.tls = context

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> EmulatorServer:
        if self._server is not None:
            return self
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def setup(self) -> None:
                super().setup()
                # headers and body go out in separate writes: without this, Nagle and
                # delayed ACKs hold every small answer back ~40 ms
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with emulator._lock:
                    emulator._connections.add(self.connection)

            def finish(self) -> None:
                with emulator._lock:
                    emulator._connections.discard(self.connection)
                super().finish()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parts.query,
                    headers=dict(self.headers.items()),
                    body=body,
                )
                response = emulator._dispatch(request)
                if response is None:
                    self.close_connection = True
                    return
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                for key, value in response.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        last_error: OSError | None = None
        for _ in range(50):
            try:
                self._server = _Server(("127.0.0.1", self.port), Handler)
                break
            except OSError as exc:
                last_error = exc
                time.sleep(0.05)
        else:
            raise RuntimeError(f"{self.name}: cannot listen on 127.0.0.1:{self.port}: {last_error}")
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections to the port are refused until `start()`."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_until_signalled(self, fixture: str | None = None) -> int:
        """Run as a process of its own: load `fixture` (JSON), serve until SIGTERM or SIGINT."""
        if fixture:
            with open(fixture, encoding="utf-8") as handle:
                self.load(json.load(handle))
        # the handler only records the signal: setting an event from it could land inside
        # this thread's own wait on that event, its lock held, and wait for it for ever
        asked: list[int] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: asked.append(signum))
        self.start()
        print(f"{self.name} listening on {self.url}", flush=True)
        while not asked:
            time.sleep(0.2)
        self.stop()
        return 0

    def load(self, fixture: dict) -> None:
        raise NotImplementedError

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def inject(
        self,
        status: int | None = None,
        count: int = 1,
        *,
        body: bytes = b"",
        content_type: str = "text/html",
        delay: float = 0.0,
        path_prefix: str = "",
        skip: int = 0,
    ) -> None:
        """Answer `count` requests under `path_prefix` (after `skip` pass) with `status`/`body`.

        With `status=None` the request is only delayed by `delay` and then served normally.
        """
        with self._lock:
            self._faults.append(Fault(count, status, body, content_type, delay, path_prefix, skip))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def request_counts(self) -> Counter:
        """How many requests each (method, path) received."""
        with self._lock:
            return Counter((method, path) for method, path, _ in self.requests)

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def _take_fault(self, request: Request) -> Fault | None:
        if request.path.startswith(CONTROL_PREFIX):
            return None
        with self._lock:
            for fault in self._faults:
                if request.path.startswith(fault.path_prefix) and fault.remaining > 0:
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _dispatch(self, request: Request) -> Response | None:
        with self._lock:
            self.requests.append((request.method, request.path, request.query))
        delay = self.latency.get(self.latency_kind(request)) if self.latency else None
        if delay and not request.path.startswith(CONTROL_PREFIX):
            time.sleep(delay)  # the time a real server spends on it; other requests go on
        fault = self._take_fault(request)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                return Response(fault.status, fault.body, fault.content_type)
        try:
            return self.handle(request)
        except Exception as exc:  # an emulator bug must show up as a 500, not a hang
            return Response(500, f"{self.name} error: {exc!r}".encode(), "text/plain")

    def latency_kind(self, request: Request) -> str:
        """Which entry of `latency` delays this request."""
        return ""

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

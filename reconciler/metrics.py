"""The daemon's own HTTP endpoint (`server.listen`): `GET /healthz`, `GET /metrics` and,
when Stash needs an API key, `GET /performer/{id}/image?t=` (actor photos, `photoserve.py`).

`/healthz` answers 200 or 503 with the same one line as `stashplex health`. `/metrics` is
Prometheus' text format, made by prometheus-client: the queue and the dead letters are read
from the database at each scrape; writes, poll durations and errors are counted as the
daemon goes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from reconciler.errors import StashplexError
from reconciler.health import Verdict
from reconciler.photoserve import PHOTO_ROUTE, PerformerPhotos
from reconciler.status import read_health
from reconciler.store import Store

log = logging.getLogger(__name__)


class _StoreCollector(Collector):
    """Figures read from the database when Prometheus asks, so they are never stale."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = self.store.counts()
        queue = GaugeMetricFamily("stashplex_queue_jobs", "Jobs in the queue", labels=["state"])
        queue.add_metric(["queued"], counts.queued)
        queue.add_metric(["running"], counts.running)
        queue.add_metric(["waiting_retry"], counts.waiting_retry)
        yield queue
        yield GaugeMetricFamily(
            "stashplex_dead_letters", "Jobs in the dead-letter queue", value=counts.dead
        )
        healths, last_poll = read_health(self.store)
        trouble = GaugeMetricFamily(
            "stashplex_server_problem",
            "1 while the server's last answer was an error, by kind of problem",
            labels=["server", "problem"],
        )
        paused = GaugeMetricFamily(
            "stashplex_server_paused", "1 while work for the server is paused", labels=["server"]
        )
        for health in healths:
            for problem in ("unreachable", "refused", "error"):
                trouble.add_metric([health.server, problem], int(health.problem == problem))
            paused.add_metric([health.server], int(health.paused_since is not None))
        yield trouble
        yield paused
        if last_poll is not None:
            yield GaugeMetricFamily(
                "stashplex_last_poll_timestamp_seconds",
                "When the last poll completed (Unix time)",
                value=last_poll,
            )


class Metrics:
    """The daemon's Prometheus registry."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_StoreCollector(store))
        self.jobs = Counter(
            "stashplex_jobs",
            "Jobs handled by the worker, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.errors = Counter(
            "stashplex_errors",
            "Failed polls and requests, by server and class",
            ["server", "error_class"],
            registry=self.registry,
        )
        self.poll_seconds = Histogram(
            "stashplex_poll_duration_seconds",
            "How long a poll of both servers took",
            registry=self.registry,
        )

    def drained(self, applied: int, in_sync: int, retried: int, dead: int, waiting: int) -> None:
        for outcome, count in (
            ("written", applied),
            ("in_sync", in_sync),
            ("retried", retried),
            ("dead_lettered", dead),
            ("waiting", waiting),
        ):
            if count:
                self.jobs.labels(outcome).inc(count)

    def failed(self, server: str | None, error_class: str) -> None:
        self.errors.labels(server or "unknown", error_class).inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)


class HealthServer:
    """A small HTTP server in a thread of its own; `verdict` gives /healthz its answer."""

    def __init__(
        self,
        address: tuple[str, int],
        metrics: Metrics,
        verdict: Callable[[], Verdict],
        photos: PerformerPhotos | None = None,
    ) -> None:
        self.metrics = metrics
        self.verdict = verdict
        self.photos = photos
        handler = self._handler()
        self.httpd = ThreadingHTTPServer(address, handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self.httpd.server_address[:2]

    def start(self) -> HealthServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                parts = urlsplit(self.path)
                path = parts.path
                try:
                    photo = PHOTO_ROUTE.fullmatch(path)
                    if photo and server.photos is not None:
                        self._photo(photo.group(1), parts.query)
                    elif path == "/healthz":
                        judged = server.verdict()
                        self._send(200 if judged.healthy else 503, (judged.line + "\n").encode(),
                                   "text/plain; charset=utf-8")
                    elif path == "/metrics":
                        self._send(200, server.metrics.text(), CONTENT_TYPE_LATEST)
                    else:
                        self._send(404, b"not found: try /healthz or /metrics\n", "text/plain")
                except Exception as exc:
                    log.warning("%s failed: %s", path, exc)
                    self._send(500, f"{type(exc).__name__}\n".encode(), "text/plain")

            def _photo(self, performer_id: str, query: str) -> None:
                stamp = (parse_qs(query).get("t") or [""])[0]
                if not server.photos.valid_stamp(stamp):
                    self._send(400, b"bad ?t= stamp\n", "text/plain")
                    return
                try:
                    found = server.photos.photo(performer_id, stamp)
                except StashplexError as exc:
                    log.warning("the photo of performer %s: %s", performer_id, exc)
                    self._send(502, b"Stash did not give the photo\n", "text/plain")
                    return
                cache = "public, max-age=31536000, immutable" if stamp else "no-cache"
                self._send(200, found.data, found.content_type, {"Cache-Control": cache})

            def _send(
                self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("%s %s", self.address_string(), format % args)

        return Handler

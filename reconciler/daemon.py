"""The long-running daemon: APScheduler jobs for polling, draining and the periodic full pass.

The scheduler's jobs run one at a time (one lock; a poll or drain that finds it taken
skips its turn, the full pass waits for it). SIGTERM and SIGINT let the job in hand
finish its current batch, then the process exits 0. Under systemd it speaks the notify
protocol; its STATUS= line says what `stashplex status` says of each server's trouble.
A poll's failure is counted against the server it came from; while a server refuses the
credentials, polls wait for the gate's probe (at most once a minute) instead of asking it.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from apscheduler.schedulers.background import BackgroundScheduler

from reconciler.app import App
from reconciler.config import Config, listen_address
from reconciler.errors import ConfigError, StashplexError
from reconciler.gate import REFUSED
from reconciler.health import Verdict, verdict
from reconciler.lock import DatabaseLock
from reconciler.metrics import HealthServer, Metrics
from reconciler.photos import STASH_URLS, photo_source
from reconciler.photoserve import PerformerPhotos
from reconciler.sdnotify import Notifier, watchdog_interval
from reconciler.status import LAST_POLL, read_health
from reconciler.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")


class Stopping(Exception):
    """Raised inside a job when the daemon was asked to stop."""


class _SkippedRunFilter(logging.Filter):
    """APScheduler warns each time a job's turn comes while it still runs (a long full pass
    inside a poll): that is the design here, not news, so it is demoted to DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances" not in record.getMessage():
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


SKIPPED_RUN_FILTER = _SkippedRunFilter()


class Daemon:
    def __init__(
        self,
        config: Config,
        notifier: Notifier | None = None,
        stop_event: threading.Event | None = None,
    ) -> None:
        self.config = config
        self.notifier = notifier or Notifier()
        self.stop_event = stop_event or threading.Event()
        self.busy = threading.Lock()
        self._notify_lock = threading.Lock()
        self._stopping_sent = False
        self._stop_asked = False  # by a signal: `request_stop`
        self.lock = DatabaseLock(config.database)
        self.app: App | None = None
        self.metrics: Metrics | None = None
        self.http: HealthServer | None = None
        self.polls = 0

    # -- jobs ------------------------------------------------------------------

    def _exclusive(self, name: str, body: Callable[[App], None], wait: bool = False) -> None:
        """Run a job alone; a poll or drain that finds another in hand skips its turn, while
        the full pass, which comes rarely, waits for its turn."""
        if self.stop_event.is_set() or self.app is None:
            return
        while not self.busy.acquire(timeout=0.2 if wait else 0):
            if not wait or self.stop_event.is_set():
                log.debug("%s skipped: another job is in hand", name)
                return
        try:
            body(self.app)
        except Stopping:
            log.info("%s interrupted to stop", name)
        except StashplexError as exc:
            if exc.refused:
                log.debug("%s: %s", name, exc)  # the gate told it once, as an ERROR
            else:
                log.warning("%s failed, will try again: %s", name, exc)
        except Exception:
            log.exception("%s failed unexpectedly", name)
        finally:
            self.busy.release()
            self._report_status()

    def _check_stop(self, *_: object) -> None:
        if self.stop_event.is_set():
            raise Stopping()

    def _refusing(self, app: App) -> bool:
        """True while a server refuses the credentials and its probe is not due or fails."""
        gates = [gate for gate in app.worker.gates.values() if gate.reload().problem == REFUSED]
        return any(not gate.admits() for gate in gates)

    def _counted(self, app: App, step: Callable[[], T]) -> T:
        """Run a poll's step; its failure counts against the server it came from."""
        started = time.monotonic()
        try:
            outcome = step()
        except StashplexError as exc:
            if self.metrics is not None:
                self.metrics.failed(exc.server, exc.error_class)
            gate = app.worker.gates.get(exc.server or "")
            if gate is not None:
                gate.met(exc, poll=True)
            raise
        finally:
            if self.metrics is not None:
                self.metrics.poll_seconds.observe(time.monotonic() - started)
        for gate in app.worker.gates.values():
            gate.answered()
        return outcome

    def poll(self) -> None:
        def body(app: App) -> None:
            if self._refusing(app):
                log.debug("poll skipped: a server refuses the credentials")
                return
            if not app.engine.has_baseline():
                log.info("no earlier sync in this database: starting with a full pass")
                self._counted(app, lambda: self._full_pass(app))
            else:
                report = self._counted(app, app.engine.poll)
                if report:
                    log.info(
                        "poll: %d scene(s) changed in Stash, %d via renames, "
                        "%d from Plex; %d queued",
                        report.stash_changed,
                        report.renamed,
                        report.plex_changed,
                        report.queued,
                    )
            app.store.set_setting(LAST_POLL, repr(time.time()))
            self._drain(app)
            self.polls += 1  # a poll counts once what it found has been written

        self._exclusive("poll", body)

    def _drain(self, app: App) -> None:
        result = app.worker.drain(should_stop=self.stop_event.is_set)
        if self.metrics is not None:
            self.metrics.drained(
                result.applied, result.in_sync, result.retried, result.dead, result.waiting
            )
        if result.applied or result.dead or result.retried:
            log.info(
                "queue: %d written, %d in sync, %d to retry, %d dead-lettered",
                result.applied,
                result.in_sync,
                result.retried,
                result.dead,
            )

    def drain(self) -> None:
        self._exclusive("drain", self._drain)

    def _full_pass(self, app: App) -> None:
        report, _ = app.engine.sweep(self._check_stop)
        log.info(
            "full pass: %d scenes, %d queued, %d in sync, %d unmatched",
            report.seen,
            report.queued,
            report.in_sync,
            report.unmatched,
        )

    def reconcile(self) -> None:
        def body(app: App) -> None:
            self._full_pass(app)
            self._drain(app)

        self._exclusive("full reconcile", body, wait=True)

    def _notify(self, send: Callable[[], None]) -> None:
        """Send to systemd, unless STOPPING=1 went out already: it must be the last word."""
        with self._notify_lock:
            if not self._stopping_sent:
                send()

    def watchdog(self) -> None:
        self._notify(self.notifier.watchdog)

    def verdict(self) -> Verdict:
        """The rule of `stashplex health`, over this daemon's database."""
        assert self.app is not None
        healths, last_poll = read_health(self.app.store)
        return verdict(healths, last_poll, self.config.schedule.poll_interval, time.time())

    def status_line(self) -> str:
        """What systemd's STATUS= says: the queue, and the health verdict `status` gives."""
        assert self.app is not None
        counts = self.app.store.counts()
        judged = self.verdict()
        return (
            f"{counts.queued} queued ({counts.waiting_retry} waiting to retry), "
            f"{counts.dead} dead-lettered; {judged.line}"
        )

    def _report_status(self) -> None:
        if self.app is None or not self.notifier.enabled or self.stop_event.is_set():
            return
        try:
            text = self.status_line()
        except StashplexError:
            return
        self._notify(lambda: self.notifier.status(text))

    # -- lifecycle ---------------------------------------------------------------

    def request_stop(self, signum: int | None = None, frame: object = None) -> None:
        """Ask the daemon to stop; its main loop sets `stop_event` within 0.2 s.

        As a signal handler this runs in the middle of whatever the main thread was doing:
        the loop's own wait, a log line. Each holds a lock (the event's, a log handler's)
        that setting the event or logging from here would wait for, for ever, so it only
        records the request."""
        self._stop_asked = True

    def stopping(self) -> bool:
        """Whether a stop was asked for (by a signal, `request_stop` or `stop_event`)."""
        return self._stop_asked or self.stop_event.is_set()

    def run(self, install_signals: bool = True) -> int:
        self.lock.acquire()
        try:
            store = Store(self.config.database)
            recovered = store.recover()
            if recovered:
                log.info("%d job(s) interrupted by the last stop are queued again", recovered)
            self.app = App(self.config, store)
            self.metrics = Metrics(store)
            if self.config.server.listen:
                address = listen_address(self.config.server.listen)
                try:
                    self.http = HealthServer(
                        address, self.metrics, self.verdict, self._photos()
                    ).start()
                except OSError as exc:
                    raise ConfigError(
                        f"server.listen: cannot listen on {self.config.server.listen} "
                        f"({exc.strerror})"
                    ) from None
                log.info(
                    "serving /healthz and /metrics%s on http://%s",
                    " and performer photos" if self.http.photos is not None else "",
                    self.config.server.listen,
                )
            if install_signals:
                signal.signal(signal.SIGTERM, self.request_stop)
                signal.signal(signal.SIGINT, self.request_stop)
            logging.getLogger("apscheduler.scheduler").addFilter(SKIPPED_RUN_FILTER)
            scheduler = self._scheduler()
            self.notifier.ready()  # config and database are open; the jobs' pings come after
            scheduler.start()
            self._report_status()
            log.info(
                "stashplex daemon started with config %s, database %s, Stash at %s, Plex at %s "
                "(libraries %s): polling every %gs, draining every %gs",
                self.config.source,
                self.config.database,
                self.config.stash.url,
                self.config.plex.url,
                ", ".join(self.config.plex.libraries),
                self.config.schedule.poll_interval,
                self.config.schedule.process_interval,
            )
            while not self.stopping():
                time.sleep(0.2)  # holds no lock a signal handler could need
            self.stop_event.set()
            log.info("stopping: finishing the job in hand")
            with self._notify_lock:
                self.notifier.stopping()
                self._stopping_sent = True
            scheduler.shutdown(wait=True)
            log.info("stashplex daemon stopped")
            return 0
        finally:
            if self.http is not None:
                self.http.stop()
            if self.app is not None:
                self.app.close()
            self.lock.release()

    def _photos(self) -> PerformerPhotos | None:
        """Actor photos are served here only when Plex is given this endpoint's URLs for them."""
        if photo_source(self.config) in ("", STASH_URLS) or self.app is None:
            return None
        return PerformerPhotos(self.app.stash.fetch_performer_image)

    def _scheduler(self) -> BackgroundScheduler:
        scheduler = BackgroundScheduler(
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
            timezone=dt.UTC,
        )
        now = dt.datetime.now(dt.UTC)
        schedule = self.config.schedule
        scheduler.add_job(
            self.poll, "interval", seconds=schedule.poll_interval, next_run_time=now, id="poll"
        )
        scheduler.add_job(self.drain, "interval", seconds=schedule.process_interval, id="drain")
        if schedule.reconcile_interval > 0:
            # counted from the last full pass, so restarts do not keep putting it off
            last = self.app.engine.last_full_pass() if self.app else None
            due = (last or time.time()) + schedule.reconcile_interval
            scheduler.add_job(
                self.reconcile,
                "interval",
                seconds=schedule.reconcile_interval,
                next_run_time=max(now, dt.datetime.fromtimestamp(due, dt.UTC)),
                id="reconcile",
            )
        interval = watchdog_interval()
        if interval:
            scheduler.add_job(
                self.watchdog, "interval", seconds=interval, next_run_time=now, id="watchdog"
            )
        return scheduler

"""Whether work may go to a server now: the outage and refusal rules, in one place.

- An error that `waits` (unreachable, or answering 503): the job waits without spending a
  retry. After `OUTAGE_THRESHOLD` such failures in a row, work for the server pauses and the
  server is probed with backoff; when it answers, work resumes, batches growing from one job.
- An error that is `refused` (a token or an API key refused): the job in hand is
  dead-lettered, work for the server stops at once, the server is probed at most once a
  minute, and when it works again the letters written for the refusal are queued again.

Each server's trouble is kept in the database (see `Store.health`), so `status`, `health`
and the systemd STATUS line all tell the same story. The time of the next probe is kept in
memory only: a restarted daemon (perhaps with a fixed config) probes at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from reconciler.errors import StashplexError
from reconciler.retry import Backoff
from reconciler.store import Health, Store

log = logging.getLogger(__name__)

OUTAGE_THRESHOLD = 5
REFUSAL_PROBE_INTERVAL = 60.0
UNREACHABLE, REFUSED, ERROR = "unreachable", "refused", "error"

# True when the server answers (and, asked with `refused`, accepts the credentials)
Probe = Callable[[bool], bool]


def problem_of(error: StashplexError) -> str | None:
    """What the error says of its server; None when it is about one item, not the server."""
    if error.refused:
        return REFUSED
    if error.waits:
        return UNREACHABLE
    return ERROR if error.server_problem else None


class Gate:
    """One server as the worker sees it: open, or paused until a probe finds it answering."""

    def __init__(
        self,
        server: str,
        title: str,
        store: Store,
        probe: Probe,
        backoff: Backoff,
        clock: Callable[[], float],
    ) -> None:
        self.server = server
        self.title = title
        self.store = store
        self.probe = probe
        self.backoff = backoff
        self.clock = clock
        self.failures_in_row = 0
        self._probes = 0
        self._next_probe = 0.0
        self.health = store.health(server)

    @property
    def paused(self) -> bool:
        return self.health.paused_since is not None

    def reload(self) -> Health:
        """Read the health again: another process (a `--reconcile-all`) may have changed it."""
        self.health = self.store.health(self.server)
        return self.health

    def admits(self) -> bool:
        """True when work may go to the server: at once when it is not paused, else after a
        probe (when one is due) finds it answering again."""
        if not self.paused:
            return True
        now = self.clock()
        if now < self._next_probe:
            return False
        refused = self.health.problem == REFUSED
        if self.probe(refused):
            log.info("%s answers again; resuming %s work, gently at first", self.title, self.title)
            self.answered()
            return True
        self._probes += 1
        delay = REFUSAL_PROBE_INTERVAL if refused else self.backoff.ceiling(self._probes)
        self._next_probe = now + delay
        return False

    def met(self, error: StashplexError, poll: bool = False) -> None:
        """The server failed a request; pause its work when the rules say so."""
        problem = problem_of(error)
        if problem is None:
            return
        was = self.health.problem
        now = self.clock()
        self.health = self.store.server_failed(self.server, problem, str(error), now, poll)
        if problem == REFUSED:
            if not self.paused:
                log.error("%s; no more %s work until it accepts them", error, self.title)
                self._pause(now, REFUSAL_PROBE_INTERVAL)
            return
        if problem != UNREACHABLE:
            return
        self.failures_in_row += 1
        if self.failures_in_row >= OUTAGE_THRESHOLD and not self.paused:
            log.warning(
                "%s does not answer (%d failures in a row): pausing %s work until it does",
                self.title,
                self.failures_in_row,
                self.title,
            )
            self._pause(now, self.backoff.ceiling(0))
        elif was != UNREACHABLE:
            log.warning("%s", error)

    def _pause(self, now: float, delay: float) -> None:
        self._probes = 0
        self._next_probe = now + delay
        self.store.set_server_paused(self.server, now, now)
        self.health = self.store.health(self.server)

    def answered(self) -> int:
        """The server answered: clear its trouble; when it had refused the credentials, queue
        again the jobs dead-lettered for that. Returns how many came back."""
        self.failures_in_row = 0
        if self.health.problem is None and not self.paused:
            return 0
        refused = self.health.problem == REFUSED
        self.store.server_answered(self.server, self.clock())
        self.health = self.store.health(self.server)
        if not refused:
            return 0
        ids = self.store.refused_letter_ids(self.server)
        count = self.store.retry_dead_letters(ids, self.clock()) if ids else 0
        log.info(
            "%s accepts the credentials again: %d job(s) dead-lettered for the refusal are "
            "queued again",
            self.title,
            count,
        )
        return count

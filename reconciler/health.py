"""Whether stashplex is healthy, in one line: pure logic over what the database holds.

The rule (`stashplex health`, `GET /healthz`, the systemd STATUS= line): healthy when the
last poll completed within three poll intervals and neither server's last answer was an
error. Times are shown as local dates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from reconciler.store import Health

STALE_POLLS = 3
TITLES = {"plex": "Plex", "stash": "Stash"}


@dataclass(frozen=True)
class Verdict:
    healthy: bool
    line: str


def local_time(stamp: float, now: float) -> str:
    """A stamp as a local date; the time alone when it is today."""
    when = time.localtime(stamp)
    if time.strftime("%Y-%m-%d", when) == time.strftime("%Y-%m-%d", time.localtime(now)):
        return time.strftime("%H:%M:%S", when)
    return time.strftime("%Y-%m-%d %H:%M:%S", when)


def trouble(health: Health, now: float) -> str:
    """`Plex: <what it said> (since 14:02:11, 38 polls)`, or `Plex: ok`."""
    title = TITLES.get(health.server, health.server)
    if health.problem is None:
        return f"{title}: ok"
    notes = [f"since {local_time(health.since, now)}"] if health.since else []
    if health.failed_polls:
        notes.append(f"{health.failed_polls} polls")
    if health.paused_since:
        notes.append(f"{title} work paused")
    return f"{title}: {health.message}" + (f" ({', '.join(notes)})" if notes else "")


def verdict(
    healths: list[Health], last_poll: float | None, poll_interval: float, now: float
) -> Verdict:
    for health in healths:
        if health.problem is not None:
            return Verdict(False, trouble(health, now))
    if last_poll is None:
        return Verdict(False, "never completed a poll")
    if now - last_poll > STALE_POLLS * poll_interval:
        return Verdict(
            False,
            f"the last poll completed at {local_time(last_poll, now)}, more than "
            f"{STALE_POLLS} poll intervals ({STALE_POLLS * poll_interval:g}s) ago",
        )
    return Verdict(True, f"healthy: last poll completed at {local_time(last_poll, now)}")

"""The health rule, as pure logic: which line a user reads, and when it is healthy."""

from __future__ import annotations

import logging
import time

from reconciler.daemon import SKIPPED_RUN_FILTER
from reconciler.health import local_time, trouble, verdict
from reconciler.store import Health

NOW = time.mktime((2026, 3, 4, 14, 30, 0, 0, 0, -1))
FINE = [Health("plex", last_ok=NOW), Health("stash", last_ok=NOW)]


def test_healthy_when_the_last_poll_is_recent_and_both_servers_answer():
    judged = verdict(FINE, NOW - 150, 60, NOW)
    assert judged.healthy and judged.line == "healthy: last poll completed at 14:27:30"


def test_a_poll_older_than_three_intervals_is_unhealthy():
    judged = verdict(FINE, NOW - 181, 60, NOW)
    assert not judged.healthy
    assert judged.line == ("the last poll completed at 14:26:59, more than 3 poll intervals "
                           "(180s) ago")


def test_never_polled_says_so():
    assert verdict(FINE, None, 60, NOW).line == "never completed a poll"


def test_a_server_error_names_the_server_what_it_said_and_since_when():
    refused = Health("plex", "refused", "Plex refused the token (401) while listing",
                     since=NOW - 1680, failures=40, failed_polls=38, paused_since=NOW - 1680)
    judged = verdict([refused, FINE[1]], NOW - 10, 60, NOW)
    assert not judged.healthy
    assert judged.line == ("Plex: Plex refused the token (401) while listing (since 14:02:00, "
                           "38 polls, Plex work paused)")


def test_dates_other_than_today_carry_the_day():
    assert local_time(NOW - 86400, NOW) == "2026-03-03 14:30:00"
    assert trouble(Health("stash"), NOW) == "Stash: ok"


def test_apschedulers_skipped_run_warning_is_not_logged(caplog):
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    scheduler_log.addFilter(SKIPPED_RUN_FILTER)
    try:
        with caplog.at_level(logging.INFO):
            scheduler_log.warning(
                'Execution of job "%s" skipped: maximum number of running instances reached '
                "(%d)", "Daemon.poll", 1)
            scheduler_log.warning("Run time of job %s was missed", "Daemon.poll")
    finally:
        scheduler_log.removeFilter(SKIPPED_RUN_FILTER)
    assert [record.getMessage() for record in caplog.records] == [
        "Run time of job Daemon.poll was missed"]

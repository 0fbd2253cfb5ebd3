"""The figures `stashplex status` and `stashplex health` show, read from the database alone."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

from reconciler.errors import PLEX, STASH
from reconciler.scenefilter import SKIPPED_BY_REQUIRE
from reconciler.store import Health, Store

LAST_POLL = "last_poll_at"
LAST_WRITE = "last_write_at"
ACTIVITY_OFF = "activity_off"
SERVERS = (PLEX, STASH)


def _float(value: str | None) -> float | None:
    return float(value) if value else None


def read_health(store: Store) -> tuple[list[Health], float | None]:
    """Each server's stored health, and when the last poll completed (None: never)."""
    return [store.health(server) for server in SERVERS], _float(store.setting(LAST_POLL))


def collect_status(store: Store, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    counts = store.counts(now)
    oldest = store.oldest_queued()
    healths, last_poll = read_health(store)
    plex = healths[0]
    return {
        "queue": asdict(counts) | {"total": counts.queued + counts.running},
        "dead_letters": counts.dead,
        "oldest_waiting": asdict(oldest) if oldest else None,
        "watermarks": store.watermarks(),
        "last_poll": last_poll,
        "last_write": _float(store.setting(LAST_WRITE)),
        "plex_paused_since": plex.paused_since,
        "skipped_by_require": int(store.setting(SKIPPED_BY_REQUIRE) or 0),
        "servers": {health.server: asdict(health) for health in healths},
        "carried_back": carried_back(store),
    }


def carried_back(store: Store) -> dict[str, Any]:
    """What came back from Plex to Stash: counts, the last carry, features Stash refused."""
    counts = store.activity_counts()
    return {
        "plays": counts.get("plays", 0),
        "resumes": counts.get("resumes", 0),
        "ratings": counts.get("ratings", 0),
        "links": counts.get("links", 0),
        "last": counts.get("last"),
        "turned_off": json.loads(store.setting(ACTIVITY_OFF) or "{}"),
    }

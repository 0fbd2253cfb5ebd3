"""The figures `stashplex status` shows, read from the database alone."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from reconciler.store import QUEUED, Job, Store, Watermark

LAST_POLL = "last_poll_at"
LAST_WRITE = "last_write_at"


def _float(value: str | None) -> float | None:
    return float(value) if value else None


def collect_status(store: Store, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    counts = store.counts(now)
    with store.reading():
        oldest = Job.select().where(Job.state == QUEUED).order_by(Job.created_at).first()
        marks = {row.name: row.value for row in Watermark.select()}
    return {
        "queue": asdict(counts) | {"total": counts.queued + counts.running},
        "dead_letters": counts.dead,
        "oldest_waiting": (
            {
                "scene_id": oldest.scene_id,
                "since": oldest.created_at,
                "attempts": oldest.attempts,
                "last_error": oldest.last_error,
            }
            if oldest
            else None
        ),
        "watermarks": marks,
        "last_poll": _float(store.setting(LAST_POLL)),
        "last_write": _float(store.setting(LAST_WRITE)),
        "plex_paused_since": _float(store.setting("plex_paused_since")),
    }

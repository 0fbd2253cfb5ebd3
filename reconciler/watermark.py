"""Stash watermarks: exact `updated_at` strings, compared the way Stash compares them.

Pure logic. Stash compares timestamps as strings in its own UTC offset, so a
watermark is never the daemon's clock: it is the newest string Stash returned, and
a poll asks again from a little before it (the overlap) in that same offset.
"""

from __future__ import annotations

import datetime as dt

# Re-read the last hour on every poll: when Stash's zone leaves daylight saving, local
# times repeat for an hour and a plain "newer than" would miss the edits made in it.
DEFAULT_OVERLAP = 3600.0


def parse_stamp(value: str) -> dt.datetime:
    """An RFC3339 string as Stash writes it (offset or Z) as an aware datetime."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def format_stamp(moment: dt.datetime) -> str:
    """RFC3339 with whole seconds, UTC written as Z, the way Stash (Go) writes it."""
    text = moment.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def shifted(value: str, seconds: float) -> str:
    """`value` moved by `seconds`, still written in its own UTC offset."""
    try:
        moment = parse_stamp(value)
    except ValueError:
        return value
    return format_stamp(moment + dt.timedelta(seconds=seconds))


def poll_from(watermark: str, overlap: float = DEFAULT_OVERLAP) -> str:
    """The lower bound of the next poll: the watermark less the overlap."""
    return shifted(watermark, -overlap)


def newest(current: str | None, values: list[str]) -> str | None:
    """The newest watermark by Stash's own (string) ordering."""
    candidates = [v for v in values if v] + ([current] if current else [])
    return max(candidates) if candidates else None

"""Stash watermarks: exact `updated_at` strings, compared the way Stash compares them.

Pure logic. Stash compares timestamps as strings in its own UTC offset, so a
watermark is never the daemon's clock: it is the newest string Stash returned, and
a poll asks again from a little before it (the overlap) in that same offset.
"""

from __future__ import annotations

import datetime as dt

# Every poll re-reads the last seconds before the watermark: a scene can change again within
# the second in which it was read (the diff's content hash tells the versions apart).
SHORT_OVERLAP = 2.0
# When Stash's zone leaves daylight saving, local times repeat for an hour and a plain "newer
# than" misses the edits made in it. Zones fall back in the small hours (00:00-04:00 local),
# so a watermark whose local time lies near them re-reads a whole hour.
FALL_BACK_OVERLAP = 3600.0 + SHORT_OVERLAP
FALL_BACK_HOURS = {23, 0, 1, 2, 3}


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


def overlap_for(watermark: str) -> float:
    """How far before the watermark the next poll starts."""
    try:
        moment = parse_stamp(watermark)
    except ValueError:
        return FALL_BACK_OVERLAP
    if moment.utcoffset() == dt.timedelta(0) or moment.hour not in FALL_BACK_HOURS:
        return SHORT_OVERLAP
    return FALL_BACK_OVERLAP


def poll_from(watermark: str) -> str:
    """The lower bound of the next poll: the watermark less its overlap."""
    return shifted(watermark, -overlap_for(watermark))


def _moment(value: str) -> tuple[float, str]:
    try:
        return parse_stamp(value).timestamp(), value
    except ValueError:
        return float("-inf"), value


def newest(current: str | None, values: list[str]) -> str | None:
    """The newest stamp in time (the greatest text among equal moments).

    Within one UTC offset that is the greatest text, as Stash orders them. After Stash
    changed its offset it is a stamp in the new offset, the one Stash writes from now on:
    a text maximum would keep an old-offset stamp, and every later edit west of it would
    sort below the watermark."""
    candidates = [v for v in values if v] + ([current] if current else [])
    return max(candidates, key=_moment) if candidates else None


# How far below the watermark a Stash whose UTC offset moved west can write: offsets run
# from +14:00 to -12:00.
WEST_SPAN = 26 * 3600.0


def band_below(watermark: str) -> tuple[str, str]:
    """The stamps from a day below the watermark to the second before it (both included):
    where a Stash whose UTC offset moved west writes its next stamps, as text."""
    if not watermark:
        return "", ""
    return shifted(watermark, -WEST_SPAN), shifted(watermark, -1.0)


def west_shift(watermark: str, stamps: list[str]) -> float:
    """How many seconds west of the watermark's UTC offset the westernmost stamp written after
    it is (0 when none is). Stash writes every stamp in its zone of the moment, so a newer
    stamp in an offset west of the watermark's means it restarted in another zone (or left
    summer time), and its new stamps sort below the watermark as text."""
    try:
        mark = parse_stamp(watermark)
    except ValueError:
        return 0.0
    before = (mark.utcoffset() or dt.timedelta(0)).total_seconds()
    shift = 0.0
    for stamp in stamps:
        try:
            moment = parse_stamp(stamp)
        except ValueError:
            continue
        if moment > mark:
            shift = max(shift, before - (moment.utcoffset() or dt.timedelta(0)).total_seconds())
    return shift

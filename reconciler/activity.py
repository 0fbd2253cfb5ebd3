"""What of a Plex item's activity is new for Stash: pure rules, no I/O.

The activity read is the token's account's (`viewCount`, `lastViewedAt`, `viewOffset`,
`userRating`, `lastRatedAt` on the listed items). Per scene the database keeps what was
carried already (`store.Carried`); only what is newer becomes a Stash-bound job:

- plays: the count Plex adds since the last carry, each at its time (one new play at
  `lastViewedAt`; several at the times of the server's history when it shows them, else at
  `lastViewedAt`). A count that drops (marked unwatched in Plex) deletes nothing in Stash:
  the plays counted after it are new ones.
- resume: `viewOffset` (ms) becomes `resume_time` (s) when it moved.
- ratings: the newer side wins. Plex changed when its `lastRatedAt` moved since the last
  carry; Stash, which stamps no rating of its own, when its rating differs from the one both
  sides last agreed on. When both changed, the later change wins (Plex's `lastRatedAt`
  against Stash's `updated_at`; Stash wins a tie). stashplex's own writes make both sides
  agree, so they never count as a change of either side.
- link: the Plex item's web address added to the scene's urls, once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from reconciler.config import PlexToStashConfig
from reconciler.models import PlexItem
from reconciler.store import Carried

FEATURES = ("plays", "resume", "ratings", "link")
COUNTED = {"plays": "plays", "resume": "resumes", "ratings": "ratings", "link": "links"}


@dataclass(frozen=True, slots=True)
class Seen:
    """What Plex shows of an item's activity for the token's account (one per item kept while
    plays or resume points are carried back: slots keep that small)."""

    rating_key: int
    view_count: int = 0
    last_viewed_at: int = 0
    view_offset: int = 0
    rating: int | None = None  # as Stash's rating100
    rated_at: int = 0

    @classmethod
    def of(cls, item: PlexItem) -> Seen:
        return cls(
            item.rating_key,
            item.view_count,
            item.last_viewed_at,
            item.view_offset,
            rating100(item.user_rating),
            item.last_rated_at,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Seen:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def rating100(user_rating: float | None) -> int | None:
    """Plex's 0-10 stars as Stash's 1-100; no stars (or a cleared rating) is None."""
    if user_rating is None or user_rating <= 0:
        return None
    return max(1, min(100, round(user_rating * 10)))


def epoch(stamp: str | None) -> int:
    """A Stash `Time` (RFC3339 with the host's offset) as Unix seconds; 0 when absent."""
    if not stamp:
        return 0
    try:
        parsed = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return 0
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp())


def rfc3339(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_play_count(seen: Seen, carried: Carried) -> int:
    """Plays Plex counted since the last carry. After a drop (marked unwatched, which moves
    no stamp, so no poll lists it) every play counted now came after the drop: a count not
    above the carried one, with a newer finished view (`lastViewedAt` moved, no resume
    point), was reset and counted again."""
    if seen.view_count > carried.view_count:
        return seen.view_count - carried.view_count
    if seen.view_count < carried.view_count or (
        seen.last_viewed_at > carried.last_viewed_at and seen.view_offset == 0
    ):
        return seen.view_count if seen.last_viewed_at > carried.last_viewed_at else 0
    return 0


def resume_moved(seen: Seen, carried: Carried) -> bool:
    """Whether Plex's resume point moved since the last carry. One sent by a carry that did
    not finish may be Stash's now, whatever was recorded: then Stash's own value decides."""
    journal = Journal.of(carried)
    if journal is not None and journal.resume is not None:
        return True
    if carried.view_offset is None:
        return seen.view_offset > 0
    return seen.view_offset != carried.view_offset


def plex_rating_changed(seen: Seen, carried: Carried) -> bool:
    """Stars given in Plex since the last carry (Plex stamps each rating with `lastRatedAt`,
    even the same stars again)."""
    return seen.rating is not None and seen.rated_at > carried.rated_at


def news(seen: Seen, carried: Carried | None, wanted: PlexToStashConfig) -> list[str]:
    """Which features have something new for Stash (or a Plex count to note)."""
    carried = carried or Carried(scene_id="")
    found = []
    if wanted.plays and (new_play_count(seen, carried) or seen.view_count != carried.view_count):
        found.append("plays")
    if wanted.resume and resume_moved(seen, carried):
        found.append("resume")
    if wanted.ratings and plex_rating_changed(seen, carried):
        found.append("ratings")
    if wanted.link and carried.link is None:
        found.append("link")
    return found


def plex_rating_wins(
    seen: Seen, carried: Carried | None, stash_rating: int | None, stash_updated_at: str
) -> bool:
    """Whether Plex's rating is the newer one: then Stash gets it, and Plex keeps it."""
    carried = carried or Carried(scene_id="")
    if seen.rating is None or seen.rating == stash_rating:
        return False
    if seen.rating == carried.rating and epoch(stash_updated_at) <= epoch(carried.stash_updated_at):
        return True  # Stash took Plex's rating after this copy of the scene was read
    if not plex_rating_changed(seen, carried):
        return False
    stash_changed = carried.rating is None or stash_rating != carried.rating
    return not stash_changed or seen.rated_at > epoch(stash_updated_at)


def play_times(
    count: int, seen: Seen, carried: Carried, history: list[int] | None, now: int
) -> list[int]:
    """The times of `count` new plays: the newest the history shows after the last carried
    view, the rest (or all, without a history) at `lastViewedAt`."""
    if count <= 0:
        return []
    last = seen.last_viewed_at or now
    times = sorted(history or [])[-count:] if count > 1 else []
    return sorted([*times, *[last] * (count - len(times))])


@dataclass
class Journal:
    """What a carry is sending to Stash (kept before asking): after a crash, the plays Stash
    holds beyond `before` were added by the attempt that died, and `resume` (ms) may be
    Stash's resume point."""

    times: list[int] = field(default_factory=list)
    before: dict[str, int] = field(default_factory=dict)
    view_count: int = 0
    last_viewed_at: int = 0
    asked_at: float = 0.0  # the last sign of the request: when it was sent, or failed
    resume: int | None = None

    @classmethod
    def of(cls, carried: Carried) -> Journal | None:
        """The journal a carry that did not finish left, if any."""
        if not carried.pending:
            return None
        data = json.loads(carried.pending)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def missing(self, history: Iterable[int]) -> list[int]:
        """The journal's plays that Stash does not hold yet."""
        held = Counter(history)
        wanted = Counter(self.times)
        out = []
        for stamp, count in sorted(wanted.items()):
            short = self.before.get(str(stamp), 0) + count - held[stamp]
            out.extend([stamp] * max(0, min(short, count)))
        return out

    def settles_in(self, now: float, timeout: float) -> float:
        """Seconds until the request that asked for these plays is surely over. Stash goes
        on with a request whose asker timed out or was killed, and a history read before it
        is done lacks the plays: sending them again then would add them twice."""
        return min(timeout, max(0.0, self.asked_at + timeout - now))

    def extended(self, times: list[int], history: Iterable[int], seen: Seen) -> Journal:
        held = Counter(history)
        before = dict(self.before)
        for stamp in times:
            before.setdefault(str(stamp), held[stamp])
        return replace(
            self,
            times=sorted([*self.times, *times]),
            before=before,
            view_count=seen.view_count,
            last_viewed_at=seen.last_viewed_at,
        )


def web_link(base_url: str, machine_id: str, rating_key: int) -> str:
    """The item's page in Plex Web on this server; it carries no token."""
    key = f"%2Flibrary%2Fmetadata%2F{rating_key}"
    return f"{base_url}/web/index.html#!/server/{machine_id}/details?key={key}"

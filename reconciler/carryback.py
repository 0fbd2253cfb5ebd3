"""Carrying Plex activity to Stash: queueing what is new, and the Stash-bound jobs' work.

Each job is keyed `activity:<scene id>` in the one queue (see `store.activity_key`), so it
never meets the scene's Plex-bound job; it holds what Plex showed (`activity.Seen`), and
the newest observation replaces an older one still queued. Its work reads the scene's
activity from Stash, sends only what is new (`activity.py` decides), and records what was
carried with the counts in one transaction. Plays are journalled in the database before
Stash is asked to add them, so a run killed in between adds them no second time (those
missing are sent again only once the request that carried them is surely over); every
other write sets a value and may be repeated. Failures follow the queue's retry classes
and outage rules (`Worker.fail_job`); a Stash that lacks or refuses a mutation turns that
feature off for the run, with one warning, instead of failing every job.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from reconciler.activity import (
    COUNTED,
    Journal,
    Seen,
    epoch,
    new_play_count,
    news,
    play_times,
    plex_rating_wins,
    resume_moved,
    rfc3339,
    web_link,
)
from reconciler.config import Config, PlexToStashConfig
from reconciler.errors import (
    PermanentError,
    PlaysInDoubt,
    StashActivityRefused,
    StashplexError,
    StashUnreachable,
    UnexpectedError,
)
from reconciler.models import PlexItem
from reconciler.plex import PlexClient
from reconciler.stash import StashClient
from reconciler.status import ACTIVITY_OFF
from reconciler.store import (
    Carried,
    QueuedJob,
    Store,
    StoreError,
    SyncedItem,
    activity_key,
)

log = logging.getLogger(__name__)


@dataclass
class Carry:
    """One job's work: what it sent, what to remember, what to count."""

    values: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    sent: list[str] = field(default_factory=list)
    journal: Journal | None = None  # what is being sent, as the database keeps it


# records one failed job: (job, error, wait) -> "retried", "dead" or "waiting"
FailJob = Callable[[QueuedJob, StashplexError, bool], str]


class ActivityCarrier:
    """The Stash-bound direction: Plex activity into Stash."""

    def __init__(
        self,
        config: Config,
        store: Store,
        stash: StashClient,
        plex: PlexClient,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.store = store
        self.stash = stash
        self.plex = plex
        self.clock = clock
        self.refused: dict[str, str] = {}
        if not store.read_only and store.setting(ACTIVITY_OFF):
            store.set_setting(ACTIVITY_OFF, None)  # a new run asks Stash again

    @property
    def wanted(self) -> PlexToStashConfig:
        """The features configured, less those Stash refused in this run."""
        chosen = self.config.plex_to_stash
        return PlexToStashConfig(
            **{name: getattr(chosen, name) and name not in self.refused for name in COUNTED}
        )

    # -- queueing ------------------------------------------------------------------

    def queue_news(
        self, items: Iterable[PlexItem | Seen], synced: dict[int, list[SyncedItem]]
    ) -> int:
        """Queue a job for each synced scene whose Plex item shows new activity."""
        wanted = self.wanted
        if not wanted.enabled:
            return 0
        seen = {
            state.scene_id: item if isinstance(item, Seen) else Seen.of(item)
            for item in items
            for state in synced.get(item.rating_key, ())
        }
        carried = self.store.carried(seen)
        jobs = [
            (activity_key(scene_id), {"seen": one.to_dict()})
            for scene_id, one in sorted(seen.items())
            if news(one, carried.get(scene_id), wanted)
        ]
        return self.store.enqueue_many(jobs, self.clock()) if jobs else 0

    # -- the forward direction's share ---------------------------------------------

    def holds_rating(
        self, scene_id: str, item: PlexItem, rating: int | None, updated_at: str
    ) -> bool:
        """Whether a Plex-bound write must leave the item's rating alone: it was given in Plex
        after Stash's, and goes the other way."""
        if not self.wanted.ratings:
            return False
        carried = self.store.carried([scene_id]).get(scene_id)
        return plex_rating_wins(Seen.of(item), carried, rating, updated_at)

    # -- the jobs ------------------------------------------------------------------

    def process(self, jobs: list[QueuedJob], fail: FailJob, stash_admitted: bool) -> Counter:
        """Carry each job's activity; returns how many jobs ended which way."""
        ended: Counter = Counter()
        if not stash_admitted:
            waiting = StashUnreachable("Stash is paused: waiting for it to answer again")
            for job in jobs:
                ended[fail(job, waiting, True)] += 1
            return ended
        planned: list[tuple[QueuedJob, Seen]] = []
        for job in jobs:
            try:
                planned.append((job, Seen.from_dict(job.data["seen"])))
            except (KeyError, TypeError, ValueError) as exc:
                bad = PermanentError(f"activity job {job.scene_id}: bad payload ({exc})")
                ended[fail(job, bad, False)] += 1
        scene_ids = [_scene_of(job) for job, _ in planned]
        try:
            rows = self.stash.scene_activity(scene_ids) if scene_ids else {}
        except StashplexError as exc:
            for index, (job, _) in enumerate(planned):
                wait = exc.waits or (exc.refused and index > 0)
                ended[fail(job, exc, wait)] += 1
            return ended
        carried = self.store.carried(scene_ids)
        done: list[tuple[QueuedJob, dict[str, Any], dict[str, int]]] = []
        stopped: StashplexError | None = None
        for job, seen in planned:
            scene_id = _scene_of(job)
            if stopped is not None:
                ended[fail(job, stopped, True)] += 1
                continue
            row = rows.get(scene_id)
            if row is None:  # the scene is gone from Stash: nothing to carry it to
                done.append((job, {"rating_key": seen.rating_key}, {}))
                continue
            try:
                carry = self._carry_refusing(scene_id, seen, carried.get(scene_id), row)
            except StoreError:
                raise  # the database itself failed: no outcome can be recorded now
            except StashplexError as exc:
                ended[fail(job, exc, False)] += 1
                if exc.waits or exc.refused:
                    stopped = exc
                continue
            except Exception as exc:
                # a fault of stashplex itself: retried with backoff like any other job
                log.exception("unexpected failure carrying activity to scene %s", scene_id)
                ended[fail(job, UnexpectedError.of(exc), False)] += 1
                continue
            done.append((job, carry.values, carry.counts))
            if carry.sent:
                log.info(
                    "scene %s: carried from Plex to Stash: %s", scene_id, ", ".join(carry.sent)
                )
        if done:
            self.store.complete_activity(done, self.clock())
            ended["done"] += len(done)
        return ended

    def _carry_refusing(
        self, scene_id: str, seen: Seen, carried: Carried | None, row: dict[str, Any]
    ) -> Carry:
        """`_carry`, with a feature Stash refuses turned off (once, with a warning) and the
        rest carried without it."""
        while True:
            try:
                return self._carry(scene_id, seen, carried or Carried(scene_id), row, self.wanted)
            except StashActivityRefused as exc:
                self.refused[exc.feature] = str(exc)
                self.store.set_setting(ACTIVITY_OFF, json.dumps(self.refused, sort_keys=True))
                log.warning("plex_to_stash.%s turned off until restarted: %s", exc.feature, exc)

    def _carry(
        self,
        scene_id: str,
        seen: Seen,
        carried: Carried,
        row: dict[str, Any],
        wanted: PlexToStashConfig,
    ) -> Carry:
        carry = Carry(values={"rating_key": seen.rating_key}, journal=Journal.of(carried))
        if wanted.plays:
            self._plays(scene_id, seen, carried, row, carry)
        if wanted.resume and resume_moved(seen, carried):
            seconds = seen.view_offset / 1000
            if abs(float(row.get("resume_time") or 0) - seconds) >= 0.001:
                # journaled first: Stash may take it and its answer never come
                carry.journal = replace(carry.journal or Journal(), resume=seen.view_offset)
                self._note(scene_id, carry.journal)
                self.stash.save_resume(scene_id, seconds)
                carry.counts["resumes"] = 1
                carry.sent.append(f"resume point {seconds:.0f}s")
            carry.values["view_offset"] = seen.view_offset
        if wanted.ratings:
            self._rating(scene_id, seen, carried, row, carry)
        if wanted.link and carried.link is None:
            url = web_link(self.config.plex.url, self.plex.machine_id, seen.rating_key)
            urls = list(row.get("urls") or [])
            if url not in urls:
                self.stash.update_scene(scene_id, "link", urls=[*urls, url])
                carry.counts["links"] = 1
                carry.sent.append("link to Plex")
            carry.values["link"] = url
        return carry

    def _plays(
        self, scene_id: str, seen: Seen, carried: Carried, row: dict[str, Any], carry: Carry
    ) -> None:
        history = [epoch(stamp) for stamp in row.get("play_history") or []]
        journal = carry.journal
        start, counted = carried, 0
        if journal is not None and journal.times:
            # an attempt that died may have added some of these already
            missing = journal.missing(history)
            if missing:
                wait = journal.settles_in(self.clock(), self.config.stash.timeout)
                if wait > 0:
                    raise PlaysInDoubt(
                        f"scene {scene_id}: {len(missing)} play(s) sent by a request that did "
                        f"not finish are not in Stash's history yet; sent again in {wait:.1f}s, "
                        "once Stash is surely done with that request",
                        wait,
                    )
                self._add_plays(scene_id, journal, missing)
                history.extend(missing)
            start = replace(
                carried, view_count=journal.view_count, last_viewed_at=journal.last_viewed_at
            )
            counted = len(journal.times)
        count = new_play_count(seen, start)
        if count:
            shown = None
            if count > 1:
                shown = self.plex.play_times(
                    seen.rating_key, start.last_viewed_at, seen.last_viewed_at
                )
            times = play_times(count, seen, start, shown, int(self.clock()))
            journal = carry.journal = (journal or Journal()).extended(times, history, seen)
            self._add_plays(scene_id, journal, times)
            counted += count
            carry.sent.append(f"{count} play{'s' if count > 1 else ''}")
        carry.values["view_count"] = seen.view_count
        carry.values["last_viewed_at"] = max(seen.last_viewed_at, start.last_viewed_at)
        carry.counts["plays"] = counted

    def _add_plays(self, scene_id: str, journal: Journal, times: list[int]) -> None:
        """Journal the plays, then ask Stash to add them. A request that fails may still be
        carried out: the plays stay in doubt for a while from then on too."""
        self._note(scene_id, journal)
        try:
            self.stash.add_plays(scene_id, [rfc3339(t) for t in times])
        except StashplexError:
            self._note(scene_id, journal)
            raise

    def _note(self, scene_id: str, journal: Journal) -> None:
        now = self.clock()
        self.store.note_pending(scene_id, asdict(replace(journal, asked_at=now)), now)

    def _rating(
        self, scene_id: str, seen: Seen, carried: Carried, row: dict[str, Any], carry: Carry
    ) -> None:
        stash_rating = row.get("rating100")
        stamp = row.get("updated_at") or ""
        if seen.rating is not None and seen.rating == stash_rating:
            carry.values.update(rating=stash_rating, rated_at=seen.rated_at, stash_updated_at=stamp)
        elif plex_rating_wins(seen, carried, stash_rating, stamp):
            stamp = self.stash.update_scene(scene_id, "ratings", rating100=seen.rating)
            carry.values.update(rating=seen.rating, rated_at=seen.rated_at, stash_updated_at=stamp)
            carry.counts["ratings"] = 1
            carry.sent.append(f"rating {seen.rating}")
        else:
            # Stash's rating is the newer one: the Plex-bound job writes it
            carry.values["rated_at"] = max(seen.rated_at, carried.rated_at)

    # -- dry run -------------------------------------------------------------------

    def preview(
        self, items: Iterable[Seen], synced: dict[int, list[SyncedItem]]
    ) -> dict[str, list[str]]:
        """What would be carried, per scene id, without writing to Stash."""
        wanted = self.wanted
        seen = {state.scene_id: item for item in items for state in synced.get(item.rating_key, ())}
        carried = self.store.carried(seen)
        chosen = {
            scene_id: one
            for scene_id, one in seen.items()
            if news(one, carried.get(scene_id), wanted)
        }
        rows = self.stash.scene_activity(sorted(chosen)) if chosen else {}
        found: dict[str, list[str]] = {}
        for scene_id, one in sorted(chosen.items()):
            row = rows.get(scene_id)
            if row is None:
                continue
            what = _intended(one, carried.get(scene_id) or Carried(scene_id), row, wanted)
            if what:
                found[scene_id] = what
        return found


def _intended(
    seen: Seen, carried: Carried, row: dict[str, Any], wanted: PlexToStashConfig
) -> list[str]:
    what = []
    count = new_play_count(seen, carried)
    if wanted.plays and count:
        what.append(f"{count} play{'s' if count > 1 else ''}")
    if wanted.resume and resume_moved(seen, carried):
        seconds = seen.view_offset / 1000
        if abs(float(row.get("resume_time") or 0) - seconds) >= 0.001:
            what.append(f"resume point {seconds:.0f}s")
    if wanted.ratings and plex_rating_wins(
        seen, carried, row.get("rating100"), row.get("updated_at") or ""
    ):
        what.append(f"rating {seen.rating}")
    if wanted.link and carried.link is None:
        what.append("link to Plex")
    return what


def _scene_of(job: QueuedJob) -> str:
    return job.scene_id.split(":", 1)[1]

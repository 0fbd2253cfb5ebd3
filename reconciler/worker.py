"""Draining the queue: match, read, diff and write, one batch of claimed jobs at a time.

Every job ends its turn completed (written, or found in sync), rescheduled or
dead-lettered, and always leaves the pending set. When Plex cannot be reached at all,
jobs wait without spending a retry and Plex work pauses until `/identity` answers
again; then batches grow from one job.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.catalog import PlexCatalog
from reconciler.config import Config
from reconciler.diff import Edit, content_hash, diff
from reconciler.errors import (
    InvalidSceneData,
    PermanentError,
    PlexNotFound,
    PlexUnreachable,
    StashplexError,
    TransientError,
)
from reconciler.matching import match
from reconciler.models import PlexItem, Scene
from reconciler.pathmap import PathMap
from reconciler.plex import fingerprint
from reconciler.progress import ProgressFn, quiet
from reconciler.readback import read_back, remember
from reconciler.retry import Backoff, RetryRules
from reconciler.status import LAST_WRITE
from reconciler.store import Job, Store

log = logging.getLogger(__name__)

OUTAGE_THRESHOLD = 5
PAUSED_SINCE = "plex_paused_since"
NEXT_PROBE_AT = "plex_next_probe_at"
CLAIM_BATCH = 100

ImageFetcher = Callable[[str], bytes]


@dataclass
class DrainResult:
    applied: int = 0
    in_sync: int = 0
    retried: int = 0
    dead: int = 0
    waiting: int = 0
    paused: bool = False

    def add(self, other: DrainResult) -> None:
        self.applied += other.applied
        self.in_sync += other.in_sync
        self.retried += other.retried
        self.dead += other.dead
        self.waiting += other.waiting
        self.paused = other.paused


@dataclass
class _Planned:
    job: Job
    scene: Scene
    item: PlexItem | None = None
    edit: Edit | None = None
    poster_hash: str | None = None


def _about(job: Job, error: StashplexError) -> str:
    """The error's message, naming the scene when the message does not already."""
    text = str(error)
    return text if text.startswith("scene ") else f"scene {job.scene_id}: {text}"


class Worker:
    """Applies queued jobs to Plex."""

    def __init__(
        self,
        config: Config,
        store: Store,
        catalog: PlexCatalog,
        fetch_image: ImageFetcher,
        rules: RetryRules | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store
        self.catalog = catalog
        self.plex = catalog.plex
        self.fetch_image = fetch_image
        self.rules = rules or RetryRules(config.retry)
        self.path_map = PathMap((m.stash, m.plex) for m in config.path_map)
        self.clock = clock
        self.connection_failures = 0
        self._probe_backoff = Backoff(0, config.retry.transient.base, config.retry.transient.cap)
        self._probes = 0
        self.batch_size = CLAIM_BATCH

    # -- outage handling -----------------------------------------------------

    @property
    def paused(self) -> bool:
        return self.store.setting(PAUSED_SINCE) is not None

    def _pause(self) -> None:
        now = self.clock()
        log.warning(
            "Plex at %s is unreachable (%d connection failures in a row); "
            "pausing Plex work until /identity answers",
            self.config.plex.url,
            self.connection_failures,
        )
        self._probes = 0
        self.store.set_setting(PAUSED_SINCE, repr(now))
        self.store.set_setting(NEXT_PROBE_AT, repr(now + self._probe_backoff.ceiling(0)))

    def _probe(self) -> bool:
        """While paused: ask `/identity` when the backoff allows; resume when it answers."""
        now = self.clock()
        due = float(self.store.setting(NEXT_PROBE_AT) or 0)
        if now < due:
            return False
        if self.plex.identity():
            log.info("Plex answers again; resuming Plex work, gently at first")
            self.batch_size = 1
            self.store.set_setting(PAUSED_SINCE, None)
            self.store.set_setting(NEXT_PROBE_AT, None)
            self.connection_failures = 0
            return True
        self._probes += 1
        delay = self._probe_backoff.ceiling(self._probes)
        self.store.set_setting(NEXT_PROBE_AT, repr(now + delay))
        return False

    # -- draining ------------------------------------------------------------

    def drain(
        self,
        max_batches: int | None = None,
        progress: ProgressFn = quiet,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> DrainResult:
        """Work through the jobs due when it starts, each once; stop early if Plex goes away."""
        total = DrainResult()
        batches = 0
        started = self.clock()
        due = self.store.due_count(started)
        done = 0
        while (max_batches is None or batches < max_batches) and not should_stop():
            if self.paused and not self._probe():
                total.paused = True
                break
            jobs = self.store.claim(self.batch_size, started)
            if not jobs:
                break
            batches += 1
            result = self.process(jobs)
            total.add(result)
            if not result.paused:
                # after an outage, batches grow 1, 2, 4... so a waking Plex is not flooded
                self.batch_size = min(self.batch_size * 2, CLAIM_BATCH)
            done += len(jobs)
            progress("drain", done, max(due, done))
            if result.paused:
                break
        if total.applied:
            self.store.set_setting(LAST_WRITE, repr(self.clock()))
        return total

    def preview(self, scenes: list[Scene]) -> list[tuple[Scene, int | None, Edit | StashplexError]]:
        """What the worker would do for each scene, reading only: (scene, ratingKey, outcome)."""
        self.catalog.refresh(max_age=float("inf"))
        states = self.store.scene_states(scene.id for scene in scenes)
        outcome: list[tuple[Scene, int | None, Edit | StashplexError]] = []
        matched: list[tuple[Scene, int]] = []
        for scene in scenes:
            try:
                rating_key, _ = match(
                    scene, self.catalog.index, self.path_map, self.config.sync.strict_matching
                )
                matched.append((scene, rating_key))
            except StashplexError as exc:
                outcome.append((scene, None, exc))
        for start in range(0, len(matched), CLAIM_BATCH):
            chunk = matched[start : start + CLAIM_BATCH]
            items = self.plex.fetch_items([rating_key for _, rating_key in chunk])
            for scene, rating_key in chunk:
                item = items.get(rating_key)
                if item is None:
                    outcome.append((scene, rating_key, PlexNotFound(f"{scene.label}: item gone")))
                    continue
                state = states.get(scene.id)
                poster = state.poster_source if state and state.rating_key == rating_key else None
                try:
                    edit = diff(
                        scene, item, self.config.sync, poster, self.store.read_back(scene.id)
                    )
                except StashplexError as exc:
                    outcome.append((scene, rating_key, exc))
                    continue
                outcome.append((scene, rating_key, edit))
        return outcome

    def process(self, jobs: list[Job]) -> DrainResult:
        """One claimed batch: every job leaves the pending set whatever happens."""
        result = DrainResult()
        finished: list[tuple[_Planned, dict[str, Any], bool]] = []
        try:
            self._process(jobs, result, finished)
        except StashplexError:
            raise
        except Exception as exc:
            # a fault of stashplex itself must not park the batch at the head of the queue
            log.exception("unexpected failure while processing a batch of %d jobs", len(jobs))
            done = {entry.job.id for entry, _, _ in finished}
            error = TransientError(f"unexpected {type(exc).__name__}: {exc}")
            for job in jobs:
                if job.id not in done:
                    self._fail(job, error, result)
        finally:
            try:
                self._record(finished, result)
            finally:
                self.store.unmark_scene_pending(*(job.scene_id for job in jobs))
        return result

    def _process(self, jobs: list[Job], result: DrainResult, finished: list) -> None:
        planned: list[_Planned] = []
        for job in jobs:
            try:
                scene = Scene.from_dict(job.data["scene"])
            except (KeyError, TypeError, ValueError) as exc:
                self._fail(
                    job,
                    PermanentError(f"job for scene {job.scene_id}: bad payload ({exc})"),
                    result,
                )
                continue
            planned.append(_Planned(job, scene))
        if not planned:
            return
        try:
            if not self.catalog.built:
                self.catalog.build()
            matched, failed = self._match(planned)
            if any(isinstance(error, PlexNotFound) for _, error in failed):
                # Plex may have scanned the file since the index was read: ask for what changed
                self.catalog.refresh(max_age=self.config.schedule.process_interval)
                found, failed = self._match([entry for entry, _ in failed])
                matched.extend(found)
        except StashplexError as exc:
            self._fail_all(planned, exc, result)
            return
        for entry, error in failed:
            self._fail(entry.job, error, result)
        if not matched:
            return
        try:
            items = self.plex.fetch_items([entry.item.rating_key for entry in matched])
        except StashplexError as exc:
            self._fail_all(matched, exc, result)
            return
        self.connection_failures = 0
        states = self.store.scene_states(entry.job.scene_id for entry in matched)
        written: list[_Planned] = []
        for index, entry in enumerate(matched):
            item = items.get(entry.item.rating_key)
            if item is None:
                self.catalog.forget(entry.item.rating_key)
                self._fail(
                    entry.job,
                    PlexNotFound(
                        f"{entry.scene.label}: Plex item {entry.item.rating_key} is gone "
                        "(file moved or removed?)"
                    ),
                    result,
                )
                continue
            entry.item = item
            state = states.get(entry.job.scene_id)
            try:
                changed = self._apply(entry, state, result)
            except PlexUnreachable as exc:
                self._fail_all(matched[index:], exc, result)
                break
            except StashplexError as exc:
                self._fail(entry.job, exc, result)
                continue
            except Exception as exc:
                log.exception("unexpected failure on %s", entry.scene.label)
                self._fail(
                    entry.job,
                    PermanentError(f"{entry.scene.label}: unexpected {type(exc).__name__}: {exc}"),
                    result,
                )
                continue
            if changed:
                written.append(entry)
            else:
                self._done(entry, entry.item, finished, changed=False)
        if written:
            self._finish_written(written, finished)

    def _match(
        self, entries: list[_Planned]
    ) -> tuple[list[_Planned], list[tuple[_Planned, StashplexError]]]:
        """Each entry's Plex item from the index, or the error saying why there is none."""
        matched: list[_Planned] = []
        failed: list[tuple[_Planned, StashplexError]] = []
        for entry in entries:
            try:
                rating_key, _ = match(
                    entry.scene, self.catalog.index, self.path_map, self.config.sync.strict_matching
                )
            except StashplexError as exc:
                failed.append((entry, exc))
                continue
            entry.item = PlexItem(rating_key=rating_key, section_id=0)
            matched.append(entry)
        return matched, failed

    def _apply(self, entry: _Planned, state, result: DrainResult) -> bool:
        """Write what differs; True when something was sent to Plex."""
        # what was uploaded is known per item: a moved file's new item needs the poster again
        same_item = state is not None and state.rating_key == entry.item.rating_key
        edit = diff(
            entry.scene,
            entry.item,
            self.config.sync,
            state.poster_source if same_item else None,
            self.store.read_back(entry.job.scene_id),
        )
        entry.edit = edit
        wrote = False
        if edit.poster is not None:
            image = self.fetch_image(edit.poster)
            entry.poster_hash = hashlib.sha1(image).hexdigest()
            if not same_item or state.poster_hash != entry.poster_hash:
                # only an item stashplex uploaded to before can hold these bytes already
                shown = self.plex.upload_poster(
                    entry.item.rating_key,
                    image,
                    entry.scene.label,
                    may_hold=same_item and state.poster_hash is not None,
                )
                wrote = True
                if shown is not None and "thumb" not in entry.item.locked:
                    edit.lock_poster = True
        if edit.changes or edit.lock_poster:
            edit.shortened = self.plex.write(entry.item, edit, entry.scene.label).shortened
            wrote = True
        return wrote

    def _finish_written(self, written: list[_Planned], finished: list) -> None:
        """Re-read written items in one batch: our own writes must not look like outside edits."""
        try:
            fresh = self.plex.fetch_items([entry.item.rating_key for entry in written])
        except StashplexError:
            fresh = {}
        for entry in written:
            self._done(entry, fresh.get(entry.item.rating_key), finished, changed=True)

    def _done(self, entry: _Planned, after: PlexItem | None, finished: list, changed: bool) -> None:
        """A job done; `after` is the item as Plex has it now (None if unreadable)."""
        if after is not None:
            self.catalog.note(after)
            if changed and entry.edit is not None:
                # where Plex shows a written field otherwise than sent: remember, say so once
                found = read_back(entry.edit, after)
                known = self.store.read_back(entry.job.scene_id) if found else {}
                memory, forget, news = remember(found, known)
                for found in news:
                    log.info(
                        "%s: Plex shows %s as %r after stashplex sent %r; taken as in sync "
                        "until Stash changes it",
                        entry.scene.label,
                        found.field,
                        found.shown,
                        found.sent,
                    )
                if memory or forget:
                    self.store.remember_read_back(entry.job.scene_id, memory, forget)
        values = {
            "stash_updated_at": entry.scene.updated_at,
            "rating_key": entry.item.rating_key,
            "plex_updated_at": after.updated_at if after else None,
            "plex_fingerprint": fingerprint(after) if after else None,
            "content_hash": content_hash(entry.scene, self.config.sync),
            "synced_at": self.clock(),
            "failed_updated_at": None,
        }
        if entry.poster_hash is not None:
            values["poster_source"] = entry.scene.screenshot
            values["poster_hash"] = entry.poster_hash
        finished.append((entry, values, changed))

    def _record(self, finished: list[tuple[_Planned, dict[str, Any], bool]], result) -> None:
        """Commit a batch's finished jobs at once: one transaction, not three per job."""
        if not finished:
            return
        self.store.complete((entry.job, values) for entry, values, _ in finished)
        for entry, _, changed in finished:
            if not changed:
                result.in_sync += 1
                continue
            result.applied += 1
            log.info(
                "scene %s %r written to Plex item %s: %s",
                entry.scene.id,
                entry.scene.title or "",
                entry.item.rating_key,
                ", ".join(entry.edit.fields if entry.edit is not None else []),
            )

    # -- failures ------------------------------------------------------------

    def _fail_all(
        self, entries: list[_Planned], error: StashplexError, result: DrainResult
    ) -> None:
        if isinstance(error, PlexUnreachable):
            self.connection_failures += 1
            for entry in entries:
                # an outage spends nothing: the job keeps its retry class and count
                self.store.reschedule(
                    entry.job,
                    self.rules.decide(error, entry.job.retries).delay,
                    error,
                    entry.job.retries,
                    self.clock(),
                    retry_class=entry.job.retry_class or error.error_class,
                )
                result.waiting += 1
            if self.connection_failures >= OUTAGE_THRESHOLD and not self.paused:
                self._pause()
                result.paused = True
            return
        for entry in entries:
            self._fail(entry.job, error, result)

    def _fail(self, job: Job, error: StashplexError, result: DrainResult) -> None:
        if isinstance(error, PlexUnreachable):
            self._fail_all([_Planned(job, Scene(id=job.scene_id))], error, result)
            return
        spent = job.retries if job.retry_class == error.error_class else 0
        decision = self.rules.decide(error, spent)
        if decision.dead_letter:
            self.store.dead_letter(
                job, error, self.clock(), data_error=isinstance(error, InvalidSceneData)
            )
            result.dead += 1
            log.error("dead-lettered after %d attempt(s): %s", job.attempts + 1, _about(job, error))
            return
        self.store.reschedule(job, decision.delay, error, spent + 1, self.clock())
        result.retried += 1
        log.warning(
            "retry %d of %d in %.1fs: %s",
            spent + 1,
            self.rules.backoff[error.error_class].max_retries,
            decision.delay,
            _about(job, error),
        )

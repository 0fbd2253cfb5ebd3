"""Draining the queue, one claimed batch at a time, in three steps.

- plan: what each job needs, reading only (match the files, read the items, diff each one:
  a scene with several files is written to every Plex item holding one of them);
- apply: the requests (`PlexClient.write`, the cover from Stash, uploaded as the poster and,
  with `background`, as the art), then one read-back of what was written;
- record: exactly one outcome per job (completed, rescheduled, waiting or dead-lettered).

`preview` (`--dry-run`) runs the plan step alone. Which server may get work, and when work
for it pauses and resumes, is decided by `gate.py`; what a failure costs a job, by `retry.py`.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.carryback import ActivityCarrier
from reconciler.catalog import PlexCatalog
from reconciler.config import Config
from reconciler.diff import Edit, content_hash, diff
from reconciler.errors import (
    PLEX,
    STASH,
    InvalidSceneData,
    PermanentError,
    PlexNotFound,
    StashplexError,
    UnexpectedError,
)
from reconciler.gate import Gate
from reconciler.matching import BY_PATH, containing_location, match_items
from reconciler.models import PlexItem, Scene
from reconciler.pathmap import PathMap
from reconciler.photos import photo_source
from reconciler.plex import ART, POSTER, Section, fingerprint
from reconciler.progress import ProgressFn, quiet
from reconciler.readback import read_back, remember
from reconciler.retry import Backoff, RetryRules
from reconciler.status import LAST_WRITE
from reconciler.store import ArtState, ItemState, QueuedJob, Store, StoreError, is_activity_key

log = logging.getLogger(__name__)

CLAIM_BATCH = 100
# `plex.scan_missing`: how long a folder Plex was asked to scan is not asked again
SCAN_EVERY = 600.0


class PendingCover(Protocol):
    """A cover asked of Stash, read by `result()` (raising what went wrong), or let go."""

    def result(self) -> bytes: ...

    def abandon(self) -> None: ...


# asks Stash for a cover now and returns it to be read later (`StashClient.start_image`)
CoverStarter = Callable[[str], PendingCover]


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

    @property
    def outcomes(self) -> int:
        return self.applied + self.in_sync + self.retried + self.dead + self.waiting


@dataclass
class Planned:
    """One scene's way through the steps; `error` set means its outcome is a failure.

    It is the scene's first Plex item (the primary file's when Plex has it); `others` holds
    one Planned per further item, each with its own diff, poster check and read-back, and the
    job's one outcome covers them all."""

    scene: Scene
    job: QueuedJob | None = None
    item: PlexItem | None = None
    state: ItemState | None = None
    edit: Edit | None = None
    error: StashplexError | None = None
    poster_hash: str | None = None
    art: ArtState | None = None  # the background art uploaded to the item before
    art_hash: str | None = None
    owned: frozenset[str] = frozenset()  # collection tags stashplex owns on the item
    others: list[Planned] = field(default_factory=list)
    recorded: frozenset[int] = frozenset()  # the items the database holds for the scene
    wrote: bool = False

    @property
    def rating_key(self) -> int | None:
        return self.item.rating_key if self.item is not None else None

    def parts(self) -> list[Planned]:
        """This item and the scene's further ones."""
        return [self, *self.others]

    @property
    def needs_cover(self) -> bool:
        return any(p.edit is not None and p.edit.wants_image for p in self.parts())


@dataclass
class _Outcome:
    """What becomes of one job: done (`values` to remember), or failed, or waiting."""

    entry: Planned
    values: dict[str, Any] | None = None
    changed: bool = False
    error: StashplexError | None = None
    wait: bool = False


@dataclass
class _Batch:
    outcomes: dict[int, _Outcome] = field(default_factory=dict)

    def decide(self, outcome: _Outcome) -> None:
        """A job's first outcome is its only one."""
        assert outcome.entry.job is not None
        self.outcomes.setdefault(outcome.entry.job.id, outcome)

    def fail(self, entry: Planned, error: StashplexError, wait: bool = False) -> None:
        self.decide(_Outcome(entry, error=error, wait=wait))

    def undecided(self, entries: list[Planned]) -> list[Planned]:
        return [entry for entry in entries if entry.job.id not in self.outcomes]


def _about(job: QueuedJob, error: StashplexError) -> str:
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
        start_image: CoverStarter,
        rules: RetryRules | None = None,
        clock: Callable[[], float] = time.time,
        stash_probe: Callable[[], object] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.catalog = catalog
        self.plex = catalog.plex
        self.start_image = start_image
        self.rules = rules or RetryRules(config.retry)
        self.path_map = PathMap((m.stash, m.plex) for m in config.path_map)
        self.photos = photo_source(config)
        self.clock = clock
        self.stash_probe = stash_probe
        probe_backoff = Backoff(0, config.retry.transient.base, config.retry.transient.cap)
        self.gates = {
            PLEX: Gate(PLEX, "Plex", store, self._probe_plex, probe_backoff, clock),
            STASH: Gate(STASH, "Stash", store, self._probe_stash, probe_backoff, clock),
        }
        self.batch_size = CLAIM_BATCH
        self.carrier: ActivityCarrier | None = None  # Stash-bound jobs (plex_to_stash)

    # -- the servers ---------------------------------------------------------

    @property
    def paused(self) -> bool:
        return any(gate.paused for gate in self._needed_gates())

    def _needed_gates(self) -> list[Gate]:
        """Every job needs Plex; Stash only for covers."""
        needed = [self.gates[PLEX]]
        if {"poster", "background"} & set(self.config.sync.fields):
            needed.append(self.gates[STASH])
        return needed

    def _probe_plex(self, refused: bool) -> bool:
        if not refused:
            return self.plex.identity()  # needs no token: only whether Plex answers
        try:
            self.plex.sections(refresh=True)
        except StashplexError:
            return False
        return True

    def _probe_stash(self, refused: bool) -> bool:
        if self.stash_probe is None:
            return True
        try:
            self.stash_probe()  # a cheap query (Stash's version) that needs the key
        except StashplexError:
            return False
        return True

    def _admitted(self) -> bool:
        """True when every server the jobs need may get work; probes the paused ones."""
        admitted = True
        for gate in self._needed_gates():
            if not gate.paused:
                continue
            if gate.admits():
                self.batch_size = 1  # after a pause, batches grow 1, 2, 4...
            else:
                admitted = False
        return admitted

    def _met(self, error: StashplexError) -> None:
        gate = self.gates.get(error.server or "")
        if gate is not None:
            gate.met(error)

    # -- draining ------------------------------------------------------------

    def drain(
        self,
        max_batches: int | None = None,
        progress: ProgressFn = quiet,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> DrainResult:
        """Work through the jobs due when it starts, each once; stop early if a server the
        jobs need goes away or refuses the credentials."""
        total = DrainResult()
        batches = 0
        started = self.clock()
        for gate in self.gates.values():
            gate.reload()
        due = self.store.due_count(started)
        done = 0
        while (max_batches is None or batches < max_batches) and not should_stop():
            if not self._admitted():
                total.paused = True
                break
            jobs = self.store.claim(self.batch_size, started)
            if not jobs:
                break
            batches += 1
            result = self.process(jobs)
            total.add(result)
            if not result.paused:
                self.batch_size = min(self.batch_size * 2, CLAIM_BATCH)
            done += len(jobs)
            progress("drain", done, max(due, done))
            if result.paused:
                break
        if total.applied:
            self.store.set_setting(LAST_WRITE, repr(self.clock()))
        return total

    def preview(self, scenes: list[Scene]) -> list[Planned]:
        """The plan step alone, for `--dry-run`: each scene's item and edit, or its error."""
        self.catalog.refresh(max_age=float("inf"))
        entries = [Planned(scene) for scene in scenes]
        for start in range(0, len(entries), CLAIM_BATCH):
            chunk = entries[start : start + CLAIM_BATCH]
            try:
                self._plan(chunk, rescan=False)
            except StashplexError as exc:
                for entry in chunk:
                    entry.error = entry.error or exc
        return entries

    def process(self, jobs: list[QueuedJob]) -> DrainResult:
        """One claimed batch: every job gets exactly one outcome and leaves the pending set.
        Stash-bound jobs (activity from Plex) go to the carrier, the rest to Plex."""
        back = [job for job in jobs if is_activity_key(job.scene_id)]
        if not back:
            return self._process(jobs)
        result = DrainResult()
        try:
            if self.carrier is None:
                off = PermanentError("plex_to_stash is not set up in this process")
                for job in back:
                    self.fail_job(job, off, False, result)
            else:
                admitted = self.gates[STASH].admits()
                ended = self.carrier.process(
                    back, lambda job, error, wait: self._fail_back(job, error, wait, result),
                    admitted,
                )
                result.applied += ended["done"]
        finally:
            self.store.unmark_scene_pending(*(job.scene_id for job in back))
        rest = [job for job in jobs if not is_activity_key(job.scene_id)]
        if rest:
            result.add(self._process(rest))
        result.paused = self.paused
        return result

    def _fail_back(
        self, job: QueuedJob, error: StashplexError, wait: bool, result: DrainResult
    ) -> str:
        """A Stash-bound job's failure; the job in hand tells its server's gate."""
        if not wait:
            self._met(error)
        return self.fail_job(job, error, wait, result)

    def _process(self, jobs: list[QueuedJob]) -> DrainResult:
        batch = _Batch()
        entries: list[Planned] = []
        try:
            entries = self._entries(jobs, batch)
            try:
                self._plan(entries, rescan=True)
            except StoreError:
                raise
            except StashplexError as exc:
                self._met(exc)
                self._fail_undecided(entries, exc, batch)
            for entry in entries:
                if entry.error is not None:
                    batch.fail(entry, entry.error)
            self._apply(batch.undecided(entries), batch)
        except StoreError:
            raise  # the database itself failed: no outcome can be recorded now
        except Exception as exc:
            # a fault of stashplex itself: the jobs not yet decided are retried with backoff
            log.exception("unexpected failure while processing a batch of %d jobs", len(jobs))
            for entry in batch.undecided(entries):
                if entry.error is not None:
                    batch.fail(entry, entry.error)
            error = UnexpectedError.of(exc)
            for job in jobs:
                if job.id not in batch.outcomes:
                    batch.fail(Planned(Scene(id=job.scene_id), job=job), error)
        finally:
            try:
                result = self._record(batch)
            finally:
                self.store.unmark_scene_pending(*(job.scene_id for job in jobs))
        return result

    @staticmethod
    def _fail_undecided(entries: list[Planned], error: StashplexError, batch: _Batch) -> None:
        """A failure of the whole batch: a refusal is the first job's outcome (the others
        wait for the server); any other error is every job's."""
        first = True
        for entry in entries:
            if entry.error is not None:
                continue
            if error.refused and not first:
                batch.fail(entry, error, wait=True)
            else:
                entry.error = error
            first = False

    # -- plan ----------------------------------------------------------------

    def _entries(self, jobs: list[QueuedJob], batch: _Batch) -> list[Planned]:
        entries = []
        for job in jobs:
            try:
                scene = Scene.from_dict(job.data["scene"])
            except (KeyError, TypeError, ValueError) as exc:
                batch.fail(
                    Planned(Scene(id=job.scene_id), job=job),
                    PermanentError(f"job for scene {job.scene_id}: bad payload ({exc})"),
                )
                continue
            entries.append(Planned(scene, job=job))
        return entries

    def _plan(self, entries: list[Planned], rescan: bool) -> None:
        """Match, read and diff, reading only. A failure of one scene is set on its entry; a
        failure of the whole batch (the index or the items unreadable) is raised."""
        if not entries:
            return
        if not self.catalog.built:
            self.catalog.build()
        self._match(entries)
        missing = [entry for entry in entries if isinstance(entry.error, PlexNotFound)]
        if missing and rescan:
            # Plex may have scanned the file since the index was read: ask for what changed
            self.catalog.refresh(max_age=self.config.schedule.process_interval)
            for entry in missing:
                entry.error = None
            self._match(missing)
            if self.config.plex.scan_missing and self.config.match == BY_PATH:
                self._ask_scans([e for e in missing if isinstance(e.error, PlexNotFound)])
        matched = [entry for entry in entries if entry.error is None]
        if not matched:
            return
        items = self.plex.fetch_items([part.rating_key for e in matched for part in e.parts()])
        self.gates[PLEX].answered()
        states = self.store.item_states(entry.scene.id for entry in matched)
        owned = self.store.owned_collections(
            part.rating_key for entry in matched for part in entry.parts()
        )
        arts = (
            self.store.art_states(part.rating_key for entry in matched for part in entry.parts())
            if "background" in self.config.sync.fields
            else {}
        )
        for entry in matched:
            keys = [part.rating_key for part in entry.parts()]
            alive = [key for key in keys if key in items]
            for key in keys:
                if key not in items:
                    self.catalog.forget(key)
            if not alive:
                entry.error = PlexNotFound(
                    f"{entry.scene.label}: Plex item {keys[0]} is gone (file moved or removed?)"
                )
                continue
            known = states.get(entry.scene.id, {})
            entry.recorded = frozenset(known)
            entry.item = items[alive[0]]
            entry.others = [Planned(entry.scene, entry.job, items[key]) for key in alive[1:]]
            for part in entry.parts():
                part.owned = frozenset(owned.get(part.rating_key, ()))
                part.art = arts.get(part.rating_key)
                # what was uploaded is known per item: a new item needs the poster again
                part.state = known.get(part.rating_key)
                try:
                    part.edit = diff(
                        entry.scene,
                        part.item,
                        self.config.sync,
                        part.state.poster_source if part.state else None,
                        self.store.read_back(entry.scene.id),
                        part.owned,
                        self.photos,
                        part.art.source if part.art else None,
                    )
                except StashplexError as exc:
                    entry.error = exc
                    break
                if self.carrier is not None and self.carrier.holds_rating(
                    entry.scene.id, part.item, entry.scene.rating100, entry.scene.updated_at
                ):
                    # rated in Plex after Stash: that rating goes to Stash instead
                    part.edit.changes = [c for c in part.edit.changes if c.field != "rating"]

    def _match(self, entries: list[Planned]) -> None:
        for entry in entries:
            entry.others = []
            try:
                found = match_items(
                    entry.scene,
                    self.catalog.index,
                    self.path_map,
                    self.config.sync.strict_matching,
                    self.config.match,
                )
            except StashplexError as exc:
                entry.error = exc
                continue
            entry.item = PlexItem(rating_key=found[0][0], section_id=0)
            entry.others = [
                Planned(entry.scene, entry.job, PlexItem(rating_key=key, section_id=0))
                for key, _ in found[1:]
            ]

    def _ask_scans(self, entries: list[Planned]) -> None:
        """`plex.scan_missing`: ask Plex to scan the folder of each file it does not have,
        each folder at most once in `SCAN_EVERY` (the database remembers when); the jobs
        still take their not-found retries, which find the items once Plex has scanned."""
        sections = self.catalog.sections()
        for entry in entries:
            for stash_path in entry.scene.files:
                plex_path = self.path_map.to_plex(stash_path)
                folder = plex_path.rsplit("/", 1)[0] or "/"
                for section in sections:
                    spelled = containing_location(folder, section.locations)
                    if spelled is not None:
                        self._ask_scan(entry, section, spelled)
                        break

    def _ask_scan(self, entry: Planned, section: Section, folder: str) -> None:
        if not self.store.ask_scan(f"{section.key}:{folder}", self.clock(), SCAN_EVERY):
            return
        try:
            self.plex.scan_folder(section, folder)
        except StashplexError as exc:
            log.warning("%s: asking Plex to scan %r failed: %s", entry.scene.label, folder, exc)
            return
        log.info(
            "%s: Plex does not list its file yet: asked Plex to scan %r (library %r)",
            entry.scene.label,
            folder,
            section.title,
        )

    # -- apply ---------------------------------------------------------------

    def _apply(self, entries: list[Planned], batch: _Batch) -> None:
        """The requests. A server that goes away or refuses the credentials stops the batch:
        the job in hand takes the error, the jobs after it wait for the server.

        Each cover is asked of Stash when the job before it takes its own, so that Stash
        prepares it while Plex is written for that job (one write at a time, as before).
        It is read in this thread: a thread of its own cost more CPU (the interpreter lock
        handed over and back for every cover) than the whole download."""
        written: list[Planned] = []
        covers = _CoversAhead(self.start_image, self._cover_urls(entries))
        try:
            for index, entry in enumerate(entries):
                try:
                    image = covers.take(entry) if entry.needs_cover else None
                    for part in entry.parts():
                        part.wrote = self._send(part, image)
                except StashplexError as exc:
                    self._met(exc)
                    batch.fail(entry, exc)
                    if exc.waits or exc.refused:
                        for later in entries[index + 1 :]:
                            batch.fail(later, exc, wait=True)
                        break
                    continue
                except Exception as exc:
                    log.exception("unexpected failure on %s", entry.scene.label)
                    batch.fail(entry, UnexpectedError.of(exc))
                    continue
                if any(part.wrote for part in entry.parts()):
                    written.append(entry)
                else:
                    batch.decide(self._done(entry, {}))
        finally:
            covers.close()
        if written:
            self._read_back(written, batch)

    @staticmethod
    def _cover_urls(entries: list[Planned]) -> list[tuple[Planned, str]]:
        """The cover each entry needs, in the entries' order (once for all of a scene's
        items)."""
        return [
            (
                entry,
                next(
                    p.edit.poster or p.edit.art
                    for p in entry.parts()
                    if p.edit and p.edit.wants_image
                ),
            )
            for entry in entries
            if entry.needs_cover
        ]

    def _send(self, entry: Planned, image: bytes | None) -> bool:
        """Write what differs to one item (`image`: the scene's cover, when an item of it needs
        the poster); True when something was sent to Plex."""
        edit, state = entry.edit, entry.state
        wrote = False
        if (edit.poster is not None or edit.art is not None) and image is not None:
            # one download serves both the poster and the art
            self.gates[STASH].answered()
        if edit.poster is not None:
            entry.poster_hash = hashlib.sha1(image).hexdigest()
            if state is None or state.poster_hash != entry.poster_hash:
                # only an item stashplex uploaded to before can hold these bytes already
                shown = self.plex.upload_image(
                    entry.item.rating_key,
                    image,
                    POSTER,
                    entry.scene.label,
                    may_hold=state is not None and state.poster_hash is not None,
                )
                wrote = True
                if shown is not None and "thumb" not in entry.item.locked:
                    edit.lock_poster = True
        if edit.art is not None:
            entry.art_hash = hashlib.sha1(image).hexdigest()
            if entry.art is None or entry.art.sha1 != entry.art_hash:
                shown = self.plex.upload_image(
                    entry.item.rating_key,
                    image,
                    ART,
                    entry.scene.label,
                    may_hold=entry.art is not None,
                )
                wrote = True
                if shown is not None and "art" not in entry.item.locked:
                    edit.lock_art = True
        if edit.changes or edit.lock_poster or edit.lock_art:
            # the images' locks ride on the same request as the other fields
            edit.shortened = self.plex.write(entry.item, edit, entry.scene.label).shortened
            wrote = True
        return wrote

    def _read_back(self, written: list[Planned], batch: _Batch) -> None:
        """Re-read written items in one batch: our own writes must not look like outside edits."""
        keys = [part.rating_key for entry in written for part in entry.parts() if part.wrote]
        try:
            fresh = self.plex.fetch_items(keys)
        except StashplexError:
            fresh = {}
        for entry in written:
            batch.decide(self._done(entry, fresh))

    def _done(self, entry: Planned, fresh: dict[int, PlexItem]) -> _Outcome:
        """A job done: every item of it as Plex has it now (`fresh`: the written ones read
        back; a written item missing from it was unreadable)."""
        values = {
            "stash_updated_at": entry.scene.updated_at,
            **self._left(entry, fresh),
            "content_hash": content_hash(entry.scene, self.config.sync, self.photos),
            "synced_at": self.clock(),
            "failed_updated_at": None,
        }
        others = [self._left(part, fresh) for part in entry.others]
        if others or entry.recorded - {entry.rating_key}:
            values["items"] = others
        changed = any(part.wrote for part in entry.parts())
        return _Outcome(entry, values=values, changed=changed)

    def _left(self, part: Planned, fresh: dict[int, PlexItem]) -> dict[str, Any]:
        """How one item was left: its stamps, the poster on it, the collections owned there."""
        after = fresh.get(part.rating_key) if part.wrote else part.item
        if after is not None:
            self.catalog.note(after)
            if part.wrote and part.edit is not None:
                self._remember_read_back(part, after)
        values: dict[str, Any] = {
            "rating_key": part.rating_key,
            "plex_updated_at": after.updated_at if after else None,
            "plex_fingerprint": fingerprint(after) if after else None,
        }
        if part.poster_hash is not None:
            values["poster_source"] = part.scene.screenshot
            values["poster_hash"] = part.poster_hash
        else:  # what this item held before (nothing, when it is new to the scene)
            values["poster_source"] = part.state.poster_source if part.state else None
            values["poster_hash"] = part.state.poster_hash if part.state else None
        if part.art_hash is not None:
            values["art"] = (part.scene.screenshot, part.art_hash)
        owned = self._owned_collections(part) if part.wrote and part.edit is not None else None
        if owned is not None:
            values["owned_collections"] = sorted(owned)
        return values

    def _owned_collections(self, entry: Planned) -> set[str] | None:
        """The collection tags stashplex owns on the item after this write (recorded with the
        job's outcome): those it added, and none it took off. None: the write left them."""
        change = next((c for c in entry.edit.changes if c.field == "collection"), None)
        if change is None:
            return None
        before = {name.casefold() for name in change.old}
        after = {name.casefold(): name for name in change.new}
        owned = {name for name in entry.owned if name.casefold() in after}
        owned |= {name for key, name in after.items() if key not in before}
        return owned

    def _remember_read_back(self, entry: Planned, after: PlexItem) -> None:
        """Where Plex shows a written field otherwise than sent: remember it, say so once."""
        found = read_back(entry.edit, after)
        known = self.store.read_back(entry.scene.id) if found else {}
        memory, forget, news = remember(found, known)
        for shown in news:
            log.info(
                "%s: Plex shows %s as %r after stashplex sent %r; taken as in sync "
                "until Stash changes it",
                entry.scene.label,
                shown.field,
                shown.shown,
                shown.sent,
            )
        if memory or forget:
            self.store.remember_read_back(entry.scene.id, memory, forget)

    # -- record --------------------------------------------------------------

    def _record(self, batch: _Batch) -> DrainResult:
        """Each job's one outcome: the completed ones in one transaction, then the failures."""
        result = DrainResult()
        outcomes = list(batch.outcomes.values())
        done = [outcome for outcome in outcomes if outcome.values is not None]
        if done:
            self.store.complete((outcome.entry.job, outcome.values) for outcome in done)
        for outcome in done:
            entry = outcome.entry
            if not outcome.changed:
                result.in_sync += 1
                continue
            result.applied += 1
            for part in entry.parts():
                if not part.wrote:
                    continue
                log.info(
                    "scene %s %r written to Plex item %s: %s",
                    entry.scene.id,
                    entry.scene.title or "",
                    part.rating_key,
                    ", ".join(part.edit.fields if part.edit is not None else []),
                )
        for outcome in outcomes:
            if outcome.error is not None:
                self.fail_job(outcome.entry.job, outcome.error, outcome.wait, result)
        result.paused = self.paused
        return result

    def fail_job(
        self, job: QueuedJob, error: StashplexError, wait: bool, result: DrainResult
    ) -> str:
        """A job's failure, by its retry class and the outage rules: "waiting" (a server is
        away: nothing spent), "dead" or "retried"."""
        if wait or error.waits or error.due_in is not None:
            # waiting for a server spends nothing: the job keeps its retry class and count
            self.store.reschedule(
                job,
                self.rules.decide(error, job.retries).delay,
                error,
                job.retries,
                self.clock(),
                retry_class=job.retry_class or error.error_class,
            )
            result.waiting += 1
            return "waiting"
        spent = job.retries if job.retry_class == error.error_class else 0
        decision = self.rules.decide(error, spent)
        if decision.dead_letter:
            earlier = self.store.dead_letter_message(job.scene_id)
            self.store.dead_letter(
                job,
                error,
                self.clock(),
                data_error=isinstance(error, InvalidSceneData),
                refused_by=error.server if error.refused else None,
            )
            result.dead += 1
            # a scene that fails the same way again (each full pass queues it) is told once
            level = logging.INFO if earlier == str(error) else logging.ERROR
            log.log(
                level,
                "dead-lettered after %d attempt(s): %s",
                job.attempts + 1,
                _about(job, error),
            )
            return "dead"
        self.store.reschedule(job, decision.delay, error, spent + 1, self.clock())
        result.retried += 1
        log.warning(
            "retry %d of %d in %.1fs: %s",
            spent + 1,
            self.rules.backoff[error.error_class].max_retries,
            decision.delay,
            _about(job, error),
        )
        return "retried"


class _CoversAhead:
    """The covers of a batch, each asked of Stash one job ahead: taking one asks for the
    next before it returns, so Stash prepares it while Plex is written for this one. An
    error that stops the batch (Stash away, the key refused) asks for no more; `close()`
    lets go of one still unread."""

    def __init__(self, start: CoverStarter, wanted: list[tuple[Planned, str]]) -> None:
        self._start = start
        self._wanted = collections.deque(wanted)
        self._pending: tuple[Planned, PendingCover] | None = None
        self._ask()

    def _ask(self) -> None:
        if self._wanted:
            entry, url = self._wanted.popleft()
            self._pending = (entry, self._start(url))

    def take(self, entry: Planned) -> bytes:
        assert self._pending is not None, "every entry that needs a cover was asked for"
        owner, pending = self._pending
        assert owner is entry, "covers are taken in the entries' order"
        try:
            return pending.result()
        except StashplexError as exc:
            if exc.waits or exc.refused:
                self._wanted.clear()  # the batch stops here
            raise
        finally:
            self._pending = None
            self._ask()

    def close(self) -> None:
        if self._pending is not None:
            self._pending[1].abandon()
            self._pending = None
        self._wanted.clear()

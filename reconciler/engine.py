"""Turning what changed in Stash and in Plex into jobs: the full sweep and the polls.

Reads only; writing to Plex is the worker's job. A scene becomes a job when its
Stash side or its Plex side changed since its last successful sync (per-scene
state: Stash `updated_at`, ratingKey, Plex `updatedAt`, a hash of what would be
written). Watermarks advance only after the resulting jobs are committed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from reconciler import collector
from reconciler.carryback import ActivityCarrier
from reconciler.catalog import PlexCatalog
from reconciler.config import Config
from reconciler.diff import content_hash
from reconciler.errors import StashplexError
from reconciler.matching import BY_FILENAME, candidates, file_name, looked_for
from reconciler.models import Scene
from reconciler.pathmap import PathMap
from reconciler.photos import photo_source
from reconciler.plex import fingerprint
from reconciler.progress import ProgressFn, quiet
from reconciler.readahead import END, Readers
from reconciler.scenefilter import SKIPPED_BY_REQUIRE, skip_reason
from reconciler.stash import PAGE_SIZE, StashClient, scene_from_graphql
from reconciler.store import ItemState, Store, SyncState
from reconciler.walks import DOWN, UP, MeetingWalks
from reconciler.watermark import band_below, newest, poll_from, shifted, west_shift

log = logging.getLogger(__name__)

STASH_SCENES = "stash_scenes"
PLEX_MARK = "plex"
SEEN_AT_MARK = "plex_seen_at_mark"
UNCLAIMED = "plex_unclaimed"
FULL_PASS_AT = "full_pass_at"
CARRIERS_RECORDED = "stash_carriers_recorded"
KIND_BASELINE = 50  # newest tags/performers/studios read to start their polls from
UNCLAIMED_FOR = 3600.0
RENAMABLE = ("tags", "performers", "studios")
POLL_PAGE_SIZE = 1000
UNMATCHED_EXAMPLES = 3
# pages each of a sweep's readers may hold before they are compared: enough to keep both
# listings going when one runs ahead of the other, few enough to bound the memory (250
# scenes a page, about 0.7 MB). The walk down Stash's listing reads the scenes Plex lists
# last, so its pages wait for the end of Plex's listing: with fewer held, it stopped while
# Plex was listed and Stash answered the walk up alone, idle between its pages.
STASH_PAGES_AHEAD = 40
PLEX_PAGES_AHEAD = 8
POLL_CHUNK = 500  # Plex items compared per stored-state read in a poll
T = TypeVar("T")


@dataclass
class SweepReport:
    """What a full sweep found, before the queue is drained."""

    seen: int = 0
    in_sync: int = 0
    queued: int = 0
    unmatched: int = 0
    skipped_dead: int = 0
    skipped_required: int = 0  # by sync.require or sync.exclude_tags
    unmatched_examples: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class PollReport:
    stash_changed: int = 0
    renamed: int = 0
    plex_changed: int = 0
    queued: int = 0

    def __bool__(self) -> bool:
        return bool(self.stash_changed or self.renamed or self.plex_changed or self.queued)


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _version(obj: dict) -> str:
    """One version of a tag, performer or studio: `id@updated_at`."""
    return f"{obj['id']}@{obj['updated_at']}"


@dataclass
class _Waiting:
    """One Stash walk's pages read and not yet compared, in the order it read them, and the
    look-ups of the first scenes of the first page (those with every file's item listed)."""

    pages: deque[list[Scene]] = field(default_factory=deque)
    found: list[list[list[tuple[int, int]]]] = field(default_factory=list)


def job_payload(scene: Scene) -> dict:
    return {"scene": scene.to_dict()}


class Engine:
    """Finds the scenes that need work and queues them."""

    def __init__(
        self, config: Config, store: Store, stash: StashClient, catalog: PlexCatalog
    ) -> None:
        self.config = config
        self.store = store
        self.stash = stash
        self.catalog = catalog
        self.path_map = PathMap((m.stash, m.plex) for m in config.path_map)
        self.photos = photo_source(config)
        self.poll_page_size = POLL_PAGE_SIZE
        self.sweep_page_size = PAGE_SIZE
        self.carrier: ActivityCarrier | None = None  # queues activity for Stash (plex_to_stash)

    # -- deciding --------------------------------------------------------------

    def _found(self, scene: Scene) -> list[list[tuple[int, int]]]:
        """The items holding each of the scene's files, each file's path mapped once."""
        index, by = self.catalog.index, self.config.match
        return [candidates(path, index, self.path_map, by) for path in scene.files]

    def _needs_sync(
        self,
        scene: Scene,
        state: SyncState | None,
        items: dict[int, ItemState],
        found: list[list[tuple[int, int]]] | None = None,
    ) -> bool:
        """False when neither side changed since the last successful sync of this scene: the
        same Stash version, and each item holding one of its files as stashplex left it (a
        file Plex does not list yet is no change; the Plex poll claims its item later).
        `found` is `_found(scene)` when the caller has it."""
        if state is None:
            return True
        if state.stash_updated_at != scene.updated_at:
            return True
        if state.content_hash != content_hash(scene, self.config.sync, self.photos):
            return True
        if found is None:
            found = self._found(scene)
        keys = [holders[0][0] for holders in found if holders]
        if not keys:
            return True
        if keys[0] != state.rating_key:
            return True  # the first item found is the one the scene's state records
        for rating_key in keys:
            left = items.get(rating_key)
            if left is None or not self.catalog.unchanged_since_sync(
                rating_key, left.plex_updated_at, left.plex_fingerprint
            ):
                return True
        return False

    def _matchable(self, scene: Scene, found: list[list[tuple[int, int]]] | None = None) -> bool:
        """Scenes whose files lie outside every configured library are not Plex's business;
        matched by file name, those whose names no library holds."""
        if not scene.files:
            return True
        if any(self._found(scene) if found is None else found):
            return True
        if self.config.match == BY_FILENAME:
            return False
        return any(self.catalog.holds(self.path_map.to_plex(path)) for path in scene.files)

    def _dead_already(self, scene: Scene, state: SyncState | None) -> bool:
        """This very version of the scene was dead-lettered: wait for a change or `dlq retry`."""
        return (
            state is not None
            and state.failed_updated_at == scene.updated_at
            and bool(scene.updated_at)
        )

    def select(
        self,
        scenes: Iterable[Scene],
        report: SweepReport | None = None,
        found: list[list[list[tuple[int, int]]]] | None = None,
    ) -> list[Scene]:
        """The scenes among `scenes` that need a job; `found` holds `_found` of the first
        of them when the caller has looked them up already."""
        scenes = list(scenes)
        ids = [scene.id for scene in scenes]
        states = self.store.scene_states(ids)
        items = self.store.item_states(ids, states)
        live = self.store.jobs_for(ids)
        found = found or []
        chosen = []
        for position, scene in enumerate(scenes):
            state = states.get(scene.id)
            job = live.get(scene.id)
            if job is not None and job.data.get("scene") == scene.to_dict():
                continue  # already queued exactly like this: keep its retry count
            if skip_reason(scene, self.config.sync):
                if report:
                    report.skipped_required += 1
                continue
            holders = found[position] if position < len(found) else self._found(scene)
            if not self._matchable(scene, holders):
                if report:
                    report.unmatched += 1
                    if len(report.unmatched_examples) < UNMATCHED_EXAMPLES:
                        path = scene.path or ""
                        wanted = (
                            looked_for(path, self.path_map, BY_FILENAME)
                            if self.config.match == BY_FILENAME
                            else self.path_map.to_plex(path)
                        )
                        report.unmatched_examples.append((path, wanted))
                continue
            if self._dead_already(scene, state):
                if report:
                    report.skipped_dead += 1
                continue
            if self._needs_sync(scene, state, items.get(scene.id, {}), holders):
                chosen.append(scene)
            elif report:
                report.in_sync += 1
        return chosen

    def queue(self, scenes: list[Scene]) -> int:
        if not scenes:
            return 0
        return self.store.enqueue_many((scene.id, job_payload(scene)) for scene in scenes)

    # -- the full sweep --------------------------------------------------------

    def sweep(
        self, progress: ProgressFn = quiet, dry_run: bool = False
    ) -> tuple[SweepReport, list]:
        """Every Plex item and every Stash scene; queue what needs work (or return it, dry).

        Both listings are read at once, each in threads of its own (`Readers`), while this
        thread indexes the Plex pages and compares the Stash pages. Stash's listing is read
        by two walks that meet (`reconciler.walks`), up from the lowest id and down from the
        highest, each on a connection of its own. A Stash page is compared once every scene
        on it has its Plex item listed (with one library, listed by ratingKey, the first
        item found for a file is its match for good), or once Plex is listed in full; each
        walk's pages are compared and queued in the order that walk read them.
        """
        report = SweepReport()
        early = len(self.catalog.sections()) == 1
        kind_newest = self.stash.newest(scenes=1, count=KIND_BASELINE)
        newest_scene, scene_count = kind_newest.pop("scenes")
        mark_before = newest_scene[0]["updated_at"] if newest_scene else None
        backfill = not dry_run and self.store.setting(CARRIERS_RECORDED) is None
        chosen_all: list[Scene] = []
        walks = MeetingWalks()
        waiting = {UP: _Waiting(), DOWN: _Waiting()}
        listed, plex_done = 0, False

        def compare(scenes: list[Scene], found: list[list[list[tuple[int, int]]]]) -> None:
            chosen = self.select(scenes, report, found)
            if dry_run:
                chosen_all.extend(chosen)
            else:
                self.queue(chosen)
            if backfill:
                self._record_in_sync(scenes, chosen)
            report.queued += len(chosen)

        with (
            collector.paused(),
            self.catalog.rebuilding() as take,
            self.stash.twin() as stash_down,
            Readers() as reads,
        ):
            reads.add("plex", self.catalog.pages(), PLEX_PAGES_AHEAD)
            # in id order: an edit during the pass moves no other scene across pages (the next
            # poll, counted from before the pass, catches the edited one)
            size = self.sweep_page_size
            up = self.stash.scene_rows_by_id(per_page=size, walks=walks)
            reads.add(UP, up, STASH_PAGES_AHEAD)
            if scene_count > size:  # one page is one request, from either end
                down = stash_down.scene_rows_by_id(per_page=size, walks=walks, side=DOWN)
                reads.add(DOWN, down, STASH_PAGES_AHEAD)
            for source, page in reads:
                if source == "plex":
                    if page is END:
                        plex_done = True
                        progress("plex", listed, listed)
                    else:
                        take(page)
                        listed += len(page)
                        reads.release("plex")
                        progress("plex", listed, None)
                elif page is not END:
                    rows, total = page
                    scenes = [scene_from_graphql(row) for row in rows]
                    report.seen += len(scenes)
                    waiting[source].pages.append(scenes)
                    progress("stash", report.seen, total)
                for side, walk in waiting.items():
                    while walk.pages:
                        if not plex_done:
                            if not early:
                                break
                            self._listed_from(walk.pages[0], walk.found)
                            if len(walk.found) < len(walk.pages[0]):
                                break
                        compare(walk.pages.popleft(), walk.found)
                        walk.found = []
                        reads.release(side)
        if dry_run:
            chosen_all.sort(key=lambda scene: int(scene.id))  # as one walk up would list them
        else:
            self._advance(STASH_SCENES, mark_before)
            for kind, (objects, total) in kind_newest.items():
                self._kind_baseline(kind, objects)
                self.store.set_setting(f"stash_{kind}_total", str(total))
            if self.catalog.newest_stamp is not None:
                self._advance_plex(self.catalog.newest_stamp)
            self.store.set_setting(CARRIERS_RECORDED, "1")
            self.store.set_setting(SKIPPED_BY_REQUIRE, str(report.skipped_required))
            self.store.set_setting(FULL_PASS_AT, repr(time.time()))
        return report, chosen_all

    def _listed_from(self, scenes: list[Scene], found: list[list[list[tuple[int, int]]]]) -> None:
        """Extend `found` with the look-ups of the next of `scenes` while every file of the
        scene has its Plex item listed (with one library, listed by ratingKey, the first item
        found for a file stays its match: what `select` decides on)."""
        for scene in scenes[len(found) :]:
            holders = self._found(scene)
            if not all(holders):
                return
            found.append(holders)

    def _record_in_sync(self, scenes: list[Scene], chosen: list[Scene]) -> None:
        """Once, on a database from before stashplex kept them: what the scenes already in
        sync carry (jobs record it when they are written)."""
        queued = {scene.id for scene in chosen}
        states = self.store.scene_states(s.id for s in scenes if s.id not in queued)
        self.store.record_carriers(s.to_dict() for s in scenes if s.id in states)

    def last_full_pass(self) -> float | None:
        """When a full sweep last completed (the polls start from its watermarks)."""
        value = self.store.setting(FULL_PASS_AT)
        return float(value) if value else None

    def _kind_baseline(self, kind: str, objects: list[dict]) -> None:
        """Start a kind's polls from its newest objects, counting those in the poll's window as
        handled: a full pass has just read every scene that carries them."""
        if not objects:
            return
        mark = objects[0]["updated_at"]
        self._advance(f"stash_{kind}", mark)
        lower = poll_from(mark)
        handled = sorted(_version(o) for o in objects if o["updated_at"] > lower)
        self.store.set_setting(f"stash_{kind}_seen", json.dumps(handled))

    def _advance(self, name: str, value: str | None) -> None:
        current = self.store.watermark(name)
        mark = newest(current, [value] if value else [])
        if mark and mark != current:
            self.store.set_watermark(name, mark)

    def _advance_plex(self, stamp: int) -> None:
        current = self.store.watermark(PLEX_MARK)
        if current is None or stamp > int(current):
            self.store.set_watermark(PLEX_MARK, str(stamp))

    # -- polls -------------------------------------------------------------------

    def has_baseline(self) -> bool:
        return self.last_full_pass() is not None

    def poll(self) -> PollReport:
        """One poll of both sides. A side that fails raises and keeps its own watermarks; the
        Stash side's jobs and watermarks are committed before Plex is asked."""
        report = PollReport()
        if not self.catalog.built:
            self.catalog.build()
        self.poll_stash(report)
        self.poll_plex(report)
        return report

    def poll_stash(self, report: PollReport) -> None:
        """Scenes changed in Stash, and the scenes of tags, performers and studios renamed or
        deleted there, become jobs; watermarks move only after the jobs are queued."""
        if not self.has_baseline():
            raise StashplexError("no full pass yet: run stashplex --reconcile-all first")
        mark = self.store.watermark(STASH_SCENES) or ""  # a Stash without scenes has none
        marks = {kind: self.store.watermark(f"stash_{kind}") or "" for kind in RENAMABLE}
        lower = {"scenes": poll_from(mark), **{k: poll_from(v) for k, v in marks.items()}}
        wide = {"scenes": mark, **marks}
        answer = self.stash.poll(
            lower, {kind: band_below(value) for kind, value in wide.items()}, self.poll_page_size
        )
        returned = {
            "scenes": [scene.updated_at for scene in answer.scenes],
            **{kind: [o["updated_at"] for o in answer.changed[kind]] for kind in RENAMABLE},
        }
        shift = max(west_shift(wide[k], answer.band[k] + returned[k]) for k in wide)
        if shift:
            log.warning(
                "Stash now writes its stamps %s west of the watermark %s (it restarted in "
                "another zone): reading from that far back once",
                dt.timedelta(seconds=shift),
                mark,
            )
            lower = {kind: poll_from(shifted(value, -shift)) for kind, value in wide.items()}
        first = None if shift else (answer.scenes, answer.scene_count)
        changed = self._walk("scenes", lower["scenes"], first)
        latest = {scene.id: scene for scene in changed}  # a scene read twice: its newer version
        chosen = {scene.id: scene for scene in self.select(latest.values())}
        report.stash_changed = len(chosen)
        kind_marks: dict[str, str | None] = {}
        seen_now: dict[str, list[str]] = {}
        gone_now: dict[str, set[str]] = {}
        for kind in RENAMABLE:
            first_objects = None if shift else (answer.changed[kind], answer.changed_count[kind])
            objects = self._walk(kind, lower[kind], first_objects)
            kind_marks[f"stash_{kind}"] = newest(
                marks[kind] or None, [o["updated_at"] for o in objects]
            )
            seen_now[f"stash_{kind}_seen"] = sorted(_version(o) for o in objects)
            carriers, gone_now[kind] = self._kind_carriers(
                kind, objects, lower[kind], answer.totals[kind]
            )
            for scene in self.select(carriers):
                if scene.id not in chosen:
                    chosen[scene.id] = scene
                    report.renamed += 1
        report.queued += self.queue(list(chosen.values()))
        self._advance(STASH_SCENES, newest(mark or None, [scene.updated_at for scene in changed]))
        for name, value in kind_marks.items():
            self._advance(name, value)
        for key, value in seen_now.items():
            self.store.set_setting(key, json.dumps(value))
        for kind, gone in gone_now.items():
            if gone:
                self.store.forget_carried(kind, gone)
        for kind in RENAMABLE:
            self.store.set_setting(f"stash_{kind}_total", str(answer.totals[kind]))

    def _kind_carriers(
        self, kind: str, objects: list[dict], lower: str, total: int
    ) -> tuple[list[Scene], set[str]]:
        """The scenes to re-check for this kind's renamed and deleted objects, and the ids gone.

        The overlap returns the last poll's objects again: only new versions need their
        scenes re-checked (a re-check pages through every scene that carries the object)."""
        seen = set(json.loads(self.store.setting(f"stash_{kind}_seen") or "[]"))
        fresh = [o for o in objects if _version(o) not in seen]
        carriers: list[Scene] = []
        if fresh:
            log.info("%d %s renamed or changed in Stash", len(fresh), kind)
            ids = [o["id"] for o in fresh]
            carriers = self.stash.scenes_carrying(kind, ids, self.poll_page_size)
        created = sum(1 for o in fresh if (o.get("created_at") or "") > lower)
        gone = self._gone(kind, total, created)
        if gone:
            log.info("%d %s deleted in Stash", len(gone), kind)
            ids = sorted(self.store.carriers_of(kind, gone) - {s.id for s in carriers})
            carriers.extend(self.stash.scenes_by_ids(ids))
        return carriers, gone

    def _walk(self, kind: str, lower: str, first: tuple[list, int] | None) -> list:
        pages = self.stash.changed_since(kind, lower, self.poll_page_size, first)
        return [row for page in pages for row in page]

    def _gone(self, kind: str, total: int, created: int) -> set[str]:
        """Ids of this kind that synced scenes carry and Stash no longer has; asked of Stash
        only when its count is not the last one plus the objects created since."""
        previous = self.store.setting(f"stash_{kind}_total")
        if previous is None or total == int(previous) + created:
            return set()
        carried = self.store.carried_ids(kind)
        if not carried:
            return set()
        return carried - self.stash.object_ids(kind)

    def poll_plex(self, report: PollReport) -> None:
        """Items Plex added, changed or re-rated: new files get their metadata, outside edits
        are reverted.

        Every listed item is compared with what stashplex left there (a local read), the
        mark's own second included: a hand edit made in the second of stashplex's write
        shares its stamp and differs only in content.
        """
        mark = self.store.watermark(PLEX_MARK)
        since = int(mark) if mark else self.catalog.newest_stamp  # None: Plex had nothing yet
        seen_at_mark = set((self.store.setting(SEEN_AT_MARK) or "").split(","))
        unclaimed = self._unclaimed()
        scene_ids: set[str] = set()
        now = time.time()
        top, at_top, listed = since or 0, set(), 0
        # a page at a time: the first poll after a full pass lists every item it wrote
        for chunk in _chunks(self.catalog.changes_since(since), POLL_CHUNK):
            listed += len(chunk)
            synced = self.store.synced_items(item.rating_key for item in chunk)
            if self.carrier is not None:
                report.queued += self.carrier.queue_news(chunk, synced)
            for item in chunk:
                if item.changed_at > top:
                    top, at_top = item.changed_at, set()
                if item.changed_at == top:
                    at_top.add(str(item.rating_key))
                states = synced.get(item.rating_key)
                if states:
                    scene_ids.update(
                        state.scene_id
                        for state in states
                        if (state.plex_updated_at, state.plex_fingerprint)
                        != (item.updated_at, fingerprint(item))
                    )
                elif item.files and (
                    since is None
                    or item.changed_at > since
                    or str(item.rating_key) not in seen_at_mark
                ):
                    # the mark's second is read again: an item no scene claimed is looked up once
                    unclaimed.setdefault(str(item.rating_key), [now, item.files[0]])
        if not listed and not unclaimed:
            return
        scenes = self.stash.scenes_by_ids(sorted(scene_ids)) if scene_ids else []
        scenes.extend(self._claim(unclaimed, now))
        chosen = self.select({scene.id: scene for scene in scenes}.values())
        report.plex_changed = len(chosen)
        report.queued += self.queue(chosen)
        self.store.set_setting(UNCLAIMED, json.dumps(unclaimed) if unclaimed else None)
        if listed:
            if top == since:
                at_top |= seen_at_mark - {""}
            self.store.set_setting(SEEN_AT_MARK, ",".join(sorted(at_top)))
            self._advance_plex(top)

    def _unclaimed(self) -> dict[str, list]:
        """Plex items no Stash scene claimed yet: ratingKey -> [first seen, file]."""
        return json.loads(self.store.setting(UNCLAIMED) or "{}")

    def _scenes_of_file(self, plex_path: str) -> list[Scene]:
        """The Stash scenes one of whose files is this Plex file (by path, or by name)."""
        if self.config.match != BY_FILENAME:
            return self.stash.scenes_by_path(self.path_map.to_stash(plex_path))
        name = file_name(plex_path)
        spelled = plex_path.replace("\\", "/").rsplit("/", 1)[-1]
        return [
            scene
            for scene in self.stash.scenes_by_file_name(spelled)
            if any(file_name(path) == name for path in scene.files)
        ]

    def _claim(self, unclaimed: dict[str, list], now: float) -> list[Scene]:
        """Look new Plex items up in Stash by path; Stash may scan a moved file after Plex did.

        An item keeps being looked up for an hour (a full pass covers anything later).
        """
        found: list[Scene] = []
        for key, (first_seen, path) in sorted(unclaimed.items(), key=lambda kv: kv[1][0]):
            if now - first_seen > UNCLAIMED_FOR or not self.catalog.knows(int(key)):
                del unclaimed[key]
                continue
            scenes = self._scenes_of_file(path)
            if scenes:
                found.extend(scenes)
                del unclaimed[key]
        return found

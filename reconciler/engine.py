"""Turning what changed in Stash and in Plex into jobs: the full sweep and the polls.

Reads only; writing to Plex is the worker's job. A scene becomes a job when its
Stash side or its Plex side changed since its last successful sync (per-scene
state: Stash `updated_at`, ratingKey, Plex `updatedAt`, a hash of what would be
written). Watermarks advance only after the resulting jobs are committed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from reconciler.catalog import PlexCatalog
from reconciler.config import Config
from reconciler.diff import content_hash
from reconciler.errors import StashplexError
from reconciler.models import Scene
from reconciler.pathmap import PathMap
from reconciler.plex import fingerprint
from reconciler.progress import ProgressFn, quiet
from reconciler.stash import StashClient
from reconciler.store import SceneState, Store
from reconciler.watermark import newest, poll_from

log = logging.getLogger(__name__)

STASH_SCENES = "stash_scenes"
PLEX_MARK = "plex"
SEEN_AT_MARK = "plex_seen_at_mark"
UNCLAIMED = "plex_unclaimed"
FULL_PASS_AT = "full_pass_at"
KIND_BASELINE = 50  # newest tags/performers/studios read to start their polls from
UNCLAIMED_FOR = 3600.0
RENAMABLE = ("tags", "performers", "studios")
POLL_PAGE_SIZE = 1000
UNMATCHED_EXAMPLES = 3


@dataclass
class SweepReport:
    """What a full sweep found, before the queue is drained."""

    seen: int = 0
    in_sync: int = 0
    queued: int = 0
    unmatched: int = 0
    skipped_dead: int = 0
    unmatched_examples: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class PollReport:
    stash_changed: int = 0
    renamed: int = 0
    plex_changed: int = 0
    queued: int = 0

    def __bool__(self) -> bool:
        return bool(self.stash_changed or self.renamed or self.plex_changed or self.queued)


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
        self.poll_page_size = POLL_PAGE_SIZE

    # -- deciding --------------------------------------------------------------

    def _needs_sync(self, scene: Scene, state: SceneState | None) -> bool:
        """False when neither side changed since the last successful sync of this scene."""
        if state is None:
            return True
        if state.content_hash != content_hash(scene, self.config.sync):
            return True
        if state.stash_updated_at != scene.updated_at:
            return True
        found = self.catalog.index.lookup(self.path_map.to_plex(scene.path or ""))
        if not found:
            return True
        rating_key = found[0][0]
        return state.rating_key != rating_key or not self.catalog.unchanged_since_sync(
            rating_key, state.plex_updated_at, state.plex_fingerprint
        )

    def _matchable(self, scene: Scene) -> bool:
        """Scenes whose file lies outside every configured library are not Plex's business."""
        if not scene.path:
            return True
        plex_path = self.path_map.to_plex(scene.path)
        return bool(self.catalog.index.lookup(plex_path)) or self.catalog.holds(plex_path)

    def _dead_already(self, scene: Scene, state: SceneState | None) -> bool:
        """This very version of the scene was dead-lettered: wait for a change or `dlq retry`."""
        return (
            state is not None
            and state.failed_updated_at == scene.updated_at
            and bool(scene.updated_at)
        )

    def select(self, scenes: Iterable[Scene], report: SweepReport | None = None) -> list[Scene]:
        """The scenes among `scenes` that need a job."""
        scenes = list(scenes)
        states = self.store.scene_states(scene.id for scene in scenes)
        live = self.store.jobs_for(scene.id for scene in scenes)
        chosen = []
        for scene in scenes:
            state = states.get(scene.id)
            job = live.get(scene.id)
            if job is not None and job.data.get("scene") == scene.to_dict():
                continue  # already queued exactly like this: keep its retry count
            if not self._matchable(scene):
                if report:
                    report.unmatched += 1
                    if len(report.unmatched_examples) < UNMATCHED_EXAMPLES:
                        looked_for = self.path_map.to_plex(scene.path or "")
                        report.unmatched_examples.append((scene.path or "", looked_for))
                continue
            if self._dead_already(scene, state):
                if report:
                    report.skipped_dead += 1
                continue
            if self._needs_sync(scene, state):
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
        """Every Plex item and every Stash scene; queue what needs work (or return it, dry)."""
        report = SweepReport()
        listed = 0
        for listed, _ in enumerate(self.catalog.sweep(), 1):
            if listed % 1000 == 0:
                progress("plex", listed, None)
        progress("plex", listed, listed)
        newest_scene = self.stash.latest("scenes")
        mark_before = newest_scene[0]["updated_at"] if newest_scene else None
        kind_newest = {kind: self.stash.latest(kind, KIND_BASELINE) for kind in RENAMABLE}
        chosen_all: list[Scene] = []
        for scenes, total in self.stash.scene_pages():
            report.seen += len(scenes)
            chosen = self.select(scenes, report)
            if dry_run:
                chosen_all.extend(chosen)
            else:
                self.queue(chosen)
            report.queued += len(chosen)
            progress("stash", report.seen, total)
        if not dry_run:
            self._advance(STASH_SCENES, mark_before)
            for kind, objects in kind_newest.items():
                self._kind_baseline(kind, objects)
            if self.catalog.newest_stamp is not None:
                self._advance_plex(self.catalog.newest_stamp)
            self.store.set_setting(FULL_PASS_AT, repr(time.time()))
        return report, chosen_all

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
        handled = sorted(f"{o['id']}@{o['updated_at']}" for o in objects if o["updated_at"] > lower)
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
        if not self.has_baseline():
            raise StashplexError("no full pass yet: run stashplex --reconcile-all first")
        mark = self.store.watermark(STASH_SCENES) or ""  # a Stash without scenes has none
        changed = [
            scene
            for page, _ in self.stash.scene_pages(
                scene_filter={"updated_at": {"value": poll_from(mark), "modifier": "GREATER_THAN"}},
                per_page=self.poll_page_size,
            )
            for scene in page
        ]
        chosen = {scene.id: scene for scene in self.select(changed)}
        report.stash_changed = len(chosen)
        kind_marks: dict[str, str | None] = {}
        seen_now: dict[str, list[str]] = {}
        for kind in RENAMABLE:
            name = f"stash_{kind}"
            since = self.store.watermark(name)
            if since is None:
                self._kind_baseline(kind, self.stash.latest(kind, KIND_BASELINE))
                continue
            renamed = self.stash.changed(kind, poll_from(since))
            kind_marks[name] = newest(since, [obj["updated_at"] for obj in renamed])
            # the overlap returns the last poll's objects again: only new versions need their
            # scenes re-checked (a re-check pages through every scene that carries the object)
            seen = set(json.loads(self.store.setting(f"{name}_seen") or "[]"))
            window = {f"{obj['id']}@{obj['updated_at']}" for obj in renamed}
            fresh = [obj for obj in renamed if f"{obj['id']}@{obj['updated_at']}" not in seen]
            seen_now[f"{name}_seen"] = sorted(window)
            if not fresh:
                continue
            log.info("%d %s renamed or changed in Stash", len(fresh), kind)
            carriers = self.stash.scenes_carrying(kind, [obj["id"] for obj in fresh])
            for scene in self.select(carriers):
                if scene.id not in chosen:
                    chosen[scene.id] = scene
                    report.renamed += 1
        report.queued += self.queue(list(chosen.values()))
        self._advance(STASH_SCENES, newest(mark, [scene.updated_at for scene in changed]))
        for name, value in kind_marks.items():
            self._advance(name, value)
        for key, value in seen_now.items():
            self.store.set_setting(key, json.dumps(value))

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
        listed = self.catalog.changed_since(since)
        unclaimed = self._unclaimed()
        if not listed and not unclaimed:
            return
        synced = self.store.synced_items(item.rating_key for item in listed)
        scene_ids: set[str] = set()
        now = time.time()
        for item in listed:
            states = synced.get(item.rating_key)
            if states:
                scene_ids.update(
                    state.scene_id
                    for state in states
                    if (state.plex_updated_at, state.plex_fingerprint)
                    != (item.updated_at, fingerprint(item))
                )
            elif item.files and (
                since is None or item.changed_at > since or str(item.rating_key) not in seen_at_mark
            ):
                # the mark's second is read again: an item no scene claimed is looked up once
                unclaimed.setdefault(str(item.rating_key), [now, item.files[0]])
        scenes = self.stash.scenes_by_ids(sorted(scene_ids)) if scene_ids else []
        scenes.extend(self._claim(unclaimed, now))
        chosen = self.select({scene.id: scene for scene in scenes}.values())
        report.plex_changed = len(chosen)
        report.queued += self.queue(chosen)
        self.store.set_setting(UNCLAIMED, json.dumps(unclaimed) if unclaimed else None)
        if listed:
            top = max(since or 0, *(item.changed_at for item in listed))
            at_top = {str(i.rating_key) for i in listed if i.changed_at == top}
            if top == since:
                at_top |= seen_at_mark - {""}
            self.store.set_setting(SEEN_AT_MARK, ",".join(sorted(at_top)))
            self._advance_plex(top)

    def _unclaimed(self) -> dict[str, list]:
        """Plex items no Stash scene claimed yet: ratingKey -> [first seen, file]."""
        return json.loads(self.store.setting(UNCLAIMED) or "{}")

    def _claim(self, unclaimed: dict[str, list], now: float) -> list[Scene]:
        """Look new Plex items up in Stash by path; Stash may scan a moved file after Plex did.

        An item keeps being looked up for an hour (a full pass covers anything later).
        """
        found: list[Scene] = []
        for key, (first_seen, path) in sorted(unclaimed.items(), key=lambda kv: kv[1][0]):
            if now - first_seen > UNCLAIMED_FOR or int(key) not in self.catalog.stamps:
                del unclaimed[key]
                continue
            scenes = self.stash.scenes_by_path(self.path_map.to_stash(path))
            if scenes:
                found.extend(scenes)
                del unclaimed[key]
        return found

"""Wiring: one config in, the store, both clients, the catalog, the engine and the worker out."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler import collector
from reconciler.carryback import ActivityCarrier
from reconciler.catalog import PlexCatalog
from reconciler.config import Config
from reconciler.engine import Engine
from reconciler.matching import BY_FILENAME
from reconciler.plex import PlexClient
from reconciler.progress import ProgressFn, quiet
from reconciler.stash import StashClient
from reconciler.status import LAST_POLL
from reconciler.store import Store
from reconciler.worker import Worker


@dataclass
class Summary:
    """What a `--reconcile-all` run did, as its closing lines say."""

    seen: int = 0
    in_sync: int = 0
    updated: int = 0
    waiting: int = 0
    dead: int = 0
    unmatched: int = 0
    skipped_required: int = 0
    unmatched_examples: list[tuple[str, str]] = field(default_factory=list)

    @property
    def nothing_matched(self) -> bool:
        """Every scene's file lies outside the libraries: almost surely a wrong path_map."""
        return self.seen > 0 and self.unmatched == self.seen

    def lines(self) -> list[str]:
        lines = [
            f"scenes seen:            {self.seen}",
            f"in sync:                {self.in_sync}",
            f"updated:                {self.updated}",
            f"waiting for a retry:    {self.waiting}",
            f"dead-lettered:          {self.dead}",
            f"unmatched (no library): {self.unmatched}",
        ]
        if self.skipped_required:
            lines.append(f"skipped by sync.require: {self.skipped_required}")
        if self.unmatched:
            for stash_path, plex_path in self.unmatched_examples:
                lines.append(f"  {stash_path}")
                lines.append(f"    looked for in Plex as {plex_path}")
            lines.append(
                "  these files lie in none of plex.libraries' folders; if they should, "
                "run stashplex check: it proposes the path_map that matches them"
            )
        return lines


class App:
    def __init__(
        self,
        config: Config,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store = store or Store(config.database)
        self.plex = PlexClient(config.plex, synced_fields=config.sync.fields)
        self.stash = StashClient(config.stash)
        self.catalog = PlexCatalog(self.plex, by_name=config.match == BY_FILENAME)
        self.engine = Engine(config, self.store, self.stash, self.catalog)
        self.worker = Worker(
            config,
            self.store,
            self.catalog,
            self.stash.start_image,
            clock=clock,
            stash_probe=self.stash.version,
        )
        self.carrier = ActivityCarrier(config, self.store, self.stash, self.plex, clock)
        self.worker.carrier = self.carrier  # also finishes jobs queued before it was turned off
        back = config.plex_to_stash
        if back.enabled:
            self.engine.carrier = self.carrier
            self.catalog.views_filter = back.plays or back.resume
            self.catalog.activity = {}

    def close(self) -> None:
        self.stash.close()
        self.plex.session.close()
        self.store.close()

    def queue_all_activity(self) -> int:
        """A full pass in the Stash-bound direction: each synced scene with new activity."""
        seen = self.catalog.activity or {}
        return self.carrier.queue_news(seen.values(), self.store.synced_items(seen))

    def preview_activity(self) -> dict[str, list[str]]:
        """What a full pass would carry to Stash, per scene id (after a dry sweep)."""
        seen = self.catalog.activity or {}
        return self.carrier.preview(seen.values(), self.store.synced_items(seen))

    def reconcile_all(
        self, progress: ProgressFn = quiet, should_stop: Callable[[], bool] = lambda: False
    ) -> Summary:
        """Sweep both sides, queue the differences, drain the queue once (or until
        `should_stop`, between batches)."""
        report, _ = self.engine.sweep(progress)
        self.store.set_setting(LAST_POLL, repr(time.time()))
        for gate in self.worker.gates.values():
            gate.answered()  # both servers answered the sweep: a refusal they showed is over
        with collector.sparing_what_lives():
            result = self.worker.drain(progress=progress, should_stop=should_stop)
        if self.catalog.activity is not None and not should_stop():
            # every synced scene's activity, now that the scenes just written are synced too
            self.queue_all_activity()
            result.add(self.worker.drain(progress=progress, should_stop=should_stop))
        return Summary(
            seen=report.seen,
            in_sync=report.in_sync + result.in_sync,
            updated=result.applied,
            waiting=result.retried + result.waiting,
            dead=result.dead,
            unmatched=report.unmatched,
            skipped_required=report.skipped_required,
            unmatched_examples=report.unmatched_examples,
        )

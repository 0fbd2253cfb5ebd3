"""A seeded soak: hundreds of random changes on both sides, and not one of them may be missed.

The promise: with Stash's clock hours away from the
daemon's, in either direction, with a daylight-saving change in Stash's zone during the run and
with several edits within one second, stashplex misses no change. Each parametrization makes
200 random changes (600 in all): edits in Stash (alone, or several in the same second with a
poll in between), tag, performer and studio renames, file moves, edits by hand in Plex and new
items (the Plex item first and the scene a poll later, or the reverse). Every few batches, and
after the last change, stashplex polls and drains until it has caught up, and then every Plex
item must say what Stash says.

Stash's clock is the emulator's, driven by the test: the test's "true time" plus the offset of
the parametrization, starting 40 minutes (Stash time) before a daylight-saving change in Stash's
zone and moving on by steps of zero seconds to 40 minutes, so the run crosses the change and
scenes fall out of the poll's one-hour overlap. stashplex runs in this process (`App`) on its own
real clock, which is further still from Stash's: it must never compare a Stash stamp with any
clock but Stash's. Plex's clock is driven too; an edit made by hand in Plex is made at least a
second after stashplex's last write, since Plex stamps are whole seconds (a known limit, not
part of this promise).
To replay a failure: `pytest tests/reliability/test_soak.py -k <id>`. The message lists every
(scene, field) that Plex still showed wrong at a check, when stashplex had caught up, with the
last changes made to the first scenes concerned.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.app import App
from reconciler.config import parse_config
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator, unix_seconds
from tests.clock import Clock
from tests.reliability.stashplex_oracle import Difference, differences, queue_problems

STASH_KEY = "soak-stash-key-5c03"
PLEX_TOKEN = "soak-plex-token-e91b"
PATH_MAP = [("/data", "/media")]
CHANGES = 200  # per parametrization; three of them
CHECK_EVERY = 12  # batches between two full comparisons
SCENES = 40  # in the library when the soak starts
HOUR = 3600

# when Stash's zone changes its offset (UTC epoch seconds)
BERLIN_FALL_BACK = 1792890000  # 2026-10-25 03:00 CEST -> 02:00 CET
NEW_YORK_FALL_BACK = 1793512800  # 2026-11-01 02:00 EDT -> 01:00 EST
BERLIN_SPRING_FORWARD = 1774746000  # 2026-03-29 02:00 CET -> 03:00 CEST

# (change kind, weight)
KINDS = [
    ("edit", 30), ("burst", 10), ("tag rename", 5), ("performer rename", 4),
    ("studio rename", 1), ("move", 12), ("plex edit", 20), ("new item", 15),
]




class Soak:
    def __init__(self, tmp_path: Path, seed: int, tz: str, offset: float, transition: int):
        self.seed = seed
        self.rng = random.Random(seed)
        self.transition = transition
        # Stash's own clock (true time + offset) starts 40 minutes before its zone changes
        self.true_time = Clock(transition - offset - 2400)
        self.plex_clock = Clock(time.time())
        self.stash = StashEmulator(api_key=STASH_KEY, now=self.true_time, tz=tz,
                                   clock_offset=offset).start()
        self.plex = PlexEmulator(token=PLEX_TOKEN, clock=self.plex_clock).start()
        self.plex.add_section("Adult", ["/media"])
        self.counter = 0
        self.keys: dict[str, int] = {}  # scene id -> ratingKey of its Plex item
        self.busy: set[str] = set()  # scenes with a change half done (moves)
        self.later: list[Callable[[], None]] = []  # second halves, done in the next batch
        self.history: deque[str] = deque(maxlen=40)
        self.scene_history: dict[str, deque[str]] = defaultdict(lambda: deque(maxlen=8))
        self.missed: dict[tuple[str, str], tuple[int, Difference]] = {}
        self.stuck: list[str] = []
        self.changes = 0
        self.batch = 0
        self.kinds: dict[str, int] = {}
        self.offsets_seen: set[str] = set()
        self.tags = [self.fresh("Tag") for _ in range(30)]
        self.performers = [self.fresh("Performer") for _ in range(25)]
        self.studios = [self.fresh("Studio") for _ in range(8)]
        for _ in range(SCENES):
            self.new_scene(with_item=True)
        config = parse_config({
            "stash": {"url": self.stash.url, "api_key": STASH_KEY, "timeout": 5},
            "plex": {"url": self.plex.url, "token": PLEX_TOKEN, "libraries": ["Adult"],
                     "timeout": 5},
            "path_map": [{"stash": s, "plex": p} for s, p in PATH_MAP],
            "schedule": {"process_interval": 0.05},
            "retry": {
                "transient": {"max_retries": 50, "base": 0.01, "cap": 0.05},
                "not_found": {"max_retries": 1000, "base": 0.01, "cap": 0.05},
            },
            "database": str(tmp_path / "stashplex.db"),
        }, env={})
        self.app = App(config)
        summary = self.app.reconcile_all()
        assert summary.updated == SCENES and summary.dead == 0

    def close(self) -> None:
        self.app.close()
        self.stash.stop()
        self.plex.stop()

    # -- building blocks -----------------------------------------------------------------------

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem} {self.counter}"

    def note(self, text: str, *scene_ids: str) -> None:
        stamp = self.stash.now_string()
        self.offsets_seen.add(stamp[19:])
        line = f"batch {self.batch}, Stash {stamp}: {text}"
        self.history.append(line)
        for scene_id in scene_ids:
            self.scene_history[scene_id].append(line)

    def fields(self) -> dict:
        rng = self.rng
        if rng.random() < 0.03:
            self.tags.append(self.fresh("Tag"))
        return {
            "title": self.fresh("Title"),
            "details": self.fresh("Details"),
            "date": f"20{rng.randint(10, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "rating100": rng.randint(1, 100),
            "studio": rng.choice(self.studios),
            "performers": rng.sample(self.performers, rng.randint(1, 3)),
            "tags": rng.sample(self.tags, rng.randint(1, 4)),
        }

    def new_scene(self, with_item: bool) -> tuple[str, str]:
        path = f"/data/{self.rng.choice(['A', 'B', 'C'])}/{self.fresh('file')}.mp4"
        scene_id = self.stash.add_scene(files=[path], **self.fields())
        if with_item:
            self.keys[scene_id] = self.plex.add_item("Adult", self.plex_path(path))
        return scene_id, path

    @staticmethod
    def plex_path(stash_path: str) -> str:
        return "/media" + stash_path[len("/data"):]

    def idle_scenes(self) -> list[str]:
        return sorted(s for s in self.keys if s not in self.busy)

    def refresh_names(self) -> None:
        self.tags = [t["name"] for t in self.stash.tags()]
        self.performers = [p["name"] for p in self.stash.performers()]
        self.studios = [s["name"] for s in self.stash.studios()]

    def sync(self) -> None:
        """One turn of the daemon: poll both sides, drain the queue."""
        self.app.engine.poll()
        self.app.worker.drain()

    # -- the changes -----------------------------------------------------------------------------

    def edit(self, scene_id: str | None = None) -> None:
        scene_id = scene_id or self.rng.choice(sorted(self.keys))
        values = self.fields()
        chosen = self.rng.sample(sorted(values), self.rng.randint(1, 4))
        self.stash.update_scene(scene_id, **{name: values[name] for name in chosen})
        self.note(f"scene {scene_id} edited in Stash: {', '.join(chosen)}", scene_id)
        self.changes += 1

    def burst(self) -> None:
        """Several edits within the same second, sometimes with a poll in between."""
        scene_ids = sorted(self.keys)
        same = self.rng.choice(scene_ids)
        for _ in range(self.rng.randint(2, 4)):
            self.edit(same if self.rng.random() < 0.6 else self.rng.choice(scene_ids))
            if self.rng.random() < 0.5:
                self.note("poll and drain within the same second")
                self.sync()

    def rename(self, kind: str) -> None:
        self.refresh_names()
        pool = {"tag": self.tags, "performer": self.performers, "studio": self.studios}[kind]
        old, new = self.rng.choice(pool), self.fresh(kind.title())
        carriers = [
            str(scene["id"]) for scene in self.stash.scenes()
            if old in ({(scene["studio"] or {}).get("name")} if kind == "studio"
                       else {o["name"] for o in scene[f"{kind}s"]})
        ]
        getattr(self.stash, f"rename_{kind}")(old, new)
        self.note(f"{kind} {old!r} renamed {new!r}", *carriers)
        self.changes += 1
        self.refresh_names()

    def plex_edit(self) -> None:
        # a whole second after stashplex's last write: Plex stamps are whole seconds
        self.plex_clock.tick(1)
        scene_id = self.rng.choice(self.idle_scenes())
        changes = {"title": self.fresh("Typed in Plex"), "genres": [self.fresh("Genre")]}
        extra = self.rng.choice(["summary", "user_rating", "actors", "studio", None])
        if extra == "summary":
            changes["summary"] = "typed by hand"
        elif extra == "user_rating":
            changes["user_rating"] = 1.5
        elif extra == "actors":
            changes["actors"] = ["Somebody Else"]
        elif extra == "studio":
            changes["studio"] = "Wrong Studio"
        self.plex.edit_item(self.keys[scene_id], **changes)
        self.note(f"Plex item {self.keys[scene_id]} (scene {scene_id}) edited by hand: "
                  f"{', '.join(changes)}", scene_id)
        self.changes += 1

    def stalest(self) -> str:
        """The idle scene whose Stash `updated_at` is the oldest."""
        stamps = {str(s["id"]): unix_seconds(s["updated_at"]) for s in self.stash.scenes()}
        return min(self.idle_scenes(), key=lambda scene_id: (stamps[scene_id], scene_id))

    def move(self) -> None:
        # files get reorganised long after they were curated: often the stalest scene moves
        idle = self.idle_scenes()
        scene_id = self.stalest() if self.rng.random() < 0.5 else self.rng.choice(idle)
        new_path = f"/data/Moved/{self.fresh('moved')}.mp4"
        old_key = self.keys[scene_id]
        order = self.rng.choice(["together", "Plex first", "Stash first"])

        def in_stash() -> None:
            self.stash.move_file(scene_id, new_path)

        def in_plex() -> None:
            self.plex.remove_item(old_key)
            self.keys[scene_id] = self.plex.add_item("Adult", self.plex_path(new_path))

        def then(step: Callable[[], None]) -> Callable[[], None]:
            def finish() -> None:
                step()
                self.busy.discard(scene_id)

            return finish

        if order == "together":
            in_stash()
            in_plex()
        else:
            self.busy.add(scene_id)
            first, second = (in_plex, in_stash) if order == "Plex first" else (in_stash, in_plex)
            first()
            self.later.append(then(second))
        self.note(f"scene {scene_id}'s file moved to {new_path} ({order}; old item {old_key})",
                  scene_id)
        self.changes += 1

    def new_item(self) -> None:
        order = self.rng.choice(["together", "Plex first", "Stash first"])
        if order == "Plex first":
            path = f"/data/New/{self.fresh('new')}.mp4"
            key = self.plex.add_item("Adult", self.plex_path(path))

            def in_stash() -> None:
                scene_id = self.stash.add_scene(files=[path], **self.fields())
                self.keys[scene_id] = key
                self.note(f"scene {scene_id} added for Plex item {key}", scene_id)

            self.later.append(in_stash)
            self.note(f"new Plex item {key} for {path}; its scene comes a poll later")
        else:
            scene_id, path = self.new_scene(with_item=order == "together")
            if order == "Stash first":
                self.busy.add(scene_id)

                def in_plex() -> None:
                    self.keys[scene_id] = self.plex.add_item("Adult", self.plex_path(path))
                    self.busy.discard(scene_id)

                self.later.append(in_plex)
                # until Plex scans the file the scene is not in `keys`: nothing else touches it
            self.note(f"new scene {scene_id} at {path} ({order})", scene_id)
        self.changes += 1

    def one_change(self) -> None:
        kind = self.rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        if kind == "edit":
            self.edit()
        elif kind == "burst":
            self.burst()
        elif kind.endswith("rename"):
            self.rename(kind.split()[0])
        elif kind == "plex edit":
            self.plex_edit()
        elif kind == "move":
            self.move()
        else:
            self.new_item()

    # -- the run ---------------------------------------------------------------------------------

    def run_batch(self) -> None:
        self.batch += 1
        later, self.later = self.later, []
        for step in later:
            step()
        for _ in range(self.rng.randint(1, 8)):
            self.one_change()
            self.true_time.tick(self.rng.choice([0, 0, 0, 0.4, 1.1]))
        self.sync()
        self.true_time.tick(self.rng.choice([0, 0, 1, 2, 30, 120, 300, 900, 2400]))
        self.plex_clock.tick(self.rng.choice([0, 0, 1, 2]))

    def catch_up(self) -> list[Difference]:
        """Finish the half-done changes, let stashplex catch up, and say what still differs."""
        while self.later:
            later, self.later = self.later, []
            for step in later:
                step()
        for turn in range(20):
            self.sync()
            if turn and not self.app.store.jobs():
                break
            time.sleep(0.06)  # a file not scanned yet is retried after a short wait
        else:
            self.stuck.append(f"batch {self.batch}: jobs never done: "
                              + "; ".join(queue_problems(self.app.store)))
        return differences(self.stash.scenes(), self.plex.items(), PATH_MAP)

    def check(self) -> None:
        """stashplex has caught up: whatever Plex still shows wrong is a missed change."""
        for difference in self.catch_up():
            key = (difference.scene_id, difference.field)
            self.missed.setdefault(key, (self.batch, difference))

    def verdict(self) -> list[str]:
        lines = list(self.stuck)
        by_field: dict[str, int] = defaultdict(int)
        for _, difference in self.missed.values():
            by_field[difference.field] += 1
        if self.missed:
            lines.append("missed (scene, field) pairs by field: " + ", ".join(
                f"{field} {count}" for field, count in sorted(by_field.items())))
        shown_scenes: set[str] = set()
        for batch, difference in sorted(self.missed.values(), key=lambda m: m[0]):
            lines.append(f"at the check after batch {batch}: {difference}")
            if difference.scene_id not in shown_scenes and len(shown_scenes) < 6:
                shown_scenes.add(difference.scene_id)
                lines += [f"    {line}" for line in self.scene_history[difference.scene_id]]
        return lines

    def failure(self, headline: str, problems: list[str]) -> str:
        return "\n".join([
            f"seed {self.seed}, {self.batch} batches, {self.changes} changes: {headline}",
            *problems,
        ])


@pytest.mark.integration
@pytest.mark.parametrize(
    "seed, offset_hours, tz, transition",
    [
        (101, -3, "Europe/Berlin", BERLIN_FALL_BACK),
        (202, 0, "America/New_York", NEW_YORK_FALL_BACK),
        (303, 5, "Europe/Berlin", BERLIN_SPRING_FORWARD),
    ],
    ids=["stash-3h-berlin-fall-back", "stash+0h-new-york-fall-back",
         "stash+5h-berlin-spring-forward"],
)
def test_soak_misses_no_change(tmp_path, seed, offset_hours, tz, transition):
    soak = Soak(tmp_path, seed, tz, offset_hours * HOUR, transition)
    try:
        while soak.changes < CHANGES:
            soak.run_batch()
            if soak.batch % CHECK_EVERY == 0:
                soak.check()
        soak.check()
        print(f"seed {seed}: {soak.changes} changes in {soak.batch} batches: {soak.kinds}; "
              f"Stash offsets seen {sorted(soak.offsets_seen)}")
        problems = soak.verdict()
        assert not problems, soak.failure("changes missed", problems)
        left = queue_problems(soak.app.store)
        assert not left, soak.failure("stashplex did not finish its work", left)
        # the run did cross the daylight-saving change in Stash's zone, and the hour after it
        assert len(soak.offsets_seen) == 2, soak.offsets_seen
        assert soak.true_time() + offset_hours * HOUR > transition + HOUR
    finally:
        soak.close()

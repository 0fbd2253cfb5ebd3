"""A seeded soak of the way back: random plays, resume points and ratings on both sides.

The promise: whatever mix of plays (the token's account and another one), resume points,
"mark unwatched", ratings given in Plex and in Stash (both sides rating one scene within one
poll included), plays in Stash's own player and edits in Stash, once stashplex has caught up
every scene's Stash play count is what Stash counted itself plus each Plex play of the token's
account exactly once, its resume point is Plex's, and both sides show the rating that was given
last (Stash saving the rating it already holds is no rating change: it has no stamp for
ratings). Each parametrization makes 120 random changes (360 in all), polling and draining every
few; both emulators and stashplex share one clock the test moves. An item marked unwatched is
polled just before (a play that Plex forgets again within one poll is not carried) and after
its first play that follows (more plays than it had before, all within one poll after the mark,
is a known limit: see the README's "Back from Plex").
To replay a failure: `pytest tests/reliability/test_activity_soak.py -k <seed>`.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from reconciler.app import App
from reconciler.config import parse_config
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.status import collect_status
from tests.clock import Clock

STASH_KEY = "soak-back-stash-key-77a0"
PLEX_TOKEN = "soak-back-plex-token-1f3c"
CHANGES = 120
SCENES = 12
KINDS = [
    ("plex play", 30),
    ("other account play", 5),
    ("plex resume", 15),
    ("plex rate", 15),
    ("stash rate", 12),
    ("both rate", 8),
    ("stash play", 6),
    ("stash edit", 6),
    ("unwatch", 3),
]


class Soak:
    def __init__(self, tmp_path: Path, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock = Clock(1_790_000_000.0)
        self.stash = StashEmulator(api_key=STASH_KEY, now=self.clock).start()
        self.plex = PlexEmulator(
            token=PLEX_TOKEN, clock=self.clock, history=self.rng.random() < 0.5
        ).start()
        self.plex.add_section("Adult", ["/media"])
        self.keys: dict[str, int] = {}
        self.stash_plays: Counter = Counter()
        self.plex_plays: Counter = Counter()
        self.last_rating: dict[str, int] = {}
        self.unwatched: set[str] = set()
        self.log: list[str] = []
        for n in range(SCENES):
            rating = self.rng.randint(1, 10) * 10
            scene_id = self.stash.add_scene(
                title=f"Scene {n}", rating100=rating, files=[f"/data/s{n}.mp4"]
            )
            self.keys[scene_id] = self.plex.add_item("Adult", f"/media/s{n}.mp4")
            self.last_rating[scene_id] = rating
        config = parse_config(
            {
                "stash": {"url": self.stash.url, "api_key": STASH_KEY},
                "plex": {"url": self.plex.url, "token": PLEX_TOKEN, "libraries": ["Adult"]},
                "path_map": [{"stash": "/data", "plex": "/media"}],
                "sync": {"fields": ["title", "rating"]},
                "plex_to_stash": {"plays": True, "resume": True, "ratings": True},
                "retry": {"transient": {"base": 0, "cap": 0}},
                "database": str(tmp_path / "stashplex.db"),
            },
            env={},
        )
        self.clock.tick(10)
        self.app = App(config)
        self.app.reconcile_all()
        self.catch_up()

    def close(self) -> None:
        self.app.close()
        self.stash.stop()
        self.plex.stop()

    def catch_up(self) -> None:
        for _ in range(4):
            self.clock.tick(2)
            self.app.engine.poll()
            self.app.worker.drain()

    def change(self) -> None:
        rng = self.rng
        kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        scene_id = rng.choice(sorted(self.keys))
        key = self.keys[scene_id]
        self.clock.tick(rng.randint(1, 3))
        if kind == "plex play":
            self.plex.play_item(key)
            self.plex_plays[scene_id] += 1
            if scene_id in self.unwatched:  # see the module's note
                self.unwatched.discard(scene_id)
                self.catch_up()
        elif kind == "other account play":
            self.plex.play_item(key, account_id=2)
        elif kind == "plex resume":
            self.plex.progress_item(key, rng.randint(1, 3_600_000))
        elif kind == "plex rate":
            self._rate_plex(scene_id)
        elif kind == "stash rate":
            self._rate_stash(scene_id)
        elif kind == "both rate":
            first, second = (self._rate_plex, self._rate_stash)[:: rng.choice([1, -1])]
            first(scene_id)
            self.clock.tick(1)
            second(scene_id)
        elif kind == "stash play":
            self.stash.play_scene(scene_id)
            self.stash_plays[scene_id] += 1
        elif kind == "stash edit":
            self.stash.update_scene(scene_id, title=f"Edited {rng.random():.6f}")
        elif kind == "unwatch":
            self.catch_up()  # a play and the mark within one poll: Plex forgets the play
            self.plex.unwatch_item(key)
            self.unwatched.add(scene_id)
        self.log.append(f"{kind} scene {scene_id}")

    def _rate_plex(self, scene_id: str) -> None:
        stars = self.rng.randint(1, 10)
        self.plex.rate_item(self.keys[scene_id], stars)
        self.last_rating[scene_id] = stars * 10
        self.log.append(f"  plex rated {stars * 10} at {self.clock.now:.0f} scene {scene_id}")

    def _rate_stash(self, scene_id: str) -> None:
        # Stash stamps no rating of its own: saving the stars it holds is no rating change
        held = self.stash.scene(scene_id)["rating100"]
        rating = self.rng.choice([r for r in range(10, 101, 10) if r != held])
        self.stash.update_scene(scene_id, rating100=rating)
        self.last_rating[scene_id] = rating
        self.log.append(f"  stash rated {rating} at {self.clock.now:.0f} scene {scene_id}")

    def wrong(self) -> list[str]:
        found = []
        for scene_id, key in sorted(self.keys.items()):
            scene, item = self.stash.scene(scene_id), self.plex.item(key)
            plays = self.stash_plays[scene_id] + self.plex_plays[scene_id]
            if scene["play_count"] != plays:
                found.append(f"scene {scene_id}: {scene['play_count']} plays, wanted {plays}")
            if scene["resume_time"] != pytest.approx(item.view_offset / 1000):
                found.append(f"scene {scene_id}: resume {scene['resume_time']} vs {item}")
            wanted = self.last_rating[scene_id]
            if scene["rating100"] != wanted or item.user_rating != wanted / 10:
                found.append(
                    f"scene {scene_id}: rating Stash {scene['rating100']}, Plex "
                    f"{item.user_rating}, wanted {wanted}"
                )
        return found


@pytest.mark.parametrize("seed", [11, 22, 33])
def test_plays_resumes_and_ratings_on_both_sides_end_in_agreement(tmp_path, seed):
    soak = Soak(tmp_path, seed)
    try:
        for _ in range(CHANGES):
            soak.change()
            if soak.rng.random() < 0.25:
                soak.clock.tick(1)
                soak.app.engine.poll()
                soak.app.worker.drain()
        soak.catch_up()
        wrong = soak.wrong()
        assert not wrong, "\n".join(wrong[:10] + ["last changes:"] + soak.log[-15:])
        store = soak.app.store
        assert store.counts().queued == 0 and store.counts().dead == 0
        assert collect_status(store)["carried_back"]["plays"] == sum(soak.plex_plays.values())
        writes = soak.plex.stats()["write"]
        soak.catch_up()  # caught up: nothing moves any more
        assert soak.plex.stats()["write"] == writes
    finally:
        soak.close()

"""Activity made in Plex carried back to Stash, end to end against both emulators.

Plays, resume points and ratings given in Plex reach Stash once each; a rating given on both
sides ends with the newer one on both; stashplex's own writes never look like a user's change
on the other side; a Stash that lacks or refuses a mutation turns that feature off once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest

from reconciler.activity import epoch
from reconciler.app import App
from reconciler.config import parse_config
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.status import collect_status
from tests.clock import Clock

pytestmark = pytest.mark.integration

STASH_KEY = "stash-KEY-activity-31d0"
PLEX_TOKEN = "plex-TOKEN-activity-c4e2"
ALL_ON = {"plays": True, "resume": True, "ratings": True}


class World:
    """Both emulators on one clock, stashplex carrying activity back; scenes added by tests."""

    def __init__(self, tmp_path, clock: Clock, back: dict, **switches) -> None:
        self.clock = clock
        timeout = switches.pop("stash_timeout", 30)
        self.stash = StashEmulator(
            api_key=STASH_KEY, now=clock, **switches.pop("stash", {})
        ).start()
        self.plex = PlexEmulator(token=PLEX_TOKEN, clock=clock, **switches).start()
        self.plex.add_section("Adult", ["/media"])
        self.rating_keys: dict[str, int] = {}
        self.config = parse_config(
            {
                "stash": {"url": self.stash.url, "api_key": STASH_KEY, "timeout": timeout},
                "plex": {"url": self.plex.url, "token": PLEX_TOKEN, "libraries": ["Adult"]},
                "path_map": [{"stash": "/data", "plex": "/media"}],
                "sync": {"fields": ["title", "summary", "tags", "rating"]},
                "plex_to_stash": back,
                "retry": {"transient": {"base": 0, "cap": 0}},  # a waiting job is due at once
                "database": str(tmp_path / "stashplex.db"),
            },
            env={},
        )
        self.app = App(self.config)

    def add(self, n: int, rating100: int | None = 80) -> str:
        scene_id = self.stash.add_scene(
            title=f"Scene {n}", rating100=rating100, files=[f"/data/scene-{n}.mp4"]
        )
        self.rating_keys[scene_id] = self.plex.add_item("Adult", f"/media/scene-{n}.mp4")
        return scene_id

    def item(self, scene_id: str):
        return self.plex.item(self.rating_keys[scene_id])

    def poll_and_drain(self):
        self.clock.tick(5)
        report = self.app.engine.poll()
        return report, self.app.worker.drain()

    def close(self) -> None:
        self.app.close()
        self.stash.stop()
        self.plex.stop()


@pytest.fixture
def make_world(tmp_path) -> Iterator:
    made: list[World] = []

    def build(back: dict | None = None, scenes: int = 2, **switches) -> World:
        world = World(
            tmp_path, Clock(1_790_000_000.0), ALL_ON if back is None else back, **switches
        )
        made.append(world)
        world.plex.add_item("Adult", "/media/other/not-from-stash.mp4")  # left alone
        world.clock.tick(10)
        for n in range(1, scenes + 1):
            world.add(n)
        world.clock.tick(10)
        world.app.reconcile_all()
        world.poll_and_drain()  # lists stashplex's own writes
        world.clock.tick(10)
        world.plex.add_item("Adult", "/media/other/scanned-later.mp4")
        world.poll_and_drain()  # the mark moves past them: the items are listed no more
        return world

    yield build
    for world in made:
        world.close()


def plays_of(world: World, scene_id: str) -> list[int]:
    return [epoch(stamp) for stamp in world.stash.scene(scene_id)["play_history"]]


def test_a_play_in_plex_reaches_stash_once_at_its_time(make_world):
    world = make_world()
    before = world.stash.scene("1")["updated_at"]
    world.clock.tick(30)
    world.plex.play_item(world.rating_keys["1"])
    viewed_at = world.item("1").last_viewed_at

    world.poll_and_drain()
    world.poll_and_drain()
    world.poll_and_drain()

    assert plays_of(world, "1") == [viewed_at]
    assert world.stash.scene("1")["play_count"] == 1
    assert world.stash.scene("1")["updated_at"] == before  # a play is activity, not an edit
    assert world.stash.scene("2")["play_count"] == 0
    assert world.app.store.counts().queued == 0


@pytest.mark.parametrize("history", [True, False], ids=["history", "no-history"])
def test_several_plays_between_polls_are_each_carried(make_world, history):
    world = make_world(history=history)
    key = world.rating_keys["1"]
    times = []
    for _ in range(3):
        world.clock.tick(100)
        world.plex.play_item(key)
        times.append(world.item("1").last_viewed_at)
    world.clock.tick(100)
    world.plex.play_item(key, account_id=2)  # another account: its history, not our count

    world.poll_and_drain()

    expected = times if history else [times[-1]] * 3
    assert plays_of(world, "1") == expected


def test_marking_unwatched_in_plex_keeps_stash_history_and_later_plays_count_once(make_world):
    world = make_world()
    key = world.rating_keys["1"]
    world.plex.play_item(key)
    world.poll_and_drain()
    assert world.stash.scene("1")["play_count"] == 1
    world.clock.tick(10)
    world.plex.add_item("Adult", "/media/other/scanned-after-the-play.mp4")
    world.poll_and_drain()  # the mark moves past the play: the item is listed no more

    world.plex.unwatch_item(key)  # moves no stamp: no poll lists it
    world.poll_and_drain()
    assert world.stash.scene("1")["play_count"] == 1

    world.clock.tick(50)
    world.plex.play_item(key)  # Plex counts 1 again
    world.poll_and_drain()
    world.poll_and_drain()
    assert world.stash.scene("1")["play_count"] == 2


@pytest.mark.parametrize("moves_viewed", [True, False], ids=["viewed-moves", "viewed-stays"])
def test_a_resume_point_in_plex_becomes_stash_resume_time(make_world, moves_viewed):
    """Whether a progress report moves `lastViewedAt` is not known of real PMS: when it does,
    the next poll carries the resume point; when not, the next full pass does."""
    world = make_world(progress_moves_viewed=moves_viewed)
    before = world.stash.scene("2")["updated_at"]
    world.plex.progress_item(world.rating_keys["2"], 754_300)

    world.poll_and_drain()
    if not moves_viewed:
        assert world.stash.scene("2")["resume_time"] == 0  # no change filter lists it
        world.app.reconcile_all()

    scene = world.stash.scene("2")
    assert scene["resume_time"] == pytest.approx(754.3)
    assert scene["play_count"] == 0 and scene["updated_at"] == before


def test_nothing_comes_back_unless_turned_on(make_world):
    world = make_world(back={})
    world.plex.play_item(world.rating_keys["1"])
    world.plex.progress_item(world.rating_keys["2"], 10_000)
    world.plex.rate_item(world.rating_keys["2"], 2)

    world.poll_and_drain()

    assert world.stash.scene("1")["play_count"] == 0
    assert world.stash.scene("2")["resume_time"] == 0
    assert world.stash.scene("2")["rating100"] == 80
    assert world.item("2").user_rating == 8.0  # Plex's stars are put back, as before


def plex_writes(world: World) -> int:
    return world.plex.stats()["write"]


def test_a_rating_given_in_plex_goes_to_stash_and_nothing_bounces(make_world):
    world = make_world()
    world.clock.tick(20)
    world.plex.rate_item(world.rating_keys["1"], 3)

    world.poll_and_drain()  # Plex -> Stash
    writes = plex_writes(world)
    stash_stamp = world.stash.scene("1")["updated_at"]
    world.poll_and_drain()  # Stash's own bump finds Plex already equal
    world.poll_and_drain()

    assert world.stash.scene("1")["rating100"] == 30
    assert world.item("1").user_rating == 3.0
    assert plex_writes(world) == writes
    assert world.stash.scene("1")["updated_at"] == stash_stamp
    assert world.app.store.counts().queued == 0


def test_a_rating_stashplex_wrote_to_plex_is_not_carried_back(make_world):
    world = make_world()
    world.clock.tick(20)
    world.stash.update_scene("1", rating100=60)

    world.poll_and_drain()
    stamp = world.stash.scene("1")["updated_at"]
    world.poll_and_drain()
    world.poll_and_drain()

    assert world.item("1").user_rating == 6.0
    assert world.stash.scene("1")["rating100"] == 60
    assert world.stash.scene("1")["updated_at"] == stamp  # no sceneUpdate came back
    assert world.app.store.activity_counts().get("ratings", 0) == 0


@pytest.mark.parametrize("newer", ["plex", "stash"])
def test_rated_on_both_sides_within_one_poll_the_newer_rating_wins(make_world, newer):
    world = make_world()
    world.clock.tick(20)
    first, second = (
        (
            lambda: world.stash.update_scene("1", rating100=40),
            lambda: world.plex.rate_item(world.rating_keys["1"], 9),
        )
        if newer == "plex"
        else (
            lambda: world.plex.rate_item(world.rating_keys["1"], 9),
            lambda: world.stash.update_scene("1", rating100=40),
        )
    )
    first()
    world.clock.tick(2)
    second()

    for _ in range(3):
        world.poll_and_drain()

    wanted = 90 if newer == "plex" else 40
    assert world.stash.scene("1")["rating100"] == wanted
    assert world.item("1").user_rating == wanted / 10
    writes = plex_writes(world)
    world.poll_and_drain()
    assert plex_writes(world) == writes


@pytest.mark.parametrize(
    "switch, message",
    [({"play_history": False}, "has no sceneAddPlay"), ({"read_only_key": True}, "refused")],
    ids=["old-stash", "read-only-key"],
)
def test_a_stash_that_rejects_the_mutation_turns_the_feature_off_once(
    make_world, caplog, switch, message
):
    world = make_world(back={"plays": True, "resume": True}, stash=switch)
    for key in world.rating_keys.values():
        world.plex.play_item(key)
    world.plex.progress_item(world.rating_keys["1"], 5_000)

    with caplog.at_level(logging.WARNING):
        world.poll_and_drain()
        world.poll_and_drain()

    warnings = [r for r in caplog.records if "turned off" in r.getMessage()]
    assert len(warnings) == (1 if "play_history" in switch else 2)  # read-only: both features
    assert message in warnings[0].getMessage()
    assert world.app.store.counts().dead == 0 and world.app.store.counts().queued == 0
    status = collect_status(world.app.store)
    assert "plays" in status["carried_back"]["turned_off"]
    if "play_history" in switch:  # an old Stash still takes resume points
        assert world.stash.scene("1")["resume_time"] == 5.0


def test_while_stash_is_down_activity_waits_and_spends_no_retry(make_world):
    world = make_world()
    world.plex.play_item(world.rating_keys["1"])
    world.clock.tick(5)
    world.app.engine.poll()  # queued
    world.stash.stop()
    try:
        results = [world.app.worker.drain() for _ in range(3)]
    finally:
        world.stash.start()
    assert (results[0].waiting, results[0].retried, results[0].dead) == (1, 0, 0)
    job = world.app.store.jobs()[0]
    assert job.retries == 0 and world.app.store.counts().dead == 0
    assert world.stash.scene("1")["play_count"] == 0

    for _ in range(3):
        world.poll_and_drain()
    assert world.stash.scene("1")["play_count"] == 1
    assert world.app.store.counts().queued == 0


@pytest.mark.parametrize("late", [True, False], ids=["added-late", "never-added"])
def test_plays_stash_may_still_be_adding_are_not_sent_twice(make_world, late):
    """Stash goes on with a request whose asker timed out (or was killed): the plays are sent
    again only once that request is surely over, and only if Stash did not add them."""
    world = make_world(stash_timeout=0.3)
    slow = threading.Event()

    def slow_first_add(variables: dict) -> None:
        if "times" in variables and not slow.is_set():
            slow.set()
            time.sleep(0.8)  # the asker gives up after 0.3 s
            if not late:
                raise RuntimeError("Stash failed before adding the play")

    world.stash.before_query = slow_first_add
    world.plex.play_item(world.rating_keys["1"])
    world.poll_and_drain()  # the request times out: retried at once
    assert slow.is_set() and world.app.store.jobs()

    world.clock.tick(0.01)
    drained = world.app.worker.drain()  # still in doubt: not sent again yet
    assert drained.waiting == 1
    time.sleep(1.0)  # Stash has finished with the slow request
    assert world.stash.scene("1")["play_count"] == (1 if late else 0)

    world.clock.tick(1)
    world.app.worker.drain()
    world.poll_and_drain()
    assert world.stash.scene("1")["play_count"] == 1
    assert collect_status(world.app.store)["carried_back"]["plays"] == 1
    assert world.app.store.counts().queued == 0


def test_a_resume_point_stash_took_without_an_answer_is_cleared_when_plex_clears_it(make_world):
    """Stash took a resume point but its answer never came (the asker timed out, or was
    killed): when the item is then watched to the end in Plex, Stash's resume point goes too."""
    world = make_world(stash_timeout=0.3)
    slow = threading.Event()

    def slow_first_resume(variables: dict) -> None:
        if "resume_time" in variables and not slow.is_set():
            slow.set()
            time.sleep(0.8)  # the asker gives up after 0.3 s; Stash saves it all the same

    world.stash.before_query = slow_first_resume
    key = world.rating_keys["1"]
    world.plex.progress_item(key, 476_591)
    world.poll_and_drain()
    assert slow.is_set() and world.app.store.jobs()
    world.plex.play_item(key)  # watched to the end: Plex clears the resume point
    time.sleep(1.0)  # Stash has finished with the slow request
    assert world.stash.scene("1")["resume_time"] == pytest.approx(476.591)

    world.poll_and_drain()
    world.poll_and_drain()

    assert world.item("1").view_offset == 0
    assert world.stash.scene("1")["resume_time"] == 0
    assert world.stash.scene("1")["play_count"] == 1
    assert world.app.store.counts().queued == 0


def listings(world: World) -> int:
    """Requests for a library's items (the change filters travel on these)."""
    return sum(
        n
        for (method, path), n in world.plex.request_counts().items()
        if method == "GET" and path.startswith("/library/sections/") and path.endswith("/all")
    )


@pytest.mark.parametrize("or_groups", [True, False], ids=["or-groups", "no-or-groups"])
def test_the_idle_poll_stays_within_its_plex_budget(make_world, or_groups):
    world = make_world(or_groups=or_groups)
    world.poll_and_drain()
    before = listings(world)
    world.poll_and_drain()
    asked = listings(world) - before
    assert asked <= 2 if or_groups else asked <= 3
    assert asked == (1 if or_groups else 3)


def test_status_counts_what_came_back_and_the_last_one(make_world):
    world = make_world()
    world.plex.play_item(world.rating_keys["2"])
    world.plex.progress_item(world.rating_keys["1"], 60_000)
    world.plex.rate_item(world.rating_keys["1"], 5)
    world.poll_and_drain()

    back = collect_status(world.app.store)["carried_back"]
    assert (back["plays"], back["resumes"], back["ratings"]) == (1, 1, 1)
    assert back["last"]["scene_id"] in {"1", "2"}


def test_a_full_pass_carries_every_scene_once_and_a_dry_run_only_lists(make_world, capsys):
    world = make_world(back={})
    world.plex.play_item(world.rating_keys["1"])
    world.plex.progress_item(world.rating_keys["2"], 30_000)
    config = parse_config(
        {
            "stash": {"url": world.stash.url, "api_key": STASH_KEY},
            "plex": {"url": world.plex.url, "token": PLEX_TOKEN, "libraries": ["Adult"]},
            "path_map": [{"stash": "/data", "plex": "/media"}],
            "sync": {"fields": ["title", "summary", "tags", "rating"]},
            "plex_to_stash": {**ALL_ON, "link": True},
            "database": world.config.database,
        },
        env={},
    )
    world.app.close()
    world.app = App(config)

    world.app.engine.sweep(dry_run=True)
    preview = world.app.preview_activity()
    assert preview == {
        "1": ["1 play", "link to Plex"],
        "2": ["resume point 30s", "link to Plex"],
    }
    assert world.stash.scene("1")["play_count"] == 0

    world.app.reconcile_all()
    world.app.reconcile_all()

    assert world.stash.scene("1")["play_count"] == 1
    assert world.stash.scene("2")["resume_time"] == 30.0
    link = world.stash.scene("1")["urls"]
    assert len(link) == 1 and "%2Flibrary%2Fmetadata%2F" in link[0] and PLEX_TOKEN not in link[0]
    assert world.stash.scene("2")["urls"] != link


def test_the_status_command_and_the_dry_run_say_what_came_back(make_world, capsys):
    from argparse import Namespace

    from reconciler.cli import _dry_run, cmd_status
    from reconciler.progress import quiet

    world = make_world()
    world.plex.play_item(world.rating_keys["1"])
    world.poll_and_drain()
    world.plex.progress_item(world.rating_keys["2"], 90_000)

    _dry_run(world.app, quiet)
    cmd_status(world.config, Namespace(json=False))

    out = capsys.readouterr().out
    assert "scene 2 <- Plex: resume point 90s" in out
    assert "0 would be updated, 1 would get activity from Plex, 0 unmatched" in out
    assert "from plex:    1 plays, 0 resume points, 0 ratings, 0 links carried to Stash" in out
    assert "last: scene 1" in out
    assert world.stash.scene("2")["resume_time"] == 0

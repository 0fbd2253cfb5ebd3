"""Servers that go away and come back: nothing is dead-lettered for it, nothing is missed."""

from __future__ import annotations

import contextlib
import time

import pytest

from reconciler.app import App
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.engine import STASH_SCENES
from reconciler.errors import StashplexError
from tests.clock import Clock
from tests.integration.test_reconcile import PLEX_TOKEN, STASH_KEY, World

pytestmark = pytest.mark.integration

QUICK = {"transient": {"base": 0.01, "cap": 0.02}, "not_found": {"base": 0.01, "cap": 0.02}}


@pytest.fixture
def world(tmp_path):
    clock = Clock()
    stash = StashEmulator(api_key=STASH_KEY, now=clock).start()
    original = stash.update_scene

    def update_scene(scene_id, **fields):
        clock.tick()  # each edit a second after the one before, as a person makes them
        original(scene_id, **fields)

    stash.update_scene = update_scene
    plex = PlexEmulator(token=PLEX_TOKEN).start()
    built = World(tmp_path, stash, plex)
    for n in range(5, 13):
        stash.add_scene(title=f"Scene {n}", files=[f"/data/Studio/scene-{n}.mp4"])
        built.rating_keys[str(n)] = plex.add_item("Adult", f"/media/Studio/scene-{n}.mp4")
    built.config.retry.transient.base = built.config.retry.transient.cap = 0.01
    built.config.retry.not_found.base = built.config.retry.not_found.cap = 0.01
    built.app.close()
    built.app = App(built.config)
    yield built
    built.app.close()
    stash.stop()
    plex.stop()


def cycle(world: World, rounds: int) -> None:
    """What the daemon does: poll, then drain; a failed poll is logged and tried again."""
    for _ in range(rounds):
        with contextlib.suppress(StashplexError):
            world.app.engine.poll()
        world.app.worker.drain()
        time.sleep(0.03)


def in_step(world: World) -> bool:
    return all(world.item(s["id"]).title == s["title"] for s in world.stash.scenes())


def detail_batch_sizes(plex: PlexEmulator) -> list[int]:
    return [len(path.rsplit("/", 1)[1].split(",")) for method, path, _ in plex.requests
            if method == "GET" and path.startswith("/library/metadata/")]


def test_plex_refusing_then_answering_503_dead_letters_nothing_and_ramps_up(world):
    world.app.reconcile_all()
    for n in range(1, 13):
        world.stash.update_scene(str(n), title=f"Edited {n}")
    world.plex.stop()

    cycle(world, 8)
    assert world.app.worker.paused
    world.plex.start()
    world.plex.inject(503, count=6)  # starting up: /identity and everything else answer 503
    cycle(world, 3)
    assert world.app.worker.paused
    world.plex.reset_log()
    cycle(world, 6)

    assert not world.app.worker.paused
    assert in_step(world)
    store = world.app.store
    assert store.dead_letters() == [] and store.jobs() == []
    sizes = detail_batch_sizes(world.plex)
    assert sizes[:4] == [1, 1, 2, 2]  # each batch read, written, then read back at once
    assert max(sizes) > 2


def test_a_503_storm_spends_no_retries(world):
    world.app.reconcile_all()
    world.stash.update_scene("1", title="During the storm")
    world.plex.inject(503, count=40, path_prefix="/library")

    cycle(world, 12)

    job = world.app.store.job_for("1")
    assert job is not None and job.retries == 0 and job.last_error_class == "PlexUnavailable"
    assert world.app.store.dead_letters() == []
    world.plex.clear_faults()
    cycle(world, 6)
    assert world.item("1").title == "During the storm"


@pytest.mark.parametrize("failure", ["down", "500"])
def test_stash_down_or_failing_keeps_the_watermark_and_misses_nothing(world, failure):
    world.app.reconcile_all()
    mark = world.app.store.watermark(STASH_SCENES)
    world.stash.update_scene("2", title="Edited before the outage")
    if failure == "down":
        world.stash.stop()
    else:
        world.stash.inject(500, count=50, path_prefix="/graphql")

    cycle(world, 3)
    assert world.app.store.watermark(STASH_SCENES) == mark

    if failure == "down":
        world.stash.start()
    else:
        world.stash.clear_faults()
    world.stash.update_scene("3", title="Edited after the outage")
    cycle(world, 2)

    assert world.item("2").title == "Edited before the outage"
    assert world.item("3").title == "Edited after the outage"
    assert world.app.store.watermark(STASH_SCENES) > mark


def test_both_down_and_a_restart_of_stashplex_in_between(world):
    world.app.reconcile_all()
    world.stash.update_scene("4", title="Edited before both went down")
    world.plex.edit_item(world.rating_keys["5"], title="Edited in Plex by hand")
    world.stash.stop()
    world.plex.stop()
    cycle(world, 3)
    world.app.close()
    world.app = App(world.config)  # stashplex restarts during the outage
    cycle(world, 3)

    world.stash.start()
    world.plex.start()
    world.stash.update_scene("6", title="Edited during the outage")
    cycle(world, 8)

    assert in_step(world)
    assert world.app.store.dead_letters() == []

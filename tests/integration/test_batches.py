"""A batch that meets an unexpected fault: each job keeps the one outcome it already had.

Against both emulators. The fault is a bug of stashplex's own (raised where the worker
records what it read back), after other jobs of the same batch were already rescheduled or
dead-lettered.
"""

from __future__ import annotations

import time

import pytest

from reconciler.app import App
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.retry import RetryRules
from tests.clock import Clock
from tests.integration.test_reconcile import PLEX_TOKEN, STASH_KEY, World

pytestmark = pytest.mark.integration


@pytest.fixture
def world(tmp_path):
    stash = StashEmulator(api_key=STASH_KEY).start()
    plex = PlexEmulator(token=PLEX_TOKEN).start()
    built = World(tmp_path, stash, plex)
    built.clock = Clock(time.time() + 60)  # jobs queued just now are due
    built.app.close()
    built.app = App(built.config, clock=built.clock)
    built.app.reconcile_all()
    yield built
    built.app.close()
    stash.stop()
    plex.stop()


def break_read_back(world: World, monkeypatch) -> None:
    def fault(item):
        raise RuntimeError("a bug in noting the item read back")

    monkeypatch.setattr(world.app.catalog, "note", fault)


def test_an_unexpected_fault_after_some_jobs_were_decided_gives_one_outcome_per_job(
    world, monkeypatch
):
    world.stash.update_scene("1", title="Meets a 500 on its write")
    world.stash.update_scene("2", date="0000-00-00")  # bad data: straight to the dead letters
    world.stash.update_scene("3", title="Written, then the fault")
    world.stash.update_scene("4", title="Written as well")
    world.app.engine.poll()
    assert len(world.app.store.jobs()) == 4
    # the drain's first request to this path is scene 1's edit
    world.plex.inject(500, count=1, path_prefix="/library/sections/1/all")
    break_read_back(world, monkeypatch)

    result = world.app.worker.drain()

    store = world.app.store
    assert result.outcomes == 4
    assert (result.retried, result.dead) == (3, 1)
    jobs = {job.scene_id: job for job in store.jobs()}
    (letter,) = store.dead_letters()
    assert letter.scene_id == "2" and letter.error_class == "InvalidSceneData"
    assert letter.attempts == 1
    first = jobs["1"]
    assert (first.attempts, first.retries, first.retry_class) == (1, 1, "transient")
    assert first.last_error_class == "PlexTemporaryError"
    for scene_id in ("3", "4"):
        job = jobs[scene_id]
        assert (job.attempts, job.retries, job.retry_class) == (1, 1, "transient")
        assert job.last_error_class == "UnexpectedError"
        assert "RuntimeError: a bug in noting the item read back" in job.last_error
    assert store.pending_scene_ids() == set()


def test_an_unexpected_fault_is_retried_then_dead_lettered_with_its_type_and_message(
    world, monkeypatch
):
    world.config.retry.transient.max_retries = 2
    world.app.worker.rules = RetryRules(world.config.retry)
    world.stash.update_scene("3", title="Written, then the fault")
    world.app.engine.poll()
    break_read_back(world, monkeypatch)

    outcomes = []
    for _ in range(3):
        result = world.app.worker.drain()
        outcomes.append((result.retried, result.dead))
        world.clock.tick(world.config.retry.transient.cap + 1)

    assert outcomes == [(1, 0), (1, 0), (0, 1)]
    (letter,) = world.app.store.dead_letters()
    assert letter.scene_id == "3" and letter.attempts == 3
    assert letter.error_class == "UnexpectedError"
    assert letter.error_message == "unexpected RuntimeError: a bug in noting the item read back"

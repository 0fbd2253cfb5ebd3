"""The first sync and a second run, replayed from cassettes of Stash and Plex traffic.

Recorded against the bundled emulators with fixed clocks; re-record with
`python -m pytest tests/integration --record-mode=rewrite`.
"""

from __future__ import annotations

import pytest

from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from tests.clock import Clock
from tests.integration.test_reconcile import PLEX_TOKEN, STASH_KEY, World

pytestmark = pytest.mark.integration


@pytest.fixture
def recorded_world(tmp_path):
    stash = StashEmulator(api_key=STASH_KEY, now=Clock(1_790_000_000.0)).start()
    plex = PlexEmulator(token=PLEX_TOKEN, clock=Clock(1_790_000_000.0)).start()
    world = World(tmp_path, stash, plex)
    yield world
    world.app.close()
    stash.stop()
    plex.stop()


@pytest.mark.vcr
def test_first_sync_then_a_second_run_that_writes_nothing(recorded_world):
    first = recorded_world.app.reconcile_all()
    second = recorded_world.app.reconcile_all()

    assert (first.seen, first.updated, first.in_sync, first.dead) == (4, 4, 0, 0)
    assert (second.seen, second.updated, second.in_sync, second.dead) == (4, 0, 4, 0)
    state = recorded_world.app.store.scene_states(["1", "2", "3", "4"])
    assert all(s.rating_key and s.poster_hash and s.plex_updated_at for s in state.values())


@pytest.mark.vcr
def test_dead_letters_and_retries_are_told_apart_in_the_summary(recorded_world):
    recorded_world.stash.update_scene("3", date="2023-02-30")
    recorded_world.stash.add_scene(title="Not scanned", files=["/data/Studio/new.mp4"])

    summary = recorded_world.app.reconcile_all()

    assert (summary.seen, summary.updated, summary.dead, summary.waiting) == (5, 3, 1, 1)
    (letter,) = recorded_world.app.store.dead_letters()
    assert letter.scene_id == "3" and "2023-02-30" in letter.error_message

"""The first sync and a second run, replayed from cassettes of Stash and Plex traffic.

Recorded against the bundled emulators with fixed clocks (`python -m tests.record`). The
scenes, the items and every later change are made over HTTP, so they are in the cassette
with the sync's own traffic; what the tests check is what a user sees: the run's summary,
the dead letter, and what Plex holds afterwards.
"""

from __future__ import annotations

import pytest

from reconciler.app import App
from reconciler.config import parse_config
from tests.integration.conftest import (
    STASH_KEY,
    SYNC_PLEX_TOKEN,
    plex_under_test,
    stash_under_test,
)
from tests.scripted import PlexOverHttp, StashOverHttp

pytestmark = pytest.mark.integration


class RecordedWorld:
    """Four scenes in Stash, their files scanned into Plex, and stashplex configured for both."""

    def __init__(self, tmp_path, stash_url: str, plex_url: str) -> None:
        self.stash = StashOverHttp(stash_url)
        self.plex = PlexOverHttp(plex_url, SYNC_PLEX_TOKEN)
        self.plex.add_section("Adult", ["/media"])
        self.rating_keys: dict[str, int] = {}
        for n in range(1, 5):
            scene_id = self.stash.add_scene(
                title=f"Scene {n}", details=f"Details of scene {n}.", date=f"2024-01-0{n}",
                rating100=20 * n, studio="Acme", performers=["Ann", f"Performer {n}"],
                tags=["Common", f"Tag {n}"], files=[f"/data/Studio/scene-{n}.mp4"],
            )
            self.rating_keys[scene_id] = self.plex.add_item(
                "Adult", f"/media/Studio/scene-{n}.mp4"
            )
        config = parse_config({
            "stash": {"url": stash_url, "api_key": STASH_KEY},
            "plex": {"url": plex_url, "token": SYNC_PLEX_TOKEN, "libraries": ["Adult"]},
            "path_map": [{"stash": "/data", "plex": "/media"}],
            "database": str(tmp_path / "stashplex.db"),
        }, env={})
        self.app = App(config)


@pytest.fixture
def recorded_world(tmp_path, record_mode):
    with stash_under_test(record_mode) as stash_url, \
            plex_under_test(record_mode, SYNC_PLEX_TOKEN) as plex_url:
        world = RecordedWorld(tmp_path, stash_url, plex_url)
        yield world
        world.app.close()


@pytest.mark.vcr
def test_first_sync_then_a_second_run_that_writes_nothing(recorded_world):
    first = recorded_world.app.reconcile_all()
    second = recorded_world.app.reconcile_all()

    assert (first.seen, first.updated, first.in_sync, first.dead) == (4, 4, 0, 0)
    assert (second.seen, second.updated, second.in_sync, second.dead) == (4, 0, 4, 0)
    state = recorded_world.app.store.scene_states(["1", "2", "3", "4"])
    assert all(s.rating_key and s.poster_hash and s.plex_updated_at for s in state.values())
    item = recorded_world.plex.view(recorded_world.rating_keys["2"])
    assert (item.title, item.summary, item.studio) == ("Scene 2", "Details of scene 2.", "Acme")
    assert set(item.genres) == {"Common", "Tag 2"}
    assert {"title", "summary", "studio", "genre", "thumb"} <= item.locked


@pytest.mark.vcr
def test_dead_letters_and_retries_are_told_apart_in_the_summary(recorded_world):
    recorded_world.stash.update_scene("3", date="2023-02-30")
    recorded_world.stash.add_scene(title="Not scanned", files=["/data/Studio/new.mp4"])

    summary = recorded_world.app.reconcile_all()

    assert (summary.seen, summary.updated, summary.dead, summary.waiting) == (5, 3, 1, 1)
    (letter,) = recorded_world.app.store.dead_letters()
    assert letter.scene_id == "3" and "2023-02-30" in letter.error_message
    assert recorded_world.plex.view(recorded_world.rating_keys["1"]).title == "Scene 1"

"""Polling both servers and the full pass, against both emulators.

Every change a user makes (in Stash, or by hand in Plex) must reach Plex after
one poll, whatever the clocks and zones say; nothing is written when nothing
changed; a failed poll loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.app import App
from reconciler.config import parse_config
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.engine import STASH_SCENES
from reconciler.errors import StashplexError
from tests.clock import Clock

pytestmark = pytest.mark.integration

STASH_KEY = "stash-KEY-never-leaks-91c2"
PLEX_TOKEN = "plex-TOKEN-never-leaks-4d7e"




class World:
    """Both emulators with a few scenes, and stashplex configured against them."""

    def __init__(self, tmp_path, stash: StashEmulator, plex: PlexEmulator, **sync) -> None:
        self.stash, self.plex = stash, plex
        plex.add_section("Adult", ["/media"])
        self.rating_keys: dict[str, int] = {}
        for n in range(1, 5):
            path = f"/data/Studio/scene-{n}.mp4"
            scene_id = stash.add_scene(
                title=f"Scene {n}", details=f"Details of scene {n}.", date=f"2024-01-0{n}",
                rating100=20 * n, studio="Acme", performers=["Ann", f"Performer {n}"],
                tags=["Common", f"Tag {n}"], files=[path],
            )
            self.rating_keys[scene_id] = plex.add_item("Adult", f"/media/Studio/scene-{n}.mp4")
        self.config = parse_config({
            "stash": {"url": stash.url, "api_key": STASH_KEY},
            "plex": {"url": plex.url, "token": PLEX_TOKEN, "libraries": ["Adult"]},
            "path_map": [{"stash": "/data", "plex": "/media"}],
            "sync": sync or {},
            "database": str(tmp_path / "stashplex.db"),
        }, env={})
        self.app = App(self.config)

    def item(self, scene_id: str):
        return self.plex.item(self.rating_keys[scene_id])

    def writes(self) -> int:
        counts = self.plex.request_counts()
        return sum(n for (method, path), n in counts.items()
                   if method in ("PUT", "POST") and path.startswith("/library"))

    def poll_and_drain(self):
        report = self.app.engine.poll()
        return report, self.app.worker.drain()


@pytest.fixture
def world(tmp_path, stash_clock, plex_clock) -> Iterator[World]:
    stash = StashEmulator(api_key=STASH_KEY, now=stash_clock).start()
    plex = PlexEmulator(token=PLEX_TOKEN, clock=plex_clock).start()
    built = World(tmp_path, stash, plex)
    yield built
    built.app.close()
    stash.stop()
    plex.stop()


def synced(world: World) -> World:
    summary = world.app.reconcile_all()
    assert summary.updated == 4
    world.plex.reset_log()
    return world


def test_first_sync_writes_every_field_locked(world):
    summary = world.app.reconcile_all()

    assert (summary.seen, summary.updated, summary.dead, summary.waiting) == (4, 4, 0, 0)
    item = world.item("2")
    assert item.title == "Scene 2" and item.summary == "Details of scene 2."
    assert item.originally_available_at == "2024-01-02" and item.studio == "Acme"
    assert item.user_rating == 4.0
    assert sorted(item.actors) == ["Ann", "Performer 2"]
    assert sorted(item.genres) == ["Common", "Tag 2"]
    assert item.collections == ["Acme"]
    assert {"title", "summary", "originallyAvailableAt", "studio", "userRating", "actor",
            "genre", "collection", "thumb"} <= item.locked
    assert item.poster_sha1 is not None


def test_second_run_writes_nothing_and_fetches_no_detail(world):
    synced(world)

    summary = world.app.reconcile_all()

    assert (summary.seen, summary.in_sync, summary.updated) == (4, 4, 0)
    assert world.writes() == 0
    counts = world.plex.request_counts()
    assert not [path for (_, path) in counts if path.startswith("/library/metadata")]


def test_an_edit_in_stash_reaches_plex_in_one_poll(world, stash_clock):
    synced(world)
    stash_clock.tick()
    world.stash.update_scene("3", title="Scene 3, retitled", details="New details.")

    report, result = world.poll_and_drain()

    assert report.stash_changed == 1 and result.applied == 1
    assert world.item("3").title == "Scene 3, retitled"
    assert world.item("3").summary == "New details."
    assert world.item("1").title == "Scene 1"
    assert world.writes() == 1  # one PUT, no poster: the screenshot did not change


def test_a_scene_fixed_in_stash_leaves_the_dead_letter_queue_when_written(world, stash_clock):
    world.stash.update_scene("2", date="2023-02-30")
    assert world.app.reconcile_all().dead == 1
    assert [letter.scene_id for letter in world.app.store.dead_letters()] == ["2"]
    stash_clock.tick()
    world.stash.update_scene("2", date="2023-02-28")

    report, result = world.poll_and_drain()

    assert result.applied == 1 and world.item("2").originally_available_at == "2023-02-28"
    assert world.app.store.dead_letters() == []


def test_tag_removal_and_performer_addition(world, stash_clock):
    synced(world)
    stash_clock.tick()
    world.stash.update_scene("1", tags=["Tag 1"], performers=["Ann", "Performer 1", "Newcomer"])

    world.poll_and_drain()

    item = world.item("1")
    assert sorted(item.genres) == ["Tag 1"]
    assert sorted(item.actors) == ["Ann", "Newcomer", "Performer 1"]


def test_a_renamed_tag_reaches_every_scene_that_has_it(world, stash_clock):
    synced(world)
    stash_clock.tick(7200)
    world.stash.update_scene("1", details="Touched two hours later.")
    world.poll_and_drain()
    stash_clock.tick()
    world.stash.rename_tag("Common", "Shared")

    report, result = world.poll_and_drain()

    # scenes 2-4 changed long before the poll's window: only the rename brings them back
    assert (report.stash_changed, report.renamed, result.applied) == (1, 3, 4)
    for scene_id in world.rating_keys:
        assert "Shared" in world.item(scene_id).genres
        assert "Common" not in world.item(scene_id).genres


def test_a_renamed_studio_and_performer_reach_plex(world, stash_clock):
    synced(world)
    stash_clock.tick(7200)
    world.stash.rename_studio("Acme", "Acme Films")
    world.stash.rename_performer("Performer 4", "Dana Vale")

    world.poll_and_drain()

    assert world.item("4").studio == "Acme Films"
    assert "Acme Films" in world.item("4").collections
    assert sorted(world.item("4").actors) == ["Ann", "Dana Vale"]


def test_a_moved_files_new_plex_item_gets_the_metadata(world, stash_clock):
    synced(world)
    old_key = world.rating_keys["2"]
    stash_clock.tick()
    world.stash.move_file("2", "/data/Moved/scene-2.mp4")
    world.plex.remove_item(old_key)
    new_key = world.plex.add_item("Adult", "/media/Moved/scene-2.mp4")

    report, result = world.poll_and_drain()

    assert result.applied == 1
    item = world.plex.item(new_key)
    assert item.title == "Scene 2" and sorted(item.genres) == ["Common", "Tag 2"]


def test_a_plex_side_edit_is_reverted(world, plex_clock):
    synced(world)
    plex_clock.tick()
    world.plex.edit_item(world.rating_keys["1"], title="Renamed by hand", genres=["Wrong"])

    report, result = world.poll_and_drain()

    assert report.plex_changed == 1 and result.applied == 1
    assert world.item("1").title == "Scene 1"
    assert sorted(world.item("1").genres) == ["Common", "Tag 1"]


def test_stashplex_own_writes_are_not_taken_for_outside_edits(world):
    synced(world)

    report, result = world.poll_and_drain()

    assert not report and result.applied == 0
    assert world.writes() == 0


@pytest.mark.parametrize("offset_hours", [-2, 2])
def test_stash_clock_hours_off_the_daemons(tmp_path, offset_hours):
    clock = Clock()
    stash = StashEmulator(api_key=STASH_KEY, now=clock,
                          clock_offset=offset_hours * 3600).start()
    plex = PlexEmulator(token=PLEX_TOKEN).start()
    world = World(tmp_path, stash, plex)
    try:
        synced(world)
        for step in range(3):
            clock.tick(1)
            world.stash.update_scene("2", title=f"Take {step}")
            world.poll_and_drain()
            assert world.item("2").title == f"Take {step}"
    finally:
        world.app.close()
        stash.stop()
        plex.stop()


def test_a_daylight_saving_change_in_stash_zone(tmp_path):
    # Europe/Berlin leaves summer time at 01:00 UTC on 2026-10-25: local 03:00 becomes 02:00
    clock = Clock(start=1792889940.0)  # 00:59:00 UTC = 02:59:00+02:00
    stash = StashEmulator(api_key=STASH_KEY, now=clock, tz="Europe/Berlin").start()
    plex = PlexEmulator(token=PLEX_TOKEN).start()
    world = World(tmp_path, stash, plex)
    try:
        synced(world)
        mark = world.app.store.watermark(STASH_SCENES)
        assert mark.endswith("+02:00")
        clock.now = 1792890600.0  # 01:10:00 UTC = 02:10:00+01:00, "before" the mark as text
        world.stash.update_scene("4", title="Edited after the clocks went back")
        assert world.stash.scene("4")["updated_at"] < mark

        report, result = world.poll_and_drain()

        assert result.applied == 1
        assert world.item("4").title == "Edited after the clocks went back"
    finally:
        world.app.close()
        stash.stop()
        plex.stop()


def test_a_poll_that_fails_halfway_leaves_the_watermark_unchanged(world, stash_clock):
    synced(world)
    mark = world.app.store.watermark(STASH_SCENES)
    world.app.engine.poll_page_size = 2
    stash_clock.tick()
    for scene_id in ("1", "2", "3", "4"):
        world.stash.update_scene(scene_id, title=f"Changed {scene_id}")
    world.stash.inject(500, path_prefix="/graphql", skip=1)

    with pytest.raises(StashplexError, match="500"):
        world.app.engine.poll()

    assert world.app.store.watermark(STASH_SCENES) == mark
    report, result = world.poll_and_drain()
    assert result.applied == 4
    assert [world.item(s).title for s in ("1", "2", "3", "4")] == [
        "Changed 1", "Changed 2", "Changed 3", "Changed 4"]
    assert world.app.store.watermark(STASH_SCENES) > mark


def test_dry_run_writes_nothing_to_plex_or_the_queue(world, capsys):
    from reconciler.cli import cmd_reconcile_all

    class Args:
        dry_run = True

    code = cmd_reconcile_all(world.config, Args())

    out = capsys.readouterr().out
    assert code == 0
    assert "scene 2 ('Scene 2') -> Plex item" in out
    assert "title: 'scene-2' -> 'Scene 2'" in out
    assert "nothing was written" in out
    assert world.writes() == 0
    assert world.app.store.jobs() == []
    assert world.app.store.watermark(STASH_SCENES) is None

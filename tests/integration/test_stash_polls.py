"""Stash-side polls and the full pass against both emulators, while Stash keeps changing.

Every change made in Stash reaches Plex without a full pass: edits made while a poll or
the full pass pages through Stash, bulk edits that share one second, deleted tags,
performers and studios (which move no scene's `updated_at`), and edits made after Stash
restarted in another zone. An idle poll is one Stash request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from reconciler.config import parse_config
from reconciler.emulators.http import free_port
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.engine import CARRIERS_RECORDED, POLL_PAGE_SIZE, STASH_SCENES
from reconciler.errors import StashUnreachable
from reconciler.models import Scene
from reconciler.stash import StashClient
from tests.clock import Clock
from tests.integration.test_reconcile import PLEX_TOKEN, STASH_KEY, World

pytestmark = pytest.mark.integration

SCENES = 10


class Library(World):
    """`World` with ten scenes, small pages, and a hook to edit Stash during a walk."""

    def __init__(self, tmp_path, stash: StashEmulator, plex: PlexEmulator, clock: Clock,
                 **sync) -> None:
        super().__init__(tmp_path, stash, plex, **sync)
        self.clock = clock
        for n in range(5, SCENES + 1):
            clock.tick(1)
            scene_id = stash.add_scene(
                title=f"Scene {n}", studio="Acme", performers=["Ann"], tags=["Common", f"Tag {n}"],
                files=[f"/data/Studio/scene-{n}.mp4"])
            self.rating_keys[scene_id] = plex.add_item("Adult", f"/media/Studio/scene-{n}.mp4")
        self.app.engine.poll_page_size = 3
        self.app.engine.sweep_page_size = 3

    def sync(self) -> None:
        summary = self.app.reconcile_all()
        assert summary.updated == SCENES
        self.plex.reset_log()

    def titles(self) -> dict[str, str]:
        return {scene_id: self.item(scene_id).title for scene_id in self.rating_keys}

    def during_walk(self, action: Callable[[], None], on_request: int,
                    counted: Callable[[dict], bool] = lambda variables: True) -> list[dict]:
        """Run `action` just before Stash answers the `on_request`-th GraphQL request from now
        (1 is the next one) among those `counted`; fail the walk if it does not end within 60
        requests."""
        asked: list[dict] = []
        matching: list[dict] = []

        def hook(variables: dict) -> None:
            asked.append(variables)
            if counted(variables):
                matching.append(variables)
                if len(matching) == on_request:
                    action()
            if len(asked) > 60:
                raise RuntimeError("the walk makes no progress")

        self.stash.before_query = hook
        return asked


@pytest.fixture
def clock() -> Clock:
    return Clock(1_790_000_000.0)


@pytest.fixture
def library(tmp_path, clock) -> Iterator[Library]:
    stash = StashEmulator(api_key=STASH_KEY, now=clock).start()
    plex = PlexEmulator(token=PLEX_TOKEN, clock=clock).start()
    built = Library(tmp_path, stash, plex, clock)
    yield built
    built.app.close()
    stash.stop()
    plex.stop()


def test_an_idle_poll_is_one_stash_request(library):
    library.sync()
    library.app.engine.poll_page_size = POLL_PAGE_SIZE
    library.stash.reset_stats()

    report = library.app.engine.poll()

    assert not report
    assert library.stash.stats()["graphql"] == 1


def test_a_poll_over_several_pages_while_scenes_already_read_are_edited_again(library, clock):
    library.sync()
    for scene_id in library.rating_keys:
        clock.tick(1)
        library.stash.update_scene(scene_id, title=f"Edited {scene_id}")

    def edit_first_page_again() -> None:
        clock.tick(1)
        library.stash.update_scene("1", title="Edited 1 again")

    # request 1 is the poll itself (its first page: scenes 1-3); edit before page 2
    library.during_walk(edit_first_page_again, on_request=2)
    report, result = library.poll_and_drain()

    expected = {s: f"Edited {s}" for s in library.rating_keys} | {"1": "Edited 1 again"}
    assert library.titles() == expected
    assert result.applied == SCENES


def test_a_bulk_edit_fuller_than_a_page_in_one_second(library, clock):
    library.sync()
    clock.tick(1)
    for scene_id in library.rating_keys:  # ten scenes, one second, pages of three
        library.stash.update_scene(scene_id, details=f"Bulk {scene_id}")

    def edit_during_the_second() -> None:
        clock.tick(1)
        library.stash.update_scene("7", details="Bulk 7, edited again")

    asked = library.during_walk(edit_during_the_second, on_request=3)
    report, result = library.poll_and_drain()

    details = {s: library.item(s).summary for s in library.rating_keys}
    assert details == {s: f"Bulk {s}" for s in library.rating_keys} | {
        "7": "Bulk 7, edited again"}
    assert len(asked) < 15
    # the next poll re-reads only the overlap and finds nothing new
    library.plex.reset_log()
    report, result = library.poll_and_drain()
    assert result.applied == 0 and library.writes() == 0


def test_a_full_pass_while_scenes_are_edited_and_deleted(library, clock):
    def edit_and_delete() -> None:
        clock.tick(1)
        library.stash.update_scene("2", title="Edited during the pass")  # both on page 1,
        library.stash.delete_scene("3")  # already read: neither may shift page 2

    def walking_up(variables: dict) -> bool:
        paging = variables.get("filter") or {}
        return paging.get("sort") == "id" and paging.get("direction") == "ASC"

    # just before the walk up's second page (scenes 2 and 3 were on its first)
    library.during_walk(edit_and_delete, on_request=2, counted=walking_up)
    summary = library.app.reconcile_all()

    titles = library.titles()
    assert summary.seen == SCENES
    assert all(titles[s] == f"Scene {s}" for s in library.rating_keys if s not in ("2", "3"))
    library.stash.before_query = None
    report, result = library.poll_and_drain()
    assert library.item("2").title == "Edited during the pass"


@pytest.mark.parametrize("kind", ["tag", "performer", "studio"])
def test_a_deleted_object_leaves_plex_without_a_full_pass(tmp_path, clock, kind):
    stash = StashEmulator(api_key=STASH_KEY, now=clock).start()
    plex = PlexEmulator(token=PLEX_TOKEN, clock=clock).start()
    library = Library(tmp_path, stash, plex, clock, clear_empty=True)
    try:
        library.sync()
        library.app.engine.poll_page_size = POLL_PAGE_SIZE
        clock.tick(60)
        {"tag": stash.delete_tag, "performer": stash.delete_performer,
         "studio": stash.delete_studio}[kind]({"tag": "Common", "performer": "Ann",
                                               "studio": "Acme"}[kind])
        stash.reset_stats()

        report, result = library.poll_and_drain()

        assert result.applied == SCENES
        for scene_id in library.rating_keys:
            item = library.item(scene_id)
            left = {"tag": item.genres, "performer": item.actors, "studio": [item.studio]}[kind]
            assert not {"Common", "Ann", "Acme"} & set(left)
            assert {"tag": "Ann" in item.actors, "performer": "Common" in item.genres,
                    "studio": "Common" in item.genres}[kind]
        # one poll, one listing of the kind's ids, the ten scenes read back by id
        assert stash.stats()["graphql"] <= 4
        # and afterwards the polls are idle again
        stash.reset_stats()
        assert not library.app.engine.poll()
        assert stash.stats()["graphql"] == 1
    finally:
        library.app.close()
        stash.stop()
        plex.stop()


def test_a_deleted_tag_with_a_new_one_created_in_the_same_minute(library, clock):
    library.sync()
    clock.tick(60)
    library.stash.delete_tag("Common")
    library.stash.add_tag("Brand new")  # the count of tags stays the same

    report, result = library.poll_and_drain()

    assert all("Common" not in library.item(s).genres for s in library.rating_keys)


def test_a_renamed_tag_reaches_every_carrier_while_carriers_are_edited(library, clock):
    library.sync()
    clock.tick(7200)
    library.stash.rename_tag("Common", "Shared")

    def edit_a_carrier() -> None:
        clock.tick(1)
        library.stash.update_scene("1", details="Edited while the carriers were read")

    def carriers_read(variables: dict) -> bool:
        return "tags" in (variables.get("scene_filter") or {})

    library.during_walk(edit_a_carrier, on_request=2, counted=carriers_read)  # before page 2
    library.poll_and_drain()
    library.stash.before_query = None
    library.poll_and_drain()

    assert all("Shared" in library.item(s).genres for s in library.rating_keys)
    assert library.item("1").summary == "Edited while the carriers were read"


# west of UTC (the edit sorts below the watermark as text) and east of it
@pytest.mark.parametrize(
    "zone", ["America/New_York", "Pacific/Honolulu", "Asia/Tokyo", "Pacific/Kiritimati"])
def test_edits_after_stash_restarted_in_another_zone_arrive_in_one_poll(library, clock, zone):
    library.sync()
    library.poll_and_drain()
    mark = library.app.store.watermark(STASH_SCENES)
    library.stash.restart(tz=zone)
    clock.tick(60)
    library.stash.update_scene("2", title="Edited after the restart")

    report, result = library.poll_and_drain()

    assert library.item("2").title == "Edited after the restart"
    assert result.applied == 1
    # and the next edit, in the new zone, arrives with an ordinary poll
    clock.tick(60)
    library.stash.update_scene("3", title="Edited a minute later")
    library.app.engine.poll_page_size = POLL_PAGE_SIZE
    library.stash.reset_stats()
    report, result = library.poll_and_drain()
    assert library.item("3").title == "Edited a minute later"
    assert library.stash.stats()["graphql"] == 1
    assert library.app.store.watermark(STASH_SCENES) != mark


def test_a_connection_failure_names_stash_url():
    url = f"http://127.0.0.1:{free_port()}"
    config = parse_config({
        "stash": {"url": url, "api_key": STASH_KEY},
        "plex": {"url": "http://127.0.0.1:9", "token": PLEX_TOKEN, "libraries": ["Adult"]},
    }, env={})
    stash = StashClient(config.stash)
    try:
        with pytest.raises(StashUnreachable, match=f"cannot connect to Stash at {url} while"):
            stash.version()
    finally:
        stash.close()


def test_after_an_upgrade_the_next_full_pass_records_what_synced_scenes_carry(library, clock):
    library.sync()
    # a database from before stashplex kept carriers: scenes in sync, nothing recorded
    store = library.app.store
    for kind in ("tags", "performers", "studios"):
        store.forget_carried(kind, store.carried_ids(kind))
    store.set_setting(CARRIERS_RECORDED, None)
    summary = library.app.reconcile_all()
    assert summary.in_sync == SCENES and summary.updated == 0
    clock.tick(60)
    library.stash.delete_tag("Common")

    library.poll_and_drain()

    assert all("Common" not in library.item(s).genres for s in library.rating_keys)


def test_a_job_queued_by_an_older_version_still_loads():
    old_payload = {"id": "7", "updated_at": "2026-01-01T00:00:00Z", "title": "T",
                   "tags": ["A"], "performers": [], "files": ["/data/x.mp4"]}

    scene = Scene.from_dict(old_payload)

    assert (scene.id, scene.tags, scene.tag_ids, scene.studio_id) == ("7", ["A"], [], None)

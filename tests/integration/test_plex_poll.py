"""The Plex side of the polls and listings, against both emulators behaving like real servers.

A change made in Plex (an item scanned, a rating given with the stars, a hand edit in the
very second of stashplex's own write) is seen by one poll; a listing cannot drop an item
whose title changed while it paged; a batched read with one gone id loses only that id.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from reconciler.app import App
from reconciler.config import parse_config
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.engine import PLEX_MARK
from reconciler.errors import PlexTemporaryError, PlexUnavailable
from tests.clock import Clock

pytestmark = pytest.mark.integration

STASH_KEY = "stash-KEY-plex-poll-5b1e"
PLEX_TOKEN = "plex-TOKEN-plex-poll-90aa"


class World:
    """Both emulators, stashplex configured against them; scenes and items added by tests."""

    def __init__(self, tmp_path, stash: StashEmulator, plex: PlexEmulator) -> None:
        self.stash, self.plex = stash, plex
        plex.add_section("Adult", ["/media"])
        self.rating_keys: dict[str, int] = {}
        self.config = parse_config(
            {
                "stash": {"url": stash.url, "api_key": STASH_KEY},
                "plex": {"url": plex.url, "token": PLEX_TOKEN, "libraries": ["Adult"]},
                "path_map": [{"stash": "/data", "plex": "/media"}],
                "sync": {"fields": ["title", "summary", "date", "tags", "rating"]},
                "database": str(tmp_path / "stashplex.db"),
            },
            env={},
        )
        self.app = App(self.config)

    def add(self, n: int, *, title: str | None = None) -> str:
        """Scene n in Stash and its file's item in Plex (titled like the file unless told)."""
        scene_id = self.stash.add_scene(
            title=f"Scene {n}",
            details=f"Details of scene {n}.",
            date="2024-01-02",
            rating100=80,
            tags=["Common", f"Tag {n}"],
            files=[f"/data/Studio/scene-{n}.mp4"],
        )
        self.rating_keys[scene_id] = self.plex.add_item(
            "Adult", f"/media/Studio/scene-{n}.mp4", title
        )
        return scene_id

    def item(self, scene_id: str):
        return self.plex.item(self.rating_keys[scene_id])

    def poll_and_drain(self):
        report = self.app.engine.poll()
        return report, self.app.worker.drain()

    def plex_requests(self) -> int:
        return sum(self.plex.request_counts().values())


@pytest.fixture
def make_world(tmp_path, stash_clock, plex_clock) -> Iterator:
    made: list[World] = []

    def build(**switches) -> World:
        stash = StashEmulator(api_key=STASH_KEY, now=stash_clock).start()
        plex = PlexEmulator(token=PLEX_TOKEN, clock=plex_clock, **switches).start()
        made.append(World(tmp_path, stash, plex))
        return made[-1]

    yield build
    for world in made:
        world.app.close()
        world.stash.stop()
        world.plex.stop()


def synced(world: World, plex_clock: Clock | None = None) -> World:
    """Four scenes written to Plex, next to an item of no scene that stays as it was scanned.

    With `plex_clock`, the writes come ten seconds after the scan: the item of no scene
    then lies before the poll's window, as most of a real library does."""
    world.plex.add_item("Adult", "/media/Other/not-from-stash.mp4")
    for n in range(1, 5):
        world.add(n)
    if plex_clock is not None:
        plex_clock.tick(10)
    assert world.app.reconcile_all().updated == 4
    return world


def test_items_and_scenes_appearing_after_an_empty_first_pass_are_synced_by_one_poll(
    make_world, stash_clock, plex_clock
):
    world = make_world()
    assert world.app.reconcile_all().seen == 0  # both sides empty: Plex gives no stamp yet
    stash_clock.tick(60)
    first, second = world.add(1), world.add(2)
    plex_clock.tick(60)  # a poll comes a while after the scan, never within its second

    report, result = world.poll_and_drain()

    assert result.applied == 2 and result.retried == 0
    assert world.item(first).title == "Scene 1" and world.item(second).title == "Scene 2"


def rate_with_the_stars(world: World, rating_key: int, rating: float) -> None:
    """What Plex Web sends when a user clicks the stars."""
    answer = requests.put(
        f"{world.plex.url}/:/rate",
        params={"key": rating_key, "identifier": "com.plexapp.plugins.library", "rating": rating},
        headers={"X-Plex-Token": PLEX_TOKEN},
        timeout=5,
    )
    answer.raise_for_status()


@pytest.mark.parametrize("or_groups", [True, False], ids=["or-groups", "no-or-groups"])
def test_a_rating_changed_in_plex_is_put_back_by_one_poll(make_world, plex_clock, or_groups):
    world = synced(make_world(or_groups=or_groups), plex_clock)
    world.poll_and_drain()  # lists the writes; the mark moves past the item of no scene
    plex_clock.tick(10)
    world.plex.add_item("Adult", "/media/Other/scanned-later.mp4")
    world.poll_and_drain()  # the mark moves past stashplex's writes
    plex_clock.tick(30)
    rate_with_the_stars(world, world.rating_keys["2"], 2)
    assert world.item("2").user_rating == 2.0

    report, result = world.poll_and_drain()

    assert report.plex_changed == 1 and result.applied == 1
    assert world.item("2").user_rating == 8.0
    assert world.item("1").user_rating == 8.0


@pytest.mark.parametrize(
    "or_groups, requests_per_poll", [(True, 1), (False, 2)], ids=["or-groups", "no-or-groups"]
)
def test_an_idle_poll_asks_plex_at_most_twice_per_library(
    make_world, plex_clock, or_groups, requests_per_poll
):
    world = synced(make_world(or_groups=or_groups), plex_clock)
    world.poll_and_drain()  # lists the writes; the mark moves past the item of no scene
    world.poll_and_drain()  # a PMS without OR groups is found out here, once
    plex_clock.tick(60)
    world.plex.reset_log()

    report, result = world.poll_and_drain()

    assert not report and result.applied == 0
    assert world.plex_requests() == requests_per_poll


def test_a_hand_edit_in_the_second_of_stashplex_own_write_is_put_back(make_world):
    world = synced(make_world())  # the Plex clock stands still: every stamp is one second
    report, result = world.poll_and_drain()
    assert not report and result.applied == 0
    world.plex.edit_item(world.rating_keys["3"], title="Typed by hand", summary="by hand")

    report, result = world.poll_and_drain()

    assert report.plex_changed == 1 and result.applied == 1
    assert world.item("3").title == "Scene 3" and world.item("3").summary == "Details of scene 3."


@pytest.mark.parametrize("missing_in_batch", ["rest", "404"])
def test_a_batch_read_with_one_gone_item_writes_the_others(
    make_world, stash_clock, missing_in_batch
):
    world = synced(make_world(missing_in_batch=missing_in_batch))
    world.plex.remove_item(world.rating_keys["2"])  # its file gone from Plex; the index lags
    stash_clock.tick(60)
    for scene_id in ("1", "2", "3", "4"):
        world.stash.update_scene(scene_id, details=f"New details of {scene_id}.")

    report, result = world.poll_and_drain()

    assert report.stash_changed == 4
    assert result.applied == 3 and result.retried == 1 and result.dead == 0
    assert {world.item(s).summary for s in ("1", "3", "4")} == {
        "New details of 1.",
        "New details of 3.",
        "New details of 4.",
    }
    job = world.app.store.job_for("2")
    assert job is not None and job.retry_class == "not_found"


def test_a_title_changed_while_plex_is_listed_drops_no_item(make_world, plex_clock):
    world = make_world()
    # five listing pages by title; scene 1's item comes first on the fifth
    for n in range(1100):
        world.plex.add_item("Adult", f"/media/Other/{n:04}.mp4", f"A {n:04}")
    scene_id = world.add(1, title="A 0999 x")
    first = world.plex.items("Adult")[0].rating_key
    plex_clock.tick(60)  # the edit below is newer than every item: a refresh lists only it

    def retitle_after_four_pages(stage: str, done: int, total: int | None) -> None:
        if stage == "plex" and done == 1000:
            world.plex.edit_item(first, title="Z, retitled while listed")

    summary = world.app.reconcile_all(retitle_after_four_pages)

    assert world.plex.item(first).title == "Z, retitled while listed"
    assert summary.updated == 1 and summary.waiting == 0
    assert world.item(scene_id).title == "Scene 1"


def test_a_poll_during_plex_maintenance_loses_nothing(make_world, plex_clock):
    world = synced(make_world(), plex_clock)
    world.poll_and_drain()
    mark = world.app.store.watermark(PLEX_MARK)
    plex_clock.tick(30)
    world.plex.edit_item(world.rating_keys["1"], title="Typed by hand")
    world.plex.maintenance("Plex Media Server is currently running database migrations.")

    with pytest.raises(PlexUnavailable, match="503"):
        world.app.engine.poll()
    assert world.app.store.watermark(PLEX_MARK) == mark
    world.plex.maintenance(None)
    report, result = world.poll_and_drain()

    assert report.plex_changed == 1 and result.applied == 1
    assert world.item("1").title == "Scene 1"


def test_a_listing_plex_did_not_sort_by_key_is_refused_not_half_read(make_world):
    """Key paging is only sound in ratingKey order: a server that ignored `sort=id` must not
    make items vanish from the index in silence."""
    world = make_world()
    for n in range(1, 4):
        world.add(n, title=f"{4 - n} by title")
    world.app.catalog.build()
    by_title = sorted(world.plex.items("Adult"), key=lambda item: item.title)
    videos = "".join(
        f'<Video ratingKey="{item.rating_key}" type="movie" title="{item.title}" '
        f'updatedAt="{item.updated_at}"><Media><Part file="{item.files[0]}"/></Media></Video>'
        for item in by_title
    )
    world.plex.inject(
        200,
        body=f'<MediaContainer size="3">{videos}</MediaContainer>'.encode(),
        content_type="text/xml",
        path_prefix="/library/sections/1/all",
    )

    with pytest.raises(PlexTemporaryError, match="did not list library 'Adult' by ratingKey"):
        world.app.catalog.build()
    assert len(world.app.catalog.index.lookup("/media/Studio/scene-1.mp4")) == 1

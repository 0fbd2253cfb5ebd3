"""The full sweep reads Stash and Plex at once, Stash from both ends, compares each walk's pages
in the order it read them, and an interrupted sweep leaves the last complete Plex picture in
place."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from reconciler.app import App
from reconciler.config import parse_config
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.errors import StashplexError
from tests.in_hand import InHand

pytestmark = pytest.mark.integration

SCENES = 6


@pytest.fixture
def servers() -> Iterator[tuple[StashEmulator, PlexEmulator]]:
    stash = StashEmulator(api_key="key").start()
    plex = PlexEmulator(token=None).start()
    plex.add_section("Adult", ["/media"])
    for n in range(1, SCENES + 1):
        stash.add_scene(title=f"Scene {n}", files=[f"/data/scene-{n}.mp4"])
    # Plex scanned the files in the other order: the first scenes' items are listed last
    for n in range(SCENES, 0, -1):
        plex.add_item("Adult", f"/media/scene-{n}.mp4")
    yield stash, plex
    stash.stop()
    plex.stop()


def make_app(tmp_path, stash: StashEmulator, plex: PlexEmulator, *libraries: str) -> App:
    config = parse_config(
        {
            "stash": {"url": stash.url, "api_key": "key"},
            "plex": {"url": plex.url, "token": "t", "libraries": ["Adult", *libraries]},
            "path_map": [{"stash": "/data", "plex": "/media"}],
            "database": str(tmp_path / "stashplex.db"),
        },
        env={},
    )
    app = App(config)
    app.engine.sweep_page_size = 1
    return app


def test_stash_is_read_while_plex_is_still_listing(tmp_path, servers):
    stash, plex = servers
    stash_paging = threading.Event()
    listed_during_stash = []
    stash_handle, plex_handle = stash.handle, plex.handle

    def stash_side(request):
        if request.path == "/graphql" and b"FindScenes" in request.body:
            stash_paging.set()
        return stash_handle(request)

    def plex_side(request):
        if request.path == "/library/sections/1/all":
            # read one after the other, Stash is asked only once Plex has answered: then
            # this waits in vain and says so
            listed_during_stash.append(stash_paging.wait(15))
        return plex_handle(request)

    stash.handle, plex.handle = stash_side, plex_side
    app = make_app(tmp_path, stash, plex)
    try:
        report, _ = app.engine.sweep()
    finally:
        app.close()
    assert report.seen == SCENES and report.queued == SCENES
    assert listed_during_stash and all(listed_during_stash)


def test_stash_is_read_from_both_ends_at_once_and_never_more_than_two_at_a_time(
    tmp_path, servers
):
    stash, plex = servers
    both_asked = threading.Barrier(2, timeout=10)
    met: list[bool] = []

    def hold(request, now) -> None:
        if request.path == "/graphql" and b"FindScenes" in request.body and not met:
            # one walk at a time, the second page is asked only once the first is answered:
            # then this waits in vain and says so
            try:
                both_asked.wait()
                met.append(True)
            except threading.BrokenBarrierError:
                met.append(False)

    in_hand = InHand(stash, hold)
    app = make_app(tmp_path, stash, plex)
    try:
        report, _ = app.engine.sweep()
    finally:
        app.close()
    assert (report.seen, report.queued) == (SCENES, SCENES)
    assert met[:2] == [True, True]
    assert in_hand.most == 2


def test_scenes_are_compared_and_queued_in_stash_order_whatever_order_plex_lists(
    tmp_path, servers
):
    stash, plex = servers
    plex.add_section("Other", ["/elsewhere"])
    app = make_app(tmp_path, stash, plex, "Other")
    stash.add_scene(title="Outside", files=["/data2/outside.mp4"])
    try:
        report, chosen = app.engine.sweep(dry_run=True)
    finally:
        app.close()
    assert [scene.title for scene in chosen] == [f"Scene {n}" for n in range(1, SCENES + 1)]
    assert (report.seen, report.unmatched) == (SCENES + 1, 1)


def test_one_library_queued_in_the_order_each_walk_read(tmp_path, servers):
    stash, plex = servers
    app = make_app(tmp_path, stash, plex)
    try:
        app.engine.sweep()
        jobs = app.store.claim(100, float("inf"))
    finally:
        app.close()
    queued = [int(job.scene_id) for job in jobs]
    assert sorted(queued) == list(range(1, SCENES + 1))

    def walked(meeting: int) -> bool:
        """Up to `meeting` read going up, the rest going down."""
        up = [n for n in queued if n <= meeting]
        down = [n for n in queued if n > meeting]
        return up == sorted(up) and down == sorted(down, reverse=True)

    assert any(walked(meeting) for meeting in range(SCENES + 1))


def test_a_sweep_that_fails_midway_keeps_the_last_complete_plex_picture(tmp_path, servers):
    stash, plex = servers
    app = make_app(tmp_path, stash, plex)
    try:
        app.engine.sweep()
        before = app.catalog.index.lookup("/media/scene-1.mp4")
        plex.add_item("Adult", "/media/new.mp4")
        # `Newest` and four pages of scenes pass, then the walks' next pages fail for good
        stash.inject(status=400, count=100, path_prefix="/graphql", skip=5)
        with pytest.raises(StashplexError):
            app.engine.sweep()
        assert app.catalog.index.lookup("/media/scene-1.mp4") == before
        assert app.catalog.index.lookup("/media/new.mp4") == []
    finally:
        app.close()


def test_the_cycle_collector_is_back_on_after_a_sweep_that_completes_or_fails(tmp_path, servers):
    """The sweep pauses Python's cycle collector; a daemon left without it would keep every
    reference cycle it makes from then on."""
    stash, plex = servers
    app = make_app(tmp_path, stash, plex)
    paused_during = []
    stash_handle = stash.handle

    def stash_side(request):
        paused_during.append(not gc.isenabled())
        return stash_handle(request)

    stash.handle = stash_side
    try:
        assert gc.isenabled()
        app.engine.sweep()
        assert gc.isenabled()
        stash.inject(status=400, count=100, path_prefix="/graphql", skip=5)
        with pytest.raises(StashplexError):
            app.engine.sweep()
        assert gc.isenabled()
        gc.disable()
        try:
            stash.clear_faults()
            app.engine.sweep()
            assert not gc.isenabled()  # as the caller had it
        finally:
            gc.enable()
    finally:
        app.close()
    assert any(paused_during)


def test_what_lives_is_handed_back_to_the_collector_after_a_drain_that_completes_or_fails(
    tmp_path, servers
):
    """A full pass's drain sets what is alive aside from the collector (`gc.freeze`); a
    daemon that kept it aside would never collect a reference cycle among it."""
    stash, plex = servers
    app = make_app(tmp_path, stash, plex)
    frozen_during_writes = []
    plex_handle = plex.handle

    def plex_side(request):
        if request.method == "PUT":
            frozen_during_writes.append(gc.get_freeze_count())
        return plex_handle(request)

    plex.handle = plex_side
    try:
        assert app.reconcile_all().updated == SCENES
        assert gc.get_freeze_count() == 0
        for n in range(1, SCENES + 1):
            stash.update_scene(str(n), title=f"Scene {n}, renamed")

        def drain_fails(**kwargs):
            raise OSError("disk gone")

        app.worker.drain = drain_fails
        with pytest.raises(OSError):
            app.reconcile_all()
        assert gc.get_freeze_count() == 0
    finally:
        app.close()
    assert frozen_during_writes and min(frozen_during_writes) > 0

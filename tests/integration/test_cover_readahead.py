"""The worker asks Stash for the next cover while Plex is written, one write at a
time, and the outcomes stay those of one job after the other."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest

from reconciler.app import App
from reconciler.config import parse_config
from reconciler.emulators.http import parse_latency
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator

pytestmark = pytest.mark.integration

SCENES = 4


# added to the App's clock: a test moves it on past the backoff of a server that was away
SKIPPED = [0.0]


@pytest.fixture
def app(tmp_path) -> Iterator[tuple[App, StashEmulator, PlexEmulator]]:
    SKIPPED[0] = 0.0
    stash = StashEmulator(api_key="key").start()
    plex = PlexEmulator(token=None).start()
    plex.add_section("Adult", ["/media"])
    for n in range(1, SCENES + 1):
        stash.add_scene(title=f"Scene {n}", files=[f"/data/scene-{n}.mp4"])
        plex.add_item("Adult", f"/media/scene-{n}.mp4")
    config = parse_config(
        {
            "stash": {"url": stash.url, "api_key": "key"},
            "plex": {"url": plex.url, "token": "t", "libraries": ["Adult"]},
            "path_map": [{"stash": "/data", "plex": "/media"}],
            "database": str(tmp_path / "stashplex.db"),
        },
        env={},
    )
    built = App(config, clock=lambda: time.time() + SKIPPED[0])
    yield built, stash, plex
    built.close()
    stash.stop()
    plex.stop()


def test_the_next_cover_is_downloaded_while_plex_takes_this_one(app):
    built, stash, plex = app
    downloaded: list[str] = []
    second_asked = threading.Event()
    ahead_at_upload: list[bool] = []
    in_flight, most_in_flight = [0], [0]
    lock = threading.Lock()
    stash_handle, plex_handle = stash.handle, plex.handle

    def stash_side(request):
        if m := re.fullmatch(r"/scene/([^/]+)/screenshot", request.path):
            downloaded.append(m.group(1))
            if len(downloaded) >= 2:
                second_asked.set()
        return stash_handle(request)

    def plex_side(request):
        writing = request.method in ("PUT", "POST")
        if writing:
            with lock:
                in_flight[0] += 1
                most_in_flight[0] = max(most_in_flight[0], in_flight[0])
        try:
            uploading = request.method == "POST" and request.path.endswith("/posters")
            if uploading and not ahead_at_upload:
                # one job after the other, the second cover is asked for only after this
                # upload: then this waits in vain and says so
                ahead_at_upload.append(second_asked.wait(15))
            return plex_handle(request)
        finally:
            if writing:
                with lock:
                    in_flight[0] -= 1

    stash.handle, plex.handle = stash_side, plex_side
    summary = built.reconcile_all()

    assert (summary.updated, summary.dead, summary.waiting) == (SCENES, 0, 0)
    assert ahead_at_upload == [True]
    assert sorted(downloaded) == [str(n) for n in range(1, SCENES + 1)]  # each cover once
    assert most_in_flight[0] == 1  # Plex never gets a second write while one is in flight
    assert all(plex.item(key).poster_sha1 for key in range(1, SCENES + 1))


def test_a_stash_outage_met_by_a_cover_stops_the_batch_as_before(app):
    built, stash, plex = app
    # the first cover downloads, then Stash answers 503 to everything
    stash.inject(status=503, count=1000, path_prefix="/scene/", skip=1)
    summary = built.reconcile_all()

    assert summary.updated == 1
    assert summary.waiting == SCENES - 1
    written = [key for key in range(1, SCENES + 1) if plex.item(key).poster_sha1]
    assert written == [1]


def test_a_batch_stopped_by_plex_lets_go_of_the_cover_asked_ahead(app):
    built, stash, plex = app
    # in each of two passes the first upload meets a Plex away while the next scene's cover
    # is asked of Stash: a cover left holding its place among Stash's two requests in
    # flight would leave none to the third pass, which would wait for one for ever
    for _ in range(2):
        # the detail read passes; the first upload meets the 503
        plex.inject(status=503, count=1, path_prefix="/library/metadata/", skip=1)
        summary = built.reconcile_all()
        assert (summary.updated, summary.waiting) == (0, SCENES)
        SKIPPED[0] += 3600  # past the backoff before Plex is asked again
    finished = threading.Event()
    outcome = []

    def last_pass() -> None:
        outcome.append(built.reconcile_all())
        finished.set()

    threading.Thread(target=last_pass, daemon=True).start()
    assert finished.wait(30), "the pass waited for a place among Stash's requests"
    assert outcome[0].updated == SCENES
    assert all(plex.item(key).poster_sha1 for key in range(1, SCENES + 1))


def test_latency_model_is_given_per_request_kind_in_milliseconds():
    assert parse_latency("write=20, image=40,listing=30") == {
        "write": 0.02,
        "image": 0.04,
        "listing": 0.03,
    }
    with pytest.raises(ValueError, match="'write' is not KIND=MILLISECONDS"):
        parse_latency("write")

"""Actor photos and background art, end to end against both emulators.

What Plex shows afterwards (`<Role thumb>`, the selected art), that the URL Plex keeps never
holds the Stash API key, that a second run writes nothing, and what a change in Stash (a
performer's new photo, a new cover) brings.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.request
from collections.abc import Iterator

import pytest

from reconciler.app import App
from reconciler.config import DEFAULT_FIELDS, load_config, parse_config
from reconciler.daemon import Daemon
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from tests.integration.test_cli import stashplex, wait_for, write_config
from tests.integration.test_health import free_port
from tests.integration.test_reconcile import PLEX_TOKEN, STASH_KEY, World

pytestmark = pytest.mark.integration

ANN_PHOTO = b"\x89PNG\r\n\x1a\n" + b"photo of Ann"
ANN_NEW_PHOTO = b"\x89PNG\r\n\x1a\n" + b"a new photo of Ann"


def configure(world: World, tmp_path, api_key: str | None, **changes) -> World:
    """The world's stashplex set up anew: `api_key` None keeps the world's key."""
    world.app.close()
    data = {
        "stash": {"url": world.stash.url, "api_key": STASH_KEY if api_key is None else api_key},
        "plex": {"url": world.plex.url, "token": PLEX_TOKEN, "libraries": ["Adult"]},
        "path_map": [{"stash": "/data", "plex": "/media"}],
        "database": str(tmp_path / "stashplex.db"),
    }
    for key, value in changes.items():
        data.setdefault(key, {}).update(value)
    world.config = parse_config(data, env={})
    world.app = App(world.config)
    return world


@pytest.fixture
def keyless(tmp_path, stash_clock, plex_clock) -> Iterator[World]:
    """Both emulators, Stash without an API key, Ann with a photo of her own."""
    stash = StashEmulator(api_key=None, now=stash_clock).start()
    plex = PlexEmulator(token=PLEX_TOKEN, clock=plex_clock).start()
    world = configure(World(tmp_path, stash, plex), tmp_path, api_key="")
    stash.set_performer_image("Ann", ANN_PHOTO)
    yield world
    world.app.close()
    stash.stop()
    plex.stop()


@pytest.fixture
def keyed(tmp_path, stash_clock, plex_clock) -> Iterator[World]:
    """Both emulators, Stash with an API key, Ann with a photo of her own."""
    stash = StashEmulator(api_key=STASH_KEY, now=stash_clock).start()
    plex = PlexEmulator(token=PLEX_TOKEN, clock=plex_clock).start()
    world = World(tmp_path, stash, plex)
    stash.set_performer_image("Ann", ANN_PHOTO)
    yield world
    world.app.close()
    stash.stop()
    plex.stop()


def ann_path(world: World) -> str:
    ann = next(p for p in world.stash.performers() if p["name"] == "Ann")
    return ann["image_path"]


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read()


def test_without_an_api_key_plex_gets_stashs_photo_urls_and_a_second_run_writes_nothing(
    keyless,
):
    summary = keyless.app.reconcile_all()

    assert summary.updated == 4
    for scene_id in keyless.rating_keys:
        item = keyless.item(scene_id)
        assert item.role_thumbs["Ann"] == ann_path(keyless)
        assert f"Performer {scene_id}" not in item.role_thumbs  # a placeholder: no photo
        assert "actor" in item.locked
    assert fetch(keyless.item("1").role_thumbs["Ann"]) == ANN_PHOTO  # Plex can fetch it
    keyless.plex.reset_log()

    again = keyless.app.reconcile_all()

    assert (again.in_sync, again.updated) == (4, 0)
    assert keyless.writes() == 0


@pytest.mark.parametrize("own_form", [False, True])
def test_photos_plex_shows_in_a_form_of_its_own_are_not_rewritten_on_every_job(
    keyless, stash_clock, own_form
):
    keyless.plex.library.rules.own_actor_thumbs = own_form
    keyless.app.reconcile_all()
    shown = keyless.item("1").role_thumbs["Ann"]
    assert (shown == ann_path(keyless)) is not own_form
    keyless.plex.reset_log()
    stash_clock.tick(5)
    for scene_id in keyless.rating_keys:  # an edit in Stash: every scene is diffed again
        keyless.stash.update_scene(scene_id, details=f"New details {scene_id}.")

    report, result = keyless.poll_and_drain()

    assert result.applied == 4
    puts = [query for method, path, query in keyless.plex.requests if method == "PUT"]
    assert len(puts) == 4 and not any("actor" in query for query in puts)
    assert keyless.item("1").role_thumbs["Ann"] == shown


def test_the_default_true_placeholder_is_never_given_to_plex(keyless):
    placeholder = next(
        p["image_path"] for p in keyless.stash.performers() if p["name"] == "Performer 1"
    )
    assert placeholder.endswith("&default=true")

    keyless.app.reconcile_all()

    thumbs = [url for key in keyless.rating_keys for url in keyless.item(key).role_thumbs.values()]
    assert thumbs and all("default=true" not in url for url in thumbs)


def test_a_performers_new_photo_reaches_plex_with_one_poll_and_then_nothing_more(
    keyless, stash_clock
):
    keyless.app.reconcile_all()
    old = keyless.item("1").role_thumbs["Ann"]
    keyless.plex.reset_log()
    stash_clock.tick(5)
    keyless.stash.set_performer_image("Ann", ANN_NEW_PHOTO)

    report, result = keyless.poll_and_drain()

    assert report.queued == 4 and result.applied == 4
    for scene_id in keyless.rating_keys:
        shown = keyless.item(scene_id).role_thumbs["Ann"]
        assert shown == ann_path(keyless) != old
        assert sorted(keyless.item(scene_id).actors) == ["Ann", f"Performer {scene_id}"]
    assert fetch(keyless.item("2").role_thumbs["Ann"]) == ANN_NEW_PHOTO
    keyless.plex.reset_log()

    report, result = keyless.poll_and_drain()

    assert result.applied == 0 and keyless.writes() == 0


def test_turning_performer_photos_off_sends_no_photo(keyless, tmp_path):
    fields = [name for name in DEFAULT_FIELDS if name != "performer_photos"]
    configure(keyless, tmp_path, api_key="", sync={"fields": fields})

    keyless.app.reconcile_all()

    assert keyless.item("1").role_thumbs == {}
    assert sorted(keyless.item("1").actors) == ["Ann", "Performer 1"]


def test_with_an_api_key_and_no_public_url_photos_are_skipped_with_one_warning(keyed, tmp_path):
    config = write_config(keyed, tmp_path)

    result = stashplex("--config", config, "--reconcile-all")

    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "performer_photos" in line]
    assert len(warnings) == 1
    assert "server.public_url" in warnings[0] and "server.listen" in warnings[0]
    assert keyed.item("1").role_thumbs == {}
    assert sorted(keyed.item("1").actors) == ["Ann", "Performer 1"]  # the actors still are


def test_with_an_api_key_stashplex_serves_the_photos_and_plex_keeps_no_key(keyed, tmp_path):
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    configure(keyed, tmp_path, api_key=None,
              server={"listen": f"127.0.0.1:{port}", "public_url": public},
              schedule={"poll_interval": 0.2, "process_interval": 0.1})
    keyed.app.close()
    stop = threading.Event()
    daemon = Daemon(keyed.config, stop_event=stop)
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False})
    thread.start()
    try:
        wait_for(lambda: "Ann" in keyed.item("4").role_thumbs, what="actor photos in Plex")
        url = keyed.item("1").role_thumbs["Ann"]
        ann_id = next(p["id"] for p in keyed.stash.performers() if p["name"] == "Ann")
        assert url.startswith(f"{public}/performer/{ann_id}/image?t=")
        assert fetch(url) == ANN_PHOTO  # what Plex downloads, from stashplex
        keyed.stash.reset_log()
        assert fetch(url) == ANN_PHOTO
        assert not keyed.stash.request_counts()  # the second time from the cache
        assert STASH_KEY not in json.dumps(keyed.plex.dump())
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()


def test_the_key_never_reaches_a_url_plex_stores(keyed, tmp_path):
    configure(keyed, tmp_path, api_key=None,
              server={"listen": "127.0.0.1:8765", "public_url": "http://stashplex:8765"})

    keyed.app.reconcile_all()

    thumbs = {url for key in keyed.rating_keys for url in keyed.item(key).role_thumbs.values()}
    assert thumbs and all(url.startswith("http://stashplex:8765/performer/") for url in thumbs)
    assert STASH_KEY not in json.dumps(keyed.plex.dump())


def test_public_url_without_listen_skips_photos_with_a_warning_naming_listen(keyed, tmp_path):
    config = write_config(keyed, tmp_path, server={"public_url": "http://stashplex:8765"})

    warnings = load_config(config, env={}).warnings
    configure(keyed, tmp_path, api_key=None, server={"public_url": "http://stashplex:8765"})
    keyed.app.reconcile_all()

    assert [line for line in warnings if "server.listen is not" in line]
    assert keyed.item("1").role_thumbs == {}


def cover_sha1(world: World, scene_id: str) -> str:
    url = f"{world.stash.url}/scene/{scene_id}/screenshot"
    request = urllib.request.Request(url, headers={"ApiKey": STASH_KEY})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return hashlib.sha1(answer.read()).hexdigest()


def with_background(world: World, tmp_path) -> World:
    return configure(world, tmp_path, api_key=None,
                     sync={"fields": [*DEFAULT_FIELDS, "background"]})


def test_background_art_is_the_cover_locked_and_a_second_run_writes_nothing(keyed, tmp_path):
    with_background(keyed, tmp_path)

    keyed.app.reconcile_all()

    for scene_id in keyed.rating_keys:
        item = keyed.item(scene_id)
        assert item.art_sha1 == cover_sha1(keyed, scene_id) == item.poster_sha1
        assert {"art", "thumb"} <= item.locked
    keyed.plex.reset_log()
    keyed.stash.reset_log()

    again = keyed.app.reconcile_all()

    assert again.updated == 0 and keyed.writes() == 0
    assert keyed.stash.stats()["image"] == 0


def test_background_is_off_by_default(keyed):
    keyed.app.reconcile_all()

    item = keyed.item("1")
    assert item.art_sha1 is None and item.art_uploads == 0 and "art" not in item.locked
    assert item.poster_sha1 is not None


def test_a_new_cover_becomes_the_art_and_the_old_one_is_selected_again_when_it_returns(
    keyed, tmp_path, stash_clock
):
    with_background(keyed, tmp_path)
    keyed.app.reconcile_all()
    first = keyed.item("1").art_sha1

    stash_clock.tick(5)
    keyed.stash.set_cover("1", b"GIF89a-another-cover")
    keyed.poll_and_drain()
    assert keyed.item("1").art_sha1 == hashlib.sha1(b"GIF89a-another-cover").hexdigest()

    stash_clock.tick(5)
    keyed.stash.set_cover("1", b"")  # Stash's placeholder
    keyed.poll_and_drain()
    stash_clock.tick(5)
    keyed.stash.set_cover("1", b"GIF89a-another-cover")  # bytes Plex holds: not re-selected
    keyed.poll_and_drain()

    assert keyed.item("1").art_sha1 == hashlib.sha1(b"GIF89a-another-cover").hexdigest() != first


def test_art_unlocked_in_plex_is_locked_again_without_an_upload(keyed, tmp_path, plex_clock):
    with_background(keyed, tmp_path)
    keyed.app.reconcile_all()
    rating_key = keyed.rating_keys["1"]
    plex_clock.tick(5)
    unlock = urllib.request.Request(
        f"{keyed.plex.url}/library/sections/1/all?id={rating_key}&type=1&art.locked=0",
        method="PUT", headers={"X-Plex-Token": PLEX_TOKEN})
    urllib.request.urlopen(unlock, timeout=10).close()
    assert "art" not in keyed.item("1").locked
    uploads = keyed.item("1").art_uploads

    keyed.app.reconcile_all()

    assert "art" in keyed.item("1").locked
    assert keyed.item("1").art_uploads == uploads



def test_a_dry_run_says_which_photos_would_be_sent(keyless, tmp_path):
    config = write_config(keyless, tmp_path, stash={"api_key": ""})

    result = stashplex("--config", config, "--reconcile-all", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert result.stdout.count("performer photos: 1 sent with the actors") == 4
    assert keyless.item("1").role_thumbs == {}

"""The Plex emulator's write rules (`WriteRules`), each driven through plexapi as stashplex does."""

from __future__ import annotations

import hashlib

import pytest
from plexapi.exceptions import BadRequest
from plexapi.server import PlexServer

from reconciler.emulators.plex import PlexEmulator
from tests.clock import Clock

TOKEN = "rules-token"


@pytest.fixture
def clock() -> Clock:
    return Clock(1_790_000_000.0)


@pytest.fixture
def emu(clock):
    emulator = PlexEmulator(token=TOKEN, clock=clock)
    emulator.add_section("Movies", ["/data/movies"])
    emulator.add_section("Shows", ["/data/shows"], "show")
    emulator.start()
    yield emulator
    emulator.stop()


def connect(emu) -> PlexServer:
    return PlexServer(emu.url, TOKEN, timeout=5)


def test_a_request_line_over_the_limit_is_414_and_changes_nothing(emu):
    key = emu.add_item("Movies", "/data/movies/a.mkv")
    emu.library.rules.max_request_line = 2000
    item = connect(emu).fetchItem(key)

    with pytest.raises(BadRequest, match=r"^\(414\)"):
        item.editSummary("x" * 2000)
    item.editSummary("x" * 1000)

    assert emu.item(key).summary == "x" * 1000


def test_an_upload_over_the_limit_is_500(emu):
    key = emu.add_item("Movies", "/data/movies/a.mkv")
    emu.library.rules.max_upload_bytes = 1000
    item = connect(emu).fetchItem(key)

    with pytest.raises(BadRequest, match=r"^\(500\)"):
        item.uploadPoster(filepath=b"\xff\xd8" + b"\0" * 1000)
    item.uploadPoster(filepath=b"\xff\xd8" + b"\0" * 900)

    assert emu.item(key).poster_uploads == 1


def test_bytes_the_item_holds_are_not_selected_again(emu):
    key = emu.add_item("Movies", "/data/movies/a.mkv")
    item = connect(emu).fetchItem(key)
    a, b = b"\xff\xd8 poster a", b"\xff\xd8 poster b"

    for data in (a, b, a):
        item.uploadPoster(filepath=data)

    assert emu.item(key).poster_sha1 == hashlib.sha1(b).hexdigest()
    (chosen,) = [p for p in item.posters() if p.ratingKey.endswith(hashlib.sha1(a).hexdigest())]
    chosen.select()
    assert emu.item(key).poster_sha1 == hashlib.sha1(a).hexdigest()


@pytest.mark.parametrize("lock_on_upload", [True, False])
def test_an_upload_locks_the_poster_only_when_the_switch_says_so(emu, lock_on_upload):
    emu.library.rules.lock_on_upload = lock_on_upload
    key = emu.add_item("Movies", "/data/movies/a.mkv")
    connect(emu).fetchItem(key).uploadPoster(filepath=b"\xff\xd8 poster")
    assert ("thumb" in emu.item(key).locked) is lock_on_upload


def test_episodes_ignore_studio_and_genre_edits(emu):
    key = emu.add_item("Shows", "/data/shows/Show/Season 1/Show - S01E01.mkv")
    episode = connect(emu).fetchItem(key)

    episode.batchEdits().editTitle("Pilot")._edit(
        **{"studio.value": "Acme", "studio.locked": 1, "genre[0].tag.tag": "Drama"}
    )
    episode.saveEdits()

    item = emu.item(key)
    assert item.title == "Pilot" and item.studio is None and item.genres == []
    assert "studio" not in item.locked and "title" in item.locked


@pytest.mark.parametrize("merged", [True, False])
def test_tags_differing_only_in_case_are_merged_when_the_switch_says_so(emu, merged):
    emu.library.rules.merge_tag_case = merged
    emu.add_item("Movies", "/data/movies/a.mkv", genres=["Rock"])
    key = emu.add_item("Movies", "/data/movies/b.mkv")

    connect(emu).fetchItem(key).addGenre("rock")

    assert emu.item(key).genres == (["Rock"] if merged else ["rock"])


def test_a_delayed_updated_at_shows_only_after_the_delay(emu, clock):
    key = emu.add_item("Movies", "/data/movies/a.mkv")
    emu.library.rules.updated_at_delay = 3
    before = emu.item(key).updated_at
    clock.tick(10)
    server = connect(emu)

    server.fetchItem(key).editTitle("New")

    assert server.fetchItem(key).updatedAt.timestamp() == before  # not yet
    clock.tick(3)
    assert int(server.fetchItem(key).updatedAt.timestamp()) == before + 10
    assert server.fetchItem(key).title == "New"


def test_actor_thumbs_show_in_the_detail_xml_as_sent(emu):
    key = emu.add_item("Movies", "/data/movies/a.mkv")
    item = connect(emu).fetchItem(key)

    item.edit(**{"actor[0].tag.tag": "Ann", "actor[0].tag.thumb": "http://photos/ann?t=1",
                 "actor[1].tag.tag": "Bo", "actor.locked": 1})

    roles = {role.tag: role.thumb for role in connect(emu).fetchItem(key).roles}
    assert roles == {"Ann": "http://photos/ann?t=1", "Bo": None}
    assert emu.item(key).role_thumbs == {"Ann": "http://photos/ann?t=1"}


def test_art_uploads_follow_the_posters_rules(emu):
    key = emu.add_item("Movies", "/data/movies/a.mkv")
    item = connect(emu).fetchItem(key)
    a, b = b"\xff\xd8 art a", b"\xff\xd8 art b"

    for data in (a, b, a):
        item.uploadArt(filepath=data)

    snapshot = emu.item(key)
    assert snapshot.art_sha1 == hashlib.sha1(b).hexdigest() and snapshot.art_uploads == 3
    assert "art" in snapshot.locked and snapshot.poster_sha1 is None
    wanted = f"upload://arts/{hashlib.sha1(a).hexdigest()}"
    (chosen,) = [p for p in item.arts() if p.ratingKey == wanted]
    chosen.select()
    assert emu.item(key).art_sha1 == hashlib.sha1(a).hexdigest()
    emu.library.rules.max_upload_bytes = 100
    with pytest.raises(BadRequest, match=r"^\(500\)"):
        item.uploadArt(filepath=b"\xff\xd8" + b"\0" * 200)

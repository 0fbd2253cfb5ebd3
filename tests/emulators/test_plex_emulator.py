"""The Plex emulator, proven through plexapi: if plexapi cannot tell it from a real PMS for
everything the daemon does, tests built on it say something about the real thing."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from xml.etree.ElementTree import ParseError

import pytest
import requests
from plexapi.exceptions import BadRequest, NotFound, Unauthorized
from plexapi.server import PlexServer

from reconciler.emulators.http import free_port
from reconciler.emulators.plex import PlexEmulator, PlexItem
from tests.clock import Clock

pytestmark = pytest.mark.integration

TOKEN = "plex-test-token"
T0 = 1_700_000_000
ROOT = Path(__file__).resolve().parents[2]




@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def emu(clock: Clock):
    emulator = PlexEmulator(token=TOKEN, clock=clock)
    emulator.add_section("Movies", ["/data/movies"])
    emulator.start()
    yield emulator
    emulator.stop()


def connect(emu: PlexEmulator, token: str = TOKEN, timeout: float = 5) -> PlexServer:
    return PlexServer(emu.url, token, timeout=timeout)


def count(emu: PlexEmulator, method: str, path: str) -> int:
    return emu.request_counts()[(method, path)]


def test_listing_pages_through_every_item_with_its_files(emu: PlexEmulator) -> None:
    for i in range(250):
        emu.add_item(1, [f"/data/movies/m{i:03}/cd1.mkv", f"/data/movies/m{i:03}/cd2.mkv"])
    section = connect(emu).library.section("Movies")
    emu.reset_log()

    movies = section.all(container_size=100)

    assert len(movies) == 250
    assert [m.title for m in movies[:2]] == ["cd1", "cd1"]  # scanner title: basename
    assert movies[137].locations == ["/data/movies/m137/cd1.mkv", "/data/movies/m137/cd2.mkv"]
    assert len({m.ratingKey for m in movies}) == 250
    assert count(emu, "GET", "/library/sections/1/all") == 3  # pages of 100, 100, 50


def test_paging_headers_and_count_only_queries_follow_pms(emu: PlexEmulator) -> None:
    for i in range(5):
        emu.add_item(1, f"/data/movies/{i}.mkv")
    url = f"{emu.url}/library/sections/1/all?type=1"
    headers = {"X-Plex-Token": TOKEN, "X-Plex-Container-Start": "3", "X-Plex-Container-Size": "10"}

    page = requests.get(url, headers=headers, timeout=5)
    counted = requests.get(
        url + "&X-Plex-Container-Start=0&X-Plex-Container-Size=0&X-Plex-Token=" + TOKEN, timeout=5
    )

    assert page.headers["X-Plex-Container-Total-Size"] == "5"
    assert 'size="2" totalSize="5" offset="3"' in page.text
    assert 'librarySectionID="1"' in page.text
    assert 'size="0" totalSize="5"' in counted.text and "<Video" not in counted.text
    assert connect(emu).library.section("Movies").totalViewSize() == 5


def test_batch_detail_returns_full_tags_while_listing_truncates(emu: PlexEmulator) -> None:
    genres, actors = ["Drama", "Comedy", "Horror", "Romance"], ["Ann", "Bob", "Cid", "Dee", "Eve"]
    first = emu.add_item(1, "/data/movies/a.mkv", genres=genres, actors=actors, collections=["X"])
    second = emu.add_item(1, "/data/movies/b.mkv", genres=["Drama"], locked={"title"})
    server = connect(emu)
    listed = server.library.section("Movies").all()[0]
    emu.reset_log()

    full = server.fetchItems([first, second])

    assert count(emu, "GET", f"/library/metadata/{first},{second}") == 1
    assert [g.tag for g in full[0].genres] == genres
    assert [r.tag for r in full[0].roles] == actors
    assert [c.tag for c in full[0].collections] == ["X"]
    assert full[1].isLocked("title")
    listed._autoReload = False  # look at the listing as it came, without plexapi's reload
    assert [g.tag for g in listed.genres] == genres[:2]
    assert [r.tag for r in listed.roles] == actors[:3]
    assert listed.fields == []


def test_reload_turns_a_listing_item_into_the_full_object(emu: PlexEmulator) -> None:
    emu.add_item(
        1, "/data/movies/a.mkv", genres=["A", "B", "C"], locked={"genre"}, guids=["imdb://tt01"]
    )
    item = connect(emu).library.section("Movies").all()[0]
    assert item.isPartialObject()
    assert [g.id for g in item.guids] == ["imdb://tt01"]  # plexapi asks includeGuids=1

    item.reload()

    assert [g.tag for g in item.genres] == ["A", "B", "C"]
    assert item.isLocked("genre")
    assert item.media[0].parts[0].streams  # Media > Part > Stream nesting


def test_batch_edit_is_one_put_and_locks_every_edited_field(
    emu: PlexEmulator, clock: Clock
) -> None:
    key = emu.add_item(1, "/data/movies/scene.mp4", genres=["Old"])
    server = connect(emu)
    item = server.fetchItem(key)
    item.section()  # the section lookup (GET /library, /library/sections) is cached from here on
    clock.now += 60
    emu.reset_log()

    item.batchEdits()
    item.editTitle("Scene Title").editSummary("Details & <more>").editOriginallyAvailable(
        "2021-02-03"
    ).editStudio("Studio One").editTags("genre", ["Tag A", "Tag B"], remove=False)
    item.editField("userRating", 8)
    item.saveEdits()

    assert count(emu, "PUT", "/library/sections/1/all") == 1
    assert len(emu.requests) == 1
    fresh = server.fetchItem(key)
    assert fresh.title == "Scene Title"
    assert fresh.summary == "Details & <more>"
    assert fresh.originallyAvailableAt == datetime(2021, 2, 3)
    assert fresh.studio == "Studio One"
    assert [g.tag for g in fresh.genres] == ["Old", "Tag A", "Tag B"]  # editTags re-sends existing
    assert fresh.userRating == 8.0
    for field in ("title", "summary", "originallyAvailableAt", "studio", "genre", "userRating"):
        assert fresh.isLocked(field), field
    snapshot = emu.item(key)
    assert snapshot.updated_at == T0 + 60
    assert fresh.thumb == f"/library/metadata/{key}/thumb/{T0 + 60}"


def test_unlocked_edit_removes_the_field_lock(emu: PlexEmulator) -> None:
    key = emu.add_item(1, "/data/movies/a.mkv", locked={"summary", "title"})
    server = connect(emu)

    server.fetchItem(key).editSummary("handed back", locked=False)

    fresh = server.fetchItem(key)
    assert fresh.summary == "handed back"
    assert not fresh.isLocked("summary") and fresh.isLocked("title")


def test_add_and_remove_tags_keep_the_others(emu: PlexEmulator) -> None:
    key = emu.add_item(
        1, "/data/movies/a.mkv", genres=["Action", "Drama", "Sci-Fi & Fantasy", "A,B"]
    )
    server = connect(emu)

    server.fetchItem(key).addGenre("Comedy")
    server.fetchItem(key).removeGenre(["Sci-Fi & Fantasy", "A,B"])
    server.fetchItem(key).addCollection("Favourites")
    server.fetchItem(key).addCollection("Best of 2021")

    fresh = server.fetchItem(key)
    assert [g.tag for g in fresh.genres] == ["Action", "Drama", "Comedy"]
    assert [c.tag for c in fresh.collections] == ["Favourites", "Best of 2021"]
    assert fresh.isLocked("genre") and fresh.isLocked("collection")
    fresh.edit(**{"genre[].tag": ""})  # no value: drop every genre
    assert emu.item(key).genres == []


def test_add_genre_on_a_listing_item_drops_what_the_listing_truncated(emu: PlexEmulator) -> None:
    """plexapi issue #249, reproduced: edit tags on full objects only."""
    key = emu.add_item(1, "/data/movies/a.mkv", genres=["A", "B", "C"])
    listed = connect(emu).library.section("Movies").all()[0]

    listed.addGenre("D")

    assert emu.item(key).genres == ["A", "B", "D"]


def test_actors_are_edited_as_tags_with_optional_roles(emu: PlexEmulator) -> None:
    key = emu.add_item(1, "/data/movies/a.mkv")
    server = connect(emu)

    server.fetchItem(key).editTags("actor", ["Jane Doe", "John Roe"])
    after_tags = server.fetchItem(key)
    server.fetchItem(key).edit(
        **{"actor[0].tag.tag": "Jane Doe", "actor[0].tagging.text": "Lead", "actor.locked": 1}
    )

    assert [a.tag for a in after_tags.actors] == ["Jane Doe", "John Roe"]
    assert after_tags.isLocked("actor")
    roles = server.fetchItem(key).roles
    assert [(r.tag, r.role) for r in roles] == [("Jane Doe", "Lead")]
    assert emu.item(key).actors == ["Jane Doe"]


def test_uploaded_poster_is_selected_served_and_locks_thumb(
    emu: PlexEmulator, clock: Clock
) -> None:
    key = emu.add_item(1, "/data/movies/a.mkv")
    server = connect(emu)
    item = server.fetchItem(key)
    cover, other = b"\x89PNG fake cover", b"\xff\xd8 another cover"
    generated = requests.get(item.thumbUrl, timeout=5)
    assert generated.headers["Content-Type"] == "image/png" and generated.content
    clock.now += 5

    item.uploadPoster(filepath=cover)
    item.uploadPoster(filepath=other)
    posters = item.posters()
    item.setPoster(
        next(p for p in posters if p.ratingKey.endswith(hashlib.sha1(cover).hexdigest()))
    )

    fresh = server.fetchItem(key)
    assert [(p.ratingKey, p.selected) for p in fresh.posters()] == [
        (f"upload://posters/{hashlib.sha1(cover).hexdigest()}", True),
        (f"upload://posters/{hashlib.sha1(other).hexdigest()}", False),
    ]
    assert fresh.isLocked("thumb")
    assert fresh.thumb.endswith(f"/thumb/{T0 + 5}")
    assert requests.get(fresh.thumbUrl, timeout=5).content == cover
    snap = emu.item(key)
    assert (snap.poster_sha1, snap.poster_uploads) == (hashlib.sha1(cover).hexdigest(), 2)

    fresh.uploadPoster(url=server.url(f"/library/metadata/{key}/thumb/1", includeToken=True))
    assert emu.item(key).poster_uploads == 3  # PMS downloads ?url= uploads itself


def test_agent_refresh_resets_unlocked_fields_and_keeps_locked_ones(emu: PlexEmulator) -> None:
    key = emu.add_item(
        1,
        "/data/movies/My Scene.mkv",
        "Curated",
        summary="unlocked summary",
        studio="Locked Studio",
        genres=["Loose"],
        collections=["Kept"],
        locked={"studio", "collection"},
    )
    server = connect(emu)
    server.fetchItem(key).uploadPoster(filepath=b"cover")

    server.fetchItem(key).refresh()  # PUT /library/metadata/{id}/refresh

    after = emu.item(key)
    assert (after.title, after.summary, after.genres) == ("My Scene", "", [])
    assert (after.studio, after.collections) == ("Locked Studio", ["Kept"])
    assert after.poster_sha1 == hashlib.sha1(b"cover").hexdigest()  # thumb was locked by upload
    emu.edit_item(key, title="Outside edit")
    assert emu.item(key).locked == {"studio", "collection", "thumb"}  # outside edits do not lock
    emu.agent_refresh(key)
    assert emu.item(key).title == "My Scene"


def test_scans_and_section_wide_locks_are_accepted(emu: PlexEmulator) -> None:
    keys = [emu.add_item(1, f"/data/movies/{i}.mkv") for i in range(3)]
    section = connect(emu).library.section("Movies")

    section.update(path="/data/movies/new")
    section.refresh()
    section.lockAllField("thumb")  # PUT .../all without id: every item of the type

    assert count(emu, "GET", "/library/sections/1/refresh") == 2
    assert all(emu.item(k).locked == {"thumb"} for k in keys)


def test_removed_item_is_not_found(emu: PlexEmulator) -> None:
    gone = emu.add_item(1, "/data/movies/a.mkv")
    kept = emu.add_item(1, "/data/movies/b.mkv")
    server = connect(emu)
    item = server.fetchItem(gone)

    emu.remove_item(gone)

    with pytest.raises(NotFound):
        item.reload()
    with pytest.raises(NotFound):
        server.fetchItem(gone)
    assert [i.ratingKey for i in server.fetchItems([gone, kept])] == [kept]
    assert len(server.library.section("Movies").all()) == 1


def test_wrong_token_is_unauthorized_but_identity_is_open(emu: PlexEmulator) -> None:
    with pytest.raises(Unauthorized):
        connect(emu, token="wrong")
    identity = requests.get(f"{emu.url}/identity", timeout=5)
    assert identity.status_code == 200 and "machineIdentifier" in identity.text
    refused = requests.get(f"{emu.url}/library/sections", timeout=5)
    assert refused.status_code == 401 and refused.headers["Content-Type"].startswith("text/html")


def test_updated_at_filter_and_sort_find_recent_changes(
    emu: PlexEmulator, clock: Clock
) -> None:
    keys = [emu.add_item(1, f"/data/movies/{i}.mkv") for i in range(5)]
    section = connect(emu).library.section("Movies")
    clock.now += 3600
    emu.edit_item(keys[3], title="changed outside")
    clock.now += 60
    connect(emu).fetchItem(keys[1]).editTitle("changed by us")

    recent = section.all(filters={"updatedAt>>": datetime.fromtimestamp(T0 + 1800)})
    newest_first = section.all(sort="updatedAt:desc")
    last_day = section.search(filters={"updatedAt>>": "30m"}, libtype="movie")

    assert sorted(m.ratingKey for m in recent) == [keys[1], keys[3]]
    assert [m.ratingKey for m in newest_first[:2]] == [keys[1], keys[3]]
    assert sorted(m.ratingKey for m in last_day) == [keys[1], keys[3]]


def test_invalid_edits_are_bad_requests_and_change_nothing(emu: PlexEmulator) -> None:
    key = emu.add_item(1, "/data/movies/a.mkv", "Original")
    other_section = emu.add_section("Other", ["/data/other"])
    stranger = emu.add_item(other_section, "/data/other/x.mkv")
    server = connect(emu)
    item = server.fetchItem(key)

    with pytest.raises(BadRequest):
        item.editOriginallyAvailable("03/02/2021")
    with pytest.raises(BadRequest):
        item.editOriginallyAvailable("2021-02-30")
    with pytest.raises(BadRequest):
        item.editField("userRating", 11)
    with pytest.raises(BadRequest):
        item.edit(**{"title.value": "New", "bogus.value": "x"})
    with pytest.raises(BadRequest):
        item.edit(**{"mood[0].tag.tag": "x"})
    with pytest.raises(BadRequest):
        server.query(
            f"/library/sections/1/all?type=1&id={stranger}&title.value=x", method=requests.put
        )

    assert emu.item(key).title == "Original" and emu.item(key).locked == set()
    assert emu.item(stranger).title == "x"


def test_star_rating_uses_rate_endpoint(emu: PlexEmulator, clock: Clock) -> None:
    key = emu.add_item(1, "/data/movies/a.mkv")
    server = connect(emu)
    clock.now += 10

    server.fetchItem(key).rate(7)
    rated = server.fetchItem(key)
    rated.rate()

    assert rated.userRating == 7.0 and rated.lastRatedAt == datetime.fromtimestamp(T0 + 10)
    assert emu.item(key).user_rating is None


@pytest.mark.parametrize(
    "status, body, error",
    [
        (520, b"", TypeError),  # not in requests' status table: plexapi's codes.get(...)[0] bug
        (498, b"", TypeError),
        (503, b"<html>busy</html>", BadRequest),
        (500, b"", BadRequest),
        (200, b"OK", ParseError),
    ],
)
def test_injected_faults_surface_as_plexapi_does(
    emu: PlexEmulator, status: int, body: bytes, error: type[Exception]
) -> None:
    server = connect(emu)
    emu.inject(status, body=body, path_prefix="/library/metadata/")

    with pytest.raises(error) as caught:
        server.fetchItem(1)

    if error is BadRequest:
        assert f"({status})" in str(caught.value)


def test_slow_server_times_out_and_stopped_server_refuses(emu: PlexEmulator) -> None:
    emu.add_item(1, "/data/movies/a.mkv")
    server = connect(emu, timeout=0.3)
    emu.inject(None, delay=0.6, path_prefix="/library/metadata/")

    with pytest.raises(requests.exceptions.ReadTimeout):
        server.fetchItem(1)

    emu.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        server.fetchItem(1)
    emu.start()
    assert server.fetchItem(1).title == "a"


def test_stats_endpoint_counts_requests_by_kind(emu: PlexEmulator) -> None:
    key = emu.add_item(1, "/data/movies/a.mkv")
    server = connect(emu)
    requests.post(f"{emu.url}/_emulator/reset-stats", timeout=5)

    server.library.section("Movies").all()
    item = server.fetchItem(key)
    item.editTitle("x")
    item.rate(5)
    item.uploadPoster(filepath=b"img")
    item.posters()

    stats = requests.get(f"{emu.url}/_emulator/stats", timeout=5).json()
    # GET /library and the list of posters are "other"; /library/sections and the /all page
    # are listings; only the upload counts as an image
    assert stats == {"listing": 2, "detail": 1, "write": 2, "image": 1, "other": 2}


def test_episodes_of_a_show_section_are_listed_with_their_show(emu: PlexEmulator) -> None:
    tv = emu.add_section("TV", ["/data/tv"], type="show")
    emu.add_item(tv, "/data/tv/Show A/Season 2/Show A - S02E05.mkv", "Pilot")
    server = connect(emu)

    episodes = server.library.section("TV").searchEpisodes()

    assert [(e.grandparentTitle, e.parentIndex, e.index, e.title) for e in episodes] == [
        ("Show A", 2, 5, "Pilot")
    ]
    assert episodes[0].locations == ["/data/tv/Show A/Season 2/Show A - S02E05.mkv"]


def test_dump_and_load_round_trip(emu: PlexEmulator) -> None:
    key = emu.add_item(
        1, "/data/movies/a.mkv", genres=["G"], user_rating=6.5, locked={"genre"}, added_at=T0 - 5
    )
    connect(emu).fetchItem(key).uploadPoster(filepath=b"cover")
    state = json.loads(json.dumps(emu.dump()))

    copy = PlexEmulator(token=None)
    copy.load(state)

    assert copy.item(key) == emu.item(key)
    assert isinstance(copy.item(key), PlexItem)
    assert copy.add_item(1, "/data/movies/b.mkv") == key + 1


def test_runs_as_a_subprocess_until_sigterm(tmp_path: Path) -> None:
    fixture = tmp_path / "plex.json"
    fixture.write_text(
        json.dumps(
            {
                "sections": [{"title": "Movies", "locations": ["/m"]}],
                "items": [{"section": 1, "files": ["/m/Scene.mp4"], "genres": ["G"]}],
            }
        )
    )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reconciler.emulators.plex", "--port", str(port),
         "--token", "sub-token", "--fixture", str(fixture)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert "listening" in proc.stdout.readline()
        server = PlexServer(f"http://127.0.0.1:{port}", "sub-token", timeout=5)
        assert [m.title for m in server.library.section("Movies").all()] == ["Scene"]
        stats = requests.get(f"http://127.0.0.1:{port}/_emulator/stats", timeout=5).json()
        assert stats["listing"] == 2  # /library/sections + one page of /all
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        time.sleep(0)


# -- what a real PMS does that a naive fake would not (plex-http.md §8) ----------------------


def listed(emu: PlexEmulator, query: str, start: int = 0, size: int = 100) -> list[int]:
    """ratingKeys of a raw listing, in the order Plex sent them."""
    answer = requests.get(
        f"{emu.url}/library/sections/1/all?{query}",
        headers={
            "X-Plex-Token": TOKEN,
            "X-Plex-Container-Start": str(start),
            "X-Plex-Container-Size": str(size),
        },
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return [int(video.attrib["ratingKey"]) for video in ET.fromstring(answer.content)]


def test_a_relative_date_without_unit_is_seconds_ago_and_the_bound_is_strict(
    emu: PlexEmulator, clock: Clock
) -> None:
    old = emu.add_item(1, "/data/movies/old.mkv")
    clock.tick(100)
    edited = emu.add_item(1, "/data/movies/new.mkv")
    clock.tick(5)

    assert listed(emu, "type=1&updatedAt>>=-1") == []  # "the last second", not "everything"
    assert listed(emu, "type=1&updatedAt>>=-10&sort=id") == [edited]
    assert listed(emu, f"type=1&updatedAt>>={T0 + 100}") == []  # strictly after
    assert listed(emu, f"type=1&updatedAt>>={T0 + 99}&sort=id") == [edited]
    assert listed(emu, "type=1&addedAt>>=-2m&sort=id") == [old, edited]


def test_the_default_order_is_title_sort_and_id_orders_and_pages_by_key(
    emu: PlexEmulator,
) -> None:
    keys = [emu.add_item(1, f"/data/movies/{t}.mkv", t) for t in ("Delta", "The Alpha", "Cat")]

    assert listed(emu, "type=1") == [keys[1], keys[2], keys[0]]  # Alpha, Cat, Delta
    assert listed(emu, "type=1&sort=id") == keys
    assert listed(emu, f"type=1&sort=id&id>>={keys[0]}") == keys[1:]
    emu.edit_item(keys[1], title="Zulu")
    assert listed(emu, "type=1", start=1, size=1) == [keys[0]]  # an offset page shifted


def test_or_groups_select_updated_or_rated_items(emu: PlexEmulator, clock: Clock) -> None:
    keys = [emu.add_item(1, f"/data/movies/{i}.mkv") for i in range(3)]
    clock.tick(60)
    emu.edit_item(keys[0], summary="edited")
    emu.rate_item(keys[2], 6)
    bound = T0 + 30
    either = f"type=1&sort=id&push=1&updatedAt>>={bound}&or=1&lastRatedAt>>={bound}&pop=1"

    assert listed(emu, either) == [keys[0], keys[2]]
    assert listed(emu, f"type=1&sort=id&updatedAt>>={bound}&lastRatedAt>>={bound}") == []


def test_a_pms_without_or_groups_answers_them_with_the_whole_library(clock: Clock) -> None:
    emu = PlexEmulator(token=TOKEN, clock=clock, or_groups=False)
    emu.add_section("Movies", ["/data/movies"])
    keys = [emu.add_item(1, f"/data/movies/{i}.mkv") for i in range(3)]
    clock.tick(60)
    emu.edit_item(keys[1], summary="edited")
    with emu:
        grouped = f"type=1&sort=id&push=1&updatedAt>>={T0}&or=1&lastRatedAt>>={T0}&pop=1"
        assert listed(emu, grouped) == keys
        assert listed(emu, f"type=1&sort=id&updatedAt>>={T0}") == [keys[1]]


def test_unknown_filter_fields_are_ignored_not_refused(emu: PlexEmulator, clock: Clock) -> None:
    keys = [emu.add_item(1, f"/data/movies/{i}.mkv") for i in range(3)]
    clock.tick(60)
    emu.edit_item(keys[0], summary="edited")

    assert listed(emu, f"type=1&sort=id&changedAt>>={T0}") == keys
    assert listed(emu, f"type=1&sort=id&changedAt>>={T0}&updatedAt>>={T0}") == [keys[0]]


def test_a_star_rating_moves_last_rated_at_but_not_updated_at(
    emu: PlexEmulator, clock: Clock
) -> None:
    by_stars, by_rate, by_hand = (emu.add_item(1, f"/data/movies/{n}.mkv") for n in "abc")
    clock.tick(60)

    emu.rate_item(by_stars, 8)
    connect(emu).fetchItem(by_rate).rate(4)
    emu.edit_item(by_hand, user_rating=6)

    for key, rating in ((by_stars, 8.0), (by_rate, 4.0), (by_hand, 6.0)):
        item = emu.item(key)
        assert (item.user_rating, item.updated_at, item.last_rated_at) == (rating, T0, T0 + 60)
    assert listed(emu, f"type=1&updatedAt>>={T0}") == []
    assert listed(emu, f"type=1&sort=id&lastRatedAt>>={T0}") == [by_stars, by_rate, by_hand]


@pytest.mark.parametrize("missing_in_batch, status", [("rest", 200), ("404", 404)])
def test_a_multi_id_read_with_a_gone_id_follows_the_switch(
    clock: Clock, missing_in_batch: str, status: int
) -> None:
    emu = PlexEmulator(token=TOKEN, clock=clock, missing_in_batch=missing_in_batch)
    emu.add_section("Movies", ["/data/movies"])
    keys = [emu.add_item(1, f"/data/movies/{i}.mkv") for i in range(3)]
    emu.remove_item(keys[1])
    with emu:
        answer = requests.get(
            f"{emu.url}/library/metadata/{','.join(map(str, keys))}",
            headers={"X-Plex-Token": TOKEN},
            timeout=5,
        )
        gone = requests.get(
            f"{emu.url}/library/metadata/{keys[1]}", headers={"X-Plex-Token": TOKEN}, timeout=5
        )
    assert answer.status_code == status and gone.status_code == 404
    if status == 200:
        assert [int(v.attrib["ratingKey"]) for v in ET.fromstring(answer.content)] == [
            keys[0],
            keys[2],
        ]


def test_maintenance_answers_503_with_pms_body(emu: PlexEmulator) -> None:
    emu.add_item(1, "/data/movies/a.mkv")
    emu.maintenance("Plex Media Server is currently running database migrations.")

    answer = requests.get(f"{emu.url}/library/sections", headers={"X-Plex-Token": TOKEN}, timeout=5)
    with pytest.raises(BadRequest, match="503"):
        connect(emu)
    emu.maintenance(None)

    assert answer.status_code == 503
    body = ET.fromstring(answer.content)
    assert (body.tag, body.attrib["code"], body.attrib["title"]) == (
        "Response",
        "503",
        "Maintenance",
    )
    assert body.attrib["status"].startswith("Plex Media Server is currently running")
    assert connect(emu).library.section("Movies").all()[0].title == "a"


@pytest.mark.parametrize("unknown_filters", ["ignored", "400"])
def test_an_unknown_filter_field_is_ignored_or_refused_as_the_switch_says(
    clock: Clock, unknown_filters: str
) -> None:
    emu = PlexEmulator(token=TOKEN, clock=clock, unknown_filters=unknown_filters)
    emu.add_section("Movies", ["/data/movies"])
    keys = [emu.add_item(1, f"/data/movies/{i}.mkv") for i in range(3)]
    with emu:
        unknown = requests.get(
            f"{emu.url}/library/sections/1/all?type=1&changedAt%3E%3E={T0}",
            headers={"X-Plex-Token": TOKEN},
            timeout=5,
        )
        # the parameters plexapi sends that are no filters are never refused
        everything = connect(emu).library.section("Movies").all()
    if unknown_filters == "ignored":
        assert unknown.status_code == 200
        assert len(ET.fromstring(unknown.content).findall("Video")) == len(keys)
    else:
        assert unknown.status_code == 400
        assert "changedAt" in unknown.headers["X-Plex-Emulator-Reason"]
    assert sorted(v.ratingKey for v in everything) == keys


@pytest.mark.parametrize("reselect", [False, True])
def test_posting_held_poster_bytes_reselects_them_only_when_the_switch_says_so(
    emu: PlexEmulator, reselect: bool
) -> None:
    emu.library.rules.reselect_held_uploads = reselect
    key = emu.add_item(1, "/data/movies/a.mkv")
    item = connect(emu).fetchItem(key)
    first, second = b"\xff\xd8 poster one", b"\xff\xd8 poster two"

    for data in (first, second, first):
        item.uploadPoster(filepath=data)

    held = emu.item(key)
    assert held.poster_sha1 == hashlib.sha1(first if reselect else second).hexdigest()
    assert len(item.posters()) == 2


def test_a_folder_scan_through_plexapi_adds_the_staged_items_of_that_folder(
    emu: PlexEmulator,
) -> None:
    emu.stage_item("Movies", "/data/movies/new/a.mp4", title="A")
    emu.stage_item("Movies", "/data/movies/other/b.mp4", title="B")
    section = connect(emu).library.section("Movies")
    assert section.all() == []

    section.update(path="/data/movies/new")  # GET /library/sections/1/refresh?path=...

    assert [movie.title for movie in section.all()] == ["A"]
    assert emu.scans() == [(1, "/data/movies/new")]
    assert count(emu, "GET", "/library/sections/1/refresh") == 1
    section.update()
    assert sorted(movie.title for movie in section.all()) == ["A", "B"]
    assert emu.scans()[-1] == (1, None)


def test_several_items_may_hold_the_same_file(emu: PlexEmulator) -> None:
    first = emu.add_item("Movies", "/data/movies/same.mp4", title="One")
    second = emu.add_item("Movies", "/data/movies/same.mp4", title="Two")

    listed = connect(emu).library.section("Movies").all()

    assert [(m.ratingKey, m.locations) for m in listed] == [
        (first, ["/data/movies/same.mp4"]), (second, ["/data/movies/same.mp4"])
    ]


def test_collection_tags_make_the_sections_collections_with_their_items(emu: PlexEmulator) -> None:
    first = emu.add_item(1, "/data/movies/a.mkv", collections=["Site: Acme", "Favourites"])
    emu.add_item(1, "/data/movies/b.mkv", collections=["Site: Acme"])
    emu.add_item(1, "/data/movies/c.mkv")
    section = connect(emu).library.section("Movies")

    shown = {c.title: c for c in section.collections()}

    assert sorted(shown) == ["Favourites", "Site: Acme"]
    assert shown["Site: Acme"].childCount == 2 and shown["Favourites"].childCount == 1
    assert [item.locations for item in shown["Site: Acme"].items()] == [
        ["/data/movies/a.mkv"], ["/data/movies/b.mkv"]]
    emu.library.edit_item(first, collections=["Site: Acme"])  # the last item leaves Favourites
    assert [c.title for c in section.collections()] == ["Site: Acme"]


def test_the_collections_listing_pages_and_counts_like_other_listings(emu: PlexEmulator) -> None:
    for i in range(3):
        emu.add_item(1, f"/data/movies/{i}.mkv", collections=[f"C{i}"])
    url = f"{emu.url}/library/sections/1/collections?X-Plex-Token={TOKEN}"

    counted = requests.get(url + "&X-Plex-Container-Start=0&X-Plex-Container-Size=0", timeout=5)
    paged = requests.get(url + "&X-Plex-Container-Start=1&X-Plex-Container-Size=5", timeout=5)

    assert 'size="0" totalSize="3"' in counted.text and "<Directory" not in counted.text
    assert 'size="2" totalSize="3" offset="1"' in paged.text
    assert [d.get("title") for d in ET.fromstring(paged.text).iter("Directory")] == ["C1", "C2"]

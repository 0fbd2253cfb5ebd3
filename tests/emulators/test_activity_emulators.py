"""The emulators' activity: plays, resume points and play history, as clients drive them.

Plex through plexapi (`markPlayed`, `markUnplayed`, `updateProgress`, `history`, a
`lastViewedAt>>=` filter); Stash through gql (`sceneAddPlay`, `sceneSaveActivity`), with an
old Stash's schema and a key that may not write as switches.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.requests import RequestsHTTPTransport
from plexapi.server import PlexServer

from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from tests.clock import Clock

pytestmark = pytest.mark.integration

TOKEN = "plex-activity-token"
KEY = "stash-activity-key"
T0 = 1_700_000_000


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def plex(clock) -> Iterator[PlexEmulator]:
    emulator = PlexEmulator(token=TOKEN, clock=clock)
    emulator.add_section("Adult", ["/media"])
    emulator.add_item("Adult", "/media/a.mp4", "A")
    emulator.add_item("Adult", "/media/b.mp4", "B")
    emulator.start()
    yield emulator
    emulator.stop()


def test_plexapi_plays_and_progress_move_the_tokens_activity_not_updated_at(plex, clock):
    server = PlexServer(plex.url, TOKEN)
    movie = server.fetchItem(1)
    updated = plex.item(1).updated_at
    clock.tick(60)
    movie.markPlayed()
    clock.tick(60)
    movie.markPlayed()
    plex.play_item(1, account_id=2)  # someone else: the server's history only
    movie.reload()
    assert movie.viewCount == 2
    assert int(movie._data.attrib["lastViewedAt"]) == T0 + 120
    clock.tick(60)
    plex.progress_item(1, 125_000)
    item = plex.item(1)
    assert (item.view_offset, item.last_viewed_at, item.view_count) == (125_000, T0 + 180, 2)
    assert item.updated_at == updated
    movie.markUnplayed()
    assert (plex.item(1).view_count, plex.item(1).view_offset) == (0, 0)


def test_the_history_lists_every_accounts_plays_and_can_be_switched_off(plex, clock):
    server = PlexServer(plex.url, TOKEN)
    clock.tick(10)
    plex.play_item(1)
    clock.tick(10)
    plex.play_item(1, account_id=2)
    plex.play_item(2)
    entries = server.history(ratingKey=1)
    assert sorted((int(e._data.attrib["viewedAt"]), e.accountID) for e in entries) == [
        (T0 + 10, 1),
        (T0 + 20, 2),
    ]
    assert [e.accountID for e in server.history(ratingKey=1, accountID=1)] == [1]
    plex.history = False
    answer = server._session.get(
        f"{plex.url}/status/sessions/history/all?metadataItemID=1",
        headers={"X-Plex-Token": TOKEN},
    )
    assert answer.status_code == 404


def test_last_viewed_at_is_a_date_filter(plex, clock):
    clock.tick(100)
    plex.play_item(2)
    server = PlexServer(plex.url, TOKEN)
    section = server.library.section("Adult")
    found = section.fetchItems(f"/library/sections/1/all?type=1&lastViewedAt>>={T0 + 50}")
    assert [item.ratingKey for item in found] == [2]


def test_activity_survives_a_dump_and_load(plex, clock):
    plex.play_item(1)
    plex.progress_item(2, 5000)
    state = plex.library.dump()
    other = PlexEmulator(token=TOKEN, clock=clock)
    other.library.load(state)
    assert (other.item(1).view_count, other.item(2).view_offset) == (1, 5000)
    assert other.library.get(1).views == plex.library.get(1).views


@pytest.fixture
def stash(clock) -> Iterator[StashEmulator]:
    emulator = StashEmulator(api_key=KEY, now=clock, tz="Europe/Berlin").start()
    yield emulator
    emulator.stop()


def _run(stash: StashEmulator, query: str, variables: dict) -> dict:
    transport = RequestsHTTPTransport(url=f"{stash.url}/graphql", headers={"ApiKey": KEY})
    with Client(transport=transport, fetch_schema_from_transport=False) as session:
        return session.execute(GraphQLRequest(query, variable_values=variables))


ADD = "mutation($id: ID!, $t: [Timestamp!]) { sceneAddPlay(id: $id, times: $t) { count history } }"
SAVE = "mutation($id: ID!, $r: Float, $d: Float) { sceneSaveActivity(id: $id, resume_time: $r, playDuration: $d) }"  # noqa: E501
READ = "query($id: ID!) { findScene(id: $id) { play_count play_history last_played_at resume_time play_duration updated_at } }"  # noqa: E501


def test_play_history_and_resume_points_leave_updated_at_alone(stash, clock):
    scene_id = stash.add_scene(title="x", files=["/data/x.mp4"])
    before = _run(stash, READ, {"id": scene_id})["findScene"]["updated_at"]
    clock.tick(3600)
    added = _run(stash, ADD, {"id": scene_id, "t": ["2023-11-14T22:00:00Z"]})["sceneAddPlay"]
    _run(stash, ADD, {"id": scene_id, "t": None})  # no times: a play now
    assert _run(stash, SAVE, {"id": scene_id, "r": 61.5, "d": 30})["sceneSaveActivity"] is True
    _run(stash, SAVE, {"id": scene_id, "r": None, "d": 12})
    scene = _run(stash, READ, {"id": scene_id})["findScene"]
    assert added == {"count": 1, "history": ["2023-11-14T23:00:00+01:00"]}  # the host's zone
    assert scene["play_count"] == 2
    assert scene["last_played_at"] == scene["play_history"][-1] == stash.now_string()
    assert (scene["resume_time"], scene["play_duration"]) == (61.5, 42.0)
    assert scene["updated_at"] == before


def test_an_old_stash_has_no_scene_add_play_and_a_read_only_key_writes_nothing(stash):
    scene_id = stash.add_scene(title="x", files=["/data/x.mp4"])
    stash.play_history = False
    with pytest.raises(TransportQueryError, match="sceneAddPlay"):
        _run(stash, ADD, {"id": scene_id, "t": None})
    assert _run(stash, SAVE, {"id": scene_id, "r": 1.0, "d": None})["sceneSaveActivity"]
    stash.play_history = True
    stash.read_only_key = True
    with pytest.raises(TransportQueryError, match="forbidden"):
        _run(stash, ADD, {"id": scene_id, "t": None})
    stash.read_only_key = False
    assert _run(stash, READ, {"id": scene_id})["findScene"]["play_count"] == 0

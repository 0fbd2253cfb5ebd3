"""The Stash emulator, driven by gql over its requests transport exactly as stashplex drives Stash:
if gql cannot tell it from Stash for what the daemon does, tests built on it say something
about the real thing, traps included (string timestamps, renames that leave scenes alone)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError, TransportServerError
from gql.transport.requests import RequestsHTTPTransport

from reconciler.emulators.http import free_port
from reconciler.emulators.stash import StashEmulator, format_time
from tests.clock import Clock

pytestmark = pytest.mark.integration

KEY = "stash-test-key"
ROOT = Path(__file__).resolve().parents[2]
# 2026-10-25 in Europe/Berlin: CEST (+02:00) ends at 03:00 local = 01:00 UTC
BERLIN_0230_CEST = datetime(2026, 10, 25, 0, 30, tzinfo=UTC).timestamp()  # 02:30+02:00
BERLIN_0210_CET = datetime(2026, 10, 25, 1, 10, tzinfo=UTC).timestamp()  # 02:10+01:00, later
T0 = datetime(2026, 11, 24, 3, 5, 9, tzinfo=UTC).timestamp()  # 14:05:09 in Sydney

# the query a poller sends to find changed scenes
CHANGED_SCENES = """
query ChangedScenes($since: String!, $page: Int!, $perPage: Int!) {
  findScenes(
    scene_filter: { updated_at: { value: $since, modifier: GREATER_THAN } }
    filter: { page: $page, per_page: $perPage, sort: "updated_at", direction: ASC }
  ) {
    count
    scenes { id title code details director urls date rating100 organized created_at updated_at
             files { path basename } paths { screenshot }
             studio { id name parent_studio { name } } performers { id name } tags { id name } }
  }
}
"""




@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def emu(clock: Clock):
    emulator = StashEmulator(api_key=KEY, tz="Australia/Sydney", now=clock)
    emulator.start()
    yield emulator
    emulator.stop()


def client(emu: StashEmulator, api_key: str | None = KEY) -> Client:
    transport = RequestsHTTPTransport(
        url=f"{emu.url}/graphql",
        headers={"ApiKey": api_key} if api_key else {},
        timeout=5,
        retries=0,
    )
    return Client(transport=transport, fetch_schema_from_transport=False)


def run(gql_client: Client, query: str, **variables: object) -> dict:
    return gql_client.execute(GraphQLRequest(query, variable_values=variables or None))


def changed(gql_client: Client, since: str, page: int = 1, per_page: int = 25) -> dict:
    return run(gql_client, CHANGED_SCENES, since=since, page=page, perPage=per_page)["findScenes"]


def test_the_poll_query_answers_in_stash_shapes(emu: StashEmulator) -> None:
    emu.add_studio("Studio Child", parent="Studio Parent")
    sid = emu.add_scene(
        title="First",
        code="ABC-1",
        details="Some details",
        date="2024-05-06",
        rating100=80,
        studio="Studio Child",
        performers=["Bea", "Ann"],
        tags=["beta", "Alpha", "gamma 10", "gamma 9"],
        files=["/data/videos/first.mp4", "/data/videos/first-cd2.mp4"],
        urls=["https://example.test/1"],
    )
    emu.add_scene()  # a bare scene: no title, no files, nothing

    result = changed(client(emu), since="2000-01-01")

    assert result["count"] == 2
    # same second: the untitled scene sorts first, by its id "2" (digits before letters)
    bare, first = result["scenes"]
    assert first["id"] == sid == "1"
    assert first["updated_at"] == first["created_at"] == "2026-11-24T14:05:09+11:00"
    assert first["files"] == [
        {"path": "/data/videos/first.mp4", "basename": "first.mp4"},
        {"path": "/data/videos/first-cd2.mp4", "basename": "first-cd2.mp4"},
    ]
    assert first["paths"]["screenshot"] == f"{emu.url}/scene/1/screenshot?t={int(T0)}"
    assert first["studio"] == {
        "id": "2",
        "name": "Studio Child",
        "parent_studio": {"name": "Studio Parent"},
    }
    assert [p["name"] for p in first["performers"]] == ["Bea", "Ann"]  # join order (ids)
    # tags come sorted by name, case-insensitive and natural, as Stash sorts them
    assert [t["name"] for t in first["tags"]] == ["Alpha", "beta", "gamma 9", "gamma 10"]
    assert (first["rating100"], first["date"], first["organized"]) == (80, "2024-05-06", False)
    assert first["urls"] == ["https://example.test/1"] and first["director"] is None
    assert bare["title"] is None and bare["files"] == [] and bare["studio"] is None
    assert bare["tags"] == [] and bare["performers"] == [] and bare["urls"] == []


def test_paging_returns_every_scene_once_in_updated_at_order(
    emu: StashEmulator, clock: Clock
) -> None:
    ids = []
    for i in range(60):
        clock.now = T0 + (59 - i) * 60 if i % 2 else T0 + i * 60  # ids out of time order
        ids.append(emu.add_scene(title=f"scene {i}"))
    gql_client = client(emu)

    pages = [changed(gql_client, since="2000", page=p, per_page=25) for p in (1, 2, 3, 4)]

    seen = [s for page in pages for s in page["scenes"]]
    assert [len(p["scenes"]) for p in pages] == [25, 25, 10, 0]
    assert all(p["count"] == 60 for p in pages)
    assert sorted(s["id"] for s in seen) == sorted(ids)
    stamps = [s["updated_at"] for s in seen]
    assert stamps == sorted(stamps)


def test_scenes_sharing_a_second_are_ordered_by_title_not_by_id(emu: StashEmulator) -> None:
    # Stash breaks ties with COALESCE(title, id) in natural case-insensitive order
    for title in ["Zed", "item 10", None, "Item 9", "alpha"]:
        emu.add_scene(title=title)

    scenes = changed(client(emu), since="2000")["scenes"]

    assert [(s["id"], s["title"]) for s in scenes] == [
        ("3", None),  # its id, "3", sorts as a number before letters
        ("5", "alpha"),
        ("4", "Item 9"),
        ("2", "item 10"),
        ("1", "Zed"),
    ]


def test_updated_at_is_compared_as_a_string_not_as_a_time(
    emu: StashEmulator, clock: Clock
) -> None:
    clock.now = T0 - 1
    early = emu.add_scene(title="before the watermark")  # 14:05:08+11:00
    gql_client = client(emu)

    # the same instant as Stash's 14:05:09+11:00, written the daemon's way in UTC
    utc_watermark = format_time(T0, ZoneInfo("UTC"))
    assert utc_watermark == "2026-11-24T03:05:09Z"
    found = changed(gql_client, since=utc_watermark)["scenes"]
    assert [s["id"] for s in found] == [early]  # "14:05:08+11:00" > "03:05:09Z" as text

    # only Stash's own string works as a watermark
    assert changed(gql_client, since="2026-11-24T14:05:08+11:00")["scenes"] == []
    assert changed(gql_client, since="2026-11-24")["count"] == 1  # a date prefix is "smaller"


def test_updated_at_carries_the_zone_offset_across_a_dst_change(clock: Clock) -> None:
    emulator = StashEmulator(api_key=None, tz="Europe/Berlin", now=clock)
    with emulator:
        clock.now = BERLIN_0230_CEST
        sid = emulator.add_scene(title="Before the change")
        watermark = emulator.scene(sid)["updated_at"]
        assert watermark == "2026-10-25T02:30:00+02:00"

        clock.now = BERLIN_0210_CET  # forty minutes later, the clock fell back an hour
        emulator.update_scene(sid, title="After the change")
        after = emulator.scene(sid)
        assert after["updated_at"] == "2026-10-25T02:10:00+01:00"
        assert after["paths"]["screenshot"].endswith(f"?t={int(BERLIN_0210_CET)}")

        # the edit is later in time but smaller as text: a strict GREATER_THAN misses it
        gql_client = client(emulator, api_key=None)
        assert changed(gql_client, since=watermark)["count"] == 0
        overlap = "2026-10-25T01:00:00+02:00"  # re-reading an overlap finds it
        assert [s["title"] for s in changed(gql_client, since=overlap)["scenes"]] == [
            "After the change"
        ]


def test_clock_offset_shifts_every_timestamp(emu: StashEmulator) -> None:
    first = emu.add_scene(title="now")
    emu.clock_offset = 3 * 3600
    later = emu.add_scene(title="three hours later")
    emu.tz = "UTC"
    in_utc = emu.add_scene(title="three hours later, host now in UTC")

    assert emu.scene(first)["updated_at"] == "2026-11-24T14:05:09+11:00"
    assert emu.scene(later)["updated_at"] == "2026-11-24T17:05:09+11:00"
    assert emu.scene(in_utc)["updated_at"] == "2026-11-24T06:05:09Z"  # Go writes UTC as Z
    assert emu.now_string() == "2026-11-24T06:05:09Z"


def test_a_rename_bumps_the_tag_only_and_the_scenes_are_found_through_it(
    emu: StashEmulator, clock: Clock
) -> None:
    tagged = [emu.add_scene(title=f"tagged {i}", tags=["Old Name", "other"]) for i in range(3)]
    emu.add_scene(title="untagged", tags=["other"])
    gql_client = client(emu)
    watermark = changed(gql_client, since="2000")["scenes"][-1]["updated_at"]

    clock.now += 60
    emu.rename_tag("Old Name", "New Name")

    assert changed(gql_client, since=watermark)["count"] == 0  # no scene changed
    tags = run(
        gql_client,
        """query ChangedTags($since: String!) {
             findTags(tag_filter: {updated_at: {value: $since, modifier: GREATER_THAN}},
                      filter: {per_page: -1, sort: "updated_at"}) {
               count tags { id name updated_at } }
           }""",
        since=watermark,
    )["findTags"]
    assert tags == {
        "count": 1,
        "tags": [{"id": "1", "name": "New Name", "updated_at": "2026-11-24T14:06:09+11:00"}],
    }
    carriers = run(
        gql_client,
        """query Carrying($ids: [ID!]) {
             findScenes(scene_filter: {tags: {value: $ids, modifier: INCLUDES}},
                        filter: {per_page: -1}) { count scenes { id updated_at tags { name } } }
           }""",
        ids=["1"],
    )["findScenes"]
    assert sorted(s["id"] for s in carriers["scenes"]) == tagged
    assert all(s["updated_at"] == "2026-11-24T14:05:09+11:00" for s in carriers["scenes"])
    assert all([t["name"] for t in s["tags"]] == ["New Name", "other"] for s in carriers["scenes"])


def test_a_field_stash_lacks_is_a_graphql_error(emu: StashEmulator) -> None:
    emu.add_scene(title="x")
    gql_client = client(emu)

    for field in ("rating", "fooBar"):
        with pytest.raises(TransportQueryError) as caught:
            run(gql_client, f"{{ findScenes {{ scenes {{ id {field} }} }} }}")
        assert caught.value.errors[0]["message"].startswith(
            f'Cannot query field "{field}" on type "Scene".'
        )

    # on the wire, like Stash's gqlgen: 400 for python-requests' `Accept: */*`, 422 for JSON
    query = {"query": "{ findScenes { scenes { rating } } }"}
    raw = requests.post(f"{emu.url}/graphql", json=query, headers={"ApiKey": KEY}, timeout=5)
    assert raw.status_code == 400
    assert raw.headers["Content-Type"] == "application/graphql-response+json"
    assert raw.json()["data"] is None
    assert raw.json()["errors"][0]["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    as_json = {"ApiKey": KEY, "Accept": "application/json"}
    assert (
        requests.post(f"{emu.url}/graphql", json=query, headers=as_json, timeout=5).status_code
        == 422
    )


def test_errors_while_running_a_valid_query_answer_http_200(emu: StashEmulator) -> None:
    ids = [emu.add_scene(title=t) for t in ("a", "b", "c")]
    emu.delete_scene(ids[1])
    gql_client = client(emu)

    with pytest.raises(TransportQueryError, match="invalid sort: rating100"):
        run(gql_client, '{ findScenes(filter: {sort: "rating100"}) { count } }')
    # ids override the filter and paging, keep their order, and a missing one fails the query
    by_ids = run(
        gql_client,
        '{ findScenes(ids: ["3", "1"], filter: {per_page: 1, sort: "title"})'
        " { count scenes { id } } }",
    )["findScenes"]
    assert by_ids == {"count": 2, "scenes": [{"id": "3"}, {"id": "1"}]}
    with pytest.raises(TransportQueryError, match="scene with id 2 not found"):
        run(gql_client, '{ findScenes(ids: ["1", "2"]) { count } }')
    raw = requests.post(
        f"{emu.url}/graphql",
        json={"query": '{ findScenes(filter: {sort: "nope"}) { count } }'},
        headers={"ApiKey": KEY},
        timeout=5,
    )
    assert raw.status_code == 200
    assert raw.json() == {
        "errors": [
            {
                "message": "invalid sort: nope",
                "locations": [{"line": 1, "column": 3}],
                "path": ["findScenes"],
            }
        ],
        "data": None,
    }


def test_graphql_needs_the_api_key(emu: StashEmulator) -> None:
    for key in (None, "wrong-key"):
        with pytest.raises(TransportServerError) as caught:
            run(client(emu, api_key=key), "{ version { version } }")
        assert caught.value.code == 401

    raw = requests.post(f"{emu.url}/graphql", json={"query": "{ version { version } }"}, timeout=5)
    assert raw.status_code == 401
    assert raw.headers["WWW-Authenticate"] == "FormBased"
    assert run(client(emu), "{ version { version } }") == {"version": {"version": "v0.30.1"}}
    status = run(client(emu), "{ systemStatus { status appSchema } }")["systemStatus"]
    assert status["status"] == "OK"


def test_a_key_sent_to_a_stash_without_credentials_is_refused(clock: Clock) -> None:
    with StashEmulator(api_key=None, now=clock) as open_stash:
        assert run(client(open_stash, api_key=None), "{ version { version } }")["version"]
        with pytest.raises(TransportServerError) as caught:
            run(client(open_stash, api_key="some-key"), "{ version { version } }")
        assert caught.value.code == 401


def test_screenshots_need_the_key_and_follow_set_cover(
    emu: StashEmulator, clock: Clock
) -> None:
    sid = emu.add_scene(title="pic", files=["/data/pic.mp4"])
    url = emu.scene(sid)["paths"]["screenshot"]

    ok = requests.get(url, headers={"ApiKey": KEY}, timeout=5)
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "image/jpeg"
    assert ok.content.startswith(b"\xff\xd8\xff") and ok.content.endswith(b"\xff\xd9")

    # without a key Stash redirects a page-like URL to its login form: a client that follows
    # redirects gets HTML with status 200, not an image; a wrong key is a plain 401
    bare = requests.get(url, timeout=5, allow_redirects=False)
    assert bare.status_code == 302
    assert bare.headers["Location"].startswith("/login?returnURL=%2Fscene%2F1%2Fscreenshot")
    followed = requests.get(url, timeout=5)
    assert followed.status_code == 200 and followed.headers["Content-Type"].startswith("text/html")
    assert requests.get(url, headers={"ApiKey": "wrong"}, timeout=5).status_code == 401

    clock.now += 5
    png = b"\x89PNG\r\n\x1a\n" + b"new cover"
    emu.set_cover(sid, png)
    new_url = emu.scene(sid)["paths"]["screenshot"]
    assert new_url == f"{emu.url}/scene/{sid}/screenshot?t={int(clock.now)}" != url
    fresh = requests.get(new_url, headers={"ApiKey": KEY}, timeout=5)
    assert (fresh.content, fresh.headers["Content-Type"]) == (png, "image/png")
    missing = requests.get(f"{emu.url}/scene/999/screenshot", headers={"ApiKey": KEY}, timeout=5)
    assert missing.status_code == 404
    assert emu.stats() == {"graphql": 0, "image": 6, "other": 1}  # the login page


def test_an_injected_500_hits_the_second_page_only(emu: StashEmulator) -> None:
    for i in range(5):
        emu.add_scene(title=f"s{i}")
    gql_client = client(emu)
    emu.inject(500, 1, body=b"boom", path_prefix="/graphql", skip=1)

    assert len(changed(gql_client, since="2000", page=1, per_page=2)["scenes"]) == 2
    with pytest.raises(TransportServerError) as caught:
        changed(gql_client, since="2000", page=2, per_page=2)
    assert caught.value.code == 500
    assert len(changed(gql_client, since="2000", page=2, per_page=2)["scenes"]) == 2
    assert emu.stats()["graphql"] == 3


def test_moving_a_file_leaves_the_scene_alone_and_the_path_filter_finds_it(
    emu: StashEmulator, clock: Clock
) -> None:
    sid = emu.add_scene(title="mover", files=["/data/old/Mover.MP4"])
    before = emu.scene(sid)["updated_at"]
    clock.now += 30
    emu.move_file(sid, "/data/new/Mover.MP4")

    assert emu.scene(sid)["updated_at"] == before
    gql_client = client(emu)

    def by_path(path: str, modifier: str) -> list[str]:
        query = """query ByPath($path: String!, $modifier: CriterionModifier!) {
            findScenes(scene_filter: {path: {value: $path, modifier: $modifier}}) { scenes { id } }
        }"""
        scenes = run(gql_client, query, path=path, modifier=modifier)["findScenes"]["scenes"]
        return [s["id"] for s in scenes]

    assert by_path("/data/new/mover.mp4", "EQUALS") == [sid]  # LIKE: ASCII case-insensitive
    assert by_path("/data/old/Mover.MP4", "EQUALS") == []
    assert by_path("new/Mov", "INCLUDES") == [sid]


def test_filters_combine_like_stash(emu: StashEmulator) -> None:
    emu.add_scene(title="one", organized=True, performers=["Ann"], studio="S")
    emu.add_scene(title="two", performers=["Ann", "Bob"])
    emu.add_scene(title="three", performers=["Bob"], studio="S")
    gql_client = client(emu)

    def titles(scene_filter: dict) -> list[str]:
        query = """query F($f: SceneFilterType) {
            findScenes(scene_filter: $f, filter: {sort: "id"}) { scenes { title } } }"""
        return [s["title"] for s in run(gql_client, query, f=scene_filter)["findScenes"]["scenes"]]

    assert titles({"performers": {"value": ["1", "2"], "modifier": "INCLUDES_ALL"}}) == ["two"]
    assert titles({"performers": {"value": ["2"], "modifier": "EXCLUDES"}}) == ["one"]
    assert titles(
        {"studios": {"value": ["1"], "modifier": "INCLUDES"}, "NOT": {"organized": True}}
    ) == ["three"]
    assert titles(
        {"organized": True, "OR": {"title": {"value": "thr", "modifier": "INCLUDES"}}}
    ) == [
        "one",
        "three",
    ]
    with pytest.raises(TransportQueryError, match="cannot have OR and NOT in the same filter"):
        titles({"OR": {"organized": True}, "NOT": {"organized": False}})


def test_scene_update_mutation_bumps_updated_at(emu: StashEmulator, clock: Clock) -> None:
    sid = emu.add_scene(title="draft", tags=["keep"])
    clock.now += 90
    result = run(
        client(emu),
        """mutation Edit($input: SceneUpdateInput!) {
             sceneUpdate(input: $input) { id title rating100 updated_at tags { name } } }""",
        input={"id": sid, "title": "final", "rating100": 60, "tag_ids": []},
    )["sceneUpdate"]
    assert result == {
        "id": sid,
        "title": "final",
        "rating100": 60,
        "updated_at": "2026-11-24T14:06:39+11:00",
        "tags": [],
    }


def test_paging_a_large_library_sorts_it_once(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deep pages of a big library must not re-sort it per request (a 100k benchmark pages
    400 times): the order is made once and reused until the data changes."""
    emulator = StashEmulator(api_key=None, now=clock)
    for i in range(20_000):
        clock.now = T0 + i // 10
        emulator.add_scene(
            title=f"Scene {i}",
            studio=f"Studio {i % 50}",
            performers=[f"P{i % 300}"],
            tags=[f"T{i % 40}", f"T{(i * 7) % 40}"],
            files=[f"/data/{i % 100}/scene{i}.mp4"],
        )
    sorts: list[str] = []
    sort_key = emulator._sort_key
    monkeypatch.setattr(emulator, "_sort_key", lambda kind, sort: sorts.append(sort)
                        or sort_key(kind, sort))
    with emulator:
        gql_client = client(emulator, api_key=None)
        for page, per_page in ((1, 250), (7, 250), (5, 1000), (20, 1000)):
            result = changed(gql_client, since="2000", page=page, per_page=per_page)
            assert result["count"] == 20_000 and len(result["scenes"]) == per_page
        assert result["scenes"][-1]["title"] == "Scene 19999"
        assert sorts == ["updated_at"]
        emulator.add_scene(title="one more", files=["/data/new.mp4"])
        changed(gql_client, since="2000", page=1, per_page=250)
        assert sorts == ["updated_at", "updated_at"]


def test_state_survives_dump_and_load(emu: StashEmulator, clock: Clock) -> None:
    sid = emu.add_scene(title="kept", tags=["t"], studio="S", files=["/x/y.mp4"])
    emu.set_cover(sid, b"GIF89a-cover")
    state = json.loads(json.dumps(emu.dump()))

    with StashEmulator(api_key=None, now=clock) as copy:
        copy.load(state)
        assert copy.scene(sid) | {"paths": None} == emu.scene(sid) | {"paths": None}
        assert copy.add_scene(title="next") == "2"
        assert copy.add_tag("u") == "2"


def test_runs_as_a_process_with_a_fixture_and_stats(tmp_path: Path) -> None:
    fixture = tmp_path / "stash.json"
    fixture.write_text(
        json.dumps({"scenes": [{"title": "from fixture", "tags": ["a"]}, {"title": "second"}]})
    )
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "reconciler.emulators.stash", "--port", str(port)]
    command += ["--api-key", KEY, "--tz", "Europe/Berlin", "--fixture", str(fixture)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip().endswith(f"127.0.0.1:{port}")
        base = f"http://127.0.0.1:{port}"
        transport = RequestsHTTPTransport(url=f"{base}/graphql", headers={"ApiKey": KEY}, retries=0)
        result = Client(transport=transport).execute(
            GraphQLRequest("{ findScenes { count scenes { title updated_at } } }")
        )["findScenes"]
        assert result["count"] == 2
        assert result["scenes"][0]["updated_at"][-6:] in ("+01:00", "+02:00")
        stats = requests.get(f"{base}/_emulator/stats", timeout=5).json()
        assert stats == {"graphql": 1, "image": 0, "other": 0}
        requests.post(f"{base}/_emulator/reset-stats", timeout=5)
        assert requests.get(f"{base}/_emulator/stats", timeout=5).json()["graphql"] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_offset_paging_over_updated_at_skips_a_scene_edited_meanwhile(
    emu: StashEmulator, clock: Clock
) -> None:
    # what the old poller did: page 1, 2, 3 over updated_at, while a user edits in Stash
    ids = []
    for i in range(6):
        clock.tick(1)
        ids.append(emu.add_scene(title=f"scene {i}"))
    gql_client = client(emu)

    first = changed(gql_client, since="2000", page=1, per_page=2)["scenes"]
    clock.tick(1)
    emu.update_scene(first[0]["id"], title="edited again")  # moves to the end
    rest = [changed(gql_client, since="2000", page=p, per_page=2)["scenes"] for p in (2, 3)]

    returned = {s["id"] for s in first} | {s["id"] for page in rest for s in page}
    assert sorted(set(ids) - returned) == [ids[2]]  # slid into page 1's place, never returned


def test_deleting_tags_performers_and_studios_leaves_updated_at_and_changes_the_counts(
    emu: StashEmulator, clock: Clock
) -> None:
    scene = emu.add_scene(title="carrier", studio="Acme", performers=["Ann"], tags=["Gone"])
    gql_client = client(emu)
    before = emu.scene(scene)["updated_at"]
    totals = """query Totals { t: findTags(filter: {per_page: 1}) { count }
                               p: findPerformers(filter: {per_page: 1}) { count }
                               s: findStudios(filter: {per_page: 1}) { count } }"""
    assert run(gql_client, totals) == {"t": {"count": 1}, "p": {"count": 1}, "s": {"count": 1}}

    clock.tick(60)
    emu.delete_tag("Gone")
    emu.delete_performer("Ann")
    emu.delete_studio("Acme")

    after = emu.scene(scene)
    assert after["updated_at"] == before
    assert (after["tags"], after["performers"], after["studio"]) == ([], [], None)
    assert run(gql_client, totals) == {"t": {"count": 0}, "p": {"count": 0}, "s": {"count": 0}}
    assert changed(gql_client, since=before)["count"] == 0  # nothing a poll would see


def test_timestamp_criteria_equals_and_between_compare_text_and_include_both_ends(
    emu: StashEmulator, clock: Clock
) -> None:
    for i in range(3):
        emu.add_scene(title=f"same second {i}")
    clock.tick(1)
    emu.add_scene(title="next second")
    gql_client = client(emu)
    query = """query Q($f: SceneFilterType) {
                 findScenes(scene_filter: $f, filter: {per_page: 0}) { count scenes { id } } }"""
    second = "2026-11-24T14:05:09+11:00"

    equals = run(gql_client, query, f={"updated_at": {"value": second, "modifier": "EQUALS"}})
    band = run(gql_client, query, f={"updated_at": {
        "value": second, "value2": "2026-11-24T14:05:10+11:00", "modifier": "BETWEEN"}})

    assert equals["findScenes"] == {"count": 3, "scenes": []}  # per_page 0: the count only
    assert band["findScenes"]["count"] == 4


def test_a_restart_in_another_zone_keeps_old_stamps_and_writes_new_ones_below_them(
    emu: StashEmulator, clock: Clock
) -> None:
    scene = emu.add_scene(title="before the restart")
    old = emu.scene(scene)["updated_at"]  # 14:05:09+11:00 in Sydney
    port = emu.port

    emu.restart(tz="UTC")
    clock.tick(60)
    other = emu.add_scene(title="after the restart")

    assert emu.port == port and emu.scene(scene)["updated_at"] == old
    new = emu.scene(other)["updated_at"]
    assert new == "2026-11-24T03:06:09Z" and new < old  # a minute later, below as text
    assert changed(client(emu), since=old)["count"] == 0


def test_a_test_can_edit_between_the_pages_of_a_walk(emu: StashEmulator, clock: Clock) -> None:
    emu.add_scene(title="one")
    asked: list[dict] = []
    emu.before_query = asked.append

    changed(client(emu), since="2000", page=2, per_page=1)

    assert asked == [{"since": "2000", "page": 2, "perPage": 1}]


KEYSET = """query Q($f: SceneFilterType, $p: FindFilterType) {
             findScenes(scene_filter: $f, filter: $p) { count scenes { id } } }"""


def keyset_and_general(emu: StashEmulator, criterion: dict, paging: dict) -> tuple[dict, dict]:
    """One keyset page as the emulator's id index answers it, and as its general filter does
    (another criterion beside `id` takes the general path)."""
    gql_client = client(emu)
    fast = run(gql_client, KEYSET, f=criterion, p=paging)
    general = run(gql_client, KEYSET, f={**criterion, "organized": False}, p=paging)
    return fast, general


def test_keyset_paging_by_id_answers_like_the_general_filter(emu: StashEmulator) -> None:
    for i in range(7):
        emu.add_scene(title=f"scene {i}")
    emu.delete_scene("3")
    after_two = {"id": {"value": 2, "modifier": "GREATER_THAN"}}

    fast, general = keyset_and_general(emu, after_two, {"per_page": 2, "sort": "id"})

    assert fast == general == {"findScenes": {"count": 4, "scenes": [{"id": "4"}, {"id": "5"}]}}


def test_keyset_paging_down_by_id_answers_like_the_general_filter(emu: StashEmulator) -> None:
    for i in range(7):
        emu.add_scene(title=f"scene {i}")
    emu.delete_scene("5")
    down = {"per_page": 2, "sort": "id", "direction": "DESC"}

    def below(value: int) -> tuple[dict, dict]:
        return keyset_and_general(emu, {"id": {"value": value, "modifier": "LESS_THAN"}}, down)

    fast, general = below(7)
    assert fast == general == {"findScenes": {"count": 5, "scenes": [{"id": "6"}, {"id": "4"}]}}
    fast, general = below(1)
    assert fast == general == {"findScenes": {"count": 0, "scenes": []}}


GROUPS = """
query Groups($id: ID!) {
  findScene(id: $id) {
    updated_at
    groups { scene_index group { id name scene_count } }
    movies { scene_index movie { id name } }
    studio { name updated_at parent_studio { name } }
  }
}
"""


def test_groups_and_parent_studios_answer_as_stash_serves_them(
    emu: StashEmulator, clock: Clock
) -> None:
    emu.add_studio("Acme")
    sid = emu.add_scene(title="Beach", studio="Acme",
                        groups=["Summer Tour", {"name": "Best Of", "scene_index": 3}])
    gql_client = client(emu)
    before = run(gql_client, GROUPS, id=sid)["findScene"]

    assert before["groups"] == [
        {"scene_index": None, "group": {"id": "1", "name": "Summer Tour", "scene_count": 1}},
        {"scene_index": 3, "group": {"id": "2", "name": "Best Of", "scene_count": 1}},
    ]
    assert [m["movie"]["name"] for m in before["movies"]] == ["Summer Tour", "Best Of"]
    assert before["studio"]["parent_studio"] is None

    clock.tick(5)
    emu.rename_group("Summer Tour", "Summer Tour 2024")
    emu.set_studio_parent("Acme", "Acme Group")
    after = run(gql_client, GROUPS, id=sid)["findScene"]

    assert after["groups"][0]["group"]["name"] == "Summer Tour 2024"
    assert after["studio"]["parent_studio"] == {"name": "Acme Group"}
    # both are edits of other objects: the scene's own stamp stays, the studio's moves
    assert after["updated_at"] == before["updated_at"]
    assert after["studio"]["updated_at"] > before["studio"]["updated_at"]


def test_performer_images_carry_the_placeholder_mark_until_set_and_need_the_key(
    emu: StashEmulator, clock: Clock
) -> None:
    emu.add_scene(title="pic", performers=["Ann"], files=["/data/pic.mp4"])
    before = emu.scenes()[0]["updated_at"]
    (ann,) = emu.performers()
    assert ann["image_path"] == f"{emu.url}/performer/{ann['id']}/image?t={int(T0)}&default=true"
    placeholder = requests.get(ann["image_path"], headers={"ApiKey": KEY}, timeout=5)
    assert placeholder.status_code == 200
    assert placeholder.headers["Content-Type"] == "image/svg+xml"

    clock.now += 5
    png = b"\x89PNG\r\n\x1a\n" + b"Ann"
    emu.set_performer_image("Ann", png)
    (ann,) = emu.performers()
    assert ann["image_path"] == f"{emu.url}/performer/{ann['id']}/image?t={int(clock.now)}"
    got = requests.get(ann["image_path"], headers={"ApiKey": KEY}, timeout=5)
    assert (got.content, got.headers["Content-Type"]) == (png, "image/png")
    bare = requests.get(ann["image_path"], timeout=5, allow_redirects=False)
    assert bare.status_code == 302 and bare.headers["Location"].startswith("/login?")
    assert requests.get(ann["image_path"], headers={"ApiKey": "x"}, timeout=5).status_code == 401
    assert emu.scenes()[0]["updated_at"] == before  # the scene's own stamp does not move

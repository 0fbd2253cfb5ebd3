"""Every failure Plex can throw at a job, and what becomes of the job.

Plex traffic is replayed from cassettes recorded against the bundled emulator
(`cassettes/test_error_scenarios/`). A cassette test sets Plex up and reads it back over HTTP
(`plex_http`), so its items, its faults (the 500, the 401, the not-found) and what Plex holds
afterwards are all in the cassette and exercised on replay. Refused connections and timeouts
cannot be recorded as HTTP, so those cases run live against the emulator.
"""

from __future__ import annotations

import pytest

from reconciler.models import Scene
from tests.integration.conftest import make_config

pytestmark = pytest.mark.integration


def scene(scene_id: str = "1", files=("/media/a.mp4",), **fields) -> Scene:
    base = {
        "title": f"Scene {scene_id}",
        "details": "A day at the beach.",
        "tags": ["Beach"],
        "updated_at": "2026-03-01T10:00:00Z",
    }
    base.update(fields)
    return Scene(id=scene_id, files=list(files), **base)


def enqueue(store, *scenes: Scene) -> None:
    store.enqueue_many((s.id, {"scene": s.to_dict()}) for s in scenes)


# -- transient -------------------------------------------------------------------


@pytest.mark.vcr
def test_http_500_is_transient_and_the_retry_applies_the_edit(
    plex_http, store, make_worker, clock, tmp_path
):
    rating_key = plex_http.add_item("Adult", "/media/a.mp4")
    worker = make_worker(make_config(plex_http.url, tmp_path / "x.db"))
    enqueue(store, scene())
    worker.catalog.build()
    plex_http.inject(500, path_prefix="/library/metadata")

    result = worker.drain()

    job = store.job_for("1")
    assert (result.retried, result.dead, result.applied) == (1, 0, 0)
    assert job.retry_class == "transient" and job.last_error_class == "PlexTemporaryError"
    assert "500" in job.last_error
    assert 0 < job.next_attempt_at - clock.now <= 5  # transient: 5 s base
    assert store.pending_scene_ids() == set()

    clock.tick(5)
    assert worker.drain().applied == 1
    assert store.job_for("1") is None
    assert store.scene_states(["1"])["1"].rating_key == rating_key
    assert plex_http.view(rating_key).title == "Scene 1"


@pytest.mark.vcr
def test_transient_errors_get_five_retries_then_the_dead_letter_queue(
    plex_http, store, make_worker, clock, tmp_path
):
    plex_http.add_item("Adult", "/media/a.mp4")
    worker = make_worker(make_config(plex_http.url, tmp_path / "x.db"))
    enqueue(store, scene())
    worker.catalog.build()
    plex_http.inject(502, count=6, path_prefix="/library/metadata")

    for retry in range(5):
        assert worker.drain().retried == 1
        job = store.job_for("1")
        assert job.retries == retry + 1
        wait = job.next_attempt_at - clock.now
        assert 0 < wait <= min(80, 5 * 2**retry)
        clock.tick(wait)
    result = worker.drain()

    assert result.dead == 1 and store.job_for("1") is None
    (letter,) = store.dead_letters()
    assert letter.error_class == "PlexTemporaryError" and "502" in letter.error_message
    assert letter.attempts == 6
    assert store.pending_scene_ids() == set()


def test_connection_refused_is_transient_and_spends_no_retry(
    plex, store, make_worker, clock, tmp_path
):
    plex.add_item("Adult", "/media/a.mp4")
    worker = make_worker(make_config(plex.url, tmp_path / "x.db"))
    enqueue(store, scene())
    worker.catalog.build()
    plex.stop()

    result = worker.drain()

    job = store.job_for("1")
    assert (result.waiting, result.dead) == (1, 0)
    assert job.last_error_class == "PlexUnreachable" and job.retries == 0
    assert job.next_attempt_at > clock.now
    assert store.pending_scene_ids() == set()


def test_socket_timeout_is_transient(plex, store, make_worker, clock, tmp_path):
    plex.add_item("Adult", "/media/a.mp4")
    config = make_config(plex.url, tmp_path / "x.db", plex={"timeout": 0.3})
    worker = make_worker(config)
    enqueue(store, scene())
    worker.catalog.build()
    plex.inject(None, delay=1.0, path_prefix="/library/metadata")

    result = worker.drain()

    job = store.job_for("1")
    assert (result.retried, result.dead) == (1, 0)
    assert job.retry_class == "transient" and job.last_error_class == "PlexTemporaryError"
    assert "did not answer in time" in job.last_error
    assert store.pending_scene_ids() == set()


def test_plex_outage_pauses_work_and_resumes_when_identity_answers(
    plex, store, make_worker, clock, tmp_path
):
    rating_key = plex.add_item("Adult", "/media/a.mp4")
    worker = make_worker(make_config(plex.url, tmp_path / "x.db"))
    enqueue(store, scene())
    worker.catalog.build()
    plex.stop()

    for _ in range(5):
        clock.tick(100)
        worker.drain()
    assert worker.paused
    job = store.job_for("1")
    assert job.attempts == 5 and job.retries == 0  # nothing spent for being unreachable
    clock.tick(1000)
    assert worker.drain().paused  # the /identity probe fails: still paused

    plex.start()
    plex.reset_log()
    clock.tick(1000)
    result = worker.drain()

    assert not worker.paused and result.applied == 1
    assert plex.request_counts()[("GET", "/identity")] == 1
    assert plex.item(rating_key).title == "Scene 1"
    assert store.counts().dead == 0


# -- not found -------------------------------------------------------------------


@pytest.mark.vcr
def test_no_match_is_not_found_with_twelve_retries_on_a_30s_base(
    plex_http, store, make_worker, clock, tmp_path
):
    plex_http.add_item("Adult", "/media/other.mp4")
    worker = make_worker(
        make_config(
            plex_http.url,
            tmp_path / "x.db",
            retry={"not_found": {"max_retries": 12, "base": 30, "cap": 600}},
        )
    )
    enqueue(store, scene(files=["/media/not-scanned-yet.mp4"]))

    for retry in range(12):
        assert worker.drain().retried == 1
        job = store.job_for("1")
        assert job.retry_class == "not_found" and job.last_error_class == "PlexNotFound"
        assert job.retries == retry + 1
        wait = job.next_attempt_at - clock.now
        assert 0 < wait <= min(600, 30 * 2**retry)
        clock.tick(wait)
        assert store.pending_scene_ids() == set()
    result = worker.drain()

    assert result.dead == 1
    (letter,) = store.dead_letters()
    assert letter.error_class == "PlexNotFound" and letter.attempts == 13
    assert "/media/not-scanned-yet.mp4" in letter.error_message


@pytest.mark.vcr
def test_an_item_scanned_later_is_found_on_retry(
    plex_http, store, make_worker, clock, tmp_path
):
    worker = make_worker(make_config(plex_http.url, tmp_path / "x.db"))
    enqueue(store, scene(files=["/media/late.mp4"]))
    assert worker.drain().retried == 1

    rating_key = plex_http.add_item("Adult", "/media/late.mp4")
    clock.tick(30)
    result = worker.drain()

    assert result.applied == 1
    assert store.scene_states(["1"])["1"].rating_key == rating_key


# -- permanent -------------------------------------------------------------------


@pytest.mark.vcr
def test_missing_file_path_goes_straight_to_the_dead_letter_queue(
    plex_http, store, make_worker, tmp_path
):
    worker = make_worker(make_config(plex_http.url, tmp_path / "x.db"))
    enqueue(store, scene(files=[]))

    result = worker.drain()

    assert result.dead == 1 and store.job_for("1") is None
    (letter,) = store.dead_letters()
    assert letter.error_class == "InvalidSceneData" and "missing file path" in letter.error_message
    assert letter.attempts == 1
    assert store.pending_scene_ids() == set()


@pytest.mark.vcr
def test_library_not_found_goes_straight_to_the_dead_letter_queue(
    plex_http, store, make_worker, tmp_path
):
    worker = make_worker(
        make_config(plex_http.url, tmp_path / "x.db", plex={"libraries": ["Adult", "Scenes"]})
    )
    enqueue(store, scene())

    result = worker.drain()

    assert result.dead == 1
    (letter,) = store.dead_letters()
    assert letter.error_class == "LibraryNotFound"
    assert "'Scenes' not found" in letter.error_message and "'Adult'" in letter.error_message
    assert store.pending_scene_ids() == set()


@pytest.mark.vcr
def test_http_401_goes_straight_to_the_dead_letter_queue(plex_http, store, make_worker, tmp_path):
    config = make_config(plex_http.url, tmp_path / "x.db", plex={"token": "wrong-token-1234"})
    worker = make_worker(config)
    enqueue(store, scene())

    result = worker.drain()

    assert result.dead == 1
    (letter,) = store.dead_letters()
    assert letter.error_class == "PlexPermanentError"
    assert "401" in letter.error_message and "plex.token" in letter.error_message
    assert "wrong-token-1234" not in letter.error_message
    assert store.pending_scene_ids() == set()


@pytest.mark.vcr
def test_several_matches_under_strict_matching_are_permanent(
    plex_http, store, make_worker, tmp_path
):
    first = plex_http.add_item("Adult", "/media/a.mp4")
    second = plex_http.add_item("Adult", "/media/a.mp4")
    worker = make_worker(make_config(plex_http.url, tmp_path / "x.db"))
    enqueue(store, scene())

    result = worker.drain()

    assert result.dead == 1
    (letter,) = store.dead_letters()
    assert letter.error_class == "PlexPermanentError"
    assert "strict_matching" in letter.error_message
    assert f"{first}, {second}" in letter.error_message
    assert store.pending_scene_ids() == set()


@pytest.mark.vcr
def test_several_matches_without_strict_matching_edit_the_first(
    plex_http, store, make_worker, tmp_path
):
    first = plex_http.add_item("Adult", "/media/a.mp4", title="old")
    second = plex_http.add_item("Adult", "/media/a.mp4", title="old")
    config = make_config(plex_http.url, tmp_path / "x.db", sync={"strict_matching": False})
    worker = make_worker(config)
    enqueue(store, scene())

    result = worker.drain()

    assert result.applied == 1 and store.dead_letters() == []
    assert store.scene_states(["1"])["1"].rating_key == first
    assert plex_http.view(first).title == "Scene 1"
    assert plex_http.view(second).title == "old"


# -- the pending set -------------------------------------------------------------


@pytest.mark.vcr
@pytest.mark.parametrize("outcome", ["applied", "transient", "not_found", "permanent", "exception"])
def test_the_scene_leaves_the_pending_set_whatever_the_outcome(
    outcome, plex_http, store, make_worker, tmp_path
):
    plex_http.add_item("Adult", "/media/a.mp4")
    fields = ["title", "poster"] if outcome in ("applied", "exception") else ["title"]
    config = make_config(plex_http.url, tmp_path / "x.db", sync={"fields": fields})
    seen_pending: list[set[str]] = []

    def fetch_image(url: str) -> bytes:
        seen_pending.append(store.pending_scene_ids())
        if outcome == "exception":
            raise RuntimeError("the image decoder fell over")
        return b"\x89PNG fake image bytes"

    worker = make_worker(config, fetch_image)
    shot = "http://stash.invalid/scene/1/screenshot?t=1"
    files = {"not_found": ["/media/nowhere.mp4"], "permanent": []}.get(outcome, ["/media/a.mp4"])
    enqueue(store, scene(files=files, screenshot=shot))
    worker.catalog.build()
    if outcome == "transient":
        plex_http.inject(500, path_prefix="/library/metadata")

    result = worker.drain()

    assert store.pending_scene_ids() == set()
    expected = {
        "applied": (1, 0, 0),
        "transient": (0, 1, 0),
        "not_found": (0, 1, 0),
        "permanent": (0, 0, 1),
        "exception": (0, 1, 0),  # a fault of stashplex: retried with backoff like a hiccup
    }[outcome]
    assert (result.applied, result.retried, result.dead) == expected
    if outcome in ("applied", "exception"):
        assert seen_pending == [{"1"}]  # it was pending while in hand


def test_an_unexpected_fault_reschedules_the_batch_instead_of_parking_it(plex, store, make_worker,
                                                                         clock, tmp_path,
                                                                         monkeypatch):
    plex.add_item("Adult", "/media/a.mp4")
    worker = make_worker(make_config(plex.url, tmp_path / "x.db"))
    enqueue(store, scene())
    worker.catalog.build()
    monkeypatch.setattr(worker.plex, "fetch_items", lambda keys: 1 / 0)

    result = worker.drain()

    job = store.job_for("1")
    assert result.retried == 1 and job.retry_class == "transient" and job.attempts == 1
    assert "ZeroDivisionError" in job.last_error and job.next_attempt_at > clock.now
    assert store.pending_scene_ids() == set()

"""Recording a batch of finished jobs: every job's one outcome, in one transaction."""

import sqlite3

from reconciler.errors import PlexNotFound
from reconciler.store import Store


def _scene(scene_id: str, tags: list[str], title: str = "t") -> dict:
    return {
        "scene": {
            "id": scene_id,
            "title": title,
            "tag_ids": tags,
            "performer_ids": ["p" + scene_id],
            "studio_id": "s1",
        }
    }


def _values(rating_key: int, **extra) -> dict:
    return {
        "stash_updated_at": "2026-01-01T00:00:00Z",
        "rating_key": rating_key,
        "plex_updated_at": 100 + rating_key,
        "plex_fingerprint": f"fp{rating_key}",
        "content_hash": f"h{rating_key}",
        "synced_at": 5.0,
        "failed_updated_at": None,
        **extra,
    }


def test_a_batch_of_completions_keeps_a_newer_change_queued_and_records_each_scene(tmp_path):
    store = Store(tmp_path / "s.db")
    for scene_id in ("1", "2", "3"):
        store.enqueue(scene_id, _scene(scene_id, ["t" + scene_id]), now=1.0)
    claimed = store.claim(10, now=2.0)
    # scene 1 had failed before: its dead letter goes once it is written
    store.dead_letter(claimed[0], PlexNotFound("scene 1: no item"), 2.0)
    store.enqueue("1", _scene("1", ["t1"]), now=2.0)
    claimed[0] = store.claim(10, now=3.0)[0]
    # scene 2 changes in Stash while its job is worked on
    store.enqueue("2", _scene("2", ["t9"], title="newer"), now=3.0)

    store.complete(
        [
            (claimed[0], _values(11, poster_source="/s/1", poster_hash="aa")),
            (claimed[1], _values(12, owned_collections=["Old"])),
            (claimed[2], _values(12, owned_collections=["B", "A"])),
        ]
    )

    left = store.jobs()
    assert [(job.scene_id, job.state, job.data["scene"]["title"]) for job in left] == [
        ("2", "queued", "newer")
    ]
    assert store.dead_letters() == []
    states = store.scene_states(["1", "2", "3"])
    assert {s: (st.rating_key, st.plex_fingerprint) for s, st in states.items()} == {
        "1": (11, "fp11"),
        "2": (12, "fp12"),
        "3": (12, "fp12"),
    }
    assert states["1"].poster_hash == "aa" and states["2"].poster_hash is None
    # the later of two jobs for one item says what stashplex owns there
    assert store.owned_collections([12]) == {12: {"A", "B"}}
    assert store.carriers_of("tags", ["t1", "t2", "t3"]) == {"1", "2", "3"}
    assert store.carriers_of("studios", ["s1"]) == {"1", "2", "3"}


def test_a_later_completion_keeps_what_it_does_not_say_and_replaces_what_it_carries(tmp_path):
    store = Store(tmp_path / "s.db")
    store.enqueue("1", _scene("1", ["t1", "t2"]), now=1.0)
    store.complete([(store.claim(1, now=2.0)[0], _values(7, poster_hash="aa"))])
    store.enqueue("1", _scene("1", ["t3"]), now=3.0)
    store.complete([(store.claim(1, now=4.0)[0], _values(8))])

    state = store.scene_states(["1"])["1"]
    assert (state.rating_key, state.poster_hash) == (8, "aa")
    assert store.carriers_of("tags", ["t1", "t2"]) == set()
    assert store.carriers_of("tags", ["t3"]) == {"1"}
    assert store.jobs() == []


def test_a_change_queued_again_replaces_the_payload_and_starts_its_retries_afresh(tmp_path):
    store = Store(tmp_path / "s.db")
    store.enqueue("1", _scene("1", ["t1"]), now=1.0)
    job = store.claim(1, now=2.0)[0]
    store.reschedule(job, 60.0, PlexNotFound("scene 1: no item"), 3, now=2.0)
    store.enqueue_many([("1", _scene("1", ["t2"], title="newer")), ("2", _scene("2", []))], 5.0)

    first, second = store.jobs()
    assert (first.scene_id, first.version, first.retries, first.retry_class) == ("1", 2, 0, None)
    assert (first.attempts, first.next_attempt_at, first.created_at) == (1, 5.0, 1.0)
    assert first.data["scene"]["title"] == "newer" and first.last_error == "scene 1: no item"
    assert (second.scene_id, second.version, second.state, second.attempts) == ("2", 1, "queued", 0)
    assert [job.scene_id for job in store.claim(10, now=5.0)] == ["1", "2"]
    assert {job.state for job in store.jobs()} == {"running"}


def test_claiming_takes_the_due_jobs_from_an_index_not_a_sort_of_the_queue(tmp_path) -> None:
    """A first pass queues every scene, then claims them 100 at a time: a claim that sorts
    the whole queue costs O(N) each, O(N^2) for the pass (13 ms a claim at 100,000)."""
    path = tmp_path / "stashplex.db"
    older = sqlite3.connect(path)  # a database from before the index: opening adds it
    store = Store(str(path))
    store.enqueue_many([(str(i), {"scene": {"id": str(i)}}) for i in range(300)], 1000.0)
    store.close()
    older.execute('DROP INDEX IF EXISTS "job_state_next_attempt_at"')
    older.commit()
    older.close()
    store = Store(str(path))
    reader = sqlite3.connect(path)
    plan = reader.execute(
        'EXPLAIN QUERY PLAN SELECT "id" FROM "job" WHERE "state" = ? AND "next_attempt_at" <= ? '
        'ORDER BY "next_attempt_at", "id" LIMIT 100',
        ("queued", 2000.0),
    ).fetchall()
    reader.close()
    claimed = store.claim(100, now=2000.0)
    store.close()
    steps = " / ".join(row[-1] for row in plan)
    assert "TEMP B-TREE" not in steps and "job_state_next_attempt_at" in steps, steps
    assert [job.scene_id for job in claimed] == [str(i) for i in range(100)]

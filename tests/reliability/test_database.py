"""The one database under stress: locked, corrupt, full, old. A clear error naming the file, and
nothing half-written."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys

import pytest

from reconciler.errors import PlexNotFound
from reconciler.store import SCHEMA_VERSION, Store, StoreError


def payload(n: int, size: int = 10) -> dict:
    return {"scene": {"id": str(n), "title": "x" * size, "files": [f"/m/{n}.mp4"]}}


def test_database_file_is_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "stashplex.db"
    store = Store(path)
    store.enqueue("1", payload(1))
    for file in tmp_path.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) & 0o077 == 0, file


def test_a_database_locked_by_another_process_gives_an_error_naming_the_file(tmp_path):
    path = tmp_path / "stashplex.db"
    Store(path).enqueue("1", payload(1))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match=rf"{path}: database is locked by another process"):
            Store(path, busy_timeout=0.2).enqueue("2", payload(2))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [job.scene_id for job in Store(path).jobs()] == ["1"]


def test_a_corrupt_database_file_gives_an_error_naming_the_file(tmp_path):
    path = tmp_path / "stashplex.db"
    path.write_bytes(b"this is not an SQLite database, it was overwritten" * 100)

    with pytest.raises(StoreError, match=rf"{path}: database file is corrupt"):
        Store(path)


def test_a_corrupt_database_makes_the_cli_exit_with_one_line(tmp_path):
    path = tmp_path / "stashplex.db"
    path.write_bytes(b"garbage" * 1000)
    config = tmp_path / "stashplex.yaml"
    config.write_text(f"database: {path}\n")

    result = subprocess.run([sys.executable, "-m", "reconciler", "--config", str(config),
                             "status"], capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "corrupt" in lines[0]


def test_a_full_disk_writes_nothing_half_way(tmp_path):
    path = tmp_path / "stashplex.db"
    store = Store(path)
    store.enqueue_many([(str(n), payload(n)) for n in range(10)])
    pages = store.db.execute_sql("PRAGMA page_count").fetchone()[0]
    store.db.execute_sql(f"PRAGMA max_page_count = {pages + 2}")

    with pytest.raises(StoreError, match=rf"{path}: disk is full; nothing was written"):
        store.enqueue_many([(str(n), payload(n, 4000)) for n in range(10, 400)])

    store.close()
    assert len(Store(path).jobs()) == 10


def test_an_older_database_is_migrated_keeping_jobs_and_dead_letters(tmp_path):
    path = tmp_path / "stashplex.db"
    store = Store(path)
    store.enqueue_many([(str(n), payload(n)) for n in range(1, 4)])
    (job,) = store.claim(1)
    store.dead_letter(job, PlexNotFound("no item"))
    store.set_watermark("stash_scenes", "2026-01-01T00:00:00Z")
    store.close()
    old = sqlite3.connect(path)
    old.execute('ALTER TABLE "scene_state" DROP COLUMN "failed_updated_at"')
    old.execute('ALTER TABLE "scene_state" DROP COLUMN "plex_fingerprint"')
    old.execute("UPDATE setting SET value = '1' WHERE key = 'schema_version'")
    old.commit()
    old.close()

    migrated = Store(path)

    assert migrated.schema_version == SCHEMA_VERSION
    assert [job.scene_id for job in migrated.jobs()] == ["2", "3"]
    (letter,) = migrated.dead_letters()
    assert letter.scene_id == "1" and letter.error_message == "no item"
    assert migrated.watermark("stash_scenes") == "2026-01-01T00:00:00Z"
    assert migrated.retry_dead_letters() == 1 and len(migrated.jobs()) == 3


def test_a_database_from_a_newer_stashplex_is_refused(tmp_path):
    path = tmp_path / "stashplex.db"
    Store(path).set_setting("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(StoreError, match="newer than this stashplex understands"):
        Store(path)

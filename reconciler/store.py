"""All of stashplex's state, in one SQLite database (WAL mode), behind peewee.

Tables: the job queue (one live job per scene), the dead-letter queue, the
watermarks, the per-scene sync state (with the further Plex items of a scene that has several
files), when Plex was last asked to scan a folder, the tags, performers and studios each synced
scene carried, what Plex showed for values it was sent (read-back memory), each server's
health (its last error and since when, whether work for it is paused), the dead letters a
refused credential caused (so they come back by themselves once it works), and a small
key/value table (schema version, last poll, write and full pass, what the polls handled at
their watermarks). The set of scenes being worked on ("pending") is the set of claimed jobs,
so it survives nothing it should not: `recover()` returns claims left by a crash to the queue.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import peewee as pw

from reconciler.errors import StashplexError
from reconciler.readback import Remembered

SCHEMA_VERSION = 2

# version -> the statements that bring a database of the version before up to it
MIGRATIONS: dict[int, list[str]] = {
    2: [
        'ALTER TABLE "scene_state" ADD COLUMN "failed_updated_at" TEXT',
        'ALTER TABLE "scene_state" ADD COLUMN "plex_fingerprint" TEXT',
    ],
}
QUEUED = "queued"
RUNNING = "running"
# a Stash-bound job (activity carried back from Plex) has a key of its own in the one queue,
# so it never replaces, or is replaced by, the scene's Plex-bound job
ACTIVITY_KEY = "activity:"
ACTIVITY_COUNTS = "activity_counts"


def activity_key(scene_id: str) -> str:
    return f"{ACTIVITY_KEY}{scene_id}"


def is_activity_key(key: str) -> bool:
    return key.startswith(ACTIVITY_KEY)

_proxy = pw.DatabaseProxy()


class StoreError(StashplexError):
    """The database cannot be used (locked, corrupt, full, unreadable)."""


class _Model(pw.Model):
    class Meta:
        database = _proxy
        legacy_table_names = False


class Job(_Model):
    """Work for one scene: what to write, and its retry bookkeeping."""

    scene_id = pw.TextField(unique=True)
    payload = pw.TextField()
    state = pw.TextField(default=QUEUED, index=True)
    version = pw.IntegerField(default=1)
    attempts = pw.IntegerField(default=0)
    retries = pw.IntegerField(default=0)
    retry_class = pw.TextField(null=True)
    next_attempt_at = pw.FloatField(index=True)
    last_error = pw.TextField(null=True)
    last_error_class = pw.TextField(null=True)
    created_at = pw.FloatField()
    updated_at = pw.FloatField()

    class Meta:
        # the claim's order: without it every claim sorts all queued jobs (100,000 in a first
        # pass, once per batch of 100); created on older databases when they are opened
        indexes = ((("state", "next_attempt_at"), False),)

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.payload)


class DeadLetter(_Model):
    """A job that cannot be done without a person looking at it."""

    scene_id = pw.TextField(index=True)
    title = pw.TextField(null=True)
    file = pw.TextField(null=True)
    payload = pw.TextField()
    error_class = pw.TextField()
    error_message = pw.TextField()
    attempts = pw.IntegerField()
    failed_at = pw.FloatField(index=True)

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.payload)


class Watermark(_Model):
    name = pw.TextField(primary_key=True)
    value = pw.TextField()
    updated_at = pw.FloatField()


class SceneState(_Model):
    """What stashplex last wrote for a scene, to tell real changes from its own writes."""

    scene_id = pw.TextField(primary_key=True)
    stash_updated_at = pw.TextField(null=True)
    rating_key = pw.IntegerField(null=True, index=True)
    plex_updated_at = pw.IntegerField(null=True)
    plex_fingerprint = pw.TextField(null=True)
    content_hash = pw.TextField(null=True)
    poster_source = pw.TextField(null=True)
    poster_hash = pw.TextField(null=True)
    synced_at = pw.FloatField(null=True)
    failed_updated_at = pw.TextField(null=True)


class Setting(_Model):
    key = pw.TextField(primary_key=True)
    value = pw.TextField()


class ReadBackMemory(_Model):
    """What Plex showed for a value stashplex sent, per scene and field (see readback.py)."""

    scene_id = pw.TextField()
    field = pw.TextField()
    wanted = pw.TextField()
    shown = pw.TextField()

    class Meta:
        primary_key = pw.CompositeKey("scene_id", "field")


class OwnedCollection(_Model):
    """A collection tag stashplex added to a Plex item: the ones it may take off again."""

    rating_key = pw.IntegerField()
    name = pw.TextField()

    class Meta:
        primary_key = pw.CompositeKey("rating_key", "name")


class ItemArt(_Model):
    """The cover stashplex last uploaded as a Plex item's background art (`sync.fields:
    background`): its Stash URL and the sha1 of the bytes, as `SceneState` keeps the poster's."""

    rating_key = pw.IntegerField(primary_key=True)
    source = pw.TextField()
    sha1 = pw.TextField()


@dataclass(frozen=True)
class ArtState:
    rating_key: int
    source: str
    sha1: str


@dataclass(frozen=True)
class SyncedItem:
    """How stashplex left a Plex item when it last synced a scene to it."""

    scene_id: str
    rating_key: int
    plex_updated_at: int | None
    plex_fingerprint: str | None


class SceneItem(_Model):
    """A further Plex item a scene was written to (one holding another of its files), and how
    stashplex left it; the item of the scene's first found file stays in `SceneState`."""

    scene_id = pw.TextField(index=True)
    rating_key = pw.IntegerField(index=True)
    plex_updated_at = pw.IntegerField(null=True)
    plex_fingerprint = pw.TextField(null=True)
    poster_source = pw.TextField(null=True)
    poster_hash = pw.TextField(null=True)

    class Meta:
        primary_key = pw.CompositeKey("scene_id", "rating_key")


class FolderScan(_Model):
    """When stashplex last asked Plex to scan a folder (`plex.scan_missing`)."""

    folder = pw.TextField(primary_key=True)
    asked_at = pw.FloatField()


@dataclass(frozen=True)
class ItemState:
    """How stashplex left one Plex item of a scene: its stamps and the poster it uploaded."""

    scene_id: str
    rating_key: int
    plex_updated_at: int | None
    plex_fingerprint: str | None
    poster_source: str | None
    poster_hash: str | None


class SceneCarrier(_Model):
    """A tag, performer or studio a synced scene carried when stashplex last wrote it: when
    Stash deletes the object (which moves no scene's `updated_at`), these scenes are re-checked."""

    scene_id = pw.TextField()
    kind = pw.TextField()  # "tags", "performers" or "studios"
    object_id = pw.TextField()

    class Meta:
        primary_key = pw.CompositeKey("scene_id", "kind", "object_id")
        indexes = ((("kind", "object_id"), False),)


class ServerHealth(_Model):
    """One server's last trouble: what it said, since when, and whether work waits for it."""

    server = pw.TextField(primary_key=True)
    problem = pw.TextField(null=True)  # "unreachable", "refused", "error"; None when it answers
    message = pw.TextField(null=True)
    since = pw.FloatField(null=True)
    failures = pw.IntegerField(default=0)
    failed_polls = pw.IntegerField(default=0)
    paused_since = pw.FloatField(null=True)
    last_ok = pw.FloatField(null=True)
    updated_at = pw.FloatField()


class RefusedLetter(_Model):
    """A dead letter written because a server refused the credentials, not for the scene."""

    scene_id = pw.TextField(primary_key=True)
    server = pw.TextField(index=True)


class ActivityState(_Model):
    """What of a scene's Plex activity was already carried to Stash: the token's `viewCount`,
    `lastViewedAt` and `viewOffset`, the Plex `lastRatedAt` accounted for, the rating both
    sides last agreed on (and Stash's `updated_at` then), the link added; `pending` holds what
    is being sent right now (plays, a resume point)."""

    scene_id = pw.TextField(primary_key=True)
    rating_key = pw.IntegerField(null=True)
    view_count = pw.IntegerField(default=0)
    last_viewed_at = pw.IntegerField(default=0)
    view_offset = pw.IntegerField(null=True)
    rated_at = pw.IntegerField(default=0)
    rating = pw.IntegerField(null=True)
    stash_updated_at = pw.TextField(null=True)  # the scene's stamp when the rating agreed
    link = pw.TextField(null=True)
    pending = pw.TextField(null=True)
    updated_at = pw.FloatField()


MODELS = [
    Job,
    DeadLetter,
    Watermark,
    SceneState,
    Setting,
    ReadBackMemory,
    SceneCarrier,
    ServerHealth,
    RefusedLetter,
    OwnedCollection,
    SceneItem,
    FolderScan,
    ItemArt,
    ActivityState,
]
CARRIED = {"tags": "tag_ids", "performers": "performer_ids", "studios": "studio_id"}


def _record(cls: type, row: pw.Model) -> Any:
    """A row as a plain frozen dataclass: the models stay inside this module."""
    return cls(**{f.name: row.__data__.get(f.name) for f in fields(cls)})


@dataclass(frozen=True)
class QueuedJob:
    """A job as the queue hands it out; give it back to `complete`, `reschedule` or
    `dead_letter` (its `version` tells whether a newer change replaced it meanwhile)."""

    id: int
    scene_id: str
    payload: str
    state: str
    version: int
    attempts: int
    retries: int
    retry_class: str | None
    next_attempt_at: float
    last_error: str | None
    last_error_class: str | None
    created_at: float
    updated_at: float

    @cached_property
    def data(self) -> dict[str, Any]:
        """The payload, parsed once (the worker and the store both read it)."""
        return json.loads(self.payload)


# a job's payload as stored: keys sorted, as `json.dumps(payload, sort_keys=True)` writes it,
# with one encoder for all jobs instead of one made per job
_payload_json = json.JSONEncoder(sort_keys=True).encode


# the queue's upsert: a scene with a live job gets it updated (a newer version), not a second
_ENQUEUE = (
    'INSERT INTO "job" ("scene_id", "payload", "state", "version", "attempts", "retries", '
    '"next_attempt_at", "created_at", "updated_at") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) '
    'ON CONFLICT("scene_id") DO UPDATE SET "payload" = excluded."payload", '
    '"version" = "version" + 1, "next_attempt_at" = excluded."next_attempt_at", '
    '"retries" = 0, "retry_class" = NULL, "updated_at" = excluded."updated_at"'
)
_JOB_COLUMNS = ", ".join(f'"{f.name}"' for f in fields(QueuedJob))


@dataclass(frozen=True)
class SyncState:
    """What stashplex last wrote for a scene (see `SceneState`)."""

    scene_id: str
    stash_updated_at: str | None
    rating_key: int | None
    plex_updated_at: int | None
    plex_fingerprint: str | None
    content_hash: str | None
    poster_source: str | None
    poster_hash: str | None
    synced_at: float | None
    failed_updated_at: str | None


@dataclass(frozen=True)
class Carried:
    """A scene's activity already carried back to Stash (see `ActivityState`)."""

    scene_id: str
    rating_key: int | None = None
    view_count: int = 0
    last_viewed_at: int = 0
    view_offset: int | None = None
    rated_at: int = 0
    rating: int | None = None
    stash_updated_at: str | None = None
    link: str | None = None
    pending: str | None = None


@dataclass(frozen=True)
class Letter:
    """One dead letter."""

    id: int
    scene_id: str
    title: str | None
    file: str | None
    payload: str
    error_class: str
    error_message: str
    attempts: int
    failed_at: float

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.payload)


@dataclass(frozen=True)
class QueueCounts:
    queued: int
    running: int
    waiting_retry: int
    dead: int


@dataclass(frozen=True)
class Health:
    """A server's health as stored; `problem` is None while it answers."""

    server: str
    problem: str | None = None
    message: str | None = None
    since: float | None = None
    failures: int = 0
    failed_polls: int = 0
    paused_since: float | None = None
    last_ok: float | None = None


@dataclass(frozen=True)
class OldestJob:
    scene_id: str
    since: float
    attempts: int
    last_error: str | None


def _cause(exc: BaseException) -> BaseException:
    """The error that ended a transaction. SQLite rolls a transaction back by itself when
    an executemany fills the disk; peewee's own rollback then fails ("no transaction is
    active") and would hide why."""
    cause: BaseException | None = exc
    while cause is not None and "no transaction is active" in str(cause):
        cause = cause.__context__
    return cause if isinstance(cause, pw.DatabaseError | sqlite3.DatabaseError) else exc


def _translate(path: str, exc: BaseException) -> StoreError:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StoreError(f"{path}: database is locked by another process")
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError(
            f"{path}: database file is corrupt ({exc}); move it aside to start afresh"
        )
    if "disk is full" in text or "database or disk is full" in text:
        return StoreError(f"{path}: disk is full; nothing was written")
    if "unable to open" in text or "readonly" in text or "read-only" in text:
        return StoreError(f"{path}: cannot open or write the database file ({exc})")
    return StoreError(f"{path}: database error: {exc}")


class Store:
    """The one database: queue, dead letters, watermarks, per-scene state."""

    def __init__(
        self, path: str | os.PathLike, busy_timeout: float = 10.0, read_only: bool = False
    ) -> None:
        self.path = str(path)
        self._remembering: set[str] | None = None  # scenes with a read-back memory
        self.read_only = read_only
        if read_only:
            # a reader of a WAL database takes no lock the daemon's writes hold: it never waits
            self.db = pw.SqliteDatabase(
                f"{Path(self.path).resolve().as_uri()}?mode=ro",
                uri=True,
                pragmas={"foreign_keys": 1, "busy_timeout": int(busy_timeout * 1000)},
                check_same_thread=False,
            )
            self._open_read_only()
            return
        self.db = pw.SqliteDatabase(
            self.path,
            pragmas={
                "journal_mode": "wal",
                "synchronous": "full",
                "foreign_keys": 1,
                "busy_timeout": int(busy_timeout * 1000),
            },
            check_same_thread=False,
        )
        self._open()

    def _open_read_only(self) -> None:
        """Open without creating or migrating anything; tables a newer part adds may be absent."""
        try:
            self.db.connect(reuse_if_open=True)
            self._tables = set(self.db.get_tables())
        except (pw.DatabaseError, sqlite3.DatabaseError) as exc:
            raise _translate(self.path, exc) from None
        if "job" not in self._tables:
            raise StoreError(f"{self.path}: not a stashplex database (no job table)")

    def _open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            if not os.path.exists(self.path):
                fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
        _proxy.initialize(self.db)
        self._tables = {model._meta.table_name for model in MODELS}
        try:
            with self.db.bind_ctx(MODELS):
                self.db.connect(reuse_if_open=True)
                with self.db.atomic("IMMEDIATE"):
                    fresh = not self.db.table_exists("job")
                    self.db.create_tables(MODELS, safe=True)
                    row = Setting.get_or_none(Setting.key == "schema_version")
                    version = SCHEMA_VERSION if fresh else int(row.value) if row else 1
                    if version > SCHEMA_VERSION:
                        raise StoreError(
                            f"{self.path}: database schema {version} is newer than this "
                            f"stashplex understands ({SCHEMA_VERSION}); upgrade stashplex"
                        )
                    self._migrate(version)
        except (pw.DatabaseError, sqlite3.DatabaseError) as exc:
            raise _translate(self.path, exc) from None

    def _migrate(self, version: int) -> None:
        """Bring an older database up to date, inside the opening transaction."""
        for target in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS.get(target, []):
                self.db.execute_sql(statement)
        Setting.replace(key="schema_version", value=str(SCHEMA_VERSION)).execute()

    @property
    def schema_version(self) -> int:
        return int(self.setting("schema_version") or 0)

    def close(self) -> None:
        if not self.db.is_closed():
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic write; database failures come out as a `StoreError` naming the file."""
        try:
            with self.db.bind_ctx(MODELS), self.db.atomic("IMMEDIATE"):
                yield
        except (pw.OperationalError, pw.DatabaseError, sqlite3.DatabaseError) as exc:
            raise _translate(self.path, _cause(exc)) from None

    @contextmanager
    def reading(self) -> Iterator[None]:
        try:
            with self.db.bind_ctx(MODELS):
                yield
        except (pw.OperationalError, pw.DatabaseError, sqlite3.DatabaseError) as exc:
            raise _translate(self.path, exc) from None

    @contextmanager
    def reading_sql(self) -> Iterator[None]:
        """`reading` for plain SQL: no models to bind (binding them all costs more than the
        statement when a sweep reads states page by page)."""
        try:
            yield
        except (pw.OperationalError, pw.DatabaseError, sqlite3.DatabaseError) as exc:
            raise _translate(self.path, exc) from None

    # -- queue ---------------------------------------------------------------

    def enqueue(self, scene_id: str, payload: dict[str, Any], now: float | None = None) -> None:
        self.enqueue_many([(scene_id, payload)], now)

    def enqueue_many(
        self, jobs: Iterable[tuple[str, dict[str, Any]]], now: float | None = None
    ) -> int:
        """Queue work; a scene that already has a live job gets that job updated, not a second one.

        A newer change is a fresh start: its retry count and wait are reset.
        """
        now = time.time() if now is None else now
        rows = [
            (str(scene_id), _payload_json(payload), QUEUED, 1, 0, 0, now, now, now)
            for scene_id, payload in jobs
        ]
        with self.transaction():
            self._executemany(_ENQUEUE, rows)
        return len(rows)

    def claim(self, limit: int = 100, now: float | None = None) -> list[QueuedJob]:
        """Atomically take up to `limit` due jobs; they stay claimed (pending) until the worker
        completes, reschedules or dead-letters them, or `unmark_scene_pending` lets them go."""
        now = time.time() if now is None else now
        table = Job._meta.table_name
        with self.transaction():
            rows = self.db.execute_sql(
                f'SELECT {_JOB_COLUMNS} FROM "{table}" WHERE "state" = ? AND '
                '"next_attempt_at" <= ? ORDER BY "next_attempt_at", "id" LIMIT ?',
                (QUEUED, now, limit),
            ).fetchall()
            jobs = [QueuedJob(*row) for row in rows]
            ids = [job.id for job in jobs]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                self.db.execute_sql(
                    f'UPDATE "{table}" SET "state" = ?, "updated_at" = ? '
                    f'WHERE "id" IN ({",".join("?" * len(chunk))})',
                    (RUNNING, now, *chunk),
                )
        return [replace(job, state=RUNNING) for job in jobs]

    def complete(self, done: Iterable[tuple[QueuedJob, dict[str, Any]]]) -> None:
        """Jobs whose work is done, with what to remember of each scene, in one transaction.

        A newer change that arrived meanwhile keeps its job queued. `values` may carry
        `owned_collections`: every collection tag stashplex owns on the item now, `art`:
        the (source, sha1) of the background art uploaded to it, and `items`: the scene's
        further items (`ItemState` fields, and their own `owned_collections` and `art`), which
        replace those recorded before. A batch costs a few statements a table (executemany,
        `IN`), not several per job (a scene's further items and art aside).
        """
        states: list[tuple[str, dict[str, Any]]] = []
        owned: dict[int, list[str]] = {}  # a later job for the same item wins, as in order
        carried: list[tuple[str, dict[str, Any]]] = []
        jobs: list[QueuedJob] = []
        arts: list[tuple[int, tuple[str, str]]] = []
        further: list[tuple[str, list[dict[str, Any]]]] = []
        for job, values in done:
            values = dict(values)
            names = values.pop("owned_collections", None)
            if names is not None:
                owned[int(values["rating_key"])] = sorted(set(names))
            art = values.pop("art", None)
            if art is not None:
                arts.append((int(values["rating_key"]), art))
            items = values.pop("items", None)
            if items is not None:
                further.append((job.scene_id, items))
            states.append((job.scene_id, values))
            carried.append((job.scene_id, job.data.get("scene") or {}))
            jobs.append(job)
        if not jobs:
            return
        with self.transaction():
            self._upsert_states(states)
            self._own_many(owned)
            for rating_key, art in arts:
                self._keep_art(rating_key, art)
            for scene_id, items in further:
                self._keep_items(scene_id, items)
            self._carry_many(carried)
            self._finish_jobs(jobs)
            # a scene written successfully leaves the dead-letter queue
            finished = [job.scene_id for job in jobs]
            self._delete_in(DeadLetter, "scene_id", finished)
            self._delete_in(RefusedLetter, "scene_id", finished)

    def _executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.db.cursor().executemany(sql, rows)

    def _delete_in(self, model: type[_Model], column: str, values: list[Any]) -> None:
        """DELETE the rows whose `column` is one of `values`, 500 values a statement."""
        table = model._meta.table_name
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            marks = ",".join("?" * len(chunk))
            self.db.execute_sql(f'DELETE FROM "{table}" WHERE "{column}" IN ({marks})', chunk)

    def _upsert_states(self, states: list[tuple[str, dict[str, Any]]]) -> None:
        """Each scene's sync state: the given columns set, the others kept (or NULL when new)."""
        by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for scene_id, values in states:
            columns = tuple(values)
            unknown = set(columns) - set(SceneState._meta.columns)
            if unknown:
                raise ValueError(f"scene {scene_id}: no sync state column {sorted(unknown)}")
            by_columns.setdefault(columns, []).append((scene_id, *values.values()))
        table = SceneState._meta.table_name
        for columns, rows in by_columns.items():
            names = ", ".join(f'"{name}"' for name in ("scene_id", *columns))
            marks = ", ".join("?" * (len(columns) + 1))
            update = ", ".join(f'"{name}" = excluded."{name}"' for name in columns)
            self._executemany(
                f'INSERT INTO "{table}" ({names}) VALUES ({marks}) '
                f'ON CONFLICT("scene_id") DO UPDATE SET {update}',
                rows,
            )

    def _finish_jobs(self, jobs: list[QueuedJob]) -> None:
        """Delete the jobs done; one replaced meanwhile by a newer change (another version)
        goes back to the queue instead."""
        table = Job._meta.table_name
        ids = [job.id for job in jobs]
        versions: dict[int, int] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            cursor = self.db.execute_sql(
                f'SELECT "id", "version" FROM "{table}" WHERE "id" IN ({marks})', chunk
            )
            versions.update(cursor.fetchall())
        done = [job.id for job in jobs if versions.get(job.id) == job.version]
        newer = [job.id for job in jobs if versions.get(job.id, job.version) != job.version]
        self._delete_in(Job, "id", done)
        self._executemany(
            f'UPDATE "{table}" SET "state" = ? WHERE "id" = ?', [(QUEUED, i) for i in newer]
        )

    def reschedule(
        self,
        job: QueuedJob,
        delay: float,
        error: StashplexError,
        retries: int,
        now: float | None = None,
        retry_class: str | None = None,
    ) -> None:
        """Put the job back to wait `delay` seconds; `retries` is its new count for its class.

        The class is the error's, unless `retry_class` says otherwise (an outage keeps the
        class and count the job had).
        """
        now = time.time() if now is None else now
        with self.transaction():
            current = Job.get_or_none(Job.id == job.id)
            if current is None:
                return
            fresh = current.version != job.version
            Job.update(
                state=QUEUED,
                attempts=Job.attempts + 1,
                retries=0 if fresh else retries,
                retry_class=None if fresh else retry_class or error.error_class,
                next_attempt_at=now if fresh else now + max(delay, 1e-3),
                last_error=str(error),
                last_error_class=type(error).__name__,
                updated_at=now,
            ).where(Job.id == job.id).execute()

    def dead_letter(
        self,
        job: QueuedJob,
        error: StashplexError,
        now: float | None = None,
        data_error: bool = False,
        refused_by: str | None = None,
    ) -> Letter | None:
        """Move the job to the dead-letter queue with its last error (one letter per scene).

        A `data_error` (the scene's own data is unusable) also marks this version of the
        scene, so sweeps skip it until it changes in Stash. `refused_by` names the server
        whose refusal of the credentials caused the letter, so `server_answered` can queue
        it again. When a newer change of the scene is already queued, that job stays and no
        letter is written.
        """
        now = time.time() if now is None else now
        data = job.data
        scene = data.get("scene", {})
        files = scene.get("files") or []
        with self.transaction():
            deleted = (
                Job.delete().where((Job.id == job.id) & (Job.version == job.version)).execute()
            )
            if not deleted:
                Job.update(state=QUEUED, next_attempt_at=now).where(Job.id == job.id).execute()
                return None
            DeadLetter.delete().where(DeadLetter.scene_id == job.scene_id).execute()
            letter = DeadLetter.create(
                scene_id=job.scene_id,
                title=scene.get("title"),
                file=files[0] if files else None,
                payload=job.payload,
                error_class=type(error).__name__,
                error_message=str(error),
                attempts=job.attempts + 1,
                failed_at=now,
            )
            RefusedLetter.delete().where(RefusedLetter.scene_id == job.scene_id).execute()
            if refused_by is not None:
                RefusedLetter.create(scene_id=job.scene_id, server=refused_by)
            if data_error:
                SceneState.insert(
                    scene_id=job.scene_id, failed_updated_at=scene.get("updated_at")
                ).on_conflict(
                    conflict_target=[SceneState.scene_id],
                    update={SceneState.failed_updated_at: scene.get("updated_at")},
                ).execute()
        return _record(Letter, letter)

    def unmark_scene_pending(self, *scene_ids: str) -> None:
        """Whatever happened, these scenes are no longer being worked on."""
        ids = [str(scene_id) for scene_id in scene_ids]
        with self.transaction():
            for start in range(0, len(ids), 500):
                Job.update(state=QUEUED).where(
                    Job.scene_id.in_(ids[start : start + 500]) & (Job.state == RUNNING)
                ).execute()

    def pending_scene_ids(self) -> set[str]:
        with self.reading():
            return {job.scene_id for job in Job.select(Job.scene_id).where(Job.state == RUNNING)}

    def recover(self) -> int:
        """Return jobs claimed by a process that died to the queue; call with the lock held."""
        with self.transaction():
            return Job.update(state=QUEUED).where(Job.state == RUNNING).execute()

    def job_for(self, scene_id: str) -> QueuedJob | None:
        with self.reading():
            job = Job.get_or_none(Job.scene_id == str(scene_id))
        return _record(QueuedJob, job) if job else None

    def jobs_for(self, scene_ids: Iterable[str]) -> dict[str, QueuedJob]:
        return self._records_by_scene(Job, QueuedJob, scene_ids)

    def jobs(self) -> list[QueuedJob]:
        with self.reading():
            return [_record(QueuedJob, job) for job in Job.select().order_by(Job.id)]

    def counts(self, now: float | None = None) -> QueueCounts:
        now = time.time() if now is None else now
        with self.reading():
            queued = Job.select().where(Job.state == QUEUED).count()
            running = Job.select().where(Job.state == RUNNING).count()
            waiting = (
                Job.select()
                .where((Job.state == QUEUED) & (Job.next_attempt_at > now) & (Job.attempts > 0))
                .count()
            )
            dead = DeadLetter.select().count()
        return QueueCounts(queued, running, waiting, dead)

    def due_count(self, now: float) -> int:
        with self.reading():
            return Job.select().where((Job.state == QUEUED) & (Job.next_attempt_at <= now)).count()

    # -- dead letters --------------------------------------------------------

    def dead_letters(self) -> list[Letter]:
        with self.reading():
            query = DeadLetter.select().order_by(DeadLetter.failed_at, DeadLetter.id)
            return [_record(Letter, letter) for letter in query]

    def dead_letter_message(self, scene_id: str) -> str | None:
        with self.reading():
            letter = DeadLetter.get_or_none(DeadLetter.scene_id == str(scene_id))
        return letter.error_message if letter else None

    def refused_letter_ids(self, server: str) -> list[int]:
        """The dead letters written because `server` refused the credentials."""
        if "refused_letter" not in self._tables:
            return []
        with self.reading():
            return [
                letter.id
                for letter in DeadLetter.select(DeadLetter.id)
                .join(RefusedLetter, on=RefusedLetter.scene_id == DeadLetter.scene_id)
                .where(RefusedLetter.server == server)
                .order_by(DeadLetter.id)
            ]

    def retry_dead_letters(
        self,
        ids: Iterable[int] | None = None,
        now: float | None = None,
        fresh: dict[str, dict[str, Any]] | None = None,
    ) -> int:
        """Queue dead letters again (all when `ids` is None); returns how many came back.

        `fresh` holds scenes as Stash has them now, by id, to queue instead of the old copy.
        """
        now = time.time() if now is None else now
        with self.transaction():
            query = DeadLetter.select().order_by(DeadLetter.id)
            if ids is not None:
                query = query.where(DeadLetter.id.in_(list(ids)))
            letters = list(query)
            for letter in letters:
                scene = (fresh or {}).get(letter.scene_id)
                Job.insert(
                    scene_id=letter.scene_id,
                    payload=json.dumps({"scene": scene}, sort_keys=True)
                    if scene
                    else letter.payload,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                ).on_conflict_ignore().execute()
                letter.delete_instance()
                RefusedLetter.delete().where(RefusedLetter.scene_id == letter.scene_id).execute()
                SceneState.update(failed_updated_at=None).where(
                    SceneState.scene_id == letter.scene_id
                ).execute()
        return len(letters)

    def purge_dead_letters(self, older_than: float | None = None, now: float | None = None) -> int:
        """Forget dead letters, all or those older than `older_than` seconds."""
        now = time.time() if now is None else now
        with self.transaction():
            query = DeadLetter.delete()
            if older_than is not None:
                query = query.where(DeadLetter.failed_at < now - older_than)
            count = query.execute()
            RefusedLetter.delete().where(
                RefusedLetter.scene_id.not_in(DeadLetter.select(DeadLetter.scene_id))
            ).execute()
            return count

    # -- watermarks, settings, scene state -----------------------------------

    def watermark(self, name: str) -> str | None:
        with self.reading():
            row = Watermark.get_or_none(Watermark.name == name)
            return row.value if row else None

    def set_watermark(self, name: str, value: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self.transaction():
            Watermark.replace(name=name, value=value, updated_at=now).execute()

    def setting(self, key: str) -> str | None:
        with self.reading():
            row = Setting.get_or_none(Setting.key == key)
            return row.value if row else None

    def set_setting(self, key: str, value: str | None) -> None:
        with self.transaction():
            if value is None:
                Setting.delete().where(Setting.key == key).execute()
            else:
                Setting.replace(key=key, value=value).execute()

    # -- what synced scenes carry ------------------------------------------------

    def _carry_many(self, scenes: list[tuple[str, dict[str, Any]]]) -> None:
        """Remember the objects of these scenes as written (inside the caller's transaction).

        A payload from an older version has no id lists: what it carried stays unknown
        until the scene is written again or a full pass records it."""
        known = [
            (scene_id, scene)
            for scene_id, scene in scenes
            if any(field in scene for field in CARRIED.values())
        ]
        self._delete_in(SceneCarrier, "scene_id", [scene_id for scene_id, _ in known])
        rows = []
        for scene_id, scene in known:
            for kind, field in CARRIED.items():
                value = scene.get(field)
                ids = [value] if isinstance(value, str) else value or []
                rows.extend((scene_id, kind, str(i)) for i in ids)
        self._executemany(
            f'INSERT OR IGNORE INTO "{SceneCarrier._meta.table_name}" '
            '("scene_id", "kind", "object_id") VALUES (?, ?, ?)',
            rows,
        )

    def record_carriers(self, scenes: Iterable[dict[str, Any]]) -> None:
        """Remember what these scenes (Scene dicts, in sync with Plex) carry."""
        with self.transaction():
            self._carry_many([(str(scene["id"]), scene) for scene in scenes])

    def carried_ids(self, kind: str) -> set[str]:
        """Every id of this kind that some synced scene carried."""
        with self.reading():
            query = SceneCarrier.select(SceneCarrier.object_id).where(SceneCarrier.kind == kind)
            return {row.object_id for row in query.distinct()}

    def carriers_of(self, kind: str, object_ids: Iterable[str]) -> set[str]:
        """The synced scenes that carried any of these objects."""
        ids = [str(i) for i in object_ids]
        found: set[str] = set()
        with self.reading():
            for start in range(0, len(ids), 500):
                query = SceneCarrier.select(SceneCarrier.scene_id).where(
                    (SceneCarrier.kind == kind)
                    & SceneCarrier.object_id.in_(ids[start : start + 500])
                )
                found.update(row.scene_id for row in query)
        return found

    def forget_carried(self, kind: str, object_ids: Iterable[str]) -> None:
        """Objects Stash no longer has: no scene is to be re-checked for them again."""
        ids = [str(i) for i in object_ids]
        with self.transaction():
            for start in range(0, len(ids), 500):
                SceneCarrier.delete().where(
                    (SceneCarrier.kind == kind)
                    & SceneCarrier.object_id.in_(ids[start : start + 500])
                ).execute()

    def scene_states(self, scene_ids: Iterable[str]) -> dict[str, SyncState]:
        return self._records_by_scene(SceneState, SyncState, scene_ids)

    def _records_by_scene(
        self, model: type[_Model], record: type, scene_ids: Iterable[str]
    ) -> dict[str, Any]:
        """The rows of `model` for these scenes, by scene id, as `record` dataclasses.

        Plain SQL, 500 ids a statement: a sweep asks for every page of 250 scenes, and
        peewee's query building and model rows cost several times what SQLite does."""
        ids = [str(s) for s in scene_ids]
        columns = [model._meta.fields[f.name].column_name for f in fields(record)]
        key = columns.index(model._meta.fields["scene_id"].column_name)
        selected = ", ".join(f'"{column}"' for column in columns)
        found: dict[str, Any] = {}
        with self.reading_sql():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                sql = (
                    f'SELECT {selected} FROM "{model._meta.table_name}" '
                    f'WHERE "scene_id" IN ({", ".join("?" * len(chunk))})'
                )
                for row in self.db.execute_sql(sql, chunk):
                    found[row[key]] = record(*row)
        return found

    def _keep_items(self, scene_id: str, items: list[dict[str, Any]]) -> None:
        """Record the scene's further items as they are now (inside `complete`)."""
        SceneItem.delete().where(SceneItem.scene_id == scene_id).execute()
        for values in items:
            values = dict(values)
            owned = values.pop("owned_collections", None)
            art = values.pop("art", None)
            SceneItem.create(scene_id=scene_id, **values)
            if owned is not None:
                self._own(values["rating_key"], owned)
            if art is not None:
                self._keep_art(values["rating_key"], art)

    @staticmethod
    def _keep_art(rating_key: int, art: tuple[str, str]) -> None:
        source, sha1 = art
        ItemArt.replace(rating_key=rating_key, source=source, sha1=sha1).execute()

    def item_states(
        self, scene_ids: Iterable[str], states: dict[str, SyncState] | None = None
    ) -> dict[str, dict[int, ItemState]]:
        """Every Plex item each scene was written to, by ratingKey (its first one included;
        taken from `states` when the caller has just read them with `scene_states`).

        Plain SQL and tuples, as `_records_by_scene`: a sweep asks for every page."""
        ids = [str(s) for s in scene_ids]
        if states is None:
            states = self.scene_states(ids)
        found: dict[str, dict[int, ItemState]] = {}
        for scene_id in ids:
            state = states.get(scene_id)
            if state is not None and state.rating_key is not None:
                found[scene_id] = {
                    state.rating_key: ItemState(
                        scene_id,
                        state.rating_key,
                        state.plex_updated_at,
                        state.plex_fingerprint,
                        state.poster_source,
                        state.poster_hash,
                    )
                }
        if "scene_item" not in self._tables:
            return found
        selected = ", ".join(f'"{f.name}"' for f in fields(ItemState))
        with self.reading_sql():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                sql = (
                    f'SELECT {selected} FROM "{SceneItem._meta.table_name}" '
                    f'WHERE "scene_id" IN ({", ".join("?" * len(chunk))})'
                )
                for row in self.db.execute_sql(sql, chunk):
                    found.setdefault(row[0], {}).setdefault(row[1], ItemState(*row))
        return found

    def ask_scan(self, folder: str, now: float, every: float) -> bool:
        """True when Plex was not asked to scan `folder` within `every` seconds; then notes
        that it is asked now (one database keeps it across runs and processes)."""
        with self.transaction():
            row = FolderScan.get_or_none(FolderScan.folder == folder)
            if row is not None and now - row.asked_at < every:
                return False
            FolderScan.replace(folder=folder, asked_at=now).execute()
        return True

    def synced_items(self, rating_keys: Iterable[int]) -> dict[int, list[SyncedItem]]:
        """The sync state of the scenes last written to these Plex items, by ratingKey."""
        keys = list(dict.fromkeys(int(k) for k in rating_keys))
        found: dict[int, list[SyncedItem]] = {}
        with self.reading():
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                query = SceneState.select(
                    SceneState.scene_id,
                    SceneState.rating_key,
                    SceneState.plex_updated_at,
                    SceneState.plex_fingerprint,
                ).where(SceneState.rating_key.in_(chunk))
                for row in query:
                    found.setdefault(row.rating_key, []).append(
                        SyncedItem(
                            row.scene_id, row.rating_key, row.plex_updated_at, row.plex_fingerprint
                        )
                    )
                if "scene_item" not in self._tables:
                    continue
                for row in SceneItem.select().where(SceneItem.rating_key.in_(chunk)):
                    found.setdefault(row.rating_key, []).append(
                        SyncedItem(
                            row.scene_id, row.rating_key, row.plex_updated_at, row.plex_fingerprint
                        )
                    )
        return found

    # -- read-back memory ------------------------------------------------------

    def read_back(self, scene_id: str) -> dict[str, Remembered]:
        """What Plex was seen to show for values sent for this scene (field -> memory).

        Few scenes have one, so the ids that do are read once and most scenes cost no query.
        """
        scene_id = str(scene_id)
        if self._remembering is None:
            with self.reading():
                self._remembering = {
                    row.scene_id for row in ReadBackMemory.select(ReadBackMemory.scene_id)
                }
        if scene_id not in self._remembering:
            return {}
        with self.reading():
            rows = ReadBackMemory.select().where(ReadBackMemory.scene_id == scene_id)
            return {row.field: Remembered(row.wanted, row.shown) for row in rows}

    def remember_read_back(
        self, scene_id: str, memory: dict[str, Remembered], forget: Iterable[str] = ()
    ) -> None:
        """Keep `memory` for these fields of the scene, and drop what `forget` names."""
        scene_id = str(scene_id)
        forget = [name for name in forget if name not in memory]
        with self.transaction():
            for name, entry in memory.items():
                ReadBackMemory.replace(
                    scene_id=scene_id, field=name, wanted=entry.wanted, shown=entry.shown
                ).execute()
            if forget:
                ReadBackMemory.delete().where(
                    (ReadBackMemory.scene_id == scene_id) & ReadBackMemory.field.in_(forget)
                ).execute()
        if self._remembering is not None and memory:
            self._remembering.add(scene_id)

    def owned_collections(self, rating_keys: Iterable[int]) -> dict[int, set[str]]:
        """The collection tags stashplex added to these Plex items (and has not taken off)."""
        keys = list(dict.fromkeys(int(k) for k in rating_keys))
        found: dict[int, set[str]] = {}
        with self.reading():
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                query = OwnedCollection.select().where(OwnedCollection.rating_key.in_(chunk))
                for row in query:
                    found.setdefault(row.rating_key, set()).add(row.name)
        return found

    def art_states(self, rating_keys: Iterable[int]) -> dict[int, ArtState]:
        """The background art stashplex last uploaded to these Plex items."""
        keys = list(dict.fromkeys(int(k) for k in rating_keys))
        found: dict[int, ArtState] = {}
        with self.reading():
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                for row in ItemArt.select().where(ItemArt.rating_key.in_(chunk)):
                    found[row.rating_key] = _record(ArtState, row)
        return found

    def _own_many(self, owned: dict[int, list[str]]) -> None:
        """Record, per item, every collection tag stashplex owns on it now."""
        self._delete_in(OwnedCollection, "rating_key", list(owned))
        self._executemany(
            f'INSERT OR REPLACE INTO "{OwnedCollection._meta.table_name}" '
            '("rating_key", "name") VALUES (?, ?)',
            [(key, name) for key, names in owned.items() for name in names],
        )

    def _own(self, rating_key: int, names: Iterable[str]) -> None:
        """Record `names` as every collection tag stashplex owns on this item now."""
        rating_key = int(rating_key)
        OwnedCollection.delete().where(OwnedCollection.rating_key == rating_key).execute()
        for name in sorted(set(names)):
            OwnedCollection.replace(rating_key=rating_key, name=name).execute()

    # -- activity carried back to Stash -------------------------------------------------

    def carried(self, scene_ids: Iterable[str]) -> dict[str, Carried]:
        """What of these scenes' Plex activity was carried to Stash already."""
        ids = [str(s) for s in scene_ids]
        found: dict[str, Carried] = {}
        if "activity_state" not in self._tables:
            return found
        with self.reading():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for row in ActivityState.select().where(ActivityState.scene_id.in_(chunk)):
                    found[row.scene_id] = _record(Carried, row)
        return found

    def note_pending(self, scene_id: str, pending: dict[str, Any], now: float) -> None:
        """Before Stash is asked to add plays or save a resume point: what is being sent, so
        that a run killed in between adds no play twice and knows the resume point in doubt."""
        text = json.dumps(pending, sort_keys=True)
        with self.transaction():
            ActivityState.insert(scene_id=str(scene_id), pending=text, updated_at=now).on_conflict(
                conflict_target=[ActivityState.scene_id],
                update={ActivityState.pending: text, ActivityState.updated_at: now},
            ).execute()

    def complete_activity(
        self, done: Iterable[tuple[QueuedJob, dict[str, Any], dict[str, int]]], now: float
    ) -> None:
        """Stash-bound jobs done: what each carried (the new `ActivityState` values) and the
        counts to add (`plays`, `resumes`, `ratings`, `links`), all in one transaction."""
        done = list(done)
        with self.transaction():
            row = Setting.get_or_none(Setting.key == ACTIVITY_COUNTS)
            totals = json.loads(row.value) if row else {}
            for job, values, counts in done:
                scene_id = job.scene_id[len(ACTIVITY_KEY) :]
                values = {**values, "pending": None, "updated_at": now}
                updated = (
                    ActivityState.update(**values)
                    .where(ActivityState.scene_id == scene_id)
                    .execute()
                )
                if not updated:
                    ActivityState.create(scene_id=scene_id, **values)
                counted = {k: v for k, v in counts.items() if v}
                for name, value in counted.items():
                    totals[name] = totals.get(name, 0) + value
                if counted:
                    totals["last"] = {"scene_id": scene_id, "at": now, **counted}
                deleted = (
                    Job.delete().where((Job.id == job.id) & (Job.version == job.version)).execute()
                )
                if not deleted:
                    Job.update(state=QUEUED).where(Job.id == job.id).execute()
                DeadLetter.delete().where(DeadLetter.scene_id == job.scene_id).execute()
                RefusedLetter.delete().where(RefusedLetter.scene_id == job.scene_id).execute()
            Setting.replace(key=ACTIVITY_COUNTS, value=json.dumps(totals, sort_keys=True)).execute()

    def activity_counts(self) -> dict[str, Any]:
        """What was carried back to Stash so far, and the last carry."""
        return json.loads(self.setting(ACTIVITY_COUNTS) or "{}")

    def oldest_queued(self) -> OldestJob | None:
        with self.reading():
            job = Job.select().where(Job.state == QUEUED).order_by(Job.created_at).first()
        if job is None:
            return None
        return OldestJob(job.scene_id, job.created_at, job.attempts, job.last_error)

    def watermarks(self) -> dict[str, str]:
        with self.reading():
            return {row.name: row.value for row in Watermark.select()}

    # -- server health -------------------------------------------------------

    def health(self, server: str) -> Health:
        if "server_health" not in self._tables:
            return Health(server)
        with self.reading():
            row = ServerHealth.get_or_none(ServerHealth.server == server)
        if row is None:
            return Health(server)
        return Health(
            server,
            row.problem,
            row.message,
            row.since,
            row.failures,
            row.failed_polls,
            row.paused_since,
            row.last_ok,
        )

    def server_failed(
        self, server: str, problem: str, message: str, now: float, poll: bool = False
    ) -> Health:
        """Count one failure; the trouble keeps the time it began while its kind stays."""
        with self.transaction():
            row = ServerHealth.get_or_none(ServerHealth.server == server)
            fresh = row is None
            if fresh:
                row = ServerHealth(server=server, failures=0, failed_polls=0)
            if row.problem != problem:
                row.since = now
                row.failures = 0
                row.failed_polls = 0
            row.problem, row.message, row.updated_at = problem, message, now
            row.failures += 1
            row.failed_polls += 1 if poll else 0
            row.save(force_insert=fresh)
        return self.health(server)

    def set_server_paused(self, server: str, since: float | None, now: float) -> None:
        with self.transaction():
            updated = (
                ServerHealth.update(paused_since=since, updated_at=now)
                .where(ServerHealth.server == server)
                .execute()
            )
            if not updated:
                ServerHealth.create(server=server, paused_since=since, updated_at=now)

    def server_answered(self, server: str, now: float) -> None:
        """The server answered: its trouble is over and nothing waits for it any longer."""
        with self.transaction():
            updated = (
                ServerHealth.update(
                    problem=None,
                    message=None,
                    since=None,
                    failures=0,
                    failed_polls=0,
                    paused_since=None,
                    last_ok=now,
                    updated_at=now,
                )
                .where(ServerHealth.server == server)
                .execute()
            )
            if not updated:
                ServerHealth.create(server=server, last_ok=now, updated_at=now)

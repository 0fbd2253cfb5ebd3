"""Writes a real Plex accepts and keeps, end to end against both emulators made strict.

Each test runs `--reconcile-all` passes (`App.reconcile_all`) against the Plex emulator with
the real-server rules of shared/reference/plex-http.md §8 switched on: a request-line limit
(414), the upload limit (500), held poster bytes not re-selected, episodes without studio
and genres, tags merged by case.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Iterator
from urllib.parse import parse_qsl

import pytest
import yaml
from PIL import Image

from reconciler.app import App
from reconciler.config import parse_config
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.images import MAX_UPLOAD_BYTES
from tests.clock import Clock

pytestmark = pytest.mark.integration

STASH_KEY = "stash-KEY-plexwrite-0b1e"
PLEX_TOKEN = "plex-TOKEN-plexwrite-55aa"
JAPANESE = "東京の夜景と静かな朝の散歩、そして古い寺の庭で過ごす午後。"  # 30 characters


class Pair:
    """The two emulators and an App configured against them."""

    def __init__(self, tmp_path, section_type: str = "movie") -> None:
        self.clock = Clock(1_790_000_000.0)
        self.stash = StashEmulator(api_key=STASH_KEY, now=self.clock).start()
        self.plex = PlexEmulator(token=PLEX_TOKEN, clock=self.clock).start()
        self.plex.add_section("Adult", ["/media"], section_type)
        self.tmp_path = tmp_path
        self.app: App | None = None

    def scene(self, name: str = "scene-1", **fields) -> tuple[str, int]:
        folder = "Show/Season 1/" if self.plex.library.section("Adult").type == "show" else ""
        stash_path = f"/data/{folder}{name}.mp4"
        fields.setdefault("title", name)
        scene_id = self.stash.add_scene(files=[stash_path], **fields)
        rating_key = self.plex.add_item("Adult", f"/media/{folder}{name}.mp4")
        return scene_id, rating_key

    def start(self, fields: list[str] | None = None, **plex) -> App:
        sync = {"fields": fields} if fields is not None else {}
        self.config = parse_config(
            {
                "stash": {"url": self.stash.url, "api_key": STASH_KEY},
                "plex": {"url": self.plex.url, "token": PLEX_TOKEN, "libraries": ["Adult"], **plex},
                "path_map": [{"stash": "/data", "plex": "/media"}],
                "sync": sync,
                "database": str(self.tmp_path / "stashplex.db"),
            },
            env={},
        )
        self.app = App(self.config)
        return self.app

    def edits(self) -> list[dict[str, str]]:
        """The query of every edit PUT Plex received, decoded."""
        return [
            dict(parse_qsl(query, keep_blank_values=True))
            for method, path, query in self.plex.requests
            if method == "PUT" and path.endswith("/all")
        ]

    def request_lines(self) -> list[int]:
        return [
            len(f"{method} {path}?{query} HTTP/1.1")
            for method, path, query in self.plex.requests
            if method == "PUT"
        ]

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
        self.stash.stop()
        self.plex.stop()


@pytest.fixture
def pair(tmp_path) -> Iterator[Pair]:
    built = Pair(tmp_path)
    yield built
    built.close()


@pytest.fixture
def shows(tmp_path) -> Iterator[Pair]:
    built = Pair(tmp_path, "show")
    yield built
    built.close()


def names(prefix: str, count: int) -> list[str]:
    return [f"{prefix} {n:02d} {JAPANESE[:6]}" for n in range(count)]


# -- 1. long edits -----------------------------------------------------------------------------


def test_a_japanese_summary_with_50_performers_and_50_tags_lands_whole_under_7000_bytes(pair):
    pair.plex.library.rules.max_request_line = 7000
    summary = JAPANESE * 20  # 600 characters: 5.4 KB of URL, more than 7 KB with the tags
    scene_id, key = pair.scene(
        details=summary, performers=names("Performer", 50), tags=names("Tag", 50), studio="Acme"
    )
    app = pair.start(fields=["title", "summary", "studio", "performers", "tags"])

    summary_run = app.reconcile_all()

    assert (summary_run.updated, summary_run.dead, summary_run.waiting) == (1, 0, 0)
    item = pair.plex.item(key)
    assert item.summary == summary
    assert sorted(item.actors) == sorted(names("Performer", 50))
    assert sorted(item.genres) == sorted(names("Tag", 50))
    assert {"title", "summary", "studio", "actor", "genre"} <= item.locked
    assert len(pair.edits()) > 1 and max(pair.request_lines()) <= 7000


def test_one_edit_that_fits_is_one_put(pair):
    scene_id, key = pair.scene(details="Short.", performers=["Ann"], tags=["Common"])
    app = pair.start(fields=["title", "summary", "performers", "tags"])

    app.reconcile_all()

    assert len(pair.edits()) == 1
    assert pair.plex.item(key).summary == "Short."


def test_a_summary_too_long_for_any_request_is_shortened_once_and_then_in_sync(pair, caplog):
    pair.plex.library.rules.max_request_line = 7000
    summary = JAPANESE * 67  # 2,010 characters: 18 KB of URL, more than any 7 KB request
    scene_id, key = pair.scene(details=summary, tags=names("Tag", 50))
    app = pair.start(fields=["title", "summary", "tags"])

    with caplog.at_level(logging.WARNING, logger="reconciler"):
        first = app.reconcile_all()

    shown = pair.plex.item(key).summary
    assert (first.updated, first.dead) == (1, 0)
    assert shown.endswith("…") and summary.startswith(shown[:-1]) and len(shown) > 500
    assert len(pair.plex.item(key).genres) == 50
    warnings = [r.getMessage() for r in caplog.records if "too long" in r.getMessage()]
    assert len(warnings) == 1 and "scene 1" in warnings[0] and "summary" in warnings[0]

    # another change in Stash makes a job for the scene: only that field is written
    pair.clock.tick()
    pair.stash.update_scene(scene_id, title="Retitled")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="reconciler"):
        second = app.reconcile_all()

    assert second.updated == 1 and pair.plex.item(key).title == "Retitled"
    last = pair.edits()[-1]
    assert "title.value" in last and "summary.value" not in last
    assert not [r for r in caplog.records if "too long" in r.getMessage()]
    assert pair.plex.item(key).summary == shown


def test_a_414_below_the_budget_splits_further_and_retries(pair, caplog):
    pair.plex.library.rules.max_request_line = 3000  # a proxy stricter than the budget
    summary = "A long English summary. " * 60  # 1,440 characters, about 2 KB of URL
    scene_id, key = pair.scene(details=summary, performers=names("Performer", 20))
    app = pair.start(fields=["title", "summary", "performers"])

    with caplog.at_level(logging.WARNING, logger="reconciler"):
        result = app.reconcile_all()

    assert (result.updated, result.dead, result.waiting) == (1, 0, 0)
    item = pair.plex.item(key)
    assert item.summary == summary.strip() and len(item.actors) == 20
    assert any("414" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if "too long for one request" in r.getMessage()]
    assert app.store.dead_letters() == []


# -- 2. posters --------------------------------------------------------------------------------


def jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(out, format="JPEG")
    return out.getvalue()


def test_a_cover_that_goes_a_b_a_shows_a(pair):
    a, b = jpeg((200, 10, 10)), jpeg((10, 10, 200))
    scene_id, key = pair.scene()
    app = pair.start(fields=["title", "poster"])
    for cover in (a, b, a):
        pair.clock.tick()
        pair.stash.set_cover(scene_id, cover)
        result = app.reconcile_all()
        assert result.updated == 1
        assert pair.plex.item(key).poster_sha1 == hashlib.sha1(cover).hexdigest()
    assert pair.plex.item(key).poster_uploads == 3


def test_an_oversize_cover_is_shrunk_below_the_upload_limit(pair):
    noise = Image.frombytes("RGB", (2000, 1800), os.urandom(2000 * 1800 * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG", compress_level=0)
    big = out.getvalue()
    assert len(big) > MAX_UPLOAD_BYTES
    scene_id, key = pair.scene()
    pair.stash.set_cover(scene_id, big)
    app = pair.start(fields=["title", "poster"])

    result = app.reconcile_all()

    assert (result.updated, result.dead, result.waiting) == (1, 0, 0)
    item = pair.plex.item(key)
    sent = pair.plex.library.blobs[item.poster_sha1]
    assert len(sent) <= MAX_UPLOAD_BYTES and sent.startswith(b"\xff\xd8")
    assert Image.open(io.BytesIO(sent)).size[0] > 0


def test_a_cover_that_cannot_be_shrunk_is_skipped_with_one_warning(pair, caplog):
    broken = b"\xff\xd8\xff\xe0" + b"\x00" * (MAX_UPLOAD_BYTES + 1000)  # a JPEG in name only
    scene_id, key = pair.scene()
    pair.stash.set_cover(scene_id, broken)
    app = pair.start(fields=["title", "poster"])
    pair.stash.update_scene(scene_id, title="Written anyway")

    with caplog.at_level(logging.WARNING, logger="reconciler"):
        result = app.reconcile_all()
        pair.clock.tick()
        pair.stash.update_scene(scene_id, title="Written again")
        again = app.reconcile_all()

    assert (result.updated, result.dead, result.waiting) == (1, 0, 0)
    assert again.updated == 1 and pair.plex.item(key).title == "Written again"
    assert pair.plex.item(key).poster_uploads == 0
    skipped = [r.getMessage() for r in caplog.records if "poster not sent" in r.getMessage()]
    assert len(skipped) == 1 and "scene 1" in skipped[0] and f"{len(broken):,}" in skipped[0]


@pytest.mark.parametrize("lock_on_upload", [True, False])
def test_the_poster_is_locked_whether_or_not_plex_locks_uploads(pair, lock_on_upload):
    pair.plex.library.rules.lock_on_upload = lock_on_upload
    scene_id, key = pair.scene()
    app = pair.start(fields=["title", "poster"])

    app.reconcile_all()
    sha1 = pair.plex.item(key).poster_sha1
    pair.plex.agent_refresh(key)

    assert "thumb" in pair.plex.item(key).locked
    assert pair.plex.item(key).poster_sha1 == sha1 is not None
    assert len(pair.edits()) == 1  # the lock rides on the edit: one write for the item


# -- 3. episodes -------------------------------------------------------------------------------


def test_an_episode_gets_only_what_plex_keeps_and_is_not_rewritten_on_every_job(shows, caplog):
    scene_id, key = shows.scene(
        "Show - S01E01", title="Pilot", details="The first.", studio="Acme", tags=["Drama"]
    )
    app = shows.start(fields=["title", "summary", "studio", "tags"])

    with caplog.at_level(logging.INFO, logger="reconciler"):
        first = app.reconcile_all()
        shows.clock.tick()
        shows.stash.update_scene(scene_id, details="The first, retold.")
        second = app.reconcile_all()

    assert (first.updated, second.updated) == (1, 1)
    item = shows.plex.item(key)
    assert (item.title, item.summary) == ("Pilot", "The first, retold.")
    assert item.studio is None and item.genres == []
    for edit in shows.edits():
        assert not {"studio.value", "genre.locked", "genre[0].tag.tag"} & set(edit)
    told = [r.getMessage() for r in caplog.records if "show library" in r.getMessage()]
    assert len(told) == 1 and "studio and tags" in told[0]


# -- 4. read-back without loops ----------------------------------------------------------------


@pytest.mark.parametrize("merged", [True, False])
def test_a_case_merged_tag_is_not_rewritten_on_the_next_pass(pair, caplog, merged):
    pair.plex.library.rules.merge_tag_case = merged
    pair.plex.add_item("Adult", "/media/other.mp4", genres=["Rock"])
    scene_id, key = pair.scene(tags=["rock", "Jazz"])
    app = pair.start(fields=["title", "tags"])

    with caplog.at_level(logging.INFO, logger="reconciler"):
        app.reconcile_all()
        for n in range(2):
            pair.clock.tick()
            pair.stash.update_scene(scene_id, title=f"Retitled {n}")
            app.reconcile_all()

    assert sorted(pair.plex.item(key).genres) == (["Jazz", "Rock"] if merged else ["Jazz", "rock"])
    first, *later = pair.edits()
    assert "genre[0].tag.tag" in first
    assert later and all("genre.locked" not in edit for edit in later)
    noted = [r.getMessage() for r in caplog.records if "taken as in sync" in r.getMessage()]
    assert len(noted) == (1 if merged else 0)
    if merged:
        assert "scene 1" in noted[0] and "tags" in noted[0]


def test_a_stamp_that_moves_after_the_write_causes_no_rewrite(pair):
    pair.plex.library.rules.updated_at_delay = 2
    scene_id, key = pair.scene(details="Stamped late.")
    app = pair.start(fields=["title", "summary"])
    pair.clock.tick()  # the edit's second is after the item's
    app.reconcile_all()
    written = len(pair.edits())
    pair.clock.tick(5)

    report = app.engine.poll()
    app.worker.drain()
    app.reconcile_all()

    assert report.plex_changed == 1  # the stamp moved after the write was read back
    assert len(pair.edits()) == written
    assert pair.plex.item(key).summary == "Stamped late."


def test_a_dry_run_shows_a_poster_that_only_needs_its_lock(pair, capsys):
    from reconciler.cli import main

    scene_id, key = pair.scene()
    app = pair.start(fields=["title", "poster"])
    app.reconcile_all()
    app.close()
    pair.app = None
    pair.clock.tick()
    pair.plex.edit_item(key, locked=pair.plex.item(key).locked - {"thumb"})  # unlocked by hand
    config = pair.tmp_path / "stashplex.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "stash": {"url": pair.stash.url, "api_key": STASH_KEY},
                "plex": {"url": pair.plex.url, "token": PLEX_TOKEN, "libraries": ["Adult"]},
                "path_map": [{"stash": "/data", "plex": "/media"}],
                "sync": {"fields": ["title", "poster"]},
                "database": str(pair.tmp_path / "stashplex.db"),
            }
        )
    )

    assert main(["--config", str(config), "--reconcile-all", "--dry-run"]) == 0

    out = capsys.readouterr().out
    assert "poster: (lock only)" in out and "1 would be updated" in out


def test_a_dry_run_does_not_offer_to_rewrite_a_shortened_value(pair):
    pair.plex.library.rules.max_request_line = 7000
    scene_id, key = pair.scene(details=JAPANESE * 67)
    app = pair.start(fields=["title", "summary"])
    app.reconcile_all()
    pair.clock.tick()
    pair.stash.update_scene(scene_id, title="Retitled")

    (planned,) = app.worker.preview(app.stash.scenes_by_ids([scene_id]))

    assert planned.rating_key == key
    assert [change.field for change in planned.edit.changes] == ["title"]

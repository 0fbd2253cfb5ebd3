"""Matching, end to end against both emulators: every file of a scene, by file name, folder scans.

A Stash scene may have several files (merged duplicates, versions) and Plex shows each as its
own item: each item gets the scene's metadata, its own diff, poster and stamps. Matching by
file name needs no path_map. `plex.scan_missing` asks Plex to scan the folder of a file it
does not list, once per folder per 10 minutes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import pytest

from reconciler.app import App
from reconciler.check import run_checks
from reconciler.config import parse_config
from reconciler.daemon import Daemon
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.sdnotify import Notifier
from reconciler.store import Store
from tests.clock import Clock

pytestmark = pytest.mark.integration

STASH_KEY = "stash-KEY-never-leaks-91c2"
PLEX_TOKEN = "plex-TOKEN-never-leaks-4d7e"
SYNCED_LOCKS = {"title", "summary", "originallyAvailableAt", "studio", "genre", "thumb"}


class Setup:
    """Both emulators, stashplex configured against them on a clock the test moves."""

    def __init__(self, tmp_path, stash: StashEmulator, plex: PlexEmulator, clock: Clock) -> None:
        self.stash, self.plex, self.clock = stash, plex, clock
        self.tmp_path = tmp_path
        plex.add_section("Adult", ["/media"])
        self.app: App | None = None

    def configure(self, **overrides) -> App:
        data = {
            "stash": {"url": self.stash.url, "api_key": STASH_KEY},
            "plex": {"url": self.plex.url, "token": PLEX_TOKEN, "libraries": ["Adult"]},
            "path_map": [{"stash": "/data", "plex": "/media"}],
            "schedule": {"process_interval": 0.001},
            "retry": {"not_found": {"base": 1, "cap": 1}},
            "database": str(self.tmp_path / "stashplex.db"),
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        self.config = parse_config(data, env={})
        self.restart()
        return self.app

    def restart(self) -> None:
        if self.app is not None:
            self.app.close()
        self.app = App(self.config, clock=self.clock)

    def daemon(self) -> Daemon:
        built = Daemon(self.config, Notifier(address=""))
        built.app = self.app
        return built

    def writes(self) -> list[tuple[str, str]]:
        return [
            (method, path)
            for (method, path), n in self.plex.request_counts().items()
            for _ in range(n)
            if method in ("PUT", "POST") and path.startswith("/library")
        ]


@pytest.fixture
def setup(tmp_path) -> Iterator[Setup]:
    stash_clock, plex_clock = Clock(), Clock()
    stash = StashEmulator(api_key=STASH_KEY, now=stash_clock).start()
    plex = PlexEmulator(token=PLEX_TOKEN, clock=plex_clock).start()
    built = Setup(tmp_path, stash, plex, Clock(time.time() + 60))
    built.stash_clock, built.plex_clock = stash_clock, plex_clock
    yield built
    if built.app is not None:
        built.app.close()
    stash.stop()
    plex.stop()


def two_file_scene(setup: Setup) -> tuple[str, int, int]:
    scene_id = setup.stash.add_scene(
        title="Two Cuts", details="One scene, two files.", date="2024-03-01",
        studio="Acme", tags=["Common"],
        files=["/data/Acme/two-cuts.mp4", "/data/Acme/Extended/two-cuts-extended.mkv"],
    )
    first = setup.plex.add_item("Adult", "/media/Acme/two-cuts.mp4")
    second = setup.plex.add_item("Adult", "/media/Acme/Extended/two-cuts-extended.mkv")
    return scene_id, first, second


# -- every file of a scene ------------------------------------------------------------------


def test_a_two_file_scene_writes_both_items_and_a_second_run_writes_nothing(setup):
    scene_id, first, second = two_file_scene(setup)
    app = setup.configure()

    summary = app.reconcile_all()

    assert (summary.updated, summary.dead, summary.waiting) == (1, 0, 0)
    for key in (first, second):
        item = setup.plex.item(key)
        assert item.title == "Two Cuts" and item.summary == "One scene, two files."
        assert item.studio == "Acme" and item.genres == ["Common"]
        assert item.locked >= SYNCED_LOCKS
        assert item.poster_sha1 is not None  # each item has its own poster
    assert setup.plex.scans() == []  # plex.scan_missing is off by default
    setup.plex.reset_log()

    again = app.reconcile_all()
    report, _ = app.engine.sweep()

    assert (again.in_sync, again.updated) == (1, 0)
    assert report.queued == 0  # each item is known as stashplex left it
    assert setup.writes() == []


def test_a_change_in_stash_reaches_both_items_and_nothing_else(setup):
    scene_id, first, second = two_file_scene(setup)
    app = setup.configure()
    app.reconcile_all()
    daemon = setup.daemon()
    daemon.poll()  # stashplex's own writes: no outside edit on either item
    setup.plex.reset_log()
    assert setup.app.store.job_for(scene_id) is None

    setup.stash_clock.tick()
    setup.stash.update_scene(scene_id, title="Two Cuts, retitled")
    daemon.poll()

    assert setup.plex.item(first).title == "Two Cuts, retitled"
    assert setup.plex.item(second).title == "Two Cuts, retitled"
    assert [method for method, _ in setup.writes()] == ["PUT", "PUT"]  # one edit per item
    setup.plex.reset_log()
    daemon.poll()
    assert setup.writes() == []


def test_dry_run_lists_what_each_item_of_the_scene_would_get(setup, capsys):
    from reconciler.cli import cmd_reconcile_all

    scene_id, first, second = two_file_scene(setup)
    setup.plex.edit_item(first, title="Two Cuts")  # the first item has the title, unlocked
    setup.configure()
    setup.plex.reset_log()

    class Args:
        dry_run = True

    assert cmd_reconcile_all(setup.config, Args()) == 0

    out = capsys.readouterr().out
    assert f"scene {scene_id} ('Two Cuts') -> Plex item {first}" in out
    assert f"scene {scene_id} ('Two Cuts') -> Plex item {second}" in out
    first_part, second_part = out.split(f"-> Plex item {second}")
    assert "title: 'Two Cuts' -> 'Two Cuts' (lock only)" in first_part  # its own diff
    assert "-> 'Two Cuts'\n" in second_part.split("summary")[0]
    assert "1 would be updated" in out
    assert setup.writes() == []


def test_an_outside_edit_of_the_second_item_is_reverted_on_that_item_alone(setup):
    scene_id, first, second = two_file_scene(setup)
    app = setup.configure()
    app.reconcile_all()
    setup.plex_clock.tick()
    setup.plex.edit_item(second, title="Renamed by hand")
    setup.plex.reset_log()

    setup.daemon().poll()

    assert setup.plex.item(second).title == "Two Cuts"
    assert setup.writes() == [("PUT", "/library/sections/1/all")]
    assert setup.plex.item(first).title == "Two Cuts"


def test_a_second_file_plex_scans_later_is_written_when_plex_lists_it(setup):
    setup.stash.add_scene(
        title="Late Copy", tags=["Common"],
        files=["/data/Acme/late.mp4", "/data/Acme/late-4k.mp4"],
    )
    first = setup.plex.add_item("Adult", "/media/Acme/late.mp4")
    app = setup.configure()

    summary = app.reconcile_all()

    assert (summary.updated, summary.waiting, summary.dead) == (1, 0, 0)
    assert setup.plex.item(first).title == "Late Copy"
    setup.plex_clock.tick()
    second = setup.plex.add_item("Adult", "/media/Acme/late-4k.mp4")
    setup.plex.reset_log()

    setup.daemon().poll()

    assert setup.plex.item(second).title == "Late Copy"
    # the new item alone: its poster and one edit
    assert setup.writes() == [
        ("POST", f"/library/metadata/{second}/posters"), ("PUT", "/library/sections/1/all")
    ]


def ambiguous_second_file(setup: Setup) -> tuple[str, int, int, int]:
    scene_id = setup.stash.add_scene(
        title="Doubled", files=["/data/Acme/doubled.mp4", "/data/Acme/doubled-alt.mp4"],
    )
    first = setup.plex.add_item("Adult", "/media/Acme/doubled.mp4", title="old")
    twin_a = setup.plex.add_item("Adult", "/media/Acme/doubled-alt.mp4", title="old")
    twin_b = setup.plex.add_item("Adult", "/media/Acme/doubled-alt.mp4", title="old")
    return scene_id, first, twin_a, twin_b


def test_strict_matching_dead_letters_a_scene_one_of_whose_files_plex_holds_twice(setup):
    scene_id, first, twin_a, twin_b = ambiguous_second_file(setup)
    app = setup.configure()

    summary = app.reconcile_all()

    assert (summary.updated, summary.dead) == (0, 1)
    (letter,) = app.store.dead_letters()
    assert letter.scene_id == scene_id
    assert "/media/acme/doubled-alt.mp4" in letter.error_message.lower()
    assert f"{twin_a}, {twin_b}" in letter.error_message
    assert "strict_matching" in letter.error_message
    assert [setup.plex.item(k).title for k in (first, twin_a, twin_b)] == ["old"] * 3


def test_without_strict_matching_the_ambiguous_file_takes_its_first_item(setup):
    scene_id, first, twin_a, twin_b = ambiguous_second_file(setup)
    app = setup.configure(sync={"strict_matching": False})

    summary = app.reconcile_all()

    assert (summary.updated, summary.dead) == (1, 0)
    titles = [setup.plex.item(k).title for k in (first, twin_a, twin_b)]
    assert titles == ["Doubled", "Doubled", "old"]


# -- by file name ---------------------------------------------------------------------------


def filename_setup(setup: Setup) -> dict[str, int]:
    setup.plex.add_section("More", ["/srv/other"])
    setup.stash.add_scene(title="Upper Case", files=["/stash/library/Upper-Case.MP4"])
    setup.stash.add_scene(title="Elsewhere", files=["D:\\Stash\\Sub\\elsewhere.mkv"])
    return {
        "upper": setup.plex.add_item("Adult", "/media/deep/folder/upper-case.mp4"),
        "elsewhere": setup.plex.add_item("More", "/srv/other/Elsewhere.MKV"),
    }


def test_filename_matching_ignores_case_and_folders_across_libraries(setup):
    keys = filename_setup(setup)
    app = setup.configure(match="filename", path_map=[],
                          plex={"libraries": ["Adult", "More"]})

    summary = app.reconcile_all()

    assert (summary.updated, summary.unmatched, summary.dead) == (2, 0, 0)
    assert setup.plex.item(keys["upper"]).title == "Upper Case"
    assert setup.plex.item(keys["elsewhere"]).title == "Elsewhere"
    setup.plex.reset_log()
    assert app.reconcile_all().updated == 0 and setup.writes() == []


def test_filename_matching_dead_letters_a_name_two_libraries_hold(setup):
    keys = filename_setup(setup)
    twin = setup.plex.add_item("More", "/srv/other/x/UPPER-case.mp4", title="old")
    app = setup.configure(match="filename", path_map=[],
                          plex={"libraries": ["Adult", "More"]})

    summary = app.reconcile_all()

    assert (summary.updated, summary.dead) == (1, 1)
    (letter,) = app.store.dead_letters()
    assert "'upper-case.mp4'" in letter.error_message
    assert f"{keys['upper']}, {twin}" in letter.error_message
    assert setup.plex.item(keys["upper"]).title != "Upper Case"
    assert setup.plex.item(twin).title == "old"


def test_filename_matching_claims_an_item_plex_scans_later(setup):
    filename_setup(setup)
    scene_id = setup.stash.add_scene(title="Newcomer", files=["/stash/in/Newcomer.mp4"])
    app = setup.configure(match="filename", path_map=[],
                          plex={"libraries": ["Adult", "More"]})
    summary = app.reconcile_all()
    assert (summary.updated, summary.unmatched) == (2, 1)  # no library holds its name yet
    setup.plex_clock.tick()
    key = setup.plex.add_item("More", "/srv/other/NEWCOMER.mp4")

    setup.daemon().poll()

    assert setup.plex.item(key).title == "Newcomer"
    assert app.store.scene_states([scene_id])[scene_id].rating_key == key


def test_check_with_filename_matching_needs_no_path_map(setup):
    filename_setup(setup)
    setup.configure(match="filename", path_map=[], plex={"libraries": ["Adult", "More"]})
    lines: list[str] = []

    code = run_checks(setup.config, say=lines.append)

    assert code == 0, lines
    assert "ok    match: filename: 2 of 2 sampled Stash scenes found in Plex by file name" in lines
    assert not any("path_map" in line for line in lines)


# -- plex.scan_missing ----------------------------------------------------------------------


def test_scan_missing_asks_once_per_folder_per_ten_minutes_and_the_item_is_then_found(setup):
    found_later = setup.stash.add_scene(title="Found Later", files=["/data/New/found.mp4"])
    never = setup.stash.add_scene(title="Never Scanned", files=["/data/New/never.mp4"])
    setup.plex.stage_item("Adult", "/media/New/found.mp4")
    app = setup.configure(plex={"scan_missing": True})

    first = app.reconcile_all()

    assert (first.updated, first.waiting) == (0, 2)  # both not found: not-found retries
    assert setup.plex.scans() == [(1, "/media/New")]  # one folder, asked once
    setup.clock.tick(60)
    setup.restart()  # when it asked is kept in the database, not in the process

    second = setup.app.worker.drain()

    assert second.applied == 1 and second.retried == 1
    (key,) = [it.rating_key for it in setup.plex.items() if "/media/New/found.mp4" in it.files]
    assert setup.plex.item(key).title == "Found Later"
    assert setup.plex.scans() == [(1, "/media/New")]  # within ten minutes: not asked again
    setup.clock.tick(600)

    setup.app.worker.drain()

    assert setup.plex.scans() == [(1, "/media/New"), (1, "/media/New")]
    assert setup.app.store.job_for(never) is not None
    assert setup.app.store.job_for(found_later) is None


# -- the database ---------------------------------------------------------------------------


def test_a_database_from_before_the_item_table_opens_and_keeps_working(setup):
    scene_id, first, second = two_file_scene(setup)
    database = setup.tmp_path / "stashplex.db"
    Store(database).close()
    old = sqlite3.connect(database)
    old.execute('DROP TABLE "scene_item"')
    old.execute('DROP TABLE "folder_scan"')
    old.commit()
    old.close()
    reader = Store(database, read_only=True)
    assert reader.item_states([scene_id]) == {}
    reader.close()
    app = setup.configure()

    assert app.reconcile_all().updated == 1
    assert setup.plex.item(second).title == "Two Cuts"
    assert set(app.store.item_states([scene_id])[scene_id]) == {first, second}
    assert app.store.scene_states([scene_id])[scene_id].rating_key == first

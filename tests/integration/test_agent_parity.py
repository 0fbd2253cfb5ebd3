"""What StashPlexAgent users see in Plex, written by `--reconcile-all` against both emulators:
year, content rating and the title template, and which scenes and tags are
synced at all. Each test checks what Plex shows, that a second run writes nothing, and
what a change on the Stash side does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.app import App
from reconciler.config import parse_config
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from tests.clock import Clock

pytestmark = pytest.mark.integration

STASH_KEY = "stash-KEY-never-leaks-91c2"
PLEX_TOKEN = "plex-TOKEN-never-leaks-4d7e"


class Setup:
    def __init__(self, tmp_path, stash: StashEmulator, plex: PlexEmulator) -> None:
        self.tmp_path, self.stash, self.plex = tmp_path, stash, plex
        plex.add_section("Adult", ["/media"])
        self.keys: dict[str, int] = {}
        self.app: App | None = None

    def scene(self, name: str, **fields) -> str:
        fields.setdefault("files", [f"/data/{name}.mp4"])
        scene_id = self.stash.add_scene(**fields)
        self.keys[scene_id] = self.plex.add_item("Adult", f"/media/{name}.mp4")
        return scene_id

    def run(self, **sync):
        """One `--reconcile-all` with these `sync` settings (the database is kept)."""
        if self.app is not None:
            self.app.close()
        config = parse_config({
            "stash": {"url": self.stash.url, "api_key": STASH_KEY},
            "plex": {"url": self.plex.url, "token": PLEX_TOKEN, "libraries": ["Adult"]},
            "path_map": [{"stash": "/data", "plex": "/media"}],
            "sync": sync,
            "database": str(self.tmp_path / "stashplex.db"),
        }, env={})
        self.app = App(config)
        self.plex.reset_log()
        return self.app.reconcile_all()

    def item(self, scene_id: str):
        return self.plex.item(self.keys[scene_id])

    def writes(self) -> int:
        return sum(n for (method, path), n in self.plex.request_counts().items()
                   if method in ("PUT", "POST") and path.startswith("/library"))


@pytest.fixture
def setup(tmp_path) -> Iterator[Setup]:
    stash = StashEmulator(api_key=STASH_KEY, now=Clock()).start()
    plex = PlexEmulator(token=PLEX_TOKEN, clock=Clock()).start()
    built = Setup(tmp_path, stash, plex)
    yield built
    if built.app is not None:
        built.app.close()
    stash.stop()
    plex.stop()


# -- §3: year, content rating, title template ------------------------------------------------


def test_year_and_content_rating_are_written_locked_once_and_follow_stash(setup):
    scene = setup.scene("a", title="Beach", date="2021-06-05", studio="Acme")
    setup.plex.library.edit_item(setup.keys[scene], content_rating="R")

    assert setup.run().updated == 1
    item = setup.item(scene)
    assert (item.year, item.content_rating) == (2021, "XXX")
    assert {"year", "contentRating"} <= item.locked

    again = setup.run()
    assert (again.updated, again.in_sync, setup.writes()) == (0, 1, 0)

    setup.stash.update_scene(scene, date="2019-01-02")
    assert setup.run().updated == 1
    assert setup.item(scene).year == 2019


def test_an_empty_content_rating_setting_leaves_plexs_own(setup):
    scene = setup.scene("a", title="Beach", date="2021-06-05")
    setup.plex.library.edit_item(setup.keys[scene], content_rating="R")

    setup.run(content_rating="", clear_empty=True)
    item = setup.item(scene)
    assert item.content_rating == "R" and "contentRating" not in item.locked


def test_the_title_template_is_what_plex_shows_and_a_new_template_resyncs(setup):
    titled = setup.scene("a", title="Beach", date="2021-06-05", studio="Acme", code="AC-1")
    untitled = setup.scene("Pool Party.final", studio="Acme")

    setup.run(title_format="{studio} - {title} ({year})")
    assert setup.item(titled).title == "Acme - Beach (2021)"
    assert setup.item(untitled).title == "Acme - Pool Party.final"
    assert "title" in setup.item(titled).locked
    assert setup.run(title_format="{studio} - {title} ({year})").updated == 0
    assert setup.writes() == 0

    setup.run(title_format="[{code}] {title}")
    assert setup.item(titled).title == "[AC-1] Beach"
    assert setup.item(untitled).title == "Pool Party.final"


def test_title_fallback_none_leaves_an_untitled_items_title_alone(setup):
    untitled = setup.scene("raw-file")
    shown = setup.item(untitled).title

    setup.run(title_fallback="none")
    item = setup.item(untitled)
    assert item.title == shown and "title" not in item.locked


# -- §4: which scenes, which tags ----------------------------------------------------------


def test_require_leaves_unorganized_scenes_alone_until_they_pass(setup):
    ready = setup.scene("a", title="Ready", organized=True)
    waiting = setup.scene("b", title="Waiting", organized=False)
    untouched = setup.item(waiting).title

    summary = setup.run(require=["organized"])
    assert (summary.seen, summary.updated, summary.skipped_required, summary.dead) == (2, 1, 1, 0)
    assert "skipped by sync.require: 1" in summary.lines()
    assert setup.item(ready).title == "Ready"
    assert setup.item(waiting).title == untouched and not setup.item(waiting).locked
    assert setup.app.store.dead_letters() == []

    again = setup.run(require=["organized"])
    assert (again.updated, again.skipped_required, setup.writes()) == (0, 1, 0)

    setup.stash.update_scene(waiting, organized=True)  # the daemon's poll sees it now
    setup.plex.reset_log()
    setup.app.engine.poll()
    setup.app.worker.drain()
    assert setup.item(waiting).title == "Waiting" and "title" in setup.item(waiting).locked


def test_require_stash_id_and_url_each_gate(setup):
    both = setup.scene("a", title="Both", urls=["https://example.com/a"])
    setup.stash.update_scene(both, stash_ids=[{"endpoint": "https://stashdb.org/graphql",
                                               "stash_id": "0f2c"}])
    url_only = setup.scene("b", title="Url only", urls=["https://example.com/b"])

    summary = setup.run(require=["stash_id", "url"])
    assert (summary.updated, summary.skipped_required) == (1, 1)
    assert setup.item(both).title == "Both" and setup.item(url_only).title != "Url only"


def test_exclude_tags_skip_a_scene_until_the_tag_is_removed(setup):
    private = setup.scene("a", title="Private one", tags=["private", "Outdoor"])
    summary = setup.run(exclude_tags=["Private"])
    assert (summary.updated, summary.skipped_required) == (0, 1)
    assert setup.item(private).title != "Private one"

    setup.stash.update_scene(private, tags=["Outdoor"])
    summary = setup.run(exclude_tags=["Private"])
    assert summary.updated == 1 and setup.item(private).genres == ["Outdoor"]


def test_ignored_tags_never_become_genres(setup):
    scene = setup.scene("a", title="Beach", tags=["Outdoor", "favorite", "Summer"])

    setup.run(ignore_tags=["Favorite"])
    assert setup.item(scene).genres == ["Outdoor", "Summer"]
    assert setup.run(ignore_tags=["Favorite"]).updated == 0 and setup.writes() == 0

    setup.run(ignore_tags=[])  # no longer ignored: the next pass writes it
    assert setup.item(scene).genres == ["favorite", "Outdoor", "Summer"]


# -- §2: the collection tags stashplex adds are its own ------------------------------------


def test_the_studio_collection_follows_the_studio_and_hand_made_ones_stay(setup):
    scene = setup.scene("a", title="Beach", studio="Acme")
    setup.run()
    assert setup.item(scene).collections == ["Acme"]
    setup.plex.library.edit_item(setup.keys[scene], collections=["Acme", "Favourites"])

    setup.stash.update_scene(scene, studio="Beta")
    setup.run()
    assert sorted(setup.item(scene).collections) == ["Beta", "Favourites"]
    assert "collection" in setup.item(scene).locked
    assert setup.run().updated == 0 and setup.writes() == 0

    setup.stash.update_scene(scene, studio=None)
    setup.run()
    assert setup.item(scene).collections == ["Favourites"]


def test_a_collection_the_item_had_before_stashplex_is_never_taken_off(setup):
    scene = setup.scene("a", title="Beach", studio="Acme")
    setup.plex.library.edit_item(setup.keys[scene], collections=["Acme"])
    setup.run()

    setup.stash.update_scene(scene, studio="Beta")
    setup.run()
    assert sorted(setup.item(scene).collections) == ["Acme", "Beta"]

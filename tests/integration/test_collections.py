"""The `collections:` rules end to end, against both emulators: what Plex shows after
`--reconcile-all` and after the daemon's polls, that a second run writes nothing, what a
change in Stash or in the rules does, and that collections made in Plex stay."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from plexapi.server import PlexServer

from reconciler.app import App
from reconciler.config import parse_config
from reconciler.daemon import Daemon
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.sdnotify import Notifier
from tests.clock import Clock

pytestmark = pytest.mark.integration

STASH_KEY = "stash-KEY-never-leaks-91c2"
PLEX_TOKEN = "plex-TOKEN-never-leaks-4d7e"

AGENT_RULES = [
    {"from": "studio", "name": "Site: {name}"},
    {"from": "parent_studio", "name": "Studio: {name}", "fallback": "studio"},
    {"from": "groups", "name": "Movie: {name}"},
    {"from": "performers", "name": "Actor: {name}"},
    {"from": "tags", "name": "{name}", "only": ["Compilation", "VR"]},
    {"from": "organized", "name": "Organized"},
    {"from": "rating", "name": "Rating: {stars} Stars"},
]


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

    def config(self, rules, **sync):
        data = {
            "stash": {"url": self.stash.url, "api_key": STASH_KEY},
            "plex": {"url": self.plex.url, "token": PLEX_TOKEN, "libraries": ["Adult"]},
            "path_map": [{"stash": "/data", "plex": "/media"}],
            "sync": {"fields": ["title", "collection"], **sync},
            "database": str(self.tmp_path / "stashplex.db"),
        }
        if rules is not None:
            data["collections"] = rules
        return parse_config(data, env={})

    def run(self, rules=AGENT_RULES, **sync):
        """One `--reconcile-all` with these rules (the database is kept)."""
        if self.app is not None:
            self.app.close()
        self.app = App(self.config(rules, **sync))
        self.plex.reset_log()
        return self.app.reconcile_all()

    def daemon(self, rules=AGENT_RULES) -> Daemon:
        """The daemon's jobs, to run one at a time by hand (its first poll is a full pass)."""
        if self.app is not None:
            self.app.close()
        config = self.config(rules)
        self.app = App(config, clock=Clock(time.time() + 60))  # jobs queued now are due
        built = Daemon(config, Notifier(address=""))
        built.app = self.app
        return built

    def collections(self, scene_id: str) -> list[str]:
        return sorted(self.plex.item(self.keys[scene_id]).collections, key=str.casefold)

    def writes(self) -> int:
        return sum(n for (method, path), n in self.plex.request_counts().items()
                   if method in ("PUT", "POST") and path.startswith("/library"))


@pytest.fixture
def setup(tmp_path) -> Iterator[Setup]:
    stash_clock = Clock()
    stash = StashEmulator(api_key=STASH_KEY, now=stash_clock).start()
    plex = PlexEmulator(token=PLEX_TOKEN, clock=Clock()).start()
    built = Setup(tmp_path, stash, plex)
    built.stash_clock = stash_clock
    yield built
    if built.app is not None:
        built.app.close()
    stash.stop()
    plex.stop()


def beach(setup: Setup, **fields) -> str:
    setup.stash.add_studio("Acme", parent="Acme Group")
    values = dict(
        title="Beach", studio="Acme", groups=["Summer Tour"], performers=["Ann", "Bo"],
        tags=["VR", "Outdoor"], organized=True, rating100=87,
    )
    values.update(fields)
    return setup.scene("beach", **values)


@pytest.mark.parametrize("merged", [False, True], ids=["case-kept", "case-merged"])
def test_the_agents_collections_show_in_plex_locked_and_a_second_run_writes_nothing(
    setup, merged
):
    setup.plex.library.rules.merge_tag_case = merged  # plex-http.md §8: [U], both ways
    other = setup.scene("other", title="Other")
    setup.plex.library.edit_item(setup.keys[other], collections=["actor: ann"])
    scene = beach(setup)

    assert setup.run().updated == 2
    actor_ann = "actor: ann" if merged else "Actor: Ann"  # a merging PMS keeps its spelling
    assert setup.collections(scene) == sorted([
        "Site: Acme", "Studio: Acme Group", "Movie: Summer Tour", actor_ann, "Actor: Bo",
        "VR", "Organized", "Rating: 4 Stars"], key=str.casefold)
    assert "collection" in setup.plex.item(setup.keys[scene]).locked
    library = PlexServer(setup.plex.url, PLEX_TOKEN).library.section("Adult")
    shown = {c.title: c.childCount for c in library.collections()}  # Plex's Collections tab
    if merged:
        assert shown["actor: ann"] == 2 and "Actor: Ann" not in shown
    else:
        assert shown["actor: ann"] == 1 and shown["Actor: Ann"] == 1
    assert shown["Site: Acme"] == 1 and shown["Rating: 4 Stars"] == 1

    assert setup.run().updated == 0 and setup.writes() == 0
    assert setup.run().updated == 0 and setup.writes() == 0


def test_a_new_parent_studio_moves_the_studio_collection_and_the_users_stays(setup):
    setup.stash.add_studio("Indie")
    scene = setup.scene("beach", title="Beach", studio="Indie")
    rules = [{"from": "parent_studio", "name": "Studio: {name}", "fallback": "studio"}]
    setup.run(rules)
    assert setup.collections(scene) == ["Studio: Indie"]
    setup.plex.library.edit_item(setup.keys[scene], collections=["Studio: Indie", "Favourites"])

    setup.stash.set_studio_parent("Indie", "Big Group")  # the studio changes, not the scene
    setup.run(rules)

    assert setup.collections(scene) == ["Favourites", "Studio: Big Group"]
    assert setup.run(rules).updated == 0 and setup.writes() == 0


def test_the_daemon_follows_a_renamed_parent_studio_onto_its_childrens_scenes(setup):
    setup.stash.add_studio("Acme", parent="Acme Group")
    scene = setup.scene("beach", title="Beach", studio="Acme")
    other = setup.scene("other", title="Other")
    daemon = setup.daemon([{"from": "parent_studio", "name": "Studio: {name}"}])
    daemon.poll()  # the first full pass
    assert setup.collections(scene) == ["Studio: Acme Group"]
    setup.stash_clock.tick(60)
    setup.stash.update_scene(other, title="Other, edited")  # the poll's watermark moves on
    daemon.poll()

    setup.stash_clock.tick(60)
    setup.stash.rename_studio("Acme Group", "Acme Holdings")  # moves the parent's stamp only
    daemon.poll()

    assert setup.collections(scene) == ["Studio: Acme Holdings"]
    assert setup.app.store.jobs() == []


def test_a_tag_that_leaves_the_only_list_takes_its_collection_off(setup):
    scene = beach(setup)
    rules = [{"from": "tags", "name": "Tag: {name}", "only": ["VR", "Compilation"]}]
    setup.run(rules)
    assert setup.collections(scene) == ["Tag: VR"]
    setup.plex.library.edit_item(setup.keys[scene], collections=["Tag: VR", "Tag: Outdoor"])

    setup.stash.update_scene(scene, tags=["Outdoor", "Compilation"])  # VR removed in Stash
    setup.run(rules)
    assert setup.collections(scene) == ["Tag: Compilation", "Tag: Outdoor"]

    narrower = [{"from": "tags", "name": "Tag: {name}", "only": ["VR"]}]  # the rule changes
    setup.run(narrower)
    assert setup.collections(scene) == ["Tag: Outdoor"]  # the user's own one is left alone
    assert setup.run(narrower).updated == 0 and setup.writes() == 0


def test_ignored_tags_never_become_tag_collections(setup):
    scene = beach(setup, tags=["VR", "Solo", "Outdoor"])
    setup.run([{"from": "tags"}], ignore_tags=["solo", "OUTDOOR"])
    assert setup.collections(scene) == ["VR"]


def test_the_daemon_adds_organized_once_the_scene_becomes_organized(setup):
    scene = beach(setup, organized=False)
    daemon = setup.daemon([{"from": "organized", "name": "Organized"}])
    daemon.poll()
    assert setup.collections(scene) == []

    setup.stash.update_scene(scene, organized=True)
    setup.plex.reset_log()
    daemon.poll()
    assert setup.collections(scene) == ["Organized"]
    assert setup.writes() == 1

    setup.plex.reset_log()
    daemon.poll()
    assert setup.writes() == 0


def test_a_new_rating_moves_the_stars_collection(setup):
    scene = beach(setup, rating100=87)
    rules = [{"from": "rating", "name": "Rating: {stars} Stars"}]
    setup.run(rules)
    assert setup.collections(scene) == ["Rating: 4 Stars"]

    setup.stash.update_scene(scene, rating100=45)
    setup.run(rules)
    assert setup.collections(scene) == ["Rating: 2 Stars"]

    setup.stash.update_scene(scene, rating100=15)  # below one star: no stars collection
    setup.run(rules)
    assert setup.collections(scene) == []


def test_a_renamed_group_reaches_plex_on_the_next_full_pass(setup):
    scene = beach(setup)
    rules = [{"from": "groups", "name": "Movie: {name}"}]
    setup.run(rules)
    assert setup.collections(scene) == ["Movie: Summer Tour"]

    setup.stash.rename_group("Summer Tour", "Summer Tour 2024")  # the scene's stamp stays
    setup.run(rules)
    assert setup.collections(scene) == ["Movie: Summer Tour 2024"]


def test_a_rule_removed_from_the_config_takes_off_only_what_it_added(setup):
    scene = beach(setup)
    setup.plex.library.edit_item(setup.keys[scene], collections=["Site: Acme"])  # the user's
    rules = [{"from": "studio", "name": "Site: {name}"}, {"from": "performers"}]
    setup.run(rules)
    assert setup.collections(scene) == ["Ann", "Bo", "Site: Acme"]
    setup.plex.library.edit_item(setup.keys[scene], collections=["Ann", "Bo", "Site: Acme",
                                                                 "Favourites"])

    setup.run(rules[:1])  # the performers rule deleted, nothing changed in Stash
    assert setup.collections(scene) == ["Favourites", "Site: Acme"]

    setup.run([])  # no rules: the user's, and the one the item had before, stay
    assert setup.collections(scene) == ["Favourites", "Site: Acme"]
    assert setup.run([]).updated == 0 and setup.writes() == 0


def test_studio_collection_stays_the_shorthand_without_a_collections_key(setup):
    scene = beach(setup)
    setup.run(None)
    assert setup.collections(scene) == ["Acme"]
    setup.run(None, studio_collection=False)
    assert setup.collections(scene) == []

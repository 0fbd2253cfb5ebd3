"""The `collections:` rules: what they accept, and which collections they give a scene."""

import subprocess
import sys

import pytest

from reconciler.collections import collection_names
from reconciler.config import parse_config
from reconciler.diff import content_hash, diff
from reconciler.errors import ConfigError
from reconciler.models import PlexItem, Scene

ISSUE_RULES = [
    {"from": "studio", "name": "Site: {name}"},
    {"from": "parent_studio", "name": "Studio: {name}", "fallback": "studio"},
    {"from": "groups", "name": "Movie: {name}"},
    {"from": "performers", "name": "Actor: {name}"},
    {"from": "tags", "name": "{name}", "only": ["Compilation", "VR"]},
    {"from": "organized", "name": "Organized"},
    {"from": "rating", "name": "Rating: {stars} Stars"},
]


def sync_for(rules, **sync):
    data = {"sync": sync} if sync else {}
    if rules is not None:
        data["collections"] = rules
    return parse_config(data, env={}).sync


def scene(**fields) -> Scene:
    values = {
        "id": "7",
        "title": "Beach",
        "studio": "Acme West",
        "parent_studio": "Acme",
        "groups": ["Summer Tour"],
        "performers": ["Ann", "Bo"],
        "tags": ["vr", "Outdoor"],
        "organized": True,
        "rating100": 87,
    }
    values.update(fields)
    return Scene(**values)


def test_the_issues_rules_give_one_collection_per_name():
    names = collection_names(scene(), sync_for(ISSUE_RULES))
    assert names == [
        "Site: Acme West",
        "Studio: Acme",
        "Movie: Summer Tour",
        "Actor: Ann",
        "Actor: Bo",
        "vr",
        "Organized",
        "Rating: 4 Stars",
    ]


def test_a_studio_without_parent_falls_back_to_the_studio():
    rules = [{"from": "parent_studio", "name": "Studio: {name}", "fallback": "studio"}]
    assert collection_names(scene(parent_studio=None), sync_for(rules)) == ["Studio: Acme West"]
    without_fallback = [{"from": "parent_studio", "name": "Studio: {name}"}]
    assert collection_names(scene(parent_studio=None), sync_for(without_fallback)) == []


@pytest.mark.parametrize("rating, shown", [(None, []), (19, []), (20, ["1 Stars"]),
                                           (99, ["4 Stars"]), (100, ["5 Stars"])])
def test_stars_are_rating100_by_twenty_and_only_from_one_star(rating, shown):
    rules = [{"from": "rating", "name": "{stars} Stars"}]
    assert collection_names(scene(rating100=rating), sync_for(rules)) == shown


def test_except_and_ignored_tags_keep_names_out():
    rules = [{"from": "tags", "except": ["OUTDOOR"]}]
    assert collection_names(scene(tags=["VR", "Outdoor", "Solo"]), sync_for(rules)) == [
        "VR", "Solo"]
    ignored = sync_for([{"from": "tags"}], ignore_tags=["solo"])
    assert collection_names(scene(tags=["VR", "Solo"]), ignored) == ["VR"]


def test_without_a_collections_key_the_studio_collection_stays_the_default():
    assert collection_names(scene(), sync_for(None)) == ["Acme West"]
    assert collection_names(scene(), sync_for(None, studio_collection=False)) == []
    assert collection_names(scene(), sync_for([])) == []


def test_the_rules_are_part_of_the_content_hash():
    before = content_hash(scene(), sync_for(ISSUE_RULES))
    assert content_hash(scene(), sync_for(ISSUE_RULES)) == before
    assert content_hash(scene(), sync_for(ISSUE_RULES[:-1])) != before
    assert content_hash(scene(groups=["Winter Tour"]), sync_for(ISSUE_RULES)) != before
    assert content_hash(scene(organized=False), sync_for(ISSUE_RULES)) != before


@pytest.mark.parametrize(
    "data, message",
    [
        ({"collections": {"from": "studio"}}, "collections: expected a list of rules"),
        ({"collections": None}, "collections: expected a list of rules (or [] for none), got "
                                "nothing"),
        ({"collections": ["studio"]}, "collections[0]: expected a mapping"),
        ({"collections": [{"from": "studio"}, {"from": "studios"}]},
         "collections[1].from: expected one of studio, parent_studio, groups, performers, "
         "tags, organized, rating, got 'studios'"),
        ({"collections": [{"name": "x"}]}, "collections[0].from: expected one of"),
        ({"collections": [{"from": "studio", "title": "x"}]},
         "collections[0].title: unknown key; expected one of from, name, fallback, only, except"),
        ({"collections": [{"from": "studio", "name": "{stars}"}]},
         "collections[0].name: unknown placeholder {stars} for from: studio; expected {name}"),
        ({"collections": [{"from": "rating", "name": "{name}"}]},
         "collections[0].name: unknown placeholder {name} for from: rating; expected {stars}"),
        ({"collections": [{"from": "organized", "name": "{name}"}]},
         "collections[0].name: unknown placeholder {name} for from: organized; expected none"),
        ({"collections": [{"from": "tags", "name": "Tag: {name"}]}, "collections[0].name: "),
        ({"collections": [{"from": "tags", "name": ""}]}, "collections[0].name: expected"),
        ({"collections": [{"from": "tags", "only": ["VR"], "except": ["Solo"]}]},
         "collections[0]: only and except together"),
        ({"collections": [{"from": "tags", "only": "VR"}]},
         "collections[0].only: expected a list of names, got 'VR'"),
        ({"collections": [{"from": "rating", "except": ["1"]}]},
         "collections[0].except: from: rating has no names"),
        ({"collections": [{"from": "studio", "fallback": "rating"}]},
         "collections[0].fallback: expected another of"),
        ({"collections": [{"from": "studio"}], "sync": {"studio_collection": True}},
         "sync.studio_collection: shorthand for collections: [{from: studio}]"),
        ({"sync": {"collections": []}}, "sync.collections: unknown key"),
        ({"collections": [{"from": "tags", "name": "{name:d}"}]},
         "collections[0].name: cannot fill in '{name:d}'"),
        ({"colections": []}, "colections: unknown key; expected one of collections, database"),
    ],
)
def test_each_rule_mistake_gives_one_line_naming_the_key(data, message):
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_rule_mistake_in_the_file_exits_2_with_one_line(tmp_path):
    config = tmp_path / "stashplex.yaml"
    config.write_text(
        "collections:\n  - {from: studio}\n  - {from: tags, only: [VR], except: [X]}\n"
    )
    result = subprocess.run([sys.executable, "-m", "reconciler", "--config", str(config), "check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "stashplex.yaml: collections[1]: only and except together" in result.stderr


def plex_item(collections, locked=("collection",)) -> PlexItem:
    return PlexItem(rating_key=1, section_id=1, collections=list(collections), locked=set(locked))


def collection_edit(scene_, item, rules, owned=()):
    sync = sync_for(rules, fields=["collection"])
    return {c.field: c.new for c in diff(scene_, item, sync, owned=set(owned)).changes}


def test_the_diff_adds_every_rules_collection_and_takes_off_only_owned_ones():
    rules = [{"from": "studio", "name": "Site: {name}"}, {"from": "tags", "only": ["VR"]}]
    mine = plex_item(["Favourites", "Site: Old", "Rating: 2 Stars"])
    edit = collection_edit(scene(), mine, rules, owned={"Site: Old", "rating: 2 stars"})
    assert edit == {"collection": ("Favourites", "Site: Acme West", "vr")}
    # in sync: nothing, whatever case Plex kept a name in
    shown = plex_item(["Favourites", "site: acme west", "VR"])
    assert collection_edit(scene(), shown, rules, owned={"Site: Acme West", "vr"}) == {}
    # not locked yet: written again with its lock
    unlocked = plex_item(["Site: Acme West", "vr"], locked=())
    assert collection_edit(scene(), unlocked, rules) == {"collection": ("Site: Acme West", "vr")}
    # no rule applies any more: the owned ones go, the user's stay
    edit = collection_edit(scene(), shown, [], owned={"Site: Acme West", "vr"})
    assert edit == {"collection": ("Favourites",)}


def _commented_block(text: str) -> str:
    start = text.index("# collections:\n")
    lines = []
    for line in text[start:].splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[2:])
    return "\n".join(lines)


def test_the_documented_rules_are_the_ones_the_tests_use(pathlib_root):
    import yaml

    text = (pathlib_root / "stashplex.yaml.example").read_text()
    example = yaml.safe_load(_commented_block(text))
    readme = (pathlib_root / "README.md").read_text()
    sample = readme[readme.index("```yaml\ncollections:") + len("```yaml\n"):]
    documented = yaml.safe_load(sample[: sample.index("```")])
    assert example["collections"] == documented["collections"] == ISSUE_RULES


def test_the_rules_are_not_an_environment_variable():
    with pytest.raises(ConfigError) as info:
        parse_config({}, env={"STASHPLEX_SYNC_COLLECTIONS": "studio"})
    assert "STASHPLEX_SYNC_COLLECTIONS: unknown setting" in str(info.value)
    assert "COLLECTIONS" not in str(info.value).split("expected one of")[1]


def test_rules_without_the_collection_field_warn_that_they_write_nothing():
    quiet = parse_config({"collections": [{"from": "studio"}]}, env={})
    off = parse_config(
        {"collections": [{"from": "studio"}], "sync": {"fields": ["title"]}}, env={}
    )
    assert quiet.warnings == []
    assert off.warnings == [
        "collections: rules are set but collection is not in sync.fields, so no collection "
        "is written; add it there"
    ]

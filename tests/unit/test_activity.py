"""The rules of what Plex activity is new for Stash, and the config that turns them on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from graphql import parse

from reconciler import stash as stash_client
from reconciler.activity import (
    Journal,
    Seen,
    new_play_count,
    news,
    play_times,
    plex_rating_wins,
    rating100,
)
from reconciler.config import PlexToStashConfig, parse_config
from reconciler.errors import ConfigError
from reconciler.store import Carried

ROOT = Path(__file__).resolve().parents[2]
# `../shared` beside the clone, as CI has it (or beside the folder of clones)
REFERENCE = next(
    (
        folder / "shared" / "reference" / "stash-graphql.md"
        for folder in (ROOT.parent, ROOT.parent.parent)
        if (folder / "shared" / "reference" / "stash-graphql.md").exists()
    ),
    ROOT.parent / "shared" / "reference" / "stash-graphql.md",
)
ALL = PlexToStashConfig(plays=True, resume=True, ratings=True, link=True)


def test_everything_is_off_by_default_and_the_example_says_so():
    assert parse_config({}, env={}).plex_to_stash == PlexToStashConfig()
    example = yaml.safe_load((ROOT / "stashplex.yaml.example").read_text())
    assert parse_config(example, env={}).plex_to_stash == PlexToStashConfig()
    assert example["plex_to_stash"] == {
        "plays": False,
        "resume": False,
        "ratings": False,
        "link": False,
    }


@pytest.mark.parametrize(
    "data, message",
    [
        ({"plex_to_stash": {"plays": "yes"}}, "plex_to_stash.plays: expected true or false"),
        ({"plex_to_stash": {"favourites": True}}, "plex_to_stash.favourites: unknown key"),
        ({"plex_to_stash": True}, "plex_to_stash: expected a mapping"),
    ],
)
def test_a_mistake_is_one_line_naming_the_key(data, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(data, env={})
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_the_environment_turns_it_on():
    config = parse_config({}, env={"STASHPLEX_PLEX_TO_STASH_PLAYS": "true"})
    assert config.plex_to_stash.plays and not config.plex_to_stash.ratings


def test_plex_stars_become_rating100():
    assert [rating100(v) for v in (None, -1, 0, 0.5, 3, 7.5, 10)] == [
        None,
        None,
        None,
        5,
        30,
        75,
        100,
    ]


def test_only_new_plays_count_and_a_drop_deletes_nothing():
    carried = Carried("1", view_count=4, last_viewed_at=100)
    assert new_play_count(Seen(1, view_count=6, last_viewed_at=200), carried) == 2
    assert new_play_count(Seen(1, view_count=4, last_viewed_at=100), carried) == 0
    # marked unwatched, then watched once: that one play is new
    assert new_play_count(Seen(1, view_count=1, last_viewed_at=300), carried) == 1
    assert new_play_count(Seen(1, view_count=0, last_viewed_at=100), carried) == 0
    # marked unwatched unseen, then watched as often as before: as many new plays
    assert new_play_count(Seen(1, view_count=4, last_viewed_at=300), carried) == 4
    # a resume point moved lastViewedAt: no play
    assert new_play_count(Seen(1, view_count=4, last_viewed_at=300, view_offset=5), carried) == 0


def test_play_times_come_from_the_history_or_else_last_viewed():
    seen = Seen(1, view_count=3, last_viewed_at=300)
    assert play_times(3, seen, Carried("1"), [100, 200, 300], 999) == [100, 200, 300]
    assert play_times(3, seen, Carried("1"), None, 999) == [300, 300, 300]
    assert play_times(3, seen, Carried("1"), [300], 999) == [300, 300, 300]
    assert play_times(1, seen, Carried("1"), [100, 200, 300], 999) == [300]


def test_a_journal_names_the_plays_a_dead_attempt_did_not_add():
    journal = Journal([100, 300, 300], {"100": 0, "300": 1}, 3, 300)
    assert journal.missing([]) == [100, 300, 300]
    assert journal.missing([300]) == [100, 300, 300]  # the 300 there was there before
    assert journal.missing([100, 300, 300]) == [300]
    assert journal.missing([100, 300, 300, 300]) == []


def test_news_is_only_what_moved():
    seen = Seen(1, view_count=2, last_viewed_at=50, view_offset=0, rating=80, rated_at=10)
    carried = Carried(
        "1", view_count=2, last_viewed_at=50, view_offset=0, rated_at=10, rating=80, link="x"
    )
    assert news(seen, carried, ALL) == []
    assert news(Seen(1, view_count=3, rating=80, rated_at=10), carried, ALL) == ["plays"]
    assert news(
        Seen(1, view_count=2, view_offset=9000, rating=80, rated_at=10),
        carried,
        PlexToStashConfig(resume=True),
    ) == ["resume"]
    assert news(Seen(1, view_count=2, rating=40, rated_at=20), carried, ALL) == ["ratings"]
    assert news(seen, carried, PlexToStashConfig()) == []


@pytest.mark.parametrize(
    "plex_at, stash_at, stash_rating, wins",
    [
        (200, "1970-01-01T00:01:40Z", 60, True),  # Plex rated after Stash's edit
        (200, "1970-01-01T00:05:00Z", 60, False),  # both changed, Stash's is newer
        (200, "1970-01-01T00:03:20Z", 60, False),  # a tie goes to Stash
        (200, "1970-01-01T00:05:00Z", 50, True),  # Stash's rating never changed
        (200, "1970-01-01T00:05:00Z", 70, False),  # the sides already agree
    ],
)
def test_the_newer_rating_wins(plex_at, stash_at, stash_rating, wins):
    carried = Carried("1", rated_at=100, rating=50)
    seen = Seen(1, rating=70, rated_at=plex_at)
    assert plex_rating_wins(seen, carried, stash_rating, stash_at) is wins


def test_a_rating_stashplex_wrote_to_plex_is_no_plex_change():
    carried = Carried("1", rated_at=500, rating=60)
    assert not plex_rating_wins(
        Seen(1, rating=60, rated_at=500), carried, 90, "1970-01-01T00:10:00Z"
    )


# Stash v0.30's declarations, as `shared/reference/stash-graphql.md` ("More facts") quotes
# them from `graphql/schema/schema.graphql` (Stash's AGPL schema itself is not vendored)
STASH_MUTATIONS = (
    "`sceneAddPlay(id: ID!, times: [Timestamp!]): HistoryMutationResult!` "
    "`sceneSaveActivity(id: ID!, resume_time: Float, playDuration: Float): Boolean!` "
    "`sceneUpdate(input: SceneUpdateInput!)`"
)


@pytest.mark.skipif(not REFERENCE.exists(), reason="the reference notes are not beside the repo")
def test_the_quoted_declarations_are_the_reference_ones():
    reference = REFERENCE.read_text()
    for declaration in re.findall(r"`[^`]+`", STASH_MUTATIONS):
        assert declaration in reference


def _reference_signatures(text: str = STASH_MUTATIONS) -> dict[str, dict[str, str]]:
    """Argument types of the activity mutations, by mutation and argument."""
    found = {}
    for name, args in re.findall(r"`(scene\w+)\((.*?)\)(?::[^`]*)?`", text):
        found[name] = dict(
            (part.split(":")[0].strip(), part.split(":")[1].strip())
            for part in args.split(",")
            if ":" in part
        )
    return found


@pytest.mark.parametrize(
    "document, mutation",
    [
        (stash_client.ADD_PLAYS, "sceneAddPlay"),
        (stash_client.SAVE_RESUME, "sceneSaveActivity"),
        (stash_client.UPDATE_ACTIVITY, "sceneUpdate"),
    ],
)
def test_the_mutations_match_stash_schema_as_the_reference_gives_it(document, mutation):
    reference = _reference_signatures()[mutation]
    operation = parse(document).definitions[0]
    declared = {
        v.variable.name.value: document[v.type.loc.start : v.type.loc.end]
        for v in operation.variable_definitions
    }
    field = operation.selection_set.selections[0]
    assert field.name.value == mutation
    for argument in field.arguments:
        name = argument.name.value
        assert name in reference, f"{mutation} has no argument {name}"
        assert declared[argument.value.name.value] == reference[name], name

"""Splitting one edit into PUTs under a request-size budget."""

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.diff import Edit, FieldChange
from reconciler.editplan import (
    _QUERY_SAFE,
    ELLIPSIS,
    plan_edit,
    query_size,
    single_request,
    wire_query,
)
from reconciler.errors import PlexRequestTooLong

BASE = {"id": 12, "type": 1}


def tags(prefix, count):
    return tuple(f"{prefix} {n:02d}" for n in range(count))


def edit_of(**fields):
    return Edit([FieldChange(name, old, new) for name, (old, new) in fields.items()])


def applied(requests):
    """What the PUTs say in the end, as the emulator would apply them in order."""
    values, lists, locks = {}, {}, set()
    for args in requests:
        assert args["id"] == 12 and args["type"] == 1
        for key, value in args.items():
            if key.endswith(".value"):
                values[key[:-6]] = value
            elif key.endswith(".locked"):
                locks.add(key[:-7])
            elif key.endswith(".tag.tag"):
                lists.setdefault(key.split("[")[0], []).append(value)
    return values, lists, locks


def test_an_edit_that_fits_is_one_request_equal_to_the_single_put():
    edit = edit_of(title=("a", "b"), tags=((), ("x", "y")))
    plan = plan_edit(BASE, edit, 7000)
    assert plan.requests == [single_request(BASE, edit)] and not plan.shortened


def test_an_edit_over_the_budget_is_split_text_first_each_piece_locked():
    summary = "長い説明" * 150  # 600 characters, 5.4 KB encoded
    edit = edit_of(
        title=("a", "Title"),
        summary=("", summary),
        performers=((), tags("Performer", 50)),
        tags=((), tags("Tag", 50)),
    )
    assert query_size(single_request(BASE, edit)) > 6000

    plan = plan_edit(BASE, edit, 6000)

    assert len(plan.requests) > 1 and not plan.shortened
    assert all(query_size(args) <= 6000 for args in plan.requests)
    assert "summary.value" in plan.requests[0]
    values, lists, locks = applied(plan.requests)
    assert values == {"title": "Title", "summary": summary}
    assert lists == {"actor": list(tags("Performer", 50)), "genre": list(tags("Tag", 50))}
    assert locks == {"title", "summary", "actor", "genre"}


def test_a_value_too_long_for_any_request_is_cut_at_a_character_with_an_ellipsis():
    summary = "語" * 2000
    plan = plan_edit(BASE, edit_of(summary=("", summary)), 3000)
    sent = plan.shortened["summary"]
    assert sent.endswith(ELLIPSIS) and summary.startswith(sent[:-1])
    assert all(query_size(args) <= 3000 for args in plan.requests)
    assert query_size({**BASE, "summary.value": sent + "語", "summary.locked": 1}) > 3000
    assert applied(plan.requests)[0]["summary"] == sent


def test_a_cut_never_splits_a_combined_character():
    summary = "e\u0301" * 3000  # é as e + combining acute accent
    sent = plan_edit(BASE, edit_of(summary=("", summary)), 2000).shortened["summary"]
    assert sent[-2] == "\u0301"


def test_a_tag_list_too_long_for_any_request_keeps_the_names_that_fit():
    names = tags("A rather long performer name", 200)
    plan = plan_edit(BASE, edit_of(performers=((), names)), 2000)
    kept = plan.shortened["performers"]
    assert 0 < len(kept) < 200 and names[: len(kept)] == kept
    assert applied(plan.requests)[1]["actor"] == list(kept)


def test_leftover_tags_are_removed_in_pieces_that_fit():
    old = tags("Old tag", 150)
    plan = plan_edit(BASE, edit_of(tags=(old, ("New",))), 1500)
    removed = [
        name
        for args in plan.requests
        for name in args.get("genre[].tag.tag-", "").split(",")
        if name
    ]
    assert len(removed) == 150 and len(plan.requests) > 2
    assert all(query_size(args) <= 1500 for args in plan.requests)


def test_a_poster_lock_rides_along():
    edit = edit_of(title=("a", "b"))
    edit.lock_poster = True
    (args,) = plan_edit(BASE, edit, 7000).requests
    assert args["thumb.locked"] == 1


def test_nothing_fits_in_a_tiny_room():
    with pytest.raises(PlexRequestTooLong):
        plan_edit(BASE, edit_of(title=("a", "b" * 100)), 20)


@pytest.mark.parametrize(
    "value, message",
    [
        (500, "plex.max_request_bytes: expected a whole number of bytes, at least 1024, got 500"),
        ("8k", "plex.max_request_bytes: expected a whole number, got '8k'"),
    ],
)
def test_a_bad_request_budget_is_one_line_naming_the_key(value, message):
    from reconciler.config import parse_config
    from reconciler.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        parse_config({"plex": {"max_request_bytes": value}}, env={})
    assert str(info.value) == message


@pytest.mark.parametrize("text", ["plain words", "語" * 40, "a/b&c=d%e", "é" * 90])
def test_the_quick_size_bound_never_lets_an_oversize_query_through(text):
    from reconciler.editplan import fits

    args = {**BASE, "summary.value": text, "summary.locked": 1}
    size = query_size(args)
    assert fits(args, size) and not fits(args, size - 1)


def test_actor_photos_ride_with_their_names_also_when_the_list_is_split():
    names = tags("Actor", 60)
    edit = edit_of(performers=((), names), title=("a", "b" * 300))
    edit.actor_thumbs = {name.casefold(): f"http://p/{n}" for n, name in enumerate(names)}
    edit.lock_art = True

    for room, kept in ((100_000, 60), (1500, None)):
        plan = plan_edit(BASE, edit, room)
        sent = {}
        for args in plan.requests:
            for key, value in args.items():
                if key.endswith(".tag.thumb"):
                    sent[args[key.replace(".tag.thumb", ".tag.tag")]] = value
        kept = kept or len(plan.shortened["performers"])  # as many as fit, with their photos
        assert sent == {name: f"http://p/{n}" for n, name in enumerate(names[:kept])}
        assert any(args.get("art.locked") == 1 for args in plan.requests)


@given(st.text(), st.text())
def test_the_wire_query_quotes_each_key_and_value_as_urllib_quotes_them(key, value):
    assert wire_query({key: value}) == (
        f"?{quote(key, safe=_QUERY_SAFE)}={quote(value, safe='')}"
    )


# a summary's text: long, a few kinds of characters to encode ("%" among them now and then),
# encoded kind by kind; or with accents and CJK too, too many kinds, encoded byte by byte
_PROSE = st.one_of(
    st.text(alphabet=st.sampled_from("abcdefgh XYZ,.'%&\n"), min_size=60, max_size=700),
    st.text(alphabet=st.sampled_from("abcdefgh XYZ,.'%&é日\n"), min_size=60, max_size=700),
)


@given(_PROSE, _PROSE)
def test_long_text_is_quoted_as_urllib_quotes_it(key, value):
    assert wire_query({key: value}) == (
        f"?{quote(key, safe=_QUERY_SAFE)}={quote(value, safe='')}"
    )

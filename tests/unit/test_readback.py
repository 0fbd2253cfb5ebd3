"""What Plex shows for what was sent: remembered differences, nothing else."""

from reconciler.diff import Edit, FieldChange
from reconciler.models import PlexItem
from reconciler.readback import Remembered, digest, read_back, remember


def written(**fields):
    return Edit([FieldChange(name, None, new) for name, new in fields.items()])


def test_a_case_merged_tag_and_a_rounded_rating_are_remembered_and_new():
    edit = written(tags=("rock",), rating=8.7)
    after = PlexItem(1, 1, genres=["Rock"], user_rating=9.0)

    memory, forget, news = remember(read_back(edit, after), {})

    assert memory == {
        "tags": Remembered(digest(("rock",)), digest(("Rock",))),
        "rating": Remembered(digest(8.7), digest(9.0)),
    }
    assert [n.field for n in news] == ["tags", "rating"] and forget == []
    # the same difference again is not news
    assert remember(read_back(edit, after), memory)[2] == []


def test_a_value_kept_as_sent_forgets_an_old_memory():
    edit = written(title="Same")
    known = {"title": Remembered("x", "y")}
    memory, forget, news = remember(read_back(edit, PlexItem(1, 1, title="Same")), known)
    assert (memory, forget, news) == ({}, ["title"], [])


def test_a_shortened_value_is_remembered_without_being_news():
    edit = written(summary="long " * 10 + "end")
    edit.shortened["summary"] = "long long…"
    memory, _, news = remember(read_back(edit, PlexItem(1, 1, summary="long long…")), {})
    assert "summary" in memory and news == []


def test_another_value_altogether_is_an_outside_edit_not_a_form_to_remember():
    edit = written(title="From Stash")
    assert read_back(edit, PlexItem(1, 1, title="Typed in Plex Web")) == []

import pytest

from reconciler.config import SyncConfig, parse_config
from reconciler.diff import diff
from reconciler.errors import ConfigError
from reconciler.models import PlexItem, Scene
from reconciler.titles import file_stem, render_title


def scene(**fields):
    base = dict(
        id="3", title="Beach Day", date="2024-05-01", studio="Acme", parent_studio="Acme Group",
        performers=["Ann", "Bo"], code="AC-17", files=["/data/Acme/beach.day.1080p.mp4"],
    )
    base.update(fields)
    return Scene(**base)


def title(scene_, fmt="{title}", fallback="filename"):
    sync = SyncConfig(title_format=fmt, title_fallback=fallback)
    return render_title(scene_, sync, scene_.title or "")


def test_every_placeholder_is_filled():
    fmt = "{parent_studio}/{studio} {code} {title} {date} {year} {performers} {filename}"
    assert title(scene(), fmt) == (
        "Acme Group/Acme AC-17 Beach Day 2024-05-01 2024 Ann, Bo beach.day.1080p"
    )


@pytest.mark.parametrize(
    "fmt, fields, expected",
    [
        ("{studio} - {title}", {"studio": None}, "Beach Day"),
        ("{title} ({year})", {"date": None}, "Beach Day"),
        ("{studio} - {code} - {title}", {"code": ""}, "Acme - Beach Day"),
        ("[{code}] {title}", {"code": None}, "Beach Day"),
    ],
)
def test_what_an_empty_placeholder_leaves_is_tidied(fmt, fields, expected):
    assert title(scene(**fields), fmt) == expected


def test_without_a_title_the_file_name_stands_in_or_nothing_is_written():
    untitled = scene(title=None, files=["C:\\Stash\\Acme\\beach day.mkv"])
    assert title(untitled, "{studio} - {title}") == "Acme - beach day"
    assert title(untitled, "{studio} - {title}", fallback="none") is None
    assert title(scene(title=None, files=[])) is None


def test_file_stem():
    assert file_stem("/a/b/c.d.mp4") == "c.d"
    assert file_stem("D:\\x\\y.mkv") == "y"
    assert file_stem(None) == ""


def test_the_formatted_title_is_what_the_diff_writes():
    item = PlexItem(rating_key=1, section_id=1, title="Beach Day", locked={"title"})
    sync = SyncConfig(fields=["title"], title_format="{studio} - {title}")
    edit = diff(scene(), item, sync)
    assert [(c.field, c.new) for c in edit.changes] == [("title", "Acme - Beach Day")]


@pytest.mark.parametrize(
    "sync, message",
    [
        ({"title_format": "{title} {site}"}, "sync.title_format: unknown placeholder {site}"),
        ({"title_format": "{title"}, "sync.title_format:"),
        ({"title_format": "Scene"}, "holds no placeholder"),
        ({"title_fallback": "path"}, "sync.title_fallback: expected filename or none"),
    ],
)
def test_a_bad_title_setting_is_one_clear_error(sync, message):
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
        parse_config({"sync": sync}, env={})


def test_the_scenes_own_text_is_never_tidied():
    odd = scene(title="- Intro ·", studio="A  B")
    assert title(odd) == "- Intro ·"
    assert title(odd, "{studio} | {title}") == "A  B | - Intro ·"


def test_an_unknown_requirement_is_one_clear_error():
    with pytest.raises(ConfigError, match=r"sync.require\[1\]: unknown requirement 'rated'"):
        parse_config({"sync": {"require": ["organized", "rated"]}}, env={})

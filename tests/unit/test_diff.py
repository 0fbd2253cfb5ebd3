import pytest

from reconciler.config import SyncConfig
from reconciler.diff import diff
from reconciler.errors import InvalidSceneData
from reconciler.models import PlexItem, Scene

ALL_LOCKED = {
    "title",
    "summary",
    "originallyAvailableAt",
    "studio",
    "userRating",
    "actor",
    "genre",
    "collection",
    "year",
    "contentRating",
}


def scene(**fields):
    base = dict(
        id="7",
        title="Beach Day",
        details="Sun.",
        date="2024-05-01",
        rating100=80,
        studio="Acme",
        performers=["Ann", "Bo"],
        tags=["Outdoor", "Summer"],
        files=["/data/a.mp4"],
        screenshot=None,
    )
    base.update(fields)
    return Scene(**base)


def item(**fields):
    base = dict(
        rating_key=1,
        section_id=1,
        title="Beach Day",
        summary="Sun.",
        originally_available_at="2024-05-01",
        studio="Acme",
        user_rating=8.0,
        actors=["Bo", "Ann"],
        genres=["Summer", "Outdoor"],
        collections=["Acme"],
        year=2024,
        content_rating="XXX",
        locked=set(ALL_LOCKED),
    )
    base.update(fields)
    return PlexItem(**base)


def changed(edit):
    return {c.field: (c.old, c.new) for c in edit.changes}


def test_nothing_differs_nothing_to_write():
    assert not diff(scene(), item(), SyncConfig())


def test_each_field_maps_onto_its_plex_counterpart():
    edit = diff(
        scene(),
        item(
            title="x",
            summary="",
            originally_available_at=None,
            studio=None,
            user_rating=None,
            actors=[],
            genres=["Old"],
            collections=[],
        ),
        SyncConfig(),
    )
    assert changed(edit) == {
        "title": ("x", "Beach Day"),
        "summary": ("", "Sun."),
        "date": ("", "2024-05-01"),
        "studio": ("", "Acme"),
        "rating": (None, 8.0),
        "performers": ((), ("Ann", "Bo")),
        "tags": (("Old",), ("Outdoor", "Summer")),
        "collection": ((), ("Acme",)),
    }


def test_tag_removal_and_performer_addition_set_the_exact_lists():
    edit = diff(scene(tags=["Outdoor"], performers=["Ann", "Bo", "Cy"]), item(), SyncConfig())
    assert changed(edit) == {
        "tags": (("Outdoor", "Summer"), ("Outdoor",)),
        "performers": (("Ann", "Bo"), ("Ann", "Bo", "Cy")),
    }


def test_studio_collection_is_added_and_other_collections_stay():
    edit = diff(scene(), item(collections=["Favourites"]), SyncConfig())
    assert changed(edit) == {"collection": (("Favourites",), ("Acme", "Favourites"))}
    assert not diff(scene(), item(collections=["Favourites"]), SyncConfig(studio_collection=False))


def test_empty_stash_field_leaves_plex_alone_by_default():
    empty = scene(details=None, tags=[], rating100=None, studio=None, date=None)
    assert not diff(empty, item(collections=["Acme"]), SyncConfig())


def test_clear_empty_clears_plex_values_but_never_the_title():
    empty = scene(title=None, details="", tags=[], rating100=None)
    edit = diff(empty, item(), SyncConfig(clear_empty=True, title_fallback="none"))
    assert changed(edit) == {
        "summary": ("Sun.", ""),
        "tags": (("Outdoor", "Summer"), ()),
        "rating": (8.0, None),
    }


def test_only_configured_fields_are_touched():
    edit = diff(scene(title="New"), item(summary="Other"), SyncConfig(fields=["title"]))
    assert changed(edit) == {"title": ("Beach Day", "New")}


def test_a_matching_but_unlocked_field_is_written_again_to_lock_it():
    edit = diff(scene(), item(locked=ALL_LOCKED - {"title"}), SyncConfig())
    assert changed(edit) == {"title": ("Beach Day", "Beach Day")}
    assert edit.changes[0].lock_only


def test_poster_is_a_candidate_only_when_the_screenshot_changed():
    shot = "http://stash/scene/7/screenshot?t=100"
    assert diff(scene(screenshot=shot), item(), SyncConfig()).poster == shot
    assert diff(scene(screenshot=shot), item(), SyncConfig(), poster_synced=shot).poster is None


def test_control_characters_are_dropped_and_tags_deduplicated():
    edit = diff(
        scene(title="A\x00B\x1f", tags=["x", "X", " x ", ""]),
        item(genres=[]),
        SyncConfig(fields=["title", "tags"]),
    )
    assert changed(edit) == {"title": ("Beach Day", "AB"), "tags": ((), ("x",))}


@pytest.mark.parametrize("bad", ["2023-02-30", "0000-00-00", "yesterday"])
def test_an_impossible_date_is_invalid_data_naming_the_scene(bad):
    with pytest.raises(InvalidSceneData, match=r"scene 7 .*2023-02-30|scene 7 .*date"):
        diff(scene(date=bad), item(), SyncConfig())


@pytest.mark.parametrize("bad", [0, 101, -5])
def test_rating_outside_1_to_100_is_invalid_data(bad):
    with pytest.raises(InvalidSceneData, match="rating100"):
        diff(scene(rating100=bad), item(), SyncConfig())


def test_tag_lists_are_compared_without_regard_to_case():
    plex = item(genres=["summer", "OUTDOOR"])
    assert "tags" not in changed(diff(scene(), plex, SyncConfig()))


def test_an_episode_is_not_asked_for_studio_or_genres():
    plex = item(type="episode", studio=None, genres=[], locked=ALL_LOCKED - {"studio", "genre"})
    edit = diff(scene(), plex, SyncConfig())
    assert not {"studio", "tags"} & set(changed(edit))


def test_a_movie_still_gets_studio_and_genres():
    plex = item(studio=None, genres=[])
    assert {"studio", "tags"} <= set(changed(diff(scene(), plex, SyncConfig())))


def test_a_remembered_read_back_counts_as_in_sync_until_stash_changes():
    from reconciler.readback import Remembered, digest

    plex = item(user_rating=9.0)  # Plex rounded the 8.7 it was sent
    memory = {"rating": Remembered(digest(8.7), digest(9.0))}
    assert "rating" not in changed(diff(scene(rating100=87), plex, SyncConfig(), None, memory))
    assert "rating" in changed(diff(scene(rating100=60), plex, SyncConfig(), None, memory))
    edited = item(user_rating=3.0)
    assert "rating" in changed(diff(scene(rating100=87), edited, SyncConfig(), None, memory))


def test_a_synced_poster_without_its_lock_asks_for_the_lock():
    shot = "http://stash/scene/7/screenshot?t=1"
    unlocked = diff(scene(screenshot=shot), item(), SyncConfig(), poster_synced=shot)
    with_lock = item(locked=ALL_LOCKED | {"thumb"})
    locked = diff(scene(screenshot=shot), with_lock, SyncConfig(), poster_synced=shot)
    assert unlocked.lock_poster and unlocked.poster is None
    assert not locked


def test_year_comes_from_the_date_and_content_rating_from_the_setting():
    plex = item(year=None, content_rating=None, locked=ALL_LOCKED - {"year", "contentRating"})
    edit = diff(scene(date="2021-03-04"), plex, SyncConfig(fields=["year", "content_rating"]))
    assert changed(edit) == {"year": (None, 2021), "content_rating": ("", "XXX")}


def test_an_empty_content_rating_setting_leaves_plex_alone_even_with_clear_empty():
    plex = item(content_rating="R", locked=set())
    sync = SyncConfig(fields=["content_rating"], content_rating="", clear_empty=True)
    assert not diff(scene(), plex, sync)


def test_no_date_leaves_the_year_alone_unless_clear_empty():
    plex = item(year=2019)
    assert not diff(scene(date=None), plex, SyncConfig(fields=["year"]))
    edit = diff(scene(date=None), plex, SyncConfig(fields=["year"], clear_empty=True))
    assert changed(edit) == {"year": (2019, "")}


def test_an_owned_collection_the_studio_no_longer_gives_is_taken_off():
    plex = item(collections=["Acme", "Mine"])
    edit = diff(scene(studio="Beta"), plex, SyncConfig(fields=["collection"]), owned={"Acme"})
    assert changed(edit) == {"collection": (("Acme", "Mine"), ("Beta", "Mine"))}
    edit = diff(scene(studio=None), plex, SyncConfig(fields=["collection"]), owned={"acme"})
    assert changed(edit) == {"collection": (("Acme", "Mine"), ("Mine",))}
    assert not diff(scene(studio="Acme"), plex, SyncConfig(fields=["collection"]), owned={"Acme"})


PHOTOS = "http://stashplex:8765"
ANN = "http://stash/performer/3/image?t=100"


def with_photos(**fields):
    placeholder = "http://stash/performer/4/image?t=9&default=true"
    return scene(performer_images={"Ann": ANN, "Bo": placeholder}, **fields)


def test_an_actor_without_its_photo_rewrites_the_actors_with_it():
    edit = diff(with_photos(), item(), SyncConfig(), photos=PHOTOS)

    assert changed(edit) == {"performers": (("Ann", "Bo"), ("Ann", "Bo"))}
    assert edit.actor_thumbs == {"ann": f"{PHOTOS}/performer/3/image?t=100"}  # Bo: placeholder


def test_actors_showing_their_photos_are_in_sync():
    shown = item(actor_thumbs={"ANN": f"{PHOTOS}/performer/3/image?t=100", "Bo": "http://own"})
    assert not diff(with_photos(), shown, SyncConfig(), photos=PHOTOS)


def test_no_photo_source_compares_no_photos():
    assert not diff(with_photos(), item(), SyncConfig(), photos="")


def test_the_cover_as_background_only_when_asked_and_only_once():
    fields = [*SyncConfig().fields, "background"]
    cover = "http://stash/scene/7/screenshot?t=5"
    first = diff(scene(screenshot=cover), item(), SyncConfig(fields=fields))
    assert first.art == cover and first.fields[-1] == "background"
    assert diff(scene(screenshot=cover), item(), SyncConfig()).art is None
    locked = item(locked=ALL_LOCKED | {"art", "thumb"})
    assert not diff(scene(screenshot=cover), locked, SyncConfig(fields=fields), cover,
                    art_synced=cover)
    unlocked = diff(scene(screenshot=cover), item(locked=ALL_LOCKED | {"thumb"}),
                    SyncConfig(fields=fields), cover, art_synced=cover)
    assert unlocked.art is None and unlocked.lock_art

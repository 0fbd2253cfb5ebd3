"""Matching a scene's files to Plex items: the pure rules (the index, per-file decisions)."""

from __future__ import annotations

import pytest

from reconciler.errors import InvalidSceneData, PlexNotFound, PlexPermanentError
from reconciler.matching import (
    BY_FILENAME,
    PathIndex,
    containing_location,
    file_name,
    match_items,
)
from reconciler.models import PlexItem, Scene
from reconciler.pathmap import PathMap

MAP = PathMap([("/data", "/media")])


def index(*items: tuple[int, list[str]]) -> PathIndex:
    return PathIndex(PlexItem(rating_key=key, section_id=1, files=files) for key, files in items)


def test_every_file_finds_its_own_item_primary_first():
    scene = Scene(id="1", files=["/data/b.mp4", "/data/a.mp4"])
    found = match_items(scene, index((5, ["/media/a.mp4"]), (9, ["/media/b.mp4"])), MAP, True)
    assert found == [(9, 1), (5, 1)]


def test_one_item_holding_two_files_of_the_scene_is_written_once():
    scene = Scene(id="1", files=["/data/cd1.mp4", "/data/cd2.mp4"])
    found = match_items(scene, index((3, ["/media/cd1.mp4", "/media/cd2.mp4"])), MAP, True)
    assert found == [(3, 1)]


def test_a_file_not_found_is_skipped_while_another_is_found():
    scene = Scene(id="1", files=["/data/missing.mp4", "/data/here.mp4"])
    assert match_items(scene, index((4, ["/media/here.mp4"])), MAP, True) == [(4, 1)]


def test_no_file_found_is_not_found_naming_each_file():
    scene = Scene(id="1", files=["/data/x.mp4", "/data/y.mp4"])
    with pytest.raises(PlexNotFound, match="'/media/x.mp4' or the file '/media/y.mp4'"):
        match_items(scene, index(), MAP, True)


def test_no_file_at_all_is_bad_scene_data():
    with pytest.raises(InvalidSceneData, match="scene 1: missing file path"):
        match_items(Scene(id="1"), index(), MAP, True)


def test_strictness_is_decided_per_file():
    scene = Scene(id="1", files=["/data/a.mp4", "/data/b.mp4"])
    plex = index((1, ["/media/a.mp4"]), (2, ["/media/b.mp4"]), (3, ["/media/b.mp4"]))
    with pytest.raises(PlexPermanentError, match=r"'/media/b.mp4' \(ratingKeys 2, 3\)"):
        match_items(scene, plex, MAP, strict=True)
    assert match_items(scene, plex, MAP, strict=False) == [(1, 1), (2, 1)]


def test_by_file_name_case_and_folders_do_not_matter():
    scene = Scene(id="1", files=["C:\\Stash\\Clip ONE.MP4"])
    plex = index((7, ["/srv/any/where/clip one.mp4"]), (8, ["/srv/clip two.mp4"]))
    assert match_items(scene, plex, PathMap(), True, BY_FILENAME) == [(7, 1)]
    assert file_name("C:\\Stash\\Clip ONE.MP4") == "clip one.mp4"


def test_by_file_name_two_holders_are_ambiguous():
    scene = Scene(id="1", files=["/x/clip.mp4"])
    plex = index((7, ["/a/CLIP.mp4"]), (8, ["/b/clip.MP4"]))
    with pytest.raises(PlexPermanentError, match=r"a file named 'clip.mp4' \(ratingKeys 7, 8\)"):
        match_items(scene, plex, PathMap(), True, BY_FILENAME)


def test_a_reindexed_item_leaves_its_old_names():
    plex = index((7, ["/a/old.mp4"]))
    plex.add(PlexItem(rating_key=7, section_id=1, files=["/a/new.mp4"]))
    assert plex.lookup_name("OLD.mp4") == [] and plex.lookup_name("new.mp4") == [(7, 1)]
    plex.remove(7)
    assert plex.lookup_name("new.mp4") == []


@pytest.mark.parametrize(
    ("folder", "locations", "expected"),
    [
        ("/media/new", ["/media"], "/media/new"),
        ("/media", ["/media/"], "/media/"),
        ("/mediaX/new", ["/media"], None),
        ("m:/videos/new", ["M:\\Videos"], "M:\\Videos\\new"),
    ],
)
def test_the_folder_to_scan_is_spelled_from_its_library_location(folder, locations, expected):
    assert containing_location(folder, locations) == expected


def item(key: int, files: list[str], section: int = 1) -> PlexItem:
    return PlexItem(rating_key=key, section_id=section, files=files)


def test_holders_of_one_file_come_lowest_rating_key_first_with_their_sections():
    plex = PathIndex([item(9, ["/m/a.mp4"], 3), item(4, ["/m/a.mp4"], 2), item(6, ["/m/b.mp4"])])
    assert plex.lookup("/m/a.mp4") == [(4, 2), (9, 3)]
    assert plex.lookup("/m/b.mp4/") == [(6, 1)]
    assert plex.lookup("/m/c.mp4") == []


def test_removing_one_holder_leaves_the_others():
    plex = PathIndex([item(4, ["/m/a.mp4"]), item(9, ["/m/a.mp4"]), item(7, ["/m/a.mp4"])])
    plex.remove(7)
    assert plex.lookup("/m/a.mp4") == [(4, 1), (9, 1)]
    plex.remove(4)
    assert plex.lookup("/m/a.mp4") == [(9, 1)]
    plex.remove(9)
    plex.remove(9)  # an item removed twice, or never indexed, is no error
    assert plex.lookup("/m/a.mp4") == []


def test_an_item_listed_again_after_moving_is_found_only_at_its_new_paths():
    plex = PathIndex([item(5, ["/m/old.mp4", "/m/part2.mp4"]), item(8, ["/m/old.mp4"])])
    plex.add(item(5, ["/m/new.mp4"], section=2))
    assert plex.lookup("/m/new.mp4") == [(5, 2)]
    assert plex.lookup("/m/old.mp4") == [(8, 1)]
    assert plex.lookup("/m/part2.mp4") == []
    assert plex.lookup_name("old.mp4") == [(8, 1)] and plex.lookup_name("NEW.mp4") == [(5, 2)]


def test_an_item_listed_again_unchanged_or_with_a_file_twice_is_held_once():
    plex = PathIndex([item(5, ["/m/a.mp4", "/m/a.mp4"])])
    plex.add(item(5, ["/m/a.mp4", "/m/a.mp4"]))
    assert plex.lookup("/m/a.mp4") == [(5, 1)]
    plex.add(item(5, ["/m/a.mp4"], section=3))  # the same file, another library
    assert plex.lookup("/m/a.mp4") == [(5, 3)]
    plex.remove(5)
    assert plex.lookup("/m/a.mp4") == []


def test_windows_paths_are_held_without_regard_to_case():
    plex = PathIndex([item(3, ["D:\\Media\\Clip.MP4"])])
    assert plex.lookup("d:/media/clip.mp4") == [(3, 1)]
    plex.remove(3)
    assert plex.lookup("d:/media/clip.mp4") == [] and plex.lookup_name("clip.mp4") == []


def test_an_index_built_without_file_names_refuses_to_look_them_up():
    plex = PathIndex([item(3, ["/m/a.mp4"])], by_name=False)
    assert plex.lookup("/m/a.mp4") == [(3, 1)]
    with pytest.raises(RuntimeError, match="without file names"):
        plex.lookup_name("a.mp4")


def test_a_section_id_that_does_not_fit_is_refused_naming_the_item():
    with pytest.raises(ValueError, match="Plex item 3: library section id -1"):
        PathIndex([item(3, ["/m/a.mp4"], section=-1)])

import pytest

from reconciler.pathmap import PathMap, path_key


def test_longest_stash_prefix_wins():
    mapping = PathMap([("/data", "/mnt/all"), ("/data/media", "/media")])
    assert mapping.to_plex("/data/media/a.mp4") == "/media/a.mp4"
    assert mapping.to_plex("/data/other/b.mp4") == "/mnt/all/other/b.mp4"


def test_prefix_matches_whole_directories_only():
    mapping = PathMap([("/data/media", "/media")])
    assert mapping.to_plex("/data/media2/a.mp4") == "/data/media2/a.mp4"
    assert mapping.to_plex("/data/media/a.mp4") == "/media/a.mp4"


@pytest.mark.parametrize(
    "stash_prefix, plex_prefix",
    [
        ("/data/media/", "/media/"),
        ("/data/media", "/media/"),
        ("/data/media/", "/media"),
    ],
)
def test_trailing_slashes_do_not_matter(stash_prefix, plex_prefix):
    assert PathMap([(stash_prefix, plex_prefix)]).to_plex("/data/media/x/y.mkv") == "/media/x/y.mkv"


def test_windows_plex_paths_compare_by_drive_and_ignoring_case():
    mapping = PathMap([("/data/media", "M:\\Movies")])
    plex_path = "M:\\Movies\\Studio A\\Scene One.mp4"
    assert mapping.to_plex("/data/media/Studio A/Scene One.mp4") == path_key(plex_path)
    assert mapping.to_plex("/data/media/studio a/scene one.MP4") == path_key(plex_path)


def test_reverse_mapping_keeps_the_case_of_a_linux_stash_path():
    mapping = PathMap([("/data/media", "M:\\Movies")])
    assert mapping.to_stash("M:\\Movies\\Studio A\\Scene.mp4") == "/data/media/Studio A/Scene.mp4"


def test_reverse_mapping_writes_windows_stash_paths_with_backslashes():
    mapping = PathMap([("D:\\Media\\", "/media")])
    assert mapping.to_stash("/media/Studio A/Scene.mp4") == "D:\\Media\\Studio A\\Scene.mp4"


def test_no_mapping_leaves_paths_alone_but_normalises_separators():
    assert PathMap().to_plex("/x/y/z.mp4") == "/x/y/z.mp4"
    assert path_key("C:\\A\\B.mkv") == path_key("c:/a/b.mkv")
    assert path_key("/A/B.mkv") != path_key("/a/b.mkv")

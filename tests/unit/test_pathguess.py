from reconciler.pathguess import Proposal, propose


def test_a_wrong_mount_is_found_from_the_file_names():
    stash = [f"/data/media/Studio {n % 3}/{n}.mp4" for n in range(200)]
    plex = [f"/media/stash/Studio {n % 3}/{n}.mp4" for n in range(198)] + ["/media/stash/x.mp4"]
    assert propose(stash, plex) == [Proposal("/data/media", "/media/stash", 198)]


def test_two_mounts_give_two_entries_the_bigger_first():
    stash = [f"/data/{n}.mp4" for n in range(30)] + [f"/data/vr/{n}.vr.mp4" for n in range(10)]
    plex = [f"/media/{n}.mp4" for n in range(30)] + [f"/vr/{n}.vr.mp4" for n in range(10)]
    assert propose(stash, plex) == [Proposal("/data", "/media", 30),
                                    Proposal("/data/vr", "/vr", 10)]


def test_a_windows_plex_keeps_its_spelling():
    stash = ["/data/Studio/A.mp4", "/data/Studio/B.mp4"]
    plex = ["M:\\Media\\Studio\\A.mp4", "M:\\Media\\Studio\\B.mp4"]
    assert propose(stash, plex) == [Proposal("/data", "M:\\Media", 2)]


def test_no_shared_names_no_proposal():
    assert propose(["/data/a.mp4"], ["/media/b.mp4"]) == []
    assert propose(["/media/a.mp4"], ["/media/a.mp4"]) == []  # already the same path

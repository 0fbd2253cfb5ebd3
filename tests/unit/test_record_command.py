"""Which servers `python -m tests.record` records from, and its refusals."""

import pytest

from tests.record import cassette_modules, main, real_servers

PLEX = {
    "STASHPLEX_RECORD_PLEX_URL": "http://plex.lan:32400",
    "STASHPLEX_RECORD_PLEX_TOKEN": "t",
    "STASHPLEX_RECORD_PLEX_LIBRARY": "Scratch",
}


def test_no_variables_means_the_emulators():
    assert real_servers({}) is None


def test_all_plex_variables_mean_a_real_plex():
    assert real_servers(PLEX) == "plex"


def test_a_partial_set_names_what_is_missing():
    partial = {k: v for k, v in PLEX.items() if not k.endswith("LIBRARY")}
    with pytest.raises(ValueError, match="needs STASHPLEX_RECORD_PLEX_LIBRARY too"):
        real_servers(partial)


def test_a_partial_stash_set_is_exit_2_naming_what_is_missing(capsys):
    env = {**PLEX, "STASHPLEX_RECORD_STASH_URL": "http://stash.lan:9999"}
    assert main([], env=env) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "STASHPLEX_RECORD_STASH_API_KEY, STASHPLEX_RECORD_STASH_PATH too" in err


def test_both_servers_can_be_real():
    stash = {
        "STASHPLEX_RECORD_STASH_URL": "http://stash.lan:9999",
        "STASHPLEX_RECORD_STASH_API_KEY": "k",
        "STASHPLEX_RECORD_STASH_PATH": "/srv/scratch",
    }
    assert real_servers({**PLEX, **stash}) == "plex+stash"
    assert real_servers(stash) == "stash"


def test_the_cassette_modules_are_the_ones_with_vcr_tests():
    names = {path.name for path in cassette_modules()}
    assert names == {"test_error_scenarios.py", "test_recorded_sync.py"}

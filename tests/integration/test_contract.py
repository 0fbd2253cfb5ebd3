"""The live contract check, end to end against the Plex emulator with each switch both ways.

`python -m reconciler.contract` must report what the server did, for either answer a real
Plex might give, and leave the scratch item as it found it.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from reconciler.contract import main
from reconciler.contract_probes import PlexWire, run_probes
from reconciler.emulators.plex_switches import PlexSwitches, SwitchablePlexEmulator
from tests.clock import Clock
from tests.integration.conftest import ROOT

pytestmark = pytest.mark.integration

TOKEN = "contract-T0KEN-3b9e"
ONE_WAY = PlexSwitches()
OTHER_WAY = PlexSwitches(
    multi_read_404=True,
    tag_case_merged=True,
    updated_at_lag=3,
    unknown_filters_ignored=True,
    max_request_line=8_000,
    reselect_held_posters=False,
)


@pytest.fixture
def clock() -> Clock:
    return Clock(1_790_000_000.0)


def scratch_plex(clock: Clock, switches: PlexSwitches) -> SwitchablePlexEmulator:
    plex = SwitchablePlexEmulator(token=TOKEN, clock=clock, switches=switches)
    plex.add_section("Private", ["/home/someone"])
    plex.add_section("Scratch", ["/scratch"])
    plex.add_item("Private", "/home/someone/keep.mp4", "Keep out")
    plex.add_item("Scratch", "/scratch/probe.mp4", "Probe me", summary="As it was.",
                  genres=["Drama"], locked=["title"], user_rating=8.0)
    plex.add_item("Scratch", "/scratch/other.mp4", "Other")
    plex.start()
    plex.edit_item(plex.items("Scratch")[0].rating_key, summary="As it was.")
    clock.tick(100)  # the item was last changed a while ago, as on a real server
    return plex


def held(plex: SwitchablePlexEmulator, rating_key: int) -> tuple:
    item = plex.item(rating_key)
    return (item.title, item.summary, item.genres, sorted(item.locked), item.user_rating,
            plex.library.by_key[rating_key].image("thumb").selected)


@pytest.mark.parametrize("switches", [ONE_WAY, OTHER_WAY], ids=["one_way", "other_way"])
def test_each_unknown_is_reported_as_the_server_answers_it(switches, clock):
    plex = scratch_plex(clock, switches)
    try:
        report = run_probes(PlexWire(plex.url, TOKEN), "Scratch", sleep=clock.tick)
    finally:
        plex.stop()

    found = {f.behaviour: f for f in report.findings}
    flipped = switches is OTHER_WAY
    assert found["multi-id read naming a missing id"].value == ("404" if flipped else "rest")
    assert found["tags differing only in case"].value == ("merged" if flipped else "kept")
    assert found["updatedAt after an edit"].value == (3.0 if flipped else 0)
    assert found["listing filter on an unknown field"].value == (
        "ignored" if flipped else "rejected"
    )
    long_edit = found["an over-long edit request"]
    assert (long_edit.value is not None) == flipped
    if flipped:
        assert 8_000 < long_edit.value < 9_200
    assert found["re-uploading bytes the item holds"].value is (not flipped)
    assert found["updatedAt>>= at the item's own stamp"].value == "strict"
    assert found["a rating change and updatedAt"].value == {"updatedAt": False,
                                                            "lastRatedAt": True}
    assert report.not_restored == [] and report.requests <= 25


@pytest.mark.parametrize("switches", [ONE_WAY, OTHER_WAY], ids=["one_way", "other_way"])
def test_the_scratch_item_is_put_back_and_nothing_else_is_touched(switches, clock):
    plex = scratch_plex(clock, switches)
    probe_key = plex.items("Scratch")[0].rating_key
    others = {it.rating_key: held(plex, it.rating_key) for it in plex.items()
              if it.rating_key != probe_key}
    before = held(plex, probe_key)
    out = io.StringIO()
    env = {
        "STASHPLEX_RECORD_PLEX_URL": plex.url,
        "STASHPLEX_RECORD_PLEX_TOKEN": TOKEN,
        "STASHPLEX_RECORD_PLEX_LIBRARY": "Scratch",
    }
    try:
        status = main([], env=env, out=out, sleep=clock.tick)
        after = held(plex, probe_key)
        others_after = {key: held(plex, key) for key in others}
    finally:
        plex.stop()

    assert status == 0
    assert after == before and others_after == others
    text = out.getvalue()
    assert f"item {probe_key} ('Probe me')" in text
    assert "restored: title, summary, genres, locks, rating, poster" in text
    assert TOKEN not in text


def test_the_report_names_the_matching_emulator_setting(clock):
    plex = scratch_plex(clock, OTHER_WAY)
    out = io.StringIO()
    env = {
        "STASHPLEX_RECORD_PLEX_URL": plex.url,
        "STASHPLEX_RECORD_PLEX_TOKEN": TOKEN,
        "STASHPLEX_RECORD_PLEX_LIBRARY": "Scratch",
    }
    try:
        main([], env=env, out=out, sleep=clock.tick)
    finally:
        plex.stop()
    text = out.getvalue()
    for setting in ("multi_read_404=True", "tag_case_merged=True", "updated_at_lag>0",
                    "unknown_filters_ignored=True", "max_request_line<=",
                    "reselect_held_posters=False"):
        assert setting in text, setting


def test_an_unknown_library_is_one_clear_line(clock, capsys):
    plex = scratch_plex(clock, ONE_WAY)
    env = {
        "STASHPLEX_RECORD_PLEX_URL": plex.url,
        "STASHPLEX_RECORD_PLEX_TOKEN": TOKEN,
        "STASHPLEX_RECORD_PLEX_LIBRARY": "Nope",
    }
    try:
        status = main([], env=env, sleep=clock.tick)
    finally:
        plex.stop()
    assert status == 1
    assert "no library named 'Nope' (libraries: Private, Scratch)" in capsys.readouterr().err


def test_without_the_environment_it_says_what_to_set_and_exits_2():
    env = {k: v for k, v in os.environ.items() if not k.startswith("STASHPLEX_RECORD_")}
    done = subprocess.run([sys.executable, "-m", "reconciler.contract"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    for name in ("STASHPLEX_RECORD_PLEX_URL", "STASHPLEX_RECORD_PLEX_TOKEN",
                 "STASHPLEX_RECORD_PLEX_LIBRARY"):
        assert name in done.stderr

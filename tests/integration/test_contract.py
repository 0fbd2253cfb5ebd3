"""The live contract check, end to end against the Plex emulator with each switch both ways.

`python -m reconciler.contract` must report what the server did, for either answer a real
Plex might give, name the `PlexEmulator` setting that answers the same way, and leave the
scratch item as it found it.
"""

from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from reconciler.contract import main
from reconciler.contract_probes import PlexWire, run_probes
from reconciler.emulators.plex import PlexEmulator
from tests.clock import Clock
from tests.integration.conftest import ROOT

pytestmark = pytest.mark.integration

TOKEN = "contract-T0KEN-3b9e"


@dataclass(frozen=True)
class Way:
    """One side of every switch the check probes: constructor switches and write rules."""

    name: str
    switches: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, Any] = field(default_factory=dict)


REAL_PMS = Way("real_pms_defaults")
OTHER_WAY = Way(
    "other_way",
    switches={"missing_in_batch": "404", "unknown_filters": "400"},
    rules={
        "merge_tag_case": True,
        "updated_at_delay": 3,
        "max_request_line": None,
        "reselect_held_uploads": True,
    },
)
BOTH_WAYS = pytest.mark.parametrize("way", [REAL_PMS, OTHER_WAY], ids=lambda w: w.name)


@pytest.fixture
def clock() -> Clock:
    return Clock(1_790_000_000.0)


@dataclass
class ScratchPlex:
    plex: PlexEmulator
    probe_key: int  # the scratch library's lowest ratingKey, not first by title


def scratch_plex(clock: Clock, way: Way) -> ScratchPlex:
    plex = PlexEmulator(token=TOKEN, clock=clock, **way.switches)
    for name, value in way.rules.items():
        setattr(plex.library.rules, name, value)
    plex.add_section("Private", ["/home/someone"])
    plex.add_section("Scratch", ["/scratch"])
    plex.add_item("Private", "/home/someone/keep.mp4", "Keep out")
    probe_key = plex.add_item("Scratch", "/scratch/probe.mp4", "Probe me",
                              summary="As it was.", genres=["Drama"], locked=["title"],
                              user_rating=8.0)
    # listed first by titleSort, so a check picking by default order would edit it
    plex.add_item("Scratch", "/scratch/other.mp4", "Another one")
    plex.start()
    plex.edit_item(probe_key, summary="As it was.")
    clock.tick(100)  # the item was last changed a while ago, as on a real server
    return ScratchPlex(plex, probe_key)


def held(plex: PlexEmulator, rating_key: int) -> tuple:
    item = plex.item(rating_key)
    return (item.title, item.summary, item.genres, sorted(item.locked), item.user_rating,
            item.poster_sha1, item.poster_uploads)


def contract_env(plex: PlexEmulator, library: str = "Scratch") -> dict[str, str]:
    return {
        "STASHPLEX_RECORD_PLEX_URL": plex.url,
        "STASHPLEX_RECORD_PLEX_TOKEN": TOKEN,
        "STASHPLEX_RECORD_PLEX_LIBRARY": library,
    }


_SETTING = re.compile(r"^([a-z_.]+)(<=|=|>)(\S+)")


def setting_holds(plex: PlexEmulator, setting: str) -> bool:
    """Whether the emulator is set as `setting` (e.g. `library.rules.merge_tag_case=True`,
    `library.rules.max_request_line<=9036`) says; an unknown name raises AttributeError."""
    m = _SETTING.match(setting)
    assert m, setting
    path, op, raw = m.groups()
    actual: Any = plex
    for part in path.split("."):
        actual = getattr(actual, part)
    expected = ast.literal_eval(raw)
    if op == "=":
        return actual == expected
    if actual is None:
        return False
    return actual <= expected if op == "<=" else actual > expected


@BOTH_WAYS
def test_each_unknown_is_reported_as_the_server_answers_it(way, clock):
    scratch = scratch_plex(clock, way)
    try:
        report = run_probes(PlexWire(scratch.plex.url, TOKEN), "Scratch", sleep=clock.tick)
    finally:
        scratch.plex.stop()

    found = {f.behaviour: f for f in report.findings}
    flipped = way is OTHER_WAY
    assert report.item.rating_key == scratch.probe_key
    assert found["multi-id read naming a missing id"].value == ("404" if flipped else "rest")
    assert found["tags differing only in case"].value == ("merged" if flipped else "kept")
    assert found["updatedAt after an edit"].value == (3.0 if flipped else 0)
    assert found["listing filter on an unknown field"].value == (
        "rejected" if flipped else "ignored"
    )
    long_edit = found["an over-long edit request"]
    assert (long_edit.value is None) == flipped
    if not flipped:
        assert 8_192 < long_edit.value < 9_200
    assert found["re-uploading bytes the item holds"].value is flipped
    assert found["updatedAt>>= at the item's own stamp"].value == "strict"
    assert found["a rating change and updatedAt"].value == {"updatedAt": False,
                                                            "lastRatedAt": True}
    assert report.not_restored == [] and report.requests <= 25


@BOTH_WAYS
def test_the_scratch_item_is_put_back_and_nothing_else_is_touched(way, clock):
    scratch = scratch_plex(clock, way)
    plex, probe_key = scratch.plex, scratch.probe_key
    others = {it.rating_key: held(plex, it.rating_key) for it in plex.items()
              if it.rating_key != probe_key}
    before = held(plex, probe_key)[:-1]  # the probe's uploads stay in the poster list
    out = io.StringIO()
    try:
        status = main([], env=contract_env(plex), out=out, sleep=clock.tick)
        after = held(plex, probe_key)[:-1]
        others_after = {key: held(plex, key) for key in others}
    finally:
        plex.stop()

    assert status == 0
    assert after == before and others_after == others
    text = out.getvalue()
    assert f"item {probe_key} ('Probe me')" in text
    assert "restored: title, summary, genres, locks, rating, poster" in text
    assert TOKEN not in text


@BOTH_WAYS
def test_the_report_names_the_base_emulator_setting_that_answers_the_same(way, clock):
    scratch = scratch_plex(clock, way)
    out = io.StringIO()
    try:
        main([], env=contract_env(scratch.plex), out=out, sleep=clock.tick)
    finally:
        scratch.plex.stop()

    named = re.findall(r"\[emulator: ([^\]]+)\]", out.getvalue())
    assert named and all(setting_holds(scratch.plex, setting) for setting in named), named
    assert {_SETTING.match(s).group(1) for s in named} == {
        "missing_in_batch",
        "unknown_filters",
        "library.rules.merge_tag_case",
        "library.rules.updated_at_delay",
        "library.rules.max_request_line",
        "library.rules.reselect_held_uploads",
    }


def test_a_setting_the_report_names_is_not_held_by_the_other_way(clock):
    """The named settings tell the two ways apart: none holds on the emulator set otherwise."""
    scratch = scratch_plex(clock, REAL_PMS)
    other = scratch_plex(clock, OTHER_WAY)
    try:
        report = run_probes(PlexWire(scratch.plex.url, TOKEN), "Scratch", sleep=clock.tick)
    finally:
        scratch.plex.stop()
        other.plex.stop()
    for finding in report.findings:
        if finding.switch != "-":
            assert not setting_holds(other.plex, finding.switch), finding.switch


def test_an_unknown_library_is_one_clear_line(clock, capsys):
    scratch = scratch_plex(clock, REAL_PMS)
    try:
        status = main([], env=contract_env(scratch.plex, "Nope"), sleep=clock.tick)
    finally:
        scratch.plex.stop()
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

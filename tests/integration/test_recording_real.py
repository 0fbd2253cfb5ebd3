"""Recording against a real Plex and Stash, tried on the emulators standing in for them.

`python -m tests.record` with the STASHPLEX_RECORD_* variables records the cassette tests
through the scratch proxies (`tests/scratch.py`, `tests/scratch_stash.py`). Here emulators
play the real servers, each with scratch items and private ones: the recording must pass,
replay in record mode `none`, hold none of the servers' secrets, ids, private paths or
names, and leave every item and scene as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from tests.integration.conftest import ROOT
from tests.recording import MACHINE_ID_PLACEHOLDER

pytestmark = pytest.mark.integration

REAL_TOKEN = "real-server-T0KEN-5c1d"
REAL_KEY = "real-stash-KEY-8e2a"
SELECTION = "http_500 or http_401 or first_sync"
PRIVATE = (REAL_KEY, REAL_TOKEN, "/home/alice", "/srv/", "Private", "Holiday", "Secret scene",
           "Alice Private", "Stash clip", "Scratch tag")


@pytest.fixture
def real_plex():
    plex = PlexEmulator(token=REAL_TOKEN)
    plex.add_section("Private", ["/home/alice/Movies"])
    plex.add_section("Stashplex Scratch", ["/srv/scratch"])
    plex.add_item("Private", "/home/alice/Movies/holiday.mkv", "Holiday")
    for n in range(1, 6):
        plex.add_item("Stashplex Scratch", f"/srv/scratch/clip-{n}.mp4", f"Clip {n}",
                      summary=f"Scratch clip {n}.", genres=["Scratch"], locked=["title"],
                      user_rating=6.0)
    plex.start()
    yield plex
    plex.stop()


@pytest.fixture
def real_stash():
    stash = StashEmulator(api_key=REAL_KEY)
    stash.add_scene(title="Secret scene", performers=["Alice Private"], tags=["Private tag"],
                    files=["/home/alice/private.mp4"])
    for n in range(1, 6):
        stash.add_scene(title=f"Stash clip {n}", details="Scratch.", tags=["Scratch tag"],
                        files=[f"/srv/stash-scratch/clip-{n}.mp4"])
    # the names the tests give their scenes exist already: the emulator has no create mutations
    stash.add_studio("Acme")
    for name in ("Ann", *(f"Performer {n}" for n in range(1, 5))):
        stash.add_performer(name)
    for name in ("Common", *(f"Tag {n}" for n in range(1, 5))):
        stash.add_tag(name)
    stash.start()
    yield stash
    stash.stop()


def held(plex: PlexEmulator, stash: StashEmulator) -> tuple:
    items = [(it.rating_key, it.title, it.summary, it.genres, sorted(it.locked), it.user_rating)
             for it in plex.items()]
    scenes = [(s["id"], s["title"], s.get("details"), sorted(t["name"] for t in s["tags"]))
              for s in stash.scenes()]
    return items, scenes


def test_a_recording_against_real_servers_replays_and_holds_nothing_private(
    real_plex, real_stash, tmp_path
):
    before = held(real_plex, real_stash)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STASHPLEX_")}
    env.update({
        "STASHPLEX_RECORD_PLEX_URL": real_plex.url,
        "STASHPLEX_RECORD_PLEX_TOKEN": REAL_TOKEN,
        "STASHPLEX_RECORD_PLEX_LIBRARY": "Stashplex Scratch",
        "STASHPLEX_RECORD_STASH_URL": real_stash.url,
        "STASHPLEX_RECORD_STASH_API_KEY": REAL_KEY,
        "STASHPLEX_RECORD_STASH_PATH": "/srv/stash-scratch",
        "STASHPLEX_CASSETTE_DIR": str(tmp_path),
    })

    done = subprocess.run([sys.executable, "-m", "tests.record", "-k", SELECTION], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "recording 2 modules from plex+stash" in done.stdout
    assert "replaying them in record mode none" in done.stdout
    cassettes = sorted(tmp_path.rglob("*.yaml"))
    assert len(cassettes) == 3
    texts = [cassette.read_text(encoding="utf-8") for cassette in cassettes]
    machine_id = real_plex.library.machine_identifier
    for cassette, text in zip(cassettes, texts, strict=True):
        assert machine_id not in text, cassette
        for private in PRIVATE:
            assert private not in text, (cassette, private)
    assert any(MACHINE_ID_PLACEHOLDER in text for text in texts)
    synced = next(t for c, t in zip(cassettes, texts, strict=True) if "first_sync" in c.name)
    assert "Scene 4" in synced and "/data/Studio/scene-4.mp4" in synced
    assert held(real_plex, real_stash) == before
    assert any(m in ("PUT", "POST") for m, _, _ in real_plex.requests)

"""Recording against a real Plex, tried on the emulator standing in for one.

`python -m tests.record` with the STASHPLEX_RECORD_PLEX_* variables records the cassette
tests through the scratch proxy (`tests/scratch.py`). Here a Plex emulator plays the real
server, with a scratch library and a private one: the recording must pass, replay in record
mode `none`, hold none of the server's secrets or private paths, and leave the scratch items
as they were.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from reconciler.emulators.plex import PlexEmulator
from tests.integration.conftest import ROOT
from tests.recording import MACHINE_ID_PLACEHOLDER

pytestmark = pytest.mark.integration

REAL_TOKEN = "real-server-T0KEN-5c1d"
SELECTION = "http_500 or http_401 or several_matches_without or first_sync"


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


def state(plex: PlexEmulator) -> list[tuple]:
    return [(it.rating_key, it.title, it.summary, it.genres, sorted(it.locked), it.user_rating)
            for it in plex.items()]


def test_a_recording_against_a_real_plex_replays_and_holds_nothing_private(real_plex, tmp_path):
    before = state(real_plex)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STASHPLEX_")}
    env.update({
        "STASHPLEX_RECORD_PLEX_URL": real_plex.url,
        "STASHPLEX_RECORD_PLEX_TOKEN": REAL_TOKEN,
        "STASHPLEX_RECORD_PLEX_LIBRARY": "Stashplex Scratch",
        "STASHPLEX_CASSETTE_DIR": str(tmp_path),
    })

    done = subprocess.run([sys.executable, "-m", "tests.record", "-k", SELECTION], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "recording 2 modules from plex" in done.stdout
    assert "replaying them in record mode none" in done.stdout
    cassettes = sorted(tmp_path.rglob("*.yaml"))
    assert len(cassettes) == 4
    machine_id = real_plex.library.machine_identifier
    texts = [cassette.read_text(encoding="utf-8") for cassette in cassettes]
    for cassette, text in zip(cassettes, texts, strict=True):
        assert REAL_TOKEN not in text and "/home/alice" not in text, cassette
        assert "/srv/scratch" not in text and "Private" not in text, cassette
        assert machine_id not in text, cassette
    assert any(MACHINE_ID_PLACEHOLDER in text for text in texts)
    assert state(real_plex) == before
    writes = [(m, p) for m, p, _ in real_plex.requests if m in ("PUT", "POST")]
    assert writes, "the recording never reached the real server"

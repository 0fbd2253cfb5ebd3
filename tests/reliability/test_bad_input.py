"""Bad data from Stash, bad answers from Plex, bad config: a clear error, never a crash."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.app import App
from reconciler.config import parse_config
from reconciler.diff import clean_tags, clean_text
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from tests.integration.conftest import make_config
from tests.integration.test_error_scenarios import enqueue, scene

pytestmark = pytest.mark.integration

KEY, TOKEN = "bad-input-key-0001", "bad-input-token-0001"

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(
    ["", " ", "\x00\x01\x1f", "Ünïcödé ñ 中文 العربية", "🎬🔥💯", "a" * 3000, "<b>&amp;</b>",
     "line\nbreak\ttab", "Ω≈ç√∫", "%20%2F", "../../etc/passwd"])
dates = st.none() | st.sampled_from(["2023-02-30", "0000-00-00", "2024-13-01", "99999-01-01",
                                     "2024-02-29", "2023-01-01", "yesterday", ""])
ratings = st.none() | st.integers(-50, 250)
# file names may hold anything but a slash and control characters (which XML cannot carry)
path_parts = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/"),
                     min_size=1, max_size=20)


@st.composite
def scenes(draw, number: int) -> dict:
    files = draw(st.lists(path_parts, max_size=3))
    return {
        "title": draw(st.none() | text), "details": draw(st.none() | text),
        "date": draw(dates), "rating100": draw(ratings),
        "studio": draw(st.none() | text.filter(lambda s: s.strip())),
        "tags": draw(st.lists(text.filter(lambda s: s.strip()), max_size=4, unique=True)),
        "performers": draw(st.lists(text.filter(lambda s: s.strip()), max_size=3, unique=True)),
        "files": [f"/data/{number}/{i}-{name}.mp4" for i, name in enumerate(files)],
    }


def expected_failure(data: dict) -> str | None:
    """Which part of the message names the problem, for data Plex cannot take."""
    if not data["files"]:
        return "missing file path"
    date = data["date"]
    if date and date not in ("2024-02-29", "2023-01-01"):
        return "is not a valid calendar date"
    rating = data["rating100"]
    if rating is not None and not 1 <= rating <= 100:
        return "rating100"
    return None


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.tuples(*(scenes(n) for n in range(1, 5))))
def test_odd_scenes_from_stash_never_crash_the_run(batch):
    stash = StashEmulator(api_key=KEY).start()
    plex = PlexEmulator(token=TOKEN).start()
    tmp = tempfile.TemporaryDirectory()
    try:
        plex.add_section("Adult", ["/data"])
        rating_keys = {}
        for data in batch:
            scene_id = stash.add_scene(**data)
            if data["files"]:
                rating_keys[scene_id] = plex.add_item("Adult", data["files"][0])
        config = parse_config({
            "stash": {"url": stash.url, "api_key": KEY},
            "plex": {"url": plex.url, "token": TOKEN, "libraries": ["Adult"]},
            "database": str(Path(tmp.name) / "x.db"),
        }, env={})
        app = App(config)
        try:
            summary = app.reconcile_all()
            letters = {letter.scene_id: letter for letter in app.store.dead_letters()}
        finally:
            app.close()
        assert summary.seen == len(batch)
        for scene_id, data in zip(["1", "2", "3", "4"], batch, strict=True):
            problem = expected_failure(data)
            if problem:
                assert scene_id in letters, data
                assert problem in letters[scene_id].error_message
                assert letters[scene_id].error_message.startswith(f"scene {scene_id}")
                continue
            assert scene_id not in letters, letters.get(scene_id)
            item = plex.item(rating_keys[scene_id])
            if clean_text(data["title"]):
                assert item.title == clean_text(data["title"])
            assert sorted(item.genres, key=str.casefold) == list(clean_tags(data["tags"]))
    finally:
        stash.stop()
        plex.stop()
        tmp.cleanup()


@pytest.mark.parametrize("status, body, error_class", [
    (200, b"this is not XML at all", "PlexTemporaryError"),
    (200, b"<html><body><h1>Bad Gateway</h1></body></html>", "PlexTemporaryError"),
    (200, b"", "PlexTemporaryError"),
    (520, b"<html>Cloudflare: web server is returning an unknown error</html>",
     "PlexTemporaryError"),
    (498, b"token expired", "PlexTemporaryError"),
    (500, b"<html><body>500 Internal Server Error</body></html>", "PlexTemporaryError"),
])
def test_malformed_plex_answers_are_transient_and_the_rest_go_on(status, body, error_class,
                                                                 plex, store, make_worker,
                                                                 clock, tmp_path):
    for n in (1, 2):
        plex.add_item("Adult", f"/media/{n}.mp4")
    worker = make_worker(make_config(plex.url, tmp_path / "x.db"))
    enqueue(store, scene("1", files=["/media/1.mp4"]))
    worker.catalog.build()
    worker.drain()  # scene 1 synced
    enqueue(store, scene("2", files=["/media/2.mp4"]))
    plex.inject(status, body=body, content_type="text/html", path_prefix="/library/metadata")

    result = worker.drain()

    job = store.job_for("2")
    assert result.retried == 1 and job.last_error_class == error_class
    assert "while reading items" in job.last_error
    clock.tick(10)
    assert worker.drain().applied == 1
    assert plex.item(2).title == "Scene 2"


def test_a_5xx_storm_ends_in_the_dead_letter_queue_not_a_crash(plex, store, make_worker, clock,
                                                              tmp_path):
    plex.add_item("Adult", "/media/a.mp4")
    worker = make_worker(make_config(plex.url, tmp_path / "x.db"))
    enqueue(store, scene())
    plex.inject(500, count=1000, path_prefix="/library/metadata")
    for _ in range(6):
        worker.drain()
        clock.tick(100)
    (letter,) = store.dead_letters()
    assert letter.attempts == 6 and "500" in letter.error_message


BAD_CONFIGS = {
    "bad YAML": ("plex: {url: [\n", "invalid YAML at line"),
    "not a mapping": ("- just\n- a list\n", "expected a YAML mapping at the top level"),
    "wrong type": ("schedule:\n  poll_interval: often\n",
                   "schedule.poll_interval: expected a number of seconds, got 'often'"),
    "unknown key": ("plex:\n  tokn: abc\n", "plex.tokn: unknown key"),
    "unknown section": ("plexx: {}\n", "plexx: unknown key"),
    "bad field name": ("sync:\n  fields: [title, colour]\n", "sync.fields: unknown field"),
    "negative interval": ("schedule:\n  process_interval: -1\n",
                          "schedule.process_interval: expected a number of seconds above 0"),
    "path_map onto itself": ("path_map:\n  - {stash: /media, plex: /media/}\n",
                             "path_map[0]: maps '/media' onto itself"),
    "path_map twice": ("path_map:\n  - {stash: /a, plex: /b}\n  - {stash: /a/, plex: /c}\n",
                       "path_map[1]: Stash prefix '/a/' is already mapped by path_map[0]"),
    "path_map half": ("path_map:\n  - {stash: /a}\n", "path_map[0]: expected both"),
    "bad url": ("stash:\n  url: stash.local:9999\n", "stash.url: expected an http"),
    "not UTF-8": (b"plex:\n  token: \xff\xfe\n", "is not UTF-8 text"),
}


@pytest.mark.parametrize("mistake", sorted(BAD_CONFIGS))
def test_every_config_mistake_exits_2_with_one_line(mistake, tmp_path):
    content, message = BAD_CONFIGS[mistake]
    config = tmp_path / "stashplex.yaml"
    if isinstance(content, bytes):
        config.write_bytes(content)
    else:
        config.write_text(content)

    result = subprocess.run([sys.executable, "-m", "reconciler", "--config", str(config),
                             "--reconcile-all"], capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"stashplex: {config}: ") and message in lines[0]


def test_an_unreadable_config_file_exits_2(tmp_path):
    config = tmp_path / "stashplex.yaml"
    config.mkdir()  # unreadable as a file, even for root
    result = subprocess.run([sys.executable, "-m", "reconciler", "--config", str(config),
                             "status"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "cannot read the config file" in result.stderr

"""`stashplex demo`: a first run without any server of your own.

Starts the bundled Stash and Plex emulators on free local ports with a sample
library, writes a temporary config, runs a full pass, then edits a scene in the
emulated Stash and lets the daemon carry it to Plex. Leaves nothing running.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import yaml

from reconciler.app import App
from reconciler.config import DEFAULT_FIELDS, load_config
from reconciler.daemon import Daemon
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.sample import sample_library
from reconciler.emulators.stash import StashEmulator
from reconciler.progress import Progress
from reconciler.redact import register_secret
from reconciler.sdnotify import Notifier

DEMO_TOKEN = "demo-plex-token"
DEMO_KEY = "demo-stash-key"


def _populate(stash: StashEmulator, plex: PlexEmulator, count: int) -> dict:
    library = sample_library(count)
    for section in library.plex["sections"]:
        plex.add_section(section["title"], section["locations"], section["type"])
    for scene in library.stash["scenes"]:
        stash.add_scene(**scene)
    for item in library.plex["items"]:
        fields = dict(item)
        section, files = fields.pop("section"), fields.pop("files")
        fields["locked"] = set(fields.get("locked", ()))
        plex.add_item(section, files, **fields)
    return {
        "unscanned": library.unscanned,
        "ambiguous": library.ambiguous,
        # an ambiguous file is dead-lettered, however well its items match: not "in sync"
        "in_sync": [s for s in library.in_sync if s not in library.ambiguous],
    }


def _write_config(folder: Path, stash: StashEmulator, plex: PlexEmulator) -> Path:
    config = {
        "stash": {"url": stash.url, "api_key": DEMO_KEY},
        "plex": {"url": plex.url, "token": DEMO_TOKEN, "libraries": ["Adult"]},
        "path_map": [{"stash": "/data/stash", "plex": "/media/stash"}],
        "sync": {"fields": [name for name in DEFAULT_FIELDS if name != "poster"]},
        "schedule": {"poll_interval": 1, "process_interval": 1, "reconcile_interval": 0},
        "retry": {
            "transient": {"max_retries": 5, "base": 1, "cap": 4},
            "not_found": {"max_retries": 2, "base": 1, "cap": 2},
        },
        "database": str(folder / "stashplex.db"),
    }
    path = folder / "stashplex.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def run_demo(count: int = 36, say=print) -> int:
    register_secret(DEMO_TOKEN)
    register_secret(DEMO_KEY)
    stash = StashEmulator(api_key=DEMO_KEY)
    plex = PlexEmulator(token=DEMO_TOKEN)
    with tempfile.TemporaryDirectory(prefix="stashplex-demo-") as tmp:
        stash.start()
        plex.start()
        try:
            cases = _populate(stash, plex, count)
            config_path = _write_config(Path(tmp), stash, plex)
            say(f"Stash emulator: {stash.url}   Plex emulator: {plex.url}")
            say(
                f"sample library: {count} scenes; {len(cases['in_sync'])} already in sync on "
                f"Plex, scene {cases['unscanned'][0]} not scanned by Plex yet, "
                f"scene {cases['ambiguous'][0]} with two Plex items for its file"
            )
            say("")
            say("$ stashplex reconcile")
            config = load_config(str(config_path))
            app = App(config)
            try:
                summary = app.reconcile_all(Progress())
            finally:
                app.close()
            for line in summary.lines():
                say(line)
            say("")
            return _show_daemon(config, stash, plex, say)
        finally:
            stash.stop()
            plex.stop()


def _show_daemon(config, stash: StashEmulator, plex: PlexEmulator, say) -> int:
    scene = stash.scene("1")
    new_title = f"{scene['title']} (Director's Cut)"
    say(f"editing scene 1 in Stash: title {scene['title']!r} -> {new_title!r}, tag 'Demo' added")
    tags = [tag["name"] for tag in scene["tags"]] + ["Demo"]
    stash.update_scene("1", title=new_title, tags=tags)
    rating_key = _rating_key_of(plex, scene["files"][0]["path"])
    say("$ stashplex run   (stopped after its first poll)")
    daemon = Daemon(config, Notifier(address=""))
    runner = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
    runner.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and daemon.polls < 1:
        time.sleep(0.1)
    daemon.request_stop()
    runner.join(timeout=30)
    item = plex.item(rating_key)
    carried = item.title == new_title and "Demo" in item.genres
    say(f"Plex item {rating_key} now: title {item.title!r}, genres {', '.join(item.genres)}")
    say(
        "the daemon carried the edit to Plex in one poll"
        if carried
        else "the edit did not reach Plex"
    )
    return 0 if carried and not runner.is_alive() else 1


def _rating_key_of(plex: PlexEmulator, stash_path: str) -> int:
    plex_path = "/media/stash" + stash_path[len("/data/stash") :]
    return next(item.rating_key for item in plex.items() if plex_path in item.files)

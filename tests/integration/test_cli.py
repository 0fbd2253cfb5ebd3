"""Every command, run as a user runs it: a separate process, its exit code and its output."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.errors import PlexNotFound
from reconciler.store import Store
from tests.integration.test_reconcile import PLEX_TOKEN, STASH_KEY, World

pytestmark = pytest.mark.integration


def stashplex(*args: str, env: dict | None = None, timeout: float = 60):
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def spawn(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})},
    )


def wait_for(condition, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def world(tmp_path):
    stash = StashEmulator(api_key=STASH_KEY).start()
    plex = PlexEmulator(token=PLEX_TOKEN).start()
    built = World(tmp_path, stash, plex)
    built.app.close()
    yield built
    stash.stop()
    plex.stop()


def write_config(world: World, tmp_path: Path, **changes) -> str:
    data = {
        "stash": {"url": world.stash.url, "api_key": STASH_KEY},
        "plex": {"url": world.plex.url, "token": PLEX_TOKEN, "libraries": ["Adult"]},
        "path_map": [{"stash": "/data", "plex": "/media"}],
        "schedule": {"poll_interval": 0.3, "process_interval": 0.2, "reconcile_interval": 0},
        "retry": {"transient": {"base": 0.01, "cap": 0.05}, "not_found": {"base": 0.01,
                                                                         "cap": 0.05}},
        "database": str(tmp_path / "stashplex.db"),
    }
    for key, value in changes.items():
        if isinstance(value, dict):
            data.setdefault(key, {}).update(value)
        else:
            data[key] = value
    path = tmp_path / "stashplex.yaml"
    path.write_text(yaml.safe_dump(data))
    path.chmod(0o600)
    return str(path)


# -- help and configuration ------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["run"], ["check"], ["status"], ["demo"], ["dlq"],
                                     ["dlq", "list"], ["dlq", "retry"], ["dlq", "purge"]])
def test_every_command_has_help_with_an_example(command):
    result = stashplex(*command, "--help")
    assert result.returncode == 0
    assert "example" in result.stdout.lower()
    assert "stashplex" in result.stdout


def test_bad_config_exits_2_with_one_line(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("plex:\n  timeout: soon\n")

    result = stashplex("--config", str(config), "status")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"stashplex: {config}: plex.timeout: expected a number of seconds, got 'soon'"]


def test_missing_config_file_exits_2_naming_it(tmp_path):
    result = stashplex("--config", str(tmp_path / "none.yaml"), "--reconcile-all")
    assert result.returncode == 2
    assert "none.yaml: config file not found" in result.stderr


# -- one-shot runs -------------------------------------------------------------------------


def test_reconcile_all_prints_a_summary_and_exit_codes(world, tmp_path):
    config = write_config(world, tmp_path)

    first = stashplex("--config", config, "--reconcile-all")
    second = stashplex("--config", config, "--reconcile-all")
    world.stash.update_scene("2", date="2023-02-30")
    third = stashplex("--config", config, "--reconcile-all")

    assert first.returncode == 0, first.stderr
    assert "scenes seen:            4" in first.stdout
    assert "updated:                4" in first.stdout
    assert second.returncode == 0 and "in sync:                4" in second.stdout
    assert third.returncode == 1 and "dead-lettered:          1" in third.stdout
    assert "2023-02-30" in third.stderr  # the ERROR line for the dead letter


def test_reconcile_all_exits_3_when_plex_is_unreachable(world, tmp_path):
    config = write_config(world, tmp_path)
    world.plex.stop()

    result = stashplex("--config", config, "--reconcile-all")

    assert result.returncode == 3
    assert result.stderr.strip().splitlines()[-1].startswith("stashplex: cannot connect to Plex")
    assert "Traceback" not in result.stderr


def test_reconcile_all_exits_3_when_stash_refuses_the_key(world, tmp_path):
    config = write_config(world, tmp_path, stash={"api_key": "wrong-key-5555"})

    result = stashplex("--config", config, "--reconcile-all")

    assert result.returncode == 3
    assert "stash.api_key" in result.stderr and "wrong-key-5555" not in result.stderr


def test_dry_run_shows_changes_and_writes_nothing(world, tmp_path):
    config = write_config(world, tmp_path)

    result = stashplex("--config", config, "--reconcile-all", "--dry-run")

    assert result.returncode == 0
    assert "title: 'scene-1' -> 'Scene 1'" in result.stdout
    assert world.plex.item(world.rating_keys["1"]).title == "scene-1"
    assert Store(tmp_path / "stashplex.db").jobs() == []


# -- status and the dead-letter queue -----------------------------------------------------


def test_status_json_matches_the_queue(world, tmp_path):
    config = write_config(world, tmp_path)
    store = Store(tmp_path / "stashplex.db")
    store.enqueue_many([(str(n), {"scene": {"id": str(n)}}) for n in range(1, 4)])
    job = store.claim(1)[0]
    store.reschedule(job, 300, PlexNotFound("not scanned"), 1)
    store.set_watermark("stash_scenes", "2026-11-24T10:00:00+01:00")

    result = stashplex("--config", config, "status", "--json")

    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["queue"]["queued"] == 3 and report["queue"]["waiting_retry"] == 1
    assert report["dead_letters"] == 0
    assert report["watermarks"]["stash_scenes"] == "2026-11-24T10:00:00+01:00"
    assert report["plex_paused_since"] is None
    text = stashplex("--config", config, "status")
    assert "3 queued (1 waiting for a retry)" in text.stdout


def test_dlq_list_retry_and_purge(world, tmp_path):
    config = write_config(world, tmp_path)
    world.stash.update_scene("3", date="0000-00-00")
    assert stashplex("--config", config, "--reconcile-all").returncode == 1

    listed = stashplex("--config", config, "dlq", "list", "--json")
    (letter,) = json.loads(listed.stdout)
    assert letter["scene_id"] == "3" and letter["title"] == "Scene 3"
    assert letter["file"] == "/data/Studio/scene-3.mp4"
    assert letter["error_class"] == "InvalidSceneData" and "0000-00-00" in letter["error"]
    assert "scene 3" in stashplex("--config", config, "dlq", "list").stdout

    world.stash.update_scene("3", date="2024-03-03")
    retried = stashplex("--config", config, "dlq", "retry", str(letter["id"]))
    assert retried.returncode == 0 and "1 dead letter(s) queued again" in retried.stdout
    job = Store(tmp_path / "stashplex.db").job_for("3")
    assert job.data["scene"]["date"] == "2024-03-03"  # the scene as Stash has it now

    purged = stashplex("--config", config, "dlq", "purge", "--older-than", "30d")
    assert purged.returncode == 0 and "0 dead letter(s) purged" in purged.stdout


def test_dlq_retry_brings_an_entry_back_and_the_daemon_applies_it(world, tmp_path):
    config = write_config(world, tmp_path, sync={"strict_matching": True})
    extra = world.plex.add_item("Adult", "/media/Studio/scene-4.mp4")
    assert stashplex("--config", config, "--reconcile-all").returncode == 1
    world.plex.remove_item(extra)

    assert stashplex("--config", config, "dlq", "retry", "--all").returncode == 0
    assert stashplex("--config", config, "--reconcile-all").returncode == 0

    assert world.plex.item(world.rating_keys["4"]).title == "Scene 4"
    assert json.loads(stashplex("--config", config, "dlq", "list", "--json").stdout) == []


# -- check ---------------------------------------------------------------------------------


def test_check_passes_against_working_servers(world, tmp_path):
    result = stashplex("--config", write_config(world, tmp_path), "check")
    assert result.returncode == 0, result.stdout
    assert "FAIL" not in result.stdout and "library 'Adult' found" in result.stdout


@pytest.mark.parametrize("changes, line", [
    ({"plex": {"token": "wrong-token-9876"}}, "FAIL  Plex: Plex refused the token (401)"),
    ({"plex": {"libraries": ["Adult", "Scenes"]}},
     "FAIL  plex.libraries: library 'Scenes' not found; Plex has 'Adult'"),
    ({"path_map": [{"stash": "/data", "plex": "/mnt/elsewhere"}]},
     "FAIL  path_map[0]: Plex prefix '/mnt/elsewhere' is in none of the configured"),
])
def test_check_fails_with_the_right_line(world, tmp_path, changes, line):
    result = stashplex("--config", write_config(world, tmp_path, **changes), "check")
    assert result.returncode != 0
    assert line in result.stdout
    assert "wrong-token-9876" not in result.stdout + result.stderr


# -- the daemon ------------------------------------------------------------------------------


def test_daemon_picks_up_an_edit_and_stops_cleanly_on_sigterm(world, tmp_path):
    config = write_config(world, tmp_path)
    daemon = spawn("--config", config, "run")
    try:
        key = world.rating_keys["2"]
        wait_for(lambda: world.plex.item(key).title == "Scene 2", what="the first sync")
        world.stash.update_scene("2", title="Edited while the daemon runs")
        wait_for(lambda: world.plex.item(key).title == "Edited while the daemon runs",
                 what="the edit to reach Plex")
    finally:
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=10)
    assert daemon.returncode == 0, err
    assert "stashplex daemon stopped" in err


def test_sigterm_mid_drain_loses_nothing(world, tmp_path):
    for n in range(5, 65):
        world.stash.add_scene(title=f"Bulk {n}", files=[f"/data/Bulk/{n}.mp4"])
        world.plex.add_item("Adult", f"/media/Bulk/{n}.mp4")
    world.plex.inject(None, delay=0.05, count=1000, path_prefix="/library/sections/1/all")
    config = write_config(world, tmp_path)
    daemon = spawn("--config", config, "run")
    wait_for(lambda: any(i.title.startswith("Bulk") for i in world.plex.items()),
             what="the drain to start")
    daemon.send_signal(signal.SIGTERM)
    started = time.monotonic()
    daemon.communicate(timeout=15)
    assert daemon.returncode == 0 and time.monotonic() - started < 5
    world.plex.clear_faults()

    assert stashplex("--config", config, "--reconcile-all").returncode == 0

    for scene in world.stash.scenes():
        path = "/media" + scene["files"][0]["path"][len("/data"):]
        (item,) = [i for i in world.plex.items() if path in i.files]
        assert item.title == scene["title"]
    store = Store(tmp_path / "stashplex.db")
    assert store.jobs() == [] and store.pending_scene_ids() == set()


def test_a_second_daemon_and_a_one_shot_refuse_the_same_database(world, tmp_path):
    config = write_config(world, tmp_path)
    daemon = spawn("--config", config, "run")
    try:
        wait_for(lambda: world.plex.item(world.rating_keys["1"]).title == "Scene 1",
                 what="the daemon to start")
        second = stashplex("--config", config, "run")
        oneshot = stashplex("--config", config, "--reconcile-all")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=10)
    for refused in (second, oneshot):
        assert refused.returncode == 2
        assert "another stashplex process" in refused.stderr


def test_daemon_speaks_the_systemd_notify_protocol(world, tmp_path):
    config = write_config(world, tmp_path)
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(10)
    daemon = spawn("--config", config, "run",
                   env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"})
    messages: list[str] = []
    try:
        while not any(m.startswith("WATCHDOG=1") for m in messages[1:]) or not any(
                m.startswith("STATUS=") for m in messages):
            messages.append(sock.recv(4096).decode())
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=10)
    sock.settimeout(2)
    try:
        while True:
            messages.append(sock.recv(4096).decode())
    except TimeoutError:
        pass
    sock.close()
    assert messages[0] == "READY=1"
    assert any(m.startswith("STATUS=") and "queued" in m for m in messages)
    assert "WATCHDOG=1" in messages
    assert messages[-1] == "STOPPING=1"


def test_demo_exits_0_and_leaves_nothing_running():
    result = stashplex("demo", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "the daemon carried the edit to Plex in one poll" in result.stdout
    assert "dead-lettered:          1" in result.stdout


def test_status_on_a_mistyped_database_path_creates_nothing(tmp_path):
    config = tmp_path / "stashplex.yaml"
    config.write_text(f"database: {tmp_path / 'typo' / 'stashplex.db'}\n")
    result = stashplex("--config", str(config), "status")
    assert result.returncode == 2 and "no database at" in result.stderr
    assert not (tmp_path / "typo").exists()


def test_an_unwritable_log_file_exits_2(tmp_path):
    config = tmp_path / "stashplex.yaml"
    config.write_text(f"database: {tmp_path / 'x.db'}\n")
    result = stashplex("--config", str(config), "--log-file", str(tmp_path), "status")
    assert result.returncode == 2 and "--log-file: cannot write" in result.stderr

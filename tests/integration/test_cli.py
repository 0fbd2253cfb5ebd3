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


@pytest.mark.parametrize("command", [[], ["run"], ["reconcile"], ["init"], ["check"],
                                     ["status"], ["demo"], ["dlq"], ["dlq", "list"],
                                     ["dlq", "retry"], ["dlq", "purge"]])
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


def test_dlq_list_says_what_went_wrong_in_words(world, tmp_path):
    config = write_config(world, tmp_path)
    world.plex.add_item("Adult", "/media/Studio/scene-4.mp4")
    world.stash.update_scene("3", date="2023-02-30")
    stashplex("reconcile", "--config", config)
    listed = stashplex("dlq", "list", "--config", config).stdout
    assert "error:    several Plex items: scene 4" in listed
    assert "error:    bad data: scene 3" in listed
    assert "PermanentError" not in listed and "InvalidSceneData" not in listed


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
        try:
            daemon.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            _, err = daemon.communicate(timeout=10)
            raise AssertionError(f"the daemon did not stop on SIGTERM:\n{err}") from None
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


def test_the_demo_s_numbers_agree_with_each_other():
    import re

    out = stashplex("demo", timeout=120).stdout
    announced = int(re.search(r"(\d+) already in sync on Plex", out).group(1))
    figures = {name.strip(): int(value) for name, value in
               re.findall(r"^([a-z -]+(?:\(no library\))?):\s+(\d+)$", out, re.MULTILINE)}
    assert figures["in sync"] == announced
    assert figures["scenes seen"] == (figures["in sync"] + figures["updated"]
                                      + figures["waiting for a retry"] + figures["dead-lettered"]
                                      + figures["unmatched (no library)"])


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


# -- the command line as people type it -------------------------------------------------


def test_options_go_before_or_after_the_command(world, tmp_path):
    config = write_config(world, tmp_path)
    assert stashplex("reconcile", "--config", config).returncode == 0

    for args in (["--config", config, "status"], ["status", "--config", config],
                 ["--log-level", "ERROR", "status", "--config", config, "--json"],
                 ["dlq", "list", "--config", config]):
        result = stashplex(*args)
        assert result.returncode == 0, (args, result.stderr)
    quiet = stashplex("reconcile", "--config", config, "--log-level", "ERROR")
    assert quiet.returncode == 0 and "INFO" not in quiet.stderr


def test_reconcile_and_its_alias_do_the_same(world, tmp_path):
    config = write_config(world, tmp_path)
    dry = stashplex("reconcile", "--dry-run", "--config", config)
    assert dry.returncode == 0 and "title: 'scene-1' -> 'Scene 1'" in dry.stdout
    assert world.plex.item(world.rating_keys["1"]).title == "scene-1"
    alias_dry = stashplex("--reconcile-all", "--dry-run", "--config", config)
    assert alias_dry.stdout == dry.stdout

    assert "updated:                4" in stashplex("reconcile", "--config", config).stdout
    assert "in sync:                4" in stashplex("--config", config, "--reconcile-all").stdout


def test_the_database_lies_next_to_the_config_file_whatever_the_working_folder(world, tmp_path):
    folder = tmp_path / "etc"
    folder.mkdir()
    config = write_config(world, tmp_path, database="state/stashplex.db")
    moved = folder / "stashplex.yaml"
    Path(config).rename(moved)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def run_in(cwd, *args):
        return subprocess.run([sys.executable, "-m", "reconciler", *args], capture_output=True,
                              text=True, timeout=60, cwd=cwd,
                              env={**os.environ, "PYTHONPATH": str(Path.cwd())})

    assert run_in(folder, "reconcile", "--config", "stashplex.yaml").returncode == 0
    status = run_in(elsewhere, "status", "--config", str(moved), "--json")

    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["last_poll"] is not None
    assert (folder / "state" / "stashplex.db").exists()
    assert list(elsewhere.iterdir()) == []


def test_ctrl_c_stops_after_the_batch_in_hand_and_says_how_to_finish(world, tmp_path):
    for n in range(5, 151):
        world.stash.add_scene(title=f"Bulk {n}", files=[f"/data/Bulk/{n}.mp4"])
        world.plex.add_item("Adult", f"/media/Bulk/{n}.mp4")
    config = write_config(world, tmp_path)
    world.plex.inject(None, delay=0.03, count=10_000, path_prefix="/library/sections/1/all")
    run = spawn("reconcile", "--config", config)
    wait_for(lambda: any(i.title.startswith(("Bulk", "Scene")) for i in world.plex.items()),
             what="the first write")
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)

    assert run.returncode == 130, err
    assert "interrupted: 100 written, 50 queued; run again to finish" in out
    assert "Traceback" not in err
    world.plex.clear_faults()
    again = stashplex("reconcile", "--config", config)
    assert again.returncode == 0 and "updated:                50" in again.stdout


def _render_terminal(raw: str) -> list[str]:
    """What a terminal shows: a carriage return goes back to the line's start, ESC[K clears."""
    shown = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        screen = ""
        for part in line.split("\r"):
            screen = part[3:] if part.startswith("\x1b[K") else part + screen[len(part):]
        shown.append(screen)
    return shown


def test_on_a_terminal_the_bar_shows_rate_and_time_left_and_log_lines_do_not_tear_it(
        world, tmp_path):
    import pty

    for n in range(5, 251):  # more than one batch: the bar is up while scenes are logged
        world.stash.add_scene(title=f"Bulk {n}", files=[f"/data/Bulk/{n}.mp4"])
        world.plex.add_item("Adult", f"/media/Bulk/{n}.mp4")
    config = write_config(world, tmp_path)
    leader, follower = pty.openpty()
    run = subprocess.Popen([sys.executable, "-m", "reconciler", "reconcile", "--config", config],
                           stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL,
                           text=True)
    os.close(follower)
    raw = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        raw += chunk
    run.communicate(timeout=60)
    os.close(leader)
    text = raw.decode()

    assert run.returncode == 0
    assert "/s" in text and "reading Stash" in text and "writing to Plex" in text
    shown = _render_terminal(text)
    written = [line for line in shown if "written to Plex item" in line]
    assert len(written) == 250
    assert all(line.split()[2] == "INFO" for line in written), written[:3]
    assert not any("[#" in line and "INFO" in line for line in shown)


def test_a_pasted_token_with_a_newline_still_works_and_is_warned_about(world, tmp_path):
    config = write_config(world, tmp_path, plex={"token": f" {PLEX_TOKEN}\n"})
    result = stashplex("reconcile", "--config", config)
    assert result.returncode == 0, result.stderr
    assert "plex.token has spaces or line breaks around it; stripped them" in result.stderr
    assert PLEX_TOKEN not in result.stderr


def test_a_stash_url_ending_in_graphql_works(world, tmp_path):
    config = write_config(world, tmp_path, stash={"url": f"{world.stash.url}/graphql"})
    result = stashplex("check", "--config", config)
    assert result.returncode == 0, result.stdout
    assert f"ok    Stash at {world.stash.url} answers" in result.stdout


@pytest.mark.parametrize("server", ["stash", "plex"])
def test_https_against_a_plain_http_server_says_to_write_http(world, tmp_path, server):
    url = getattr(world, server).url.replace("http://", "https://")
    config = write_config(world, tmp_path, **{server: {"url": url}})
    result = stashplex("check", "--config", config)
    assert result.returncode == 3
    name = server.title()
    assert (f"FAIL  {name}: {name} answers plain HTTP, not HTTPS" in result.stdout
            and f"write {server}.url with http://" in result.stdout), result.stdout
    assert "verify_ssl" not in result.stdout


def test_dlq_retry_of_an_unknown_id_says_so_and_exits_1(world, tmp_path):
    config = write_config(world, tmp_path)
    world.stash.update_scene("3", date="0000-00-00")
    assert stashplex("reconcile", "--config", config).returncode == 1
    listed = stashplex("dlq", "list", "--config", config)
    assert "error:    bad data: scene 3" in listed.stdout, listed.stdout
    assert "InvalidSceneData" not in listed.stdout
    (letter,) = json.loads(stashplex("dlq", "list", "--json", "--config", config).stdout)

    unknown = stashplex("dlq", "retry", "999", "--config", config)
    assert unknown.returncode == 1
    assert "no dead letter #999; see stashplex dlq list" in unknown.stderr
    mixed = stashplex("dlq", "retry", str(letter["id"]), "998", "--config", config)
    assert mixed.returncode == 1 and "1 dead letter(s) queued again" in mixed.stdout
    assert "#998" in mixed.stderr


def test_check_finds_a_wrong_path_map_and_proposes_the_right_one(world, tmp_path):
    config = write_config(world, tmp_path, path_map=[{"stash": "/data/Studio",
                                                      "plex": "/media/Other"}])
    result = stashplex("check", "--config", config)
    assert result.returncode == 1, result.stdout
    assert ("FAIL  path_map: 0 of 4 sampled Stash scenes found in Plex; e.g. "
            "/data/Studio/scene-1.mp4 was looked for as /media/Other/scene-1.mp4") in result.stdout
    assert "      stash: /data -> plex: /media would match 4 of 4" in result.stdout
    assert "        - {stash: /data, plex: /media}" in result.stdout

    fixed = write_config(world, tmp_path, path_map=[{"stash": "/data", "plex": "/media"}])
    good = stashplex("check", "--config", fixed)
    assert good.returncode == 0 and "ok    path_map: 4 of 4 sampled" in good.stdout


def test_reconcile_with_nothing_matched_shows_examples_and_points_to_check(world, tmp_path):
    config = write_config(world, tmp_path, path_map=[])
    result = stashplex("reconcile", "--config", config)
    assert result.returncode == 1
    assert "unmatched (no library): 4" in result.stdout
    lines = result.stdout.splitlines()
    first = lines.index("  /data/Studio/scene-1.mp4")
    assert lines[first + 1] == "    looked for in Plex as /data/Studio/scene-1.mp4"
    assert sum(line.startswith("    looked for in Plex as") for line in lines) == 3
    assert "run stashplex check: it proposes the path_map" in result.stdout


def test_the_environment_alone_configures_a_run(world, tmp_path):
    env = {"STASHPLEX_CONFIG": str(tmp_path / "absent.yaml"),
           "STASHPLEX_STASH_URL": world.stash.url, "STASHPLEX_STASH_API_KEY": STASH_KEY,
           "STASHPLEX_PLEX_URL": world.plex.url, "STASHPLEX_PLEX_TOKEN": PLEX_TOKEN,
           "STASHPLEX_PLEX_LIBRARIES": "Adult", "STASHPLEX_PATH_MAP": "/data:/media"}
    result = stashplex("reconcile", env=env)
    assert result.returncode == 0, result.stderr
    assert "updated:                4" in result.stdout
    assert (tmp_path / "stashplex.db").exists()
    assert "ok    path_map: 4 of 4" in stashplex("check", env=env).stdout
    bad = stashplex("status", env={**env, "STASHPLEX_SCHEDULE_POLL_INTERVAL": "soon"})
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "stashplex: STASHPLEX_SCHEDULE_POLL_INTERVAL: expected a number of seconds, got 'soon'"]


def test_init_writes_a_working_config_from_flags_and_checks_it(world, tmp_path):
    world.plex.add_section("Movies", ["/films"])
    target = tmp_path / "new" / "stashplex.yaml"
    args = ["init", "--path", str(target), "--stash-url", f"{world.stash.url}/graphql",
            "--stash-api-key", STASH_KEY, "--plex-url", world.plex.url,
            "--plex-token", PLEX_TOKEN, "--yes"]

    result = stashplex(*args)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "  1) Adult (movie, /media; 4 of 4 sampled Stash files by name)" in result.stdout
    assert "  stash: /data -> plex: /media would match 4 of 4" in result.stdout
    assert f"wrote {target}" in result.stdout
    assert "ok    path_map: 4 of 4 sampled Stash scenes found in Plex" in result.stdout
    assert target.stat().st_mode & 0o777 == 0o600
    data = yaml.safe_load(target.read_text())
    assert data["stash"]["url"] == world.stash.url
    assert data["plex"]["libraries"] == ["Adult"]
    assert data["path_map"] == [{"stash": "/data", "plex": "/media"}]
    assert "# header X-Plex-Token" in target.read_text()  # the documented example, filled in
    assert PLEX_TOKEN not in result.stdout + result.stderr
    assert stashplex("reconcile", "--config", str(target)).returncode == 0
    assert world.plex.item(world.rating_keys["1"]).title == "Scene 1"

    again = stashplex(*args)
    assert again.returncode == 2 and "already exists; pass --force" in again.stderr


def test_init_leaves_a_secret_from_the_environment_out_of_the_file(world, tmp_path):
    target = tmp_path / "stashplex.yaml"
    result = stashplex("init", "--path", str(target), "--stash-url", world.stash.url,
                       "--plex-url", world.plex.url, "--library", "Adult", "--yes",
                       env={"STASHPLEX_PLEX_TOKEN": PLEX_TOKEN,
                            "STASHPLEX_STASH_API_KEY": STASH_KEY})
    assert result.returncode == 0, result.stdout + result.stderr
    text = target.read_text()
    assert PLEX_TOKEN not in text and STASH_KEY not in text


def _catches_sigterm(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def _blocked_on_a_fifo(pid: int) -> bool:
    return Path(f"/proc/{pid}/wchan").read_text().strip() in ("wait_for_partner", "fifo_open")


def test_sigterm_while_the_daemon_still_starts_is_a_clean_stop(world, tmp_path):
    fifo = tmp_path / "stashplex.yaml"
    os.mkfifo(fifo)  # reading the config blocks until the test writes it: mid-start, surely
    daemon = spawn("run", "--config", str(fifo))
    try:
        wait_for(lambda: _blocked_on_a_fifo(daemon.pid), what="the daemon to read its config")
        assert _catches_sigterm(daemon.pid)
        daemon.send_signal(signal.SIGTERM)
        (tmp_path / "real").mkdir()
        text = Path(write_config(world, tmp_path / "real")).read_text()
        with open(fifo, "w") as pipe:
            pipe.write(text)
        out, err = daemon.communicate(timeout=30)
    finally:
        daemon.kill()
        daemon.communicate()

    assert daemon.returncode == 0, err
    assert "stashplex daemon stopped" in err
    assert world.plex.item(world.rating_keys["1"]).title == "scene-1"  # stopped before work


def test_other_commands_still_die_of_sigterm(world, tmp_path):
    fifo = tmp_path / "stashplex.yaml"
    os.mkfifo(fifo)
    status = spawn("status", "--config", str(fifo))
    try:
        wait_for(lambda: _blocked_on_a_fifo(status.pid), what="status to read its config")
        status.send_signal(signal.SIGTERM)
        status.communicate(timeout=30)
    finally:
        status.kill()
        status.communicate()
    assert status.returncode == -signal.SIGTERM

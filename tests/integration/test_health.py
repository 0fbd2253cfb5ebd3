"""Health that tells the truth, seen as a user and systemd see it: `stashplex health`,
`stashplex status`, the daemon's STATUS= line, `GET /healthz` and `GET /metrics`."""

from __future__ import annotations

import socket
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.test_cli import spawn, stashplex, wait_for, write_config

pytestmark = pytest.mark.integration



def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


class NotifySocket:
    """systemd's end of the notify protocol: collects what the daemon sends."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(20)
        self.messages: list[str] = []

    def until(self, condition) -> str:
        while True:
            message = self.sock.recv(4096).decode()
            self.messages.append(message)
            if condition(message):
                return message

    def close(self) -> None:
        self.sock.close()


def test_read_only_commands_never_wait_for_the_daemons_write_lock(world, tmp_path):
    config = write_config(world, tmp_path, schedule={"poll_interval": 3600})
    world.stash.update_scene("3", date="0000-00-00")
    assert stashplex("--config", config, "--reconcile-all").returncode == 1
    writer = sqlite3.connect(tmp_path / "stashplex.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the daemon in the middle of a write
    writer.execute("UPDATE setting SET value = value WHERE key = 'schema_version'")
    try:
        status = stashplex("--config", config, "status", timeout=30)
        listed = stashplex("--config", config, "dlq", "list", timeout=30)
        health = stashplex("--config", config, "health", timeout=30)
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    assert status.returncode == 0, status.stderr
    assert "dead letters: 1" in status.stdout
    assert listed.returncode == 0 and "scene 3" in listed.stdout, listed.stderr
    assert health.returncode == 0, health.stderr
    assert health.stdout.startswith("healthy: last poll completed at ")


def test_a_refused_token_shows_in_health_status_the_status_line_and_healthz(world, tmp_path):
    port = free_port()
    config = write_config(world, tmp_path, plex={"token": "token-of-another-account"},
                          server={"listen": f"127.0.0.1:{port}"})
    notify = NotifySocket(tmp_path / "notify.sock")
    daemon = spawn("--config", config, "run", env={"NOTIFY_SOCKET": notify.path})
    try:
        assert notify.until(lambda m: True) == "READY=1"
        line = notify.until(lambda m: m.startswith("STATUS=") and "401" in m)
        health = stashplex("--config", config, "health")
        status = stashplex("--config", config, "status")
        healthz = get(f"http://127.0.0.1:{port}/healthz")
        metrics = get(f"http://127.0.0.1:{port}/metrics")
    finally:
        daemon.terminate()
        _, err = daemon.communicate(timeout=15)
        notify.close()

    assert daemon.returncode == 0, err
    assert "Plex: Plex refused the token (401)" in line and "(since " in line
    assert health.returncode == 1
    (said,) = health.stdout.splitlines()
    assert said.startswith("Plex: Plex refused the token (401)") and "(since " in said
    assert "token-of-another-account" not in health.stdout + status.stdout + line
    plex_line = next(row for row in status.stdout.splitlines() if row.startswith("plex:"))
    assert "refused the token (401)" in plex_line and "(since " in plex_line
    assert "last poll:    never completed a poll" in status.stdout
    assert healthz[0] == 503 and healthz[1].split("(since ")[0] == said.split("(since ")[0]
    assert metrics[0] == 200
    assert 'stashplex_server_problem{problem="refused",server="plex"} 1.0' in metrics[1]
    # one problem, told once, however many polls meet it
    refusals = [row for row in err.splitlines()
                if ("ERROR" in row or "WARNING" in row) and "401" in row]
    assert len(refusals) == 1, err
    start = next(row for row in err.splitlines() if "daemon started" in row)
    assert config in start and str(tmp_path / "stashplex.db") in start
    assert world.stash.url in start and world.plex.url in start


def test_healthz_and_metrics_follow_the_daemon(world, tmp_path):
    answers: list[tuple[int, str]] = []

    def healthz(status: int) -> bool:
        answers.append(get(f"{base}/healthz"))
        return answers[-1][0] == status

    port = free_port()
    config = write_config(world, tmp_path, server={"listen": f"127.0.0.1:{port}"},
                          schedule={"poll_interval": 0.2, "process_interval": 0.1})
    daemon = spawn("--config", config, "run")
    base = f"http://127.0.0.1:{port}"
    try:
        written = 'stashplex_jobs_total{outcome="written"} 4.0'
        wait_for(lambda: written in get(f"{base}/metrics")[1], what="the first sync")
        metrics = get(f"{base}/metrics")[1]
        wait_for(lambda: healthz(200), what="a healthy daemon")
        healthy = answers[-1][1]
        world.plex.stop()
        wait_for(lambda: healthz(503) and answers[-1][1].startswith("Plex: "), what="the outage")
        down = answers[-1][1]
    finally:
        daemon.terminate()
        _, err = daemon.communicate(timeout=15)
    assert daemon.returncode == 0, err
    assert 'stashplex_queue_jobs{state="queued"} 0.0' in metrics
    assert "stashplex_dead_letters 0.0" in metrics
    assert "stashplex_poll_duration_seconds_count" in metrics
    assert healthy.startswith("healthy: last poll completed at ")
    assert down.startswith("Plex: cannot connect to Plex")


def test_server_listen_must_be_host_and_port(world, tmp_path):
    config = write_config(world, tmp_path, server={"listen": "8765"})
    result = stashplex("--config", config, "status")
    assert result.returncode == 2
    assert result.stderr.strip().endswith(
        "server.listen: expected host:port such as 127.0.0.1:8765, got '8765'")


def test_a_dead_letter_is_logged_as_an_error_once_not_at_every_run(world, tmp_path):
    config = write_config(world, tmp_path, retry={"not_found": {"max_retries": 0}})
    world.stash.add_scene(title="Not scanned", files=["/data/Studio/not-scanned.mp4"])

    runs = [stashplex("--config", config, "--reconcile-all") for _ in range(3)]

    assert [run.returncode for run in runs] == [1, 1, 1]
    errors = [[row for row in run.stderr.splitlines() if " ERROR " in row] for run in runs]
    assert len(errors[0]) == 1 and "dead-lettered" in errors[0][0]
    assert "not-scanned.mp4" in errors[0][0] or "Not scanned" in errors[0][0]
    assert errors[1:] == [[], []]
    assert "dead-lettered" in runs[2].stderr  # still told, as news no longer

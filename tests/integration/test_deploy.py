"""The ways stashplex is installed: the Docker image's steps and the systemd unit, checked
against the README's steps and reproduced outside Docker and systemd (neither runs here)."""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.configtext import example_text
from tests.integration.test_reconcile import PLEX_TOKEN, STASH_KEY, World

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.strip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip().removesuffix("\\") + " " if line.rstrip().endswith("\\") else (
            line.strip())
        if not line.rstrip().endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            instructions.append((word.upper(), re.sub(r"\s+", " ", rest.strip())))
            pending = ""
    return instructions


def one(name: str) -> str:
    (value,) = [args for word, args in dockerfile() if word == name]
    return value


def image_env() -> dict[str, str]:
    env = {}
    for word, args in dockerfile():
        if word == "ENV":
            env.update(dict(part.split("=", 1) for part in shlex.split(args)))
    return env


def test_the_image_is_slim_runs_as_a_user_and_keeps_its_state_in_config():
    assert re.fullmatch(r"python:3\.1[1-9]-slim", one("FROM"))
    assert one("USER") not in ("root", "0")
    assert json.loads(one("VOLUME")) == ["/config"]
    assert json.loads(one("ENTRYPOINT")) == ["stashplex"]
    assert json.loads(one("CMD")) == ["run"]
    options, _, command = one("HEALTHCHECK").partition(" CMD ")
    assert json.loads(command) == ["stashplex", "health"]
    assert image_env()["STASHPLEX_CONFIG"] == "/config/stashplex.yaml"


def test_the_image_copies_everything_pip_install_dot_reads():
    copied = {source for word, args in dockerfile() if word == "COPY"
              for source in args.split()[:-1]}
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    needed = {"pyproject.toml", "setup.cfg", "reconciler",
              setup["metadata"]["long_description"].removeprefix("file:").strip(),
              setup["metadata"]["license_files"].strip()}
    assert needed <= copied
    assert "pip install --no-cache-dir ." in " ".join(a for w, a in dockerfile() if w == "RUN")


def test_the_example_config_ships_inside_the_package_as_the_top_level_copy():
    assert example_text() == (ROOT / "stashplex.yaml.example").read_text()
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    assert "data/stashplex.yaml.example" in setup["options.package_data"]["reconciler"]



def container_env(volume: Path, world: World, **changes: str) -> dict[str, str]:
    """The image's ENV with /config at `volume`, plus the compose file's kind of settings."""
    env = {name: value.replace("/config", str(volume)) for name, value in image_env().items()}
    env.update({
        "STASHPLEX_STASH_URL": world.stash.url, "STASHPLEX_STASH_API_KEY": STASH_KEY,
        "STASHPLEX_PLEX_URL": world.plex.url, "STASHPLEX_PLEX_TOKEN": PLEX_TOKEN,
        "STASHPLEX_PLEX_LIBRARIES": "Adult", "STASHPLEX_PATH_MAP": "/data:/media",
        "STASHPLEX_SCHEDULE_POLL_INTERVAL": "60", "STASHPLEX_SCHEDULE_PROCESS_INTERVAL": "0.2",
    })
    env.update(changes)
    base = {k: v for k, v in os.environ.items() if not k.startswith("STASHPLEX_")}
    return {**base, **env, "PYTHONPATH": str(ROOT)}


def entrypoint(volume: Path, env: dict, *args: str) -> list[str]:
    """ENTRYPOINT + (args or CMD), with this interpreter's stashplex."""
    command = json.loads(one("ENTRYPOINT")) + (list(args) or json.loads(one("CMD")))
    assert command[0] == "stashplex"
    return [sys.executable, "-m", "reconciler", *command[1:]]


def test_the_entrypoint_runs_on_environment_config_alone(world, tmp_path):
    volume = tmp_path / "config"
    volume.mkdir()
    env = container_env(volume, world)
    daemon = subprocess.Popen(entrypoint(volume, env), cwd=volume, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and world.item("1").title != "Scene 1":
            time.sleep(0.05)
        assert world.item("1").title == "Scene 1"
        health = health_command(volume, env)
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=20)
    assert daemon.returncode == 0, err
    assert sorted(p.name for p in volume.iterdir() if p.suffix == ".db") == ["stashplex.db"]
    if health is None:
        pytest.skip("stashplex health is not there yet: its exit codes are not checked")
    assert health.returncode == 0, health.stdout + health.stderr


def health_command(volume: Path, env: dict) -> subprocess.CompletedProcess | None:
    options, _, command = one("HEALTHCHECK").partition(" CMD ")
    args = json.loads(command)[1:]
    probe = subprocess.run(entrypoint(volume, env, args[0], "--help"), capture_output=True,
                           text=True, env=env, cwd=volume, timeout=60)
    if probe.returncode != 0:
        return None
    return subprocess.run(entrypoint(volume, env, *args), capture_output=True, text=True,
                          env=env, cwd=volume, timeout=60)


def test_a_bad_variable_stops_the_container_with_exit_2_and_one_line(world, tmp_path):
    volume = tmp_path / "config"
    volume.mkdir()
    env = container_env(volume, world, STASHPLEX_PLEX_LIBRARIES="",
                        STASHPLEX_SYNC_FIELDS="title,colour")
    result = subprocess.run(entrypoint(volume, env), cwd=volume, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "stashplex: STASHPLEX_SYNC_FIELDS: sync.fields: unknown field 'colour'; expected some "
        "of title, summary, date, studio, performers, tags, collection, rating, poster, year, "
        "content_rating, performer_photos, background"]


# -- systemd -------------------------------------------------------------------------------


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment]
    parser.read(ROOT / "config" / "stashplex.service")
    return parser


def readme_systemd_steps() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("**As a systemd service**"):]
    return section[section.index("```sh") + 5: section.index("```", section.index("```sh") + 5)]


def test_the_unit_starts_the_stashplex_the_readme_steps_install():
    steps = readme_systemd_steps()
    venv = re.search(r"python3 -m venv (\S+)", steps).group(1)
    assert re.search(rf"{re.escape(venv)}/bin/pip install \S*\.", steps)
    service = unit()["Service"]
    executable, *args = shlex.split(service["ExecStart"])
    assert executable == f"{venv}/bin/stashplex"
    config = args[args.index("--config") + 1]
    assert config == "/etc/stashplex/stashplex.yaml"
    assert re.search(rf"install -m 0640 -o root -g stashplex .*{re.escape(config)}", steps)
    assert "useradd --system --home /var/lib/stashplex" in steps
    assert service["User"] == service["Group"] == "stashplex"
    assert f"sudo -u stashplex {venv}/bin/stashplex --config {config} status" in (
        ROOT / "README.md").read_text()


def test_the_unit_gives_up_on_a_config_error_and_is_hardened():
    parsed = unit()
    service = parsed["Service"]
    assert service["RestartPreventExitStatus"] == "2"
    assert int(parsed["Unit"]["StartLimitBurst"]) > 0
    assert int(parsed["Unit"]["StartLimitIntervalSec"]) > 0
    for key, value in {"ProtectClock": "true", "ProtectKernelLogs": "true",
                       "ProtectHostname": "true", "RestrictSUIDSGID": "true",
                       "PrivateMounts": "true", "ProtectProc": "invisible",
                       "RemoveIPC": "true"}.items():
        assert service[key] == value, key
    text = (ROOT / "config" / "stashplex.service").read_text()
    assert "SystemCallFilter=@system-service" in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path):
    copy = tmp_path / "stashplex.service"
    copy.write_text((ROOT / "config" / "stashplex.service").read_text().replace(
        "/opt/stashplex/bin/stashplex", shutil.which("stashplex") or sys.executable))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(copy)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), (
        result.stdout + result.stderr)

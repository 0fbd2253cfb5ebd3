"""Credentials stay secret, certificates are checked, exposed keys are warned about."""

from __future__ import annotations

import grp
import json
import os
import pwd
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from reconciler.config import DEFAULT_FIELDS, PlexConfig, StashConfig, load_config
from reconciler.emulators.http import free_port
from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.errors import PlexPermanentError
from reconciler.plex import PlexClient
from reconciler.stash import StashClient

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CERT, KEY = str(FIXTURES / "selfsigned-cert.pem"), str(FIXTURES / "selfsigned-key.pem")
PLEX_TOKEN = "PlexSecret-ZX81-token-abcdef123456"
STASH_KEY = "StashSecret-C64-key-fedcba654321"


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reconciler", *args], capture_output=True,
                          text=True, timeout=90, env={**os.environ, **(env or {})})


def test_no_secret_reaches_logs_output_errors_or_the_database(tmp_path):
    stash = StashEmulator(api_key=STASH_KEY).start()
    plex = PlexEmulator(token=PLEX_TOKEN).start()
    port = free_port()
    try:
        plex.add_section("Adult", ["/media"])
        for n in range(1, 6):
            stash.add_scene(title=f"S{n}", details="d", files=[f"/media/{n}.mp4"],
                            date="2023-02-30" if n == 5 else "2024-01-01", performers=["Ann"])
            plex.add_item("Adult", f"/media/{n}.mp4")
        stash.set_performer_image("Ann", b"\x89PNG\r\n\x1a\nAnn")
        stash.add_scene(title="unscanned", files=["/media/none.mp4"])
        config = tmp_path / "stashplex.yaml"
        config.write_text(yaml.safe_dump({
            "stash": {"url": stash.url}, "plex": {"url": plex.url},
            "database": str(tmp_path / "stashplex.db"),
            "retry": {"not_found": {"max_retries": 0}},
            "sync": {"fields": [*DEFAULT_FIELDS, "background"]},
            "server": {"listen": f"127.0.0.1:{port}", "public_url": f"http://127.0.0.1:{port}"},
            "schedule": {"poll_interval": 0.2, "process_interval": 0.1},
        }))
        secrets = {"STASHPLEX_PLEX_TOKEN": PLEX_TOKEN, "STASHPLEX_STASH_API_KEY": STASH_KEY}
        log_file = tmp_path / "stashplex.log"
        common = ["--config", str(config), "--log-level", "DEBUG", "--log-file", str(log_file)]
        outputs = [
            run(*common, "--reconcile-all", env=secrets),
            run(*common, "--reconcile-all", "--dry-run", env=secrets),
            run(*common, "status", "--json", env=secrets),
            run(*common, "dlq", "list", env=secrets),
            run(*common, "check", env=secrets),
            run(*common, "check", env={**secrets, "STASHPLEX_PLEX_TOKEN": PLEX_TOKEN + "x"}),
            run(*common, "--reconcile-all",
                env={**secrets, "STASHPLEX_STASH_API_KEY": STASH_KEY + "x"}),
        ]
        photos = {url for item in plex.items() for url in item.role_thumbs.values()}
        daemon = subprocess.Popen([sys.executable, "-m", "reconciler", *common, "run"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, **secrets})
        try:
            served = [fetched(url) for url in sorted(photos)]  # Plex fetching the photos
        finally:
            daemon.terminate()
            outputs.append(subprocess.CompletedProcess([], 0, *daemon.communicate(timeout=30)))
        stash.stop()
        outputs.append(run(*common, "--reconcile-all", env=secrets))
        plex_state = json.dumps(plex.dump())
        arts = [item.art_sha1 for item in plex.items()]
    finally:
        stash.stop()
        plex.stop()
    assert photos and served == [b"\x89PNG\r\n\x1a\nAnn"] * len(photos)
    assert any(arts)
    assert STASH_KEY not in plex_state and PLEX_TOKEN not in plex_state
    assert outputs[0].returncode == 1  # the bad date was dead-lettered: errors were written
    assert "ERROR" in log_file.read_text() and "DEBUG" in log_file.read_text()
    written = [o.stdout + o.stderr for o in outputs] + [log_file.read_text()]
    written += [f.read_bytes().decode("latin-1") for f in tmp_path.glob("stashplex.db*")]
    written += [f.read_text() for f in (Path(__file__).parents[2] / "cassettes").rglob("*.yaml")]
    for text in written:
        assert PLEX_TOKEN not in text and STASH_KEY not in text


def fetched(url: str) -> bytes:
    """A photo URL as Plex fetches it, once stashplex's endpoint is up."""
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_tls_certificates_are_verified_by_default(tmp_path):
    plex = PlexEmulator(token=PLEX_TOKEN)
    plex.use_tls(CERT, KEY)
    plex.add_section("Adult", ["/media"])
    plex.start()
    try:
        config = PlexConfig(url=plex.url, token=PLEX_TOKEN, timeout=5)
        with pytest.raises(PlexPermanentError, match="plex.ca_bundle"):
            PlexClient(config).sections()

        trusted = PlexConfig(url=plex.url, token=PLEX_TOKEN, timeout=5, ca_bundle=CERT)
        assert [s.title for s in PlexClient(trusted).sections()] == ["Adult"]

        unchecked = PlexConfig(url=plex.url, token=PLEX_TOKEN, timeout=5, verify_ssl=False)
        assert [s.title for s in PlexClient(unchecked).sections()] == ["Adult"]
    finally:
        plex.stop()


def test_turning_certificate_checks_off_warns(tmp_path):
    config = tmp_path / "stashplex.yaml"
    config.write_text(yaml.safe_dump({"plex": {"url": "https://plex:32400",
                                               "verify_ssl": False}}))
    config.chmod(0o600)
    result = run("--config", str(config), "status")
    assert "plex.verify_ssl is false" in result.stderr


def test_a_missing_ca_bundle_is_a_config_error(tmp_path):
    config = tmp_path / "stashplex.yaml"
    config.write_text(yaml.safe_dump({"plex": {"ca_bundle": str(tmp_path / "nope.pem")}}))
    result = run("--config", str(config), "status")
    assert result.returncode == 2
    assert "plex.ca_bundle: no such file" in result.stderr


def _group_with_another_member() -> int | None:
    """A group that has a member other than this process's user and root (e.g. `daemon`)."""
    me = pwd.getpwuid(os.geteuid()).pw_name
    for group in grp.getgrall():
        members = set(group.gr_mem) | {
            user.pw_name for user in pwd.getpwall() if user.pw_gid == group.gr_gid}
        if members - {me, "root"}:
            return group.gr_gid
    return None


@pytest.mark.parametrize("mode, group, warned", [
    (0o644, "own", True),
    (0o640, "own", False),       # the README's systemd steps: root and the service's group
    (0o640, "shared", True),     # a group other users belong to
    (0o600, "own", False),
])
def test_a_config_file_holding_a_secret_readable_by_others_is_warned_about(
        tmp_path, mode, group, warned):
    config = tmp_path / "stashplex.yaml"
    config.write_text(yaml.safe_dump({"plex": {"token": PLEX_TOKEN},
                                      "database": str(tmp_path / "x.db")}))
    if group == "shared":
        shared = _group_with_another_member()
        if shared is None or os.geteuid() != 0:
            pytest.skip("needs root and a group with another member")
        os.chown(config, -1, shared)
    else:
        os.chown(config, -1, os.getegid())
    config.chmod(mode)

    loaded = load_config(str(config), env={})
    result = run("--config", str(config), "status")

    assert bool(loaded.warnings) is warned
    assert ("readable by other users" in result.stderr) is warned
    assert PLEX_TOKEN not in result.stderr
    if warned:
        assert f"chmod 600 {config}" in result.stderr


def test_a_config_file_without_secrets_may_be_world_readable(tmp_path):
    config = tmp_path / "stashplex.yaml"
    config.write_text(yaml.safe_dump({"database": str(tmp_path / "x.db")}))
    config.chmod(0o644)
    assert load_config(str(config), env={"STASHPLEX_PLEX_TOKEN": PLEX_TOKEN}).warnings == []


class _HeaderKeepingStash(StashEmulator):
    """The Stash emulator, keeping each GraphQL request's headers."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.heads: list[dict[str, str]] = []

    def _dispatch(self, request):
        if request.path == "/graphql":
            self.heads.append({k.lower(): v for k, v in request.headers.items()})
        return super()._dispatch(request)


def test_stash_gets_its_api_key_and_no_password_from_netrc(tmp_path, monkeypatch):
    """Like every other request stashplex sends, its GraphQL pages carry the API key and
    nothing from `~/.netrc`, even where it holds a login for Stash's host."""
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login stash password NetrcSecret-9f3e\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))
    stash = _HeaderKeepingStash(api_key=STASH_KEY).start()
    try:
        stash.add_scene(title="S1", files=["/media/1.mp4"])
        client = StashClient(StashConfig(url=stash.url, api_key=STASH_KEY, timeout=5))
        assert [scene.title for scene in client.all_scenes()] == ["S1"]
        client.close()
    finally:
        stash.stop()
    assert stash.heads
    assert all(head.get("apikey") == STASH_KEY for head in stash.heads)
    assert not [head for head in stash.heads if "authorization" in head]

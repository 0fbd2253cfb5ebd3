"""The daemon's idle footprint: peak memory and CPU while nothing changes.

Starts both emulators with N scenes (the fixtures of `bench/reconcile.py`), brings Plex in
step with one `stashplex --reconcile-all` (not measured), then runs the daemon
(`python -m reconciler --config cfg.yaml`) with the shipped schedule (a poll every
`--poll-interval` seconds; the nightly full pass off: it is a pass, not idling). After
`--settle` seconds (start-up builds the Plex catalog, the first poll runs) it reads the
daemon's `/proc/PID/stat` and `/proc/PID/status` for `--seconds` more, then stops it with
SIGTERM. Prints one JSON line (and writes it to `--json`): CPU as a percentage of one core
averaged over the idle window, peak RSS (`VmHWM`, the daemon's whole life, start-up
included) and RSS at the end, the requests each emulator got in the window, the exit code.

The first sync takes a cold pass (5-8 minutes at 100,000 scenes). `--save-state DIR` keeps
what it left (both emulators' states and stashplex's database) and `--from-state DIR` starts
from there instead, the daemon then meeting the same libraries and database as after that
first sync. A state saved by one commit is only fair to a commit that writes the same
database in its full passes.

    python bench/idle.py --size 100000 --seconds 600
    python bench/idle.py --size 100000 --seconds 120 --save-state /tmp/idle-100k
    python bench/idle.py --size 100000 --seconds 120 --from-state /tmp/idle-100k
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from reconcile import Emulator, make_fixtures, process_cpu, run_child, write_config

RSS_TARGET_MB = 150
CPU_TARGET_PERCENT = 1.0


def memory(pid: int) -> dict[str, float]:
    """VmHWM and VmRSS of a running process, in MB."""
    found = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS"):
                found[name] = int(value.split()[0]) / 1024
    return found


STATE_FILES = {"stash": "stash-state.json", "plex": "plex-state.json"}
DATABASE = "stashplex.db"


def save_state(directory: Path, workdir: Path, emulators: dict[str, Emulator]) -> None:
    """Both emulators' states and the database, as the first sync left them."""
    directory.mkdir(parents=True, exist_ok=True)
    for kind, emulator in emulators.items():
        answer = emulator.http.get(f"{emulator.url}/_emulator/state", timeout=600)
        answer.raise_for_status()
        (directory / STATE_FILES[kind]).write_bytes(answer.content)
    shutil.copyfile(workdir / DATABASE, directory / DATABASE)


def load_state(directory: Path, kind: str) -> dict:
    return json.loads((directory / STATE_FILES[kind]).read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=600, help="the idle window measured")
    parser.add_argument("--settle", type=float, default=90, help="start-up, not measured")
    parser.add_argument("--poll-interval", type=float, default=60)
    parser.add_argument("--workdir", metavar="DIR")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument(
        "--save-state", metavar="DIR", help="keep the emulators' states and the database there"
    )
    parser.add_argument(
        "--from-state",
        metavar="DIR",
        help="start from a --save-state directory instead of a first sync (--size is ignored)",
    )
    args = parser.parse_args()
    saved = Path(args.from_state) if args.from_state else None
    with tempfile.TemporaryDirectory(prefix="stashplex-idle-") as scratch:
        workdir = Path(args.workdir or scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        if saved is not None:
            stash_fixture, plex_fixture = load_state(saved, "stash"), load_state(saved, "plex")
            args.size = len(stash_fixture["scenes"])
        else:
            stash_fixture, plex_fixture = make_fixtures(args.size)
        stash = Emulator("stash", stash_fixture, workdir)
        plex = Emulator("plex", plex_fixture, workdir)
        daemon = None
        try:
            stash.wait_ready()
            plex.wait_ready()
            config = write_config(workdir, stash, plex)
            settings = yaml.safe_load(config.read_text())
            settings["schedule"] = {"poll_interval": args.poll_interval, "reconcile_interval": 0}
            config.write_text(yaml.safe_dump(settings, sort_keys=False))
            python = [sys.executable, "-m", "reconciler", "--config", str(config)]
            first_sync_s = None
            if saved is not None:
                shutil.copyfile(saved / DATABASE, workdir / DATABASE)
            else:
                print(f"[{args.size}] first sync", file=sys.stderr)
                first = run_child([*python, "--log-level", "WARNING", "--reconcile-all"], workdir)
                if first.code != 0:
                    raise RuntimeError(f"--reconcile-all exited {first.code}: {first.err[-2000:]}")
                first_sync_s = round(first.wall, 1)
                if args.save_state:
                    save_state(Path(args.save_state), workdir, {"stash": stash, "plex": plex})
            print(f"[{args.size}] daemon: {args.settle:g}s to settle", file=sys.stderr)
            log = (workdir / "daemon.log").open("w")
            daemon = subprocess.Popen(
                [*python, "--log-level", "INFO"], stdout=log, stderr=subprocess.STDOUT, cwd=workdir
            )
            time.sleep(args.settle)
            stash.reset_stats()
            plex.reset_stats()
            cpu, started = process_cpu(daemon.pid), time.monotonic()
            print(f"[{args.size}] idle for {args.seconds:g}s", file=sys.stderr)
            time.sleep(args.seconds)
            window = time.monotonic() - started
            cpu = process_cpu(daemon.pid) - cpu
            mem = memory(daemon.pid)
            requests = {"stash": stash.stats(), "plex": plex.stats()}
            daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=60)
            log.close()
        finally:
            if daemon is not None and daemon.poll() is None:
                daemon.kill()
            stash.stop()
            plex.stop()
    result = {
        "size": args.size,
        "window_s": round(window, 1),
        "poll_interval_s": args.poll_interval,
        "cpu_s": round(cpu, 3),
        "cpu_percent_of_a_core": round(100 * cpu / window, 3),
        "peak_rss_mb": round(mem["VmHWM"], 1),
        "rss_at_end_mb": round(mem["VmRSS"], 1),
        "requests_in_window": requests,
        "exit_code_on_sigterm": code,
        "first_sync_s": first_sync_s,
        "from_state": args.from_state,
        "targets": {
            f"peak RSS <= {RSS_TARGET_MB} MB": mem["VmHWM"] <= RSS_TARGET_MB,
            f"CPU <= {CPU_TARGET_PERCENT}% of a core": 100 * cpu / window <= CPU_TARGET_PERCENT,
        },
    }
    line = json.dumps(result)
    print(line)
    if args.json:
        Path(args.json).write_text(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

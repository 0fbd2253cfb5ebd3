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

    python bench/idle.py --size 100000 --seconds 600
"""

from __future__ import annotations

import argparse
import json
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=600, help="the idle window measured")
    parser.add_argument("--settle", type=float, default=90, help="start-up, not measured")
    parser.add_argument("--poll-interval", type=float, default=60)
    parser.add_argument("--workdir", metavar="DIR")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stashplex-idle-") as scratch:
        workdir = Path(args.workdir or scratch)
        workdir.mkdir(parents=True, exist_ok=True)
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
            print(f"[{args.size}] first sync", file=sys.stderr)
            first = run_child([*python, "--log-level", "WARNING", "--reconcile-all"], workdir)
            if first.code != 0:
                raise RuntimeError(f"--reconcile-all exited {first.code}: {first.err[-2000:]}")
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
        "first_sync_s": round(first.wall, 1),
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

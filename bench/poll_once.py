"""One poll cycle of the daemon (poll both sides, then drain the queue), measured on its own.

The Plex catalog build that a daemon does once at start-up comes first and is not
counted: the emulators' request counters are reset after it, and the wall and CPU
seconds printed cover only `engine.poll()` and `worker.drain()`, as `Daemon.poll`
runs them. Prints one JSON line.

    python bench/poll_once.py --config cfg.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import time

import requests

from reconciler.app import App
from reconciler.config import load_config
from reconciler.logs import setup_logging
from reconciler.status import LAST_POLL


def process_cpu(pid: int) -> float:
    """User + system CPU seconds a running process has used (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--pids", default="", help="emulator process ids, to report their CPU")
    args = parser.parse_args()
    pids = [int(pid) for pid in args.pids.split(",") if pid]
    setup_logging("WARNING", None)
    config = load_config(args.config)
    app = App(config)
    try:
        app.store.recover()
        app.catalog.build()
        for url in (config.stash.url, config.plex.url):
            requests.post(f"{url}/_emulator/reset-stats", timeout=30).raise_for_status()
        emulators = sum(process_cpu(pid) for pid in pids)
        wall, cpu = time.perf_counter(), time.process_time()
        report = app.engine.poll()
        app.store.set_setting(LAST_POLL, repr(time.time()))
        result = app.worker.drain()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        emulators = sum(process_cpu(pid) for pid in pids) - emulators
    finally:
        app.close()
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "emulator_cpu": emulators,
                "stash_changed": report.stash_changed,
                "renamed": report.renamed,
                "plex_changed": report.plex_changed,
                "queued": report.queued,
                "applied": result.applied,
            }
        )
    )


if __name__ == "__main__":
    main()

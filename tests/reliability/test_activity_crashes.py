"""SIGKILL while activity is carried back to Stash: after a restart every play is in Stash once.

The promise for the Stash-bound jobs: kill stashplex with SIGKILL at any point of carrying
plays and resume points (while Stash is adding a play, just after it answered, before the
outcome is recorded, anywhere); after `stashplex run` again, each Plex play of the token's
account is in Stash's play history exactly once, each resume point is Stash's, the counts
`status` shows count each play once, and the queue is empty.

Each trial is one seed: it decides the plays (one or several per item between runs), whether
Plex shows its play history, how many runs are killed (2 or 3) and where. stashplex runs as a
child process, as in `test_crashes.py`; the kill points are chosen by what the Stash emulator
has received (the k-th `sceneAddPlay`, held a while in flight or answered at once).
To replay a failure: `-k seed_<n>`.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from reconciler.emulators.plex import PlexEmulator
from reconciler.emulators.stash import StashEmulator
from reconciler.status import collect_status
from reconciler.store import Store
from tests.reliability.test_crashes import NotifySocket

STASH_KEY = "crash-back-stash-key-2b7e"
PLEX_TOKEN = "crash-back-plex-token-94d1"
TRIALS = 6
SETTLE_TIMEOUT = 20.0
KILL_POINTS = ("in flight", "answered", "time")


class Trial:
    def __init__(self, seed: int, tmp_path: Path) -> None:
        self.rng = random.Random(seed)
        self.tmp = tmp_path
        self.db = tmp_path / "stashplex.db"
        self.stash = StashEmulator(api_key=STASH_KEY).start()
        self.plex = PlexEmulator(token=PLEX_TOKEN, history=self.rng.random() < 0.5).start()
        self.plex.add_section("Adult", ["/media"])
        self.keys: dict[str, int] = {}
        self.plays: Counter = Counter()
        self.notes: list[str] = [f"history {'on' if self.plex.history else 'off'}"]
        self.logs: list[Path] = []
        self.procs: list[subprocess.Popen] = []
        self.adds = 0
        self.hold = 0.0
        self.target = 0
        self.reached = threading.Event()
        self.stash.before_query = self._before_query
        for n in range(self.rng.randint(4, 8)):
            scene_id = self.stash.add_scene(title=f"Scene {n}", files=[f"/data/s{n}.mp4"])
            self.keys[scene_id] = self.plex.add_item("Adult", f"/media/s{n}.mp4")
        self.config = self._write_config()

    def _before_query(self, variables: dict) -> None:
        if "times" not in variables:
            return
        self.adds += 1
        if self.adds == self.target:
            self.reached.set()
            time.sleep(self.hold)  # the kill lands while Stash is adding the plays

    def _write_config(self) -> str:
        data = {
            "stash": {"url": self.stash.url, "api_key": STASH_KEY, "timeout": 2},
            "plex": {
                "url": self.plex.url,
                "token": PLEX_TOKEN,
                "libraries": ["Adult"],
                "timeout": 5,
            },
            "path_map": [{"stash": "/data", "plex": "/media"}],
            "sync": {"fields": ["title"]},
            "plex_to_stash": {"plays": True, "resume": True},
            "schedule": {"poll_interval": 0.1, "process_interval": 0.1, "reconcile_interval": 0},
            "retry": {"transient": {"max_retries": 50, "base": 0.01, "cap": 0.05}},
            "database": str(self.db),
        }
        path = self.tmp / "stashplex.yaml"
        path.write_text(yaml.safe_dump(data))
        path.chmod(0o600)
        return str(path)

    def spawn(self, args: list[str], tag: str, **extra_env: str) -> subprocess.Popen:
        log = self.tmp / f"{len(self.logs):02d}-{tag}.log"
        self.logs.append(log)
        env = {k: v for k, v in os.environ.items() if not k.startswith("STASHPLEX_")}
        env.pop("NOTIFY_SOCKET", None)
        env.update(extra_env)
        with open(log, "w") as handle:
            proc = subprocess.Popen(
                [sys.executable, "-m", "reconciler", "--config", self.config, *args],
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=env,
            )
        self.procs.append(proc)
        return proc

    def watch(self) -> None:
        """Plays (one or several per item) and resume points in Plex, before a run."""
        for scene_id in self.rng.sample(sorted(self.keys), self.rng.randint(2, len(self.keys))):
            for _ in range(self.rng.choice([1, 1, 2, 3])):
                self.plex.play_item(self.keys[scene_id])
                self.plays[scene_id] += 1
                time.sleep(0.0011)  # Plex stamps whole seconds: plays share or not
            if self.rng.random() < 0.4:
                self.plex.progress_item(self.keys[scene_id], self.rng.randint(1000, 9_000_000))

    def kill_round(self, round_no: int) -> None:
        self.watch()
        point = self.rng.choice(KILL_POINTS)
        self.reached.clear()
        self.target = self.adds + self.rng.randint(1, 3)
        self.hold = 0.3 if point == "in flight" else 0.0
        proc = self.spawn(["run"], f"round{round_no}")
        if point == "time":
            time.sleep(self.rng.uniform(0.3, 2.0))
        else:
            reached = self.reached.wait(timeout=10)
            time.sleep(self.rng.uniform(0.0, 0.1 if point == "in flight" else 0.01))
            point += "" if reached else " (not reached)"
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        self.notes.append(f"round {round_no}: killed at {point}, sceneAddPlay #{self.adds}")
        self.hold = 0.0

    def settled(self) -> bool:
        for scene_id, wanted in self.plays.items():
            if self.stash.scene(scene_id)["play_count"] != wanted:
                return False
        db = sqlite3.connect(self.db)
        try:
            return db.execute("SELECT COUNT(*) FROM job").fetchone()[0] == 0
        finally:
            db.close()

    def restart(self) -> None:
        notify = NotifySocket()
        daemon = self.spawn(["run"], "restart", NOTIFY_SOCKET=notify.path)
        try:
            assert notify.wait_ready(daemon, SETTLE_TIMEOUT), self.report("never READY")
            deadline = time.monotonic() + SETTLE_TIMEOUT
            while time.monotonic() < deadline and not self.settled():
                time.sleep(0.05)
            time.sleep(0.3)  # a few more polls: nothing may come twice
        finally:
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
            code = daemon.wait(timeout=20)
            notify.close()
        assert code == 0, self.report(f"the restarted daemon exited {code} on SIGTERM")

    def problems(self) -> list[str]:
        found = []
        for scene_id, key in sorted(self.keys.items()):
            scene = self.stash.scene(scene_id)
            if scene["play_count"] != self.plays[scene_id]:
                found.append(
                    f"scene {scene_id}: {scene['play_count']} plays in Stash, "
                    f"{self.plays[scene_id]} in Plex"
                )
            offset = self.plex.item(key).view_offset
            if scene["resume_time"] != pytest.approx(offset / 1000):
                found.append(f"scene {scene_id}: resume {scene['resume_time']} vs {offset} ms")
        store = Store(self.db)
        try:
            counted = collect_status(store)["carried_back"]["plays"]
            if counted != sum(self.plays.values()):
                found.append(f"status counts {counted} plays, Plex has {sum(self.plays.values())}")
            if store.jobs():
                found.append(f"{len(store.jobs())} job(s) left in the queue")
        finally:
            store.close()
        return found

    def report(self, headline: str, problems: list[str] = ()) -> str:
        lines = [headline, *problems, "plan:", *self.notes]
        for log in self.logs[-2:]:
            text = log.read_text(errors="replace").splitlines()
            lines += [f"--- {log.name} (last 12 lines)", *text[-12:]]
        return "\n".join(lines)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        self.stash.stop()
        self.plex.stop()


@pytest.mark.parametrize("seed", [f"seed_{n}" for n in range(TRIALS)])
def test_sigkill_while_carrying_plays_counts_each_play_once(seed, tmp_path):
    trial = Trial(int(seed.split("_")[1]), tmp_path)
    try:
        first = trial.spawn(["--reconcile-all"], "first-pass")
        assert first.wait(timeout=60) == 0, trial.report("the first full pass failed")
        for round_no in range(trial.rng.choice([2, 2, 3])):
            trial.kill_round(round_no)
        trial.restart()
        problems = trial.problems()
        assert not problems, trial.report(f"{seed}: after the restart", problems)
    finally:
        trial.close()

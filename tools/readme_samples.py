"""The README's sample outputs, produced by the code (a cog-style check).

    python tools/readme_samples.py           # exit 1 and a diff when the README's copy drifted
    python tools/readme_samples.py --write   # rewrite the README's sample blocks

Each sample block in README.md follows a marker line `<!-- sample: NAME -->` and is a
fenced block. The outputs are made by running `stashplex` as a process, against the
bundled emulators where a server is needed. Ports, times and temporary folders vary
from run to run, so they are masked before comparing.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconciler.demo import DEMO_KEY, DEMO_TOKEN, _populate  # noqa: E402
from reconciler.emulators.plex import PlexEmulator  # noqa: E402
from reconciler.emulators.stash import StashEmulator  # noqa: E402

README = ROOT / "README.md"
MARKER = re.compile(r"^<!-- sample: (?P<name>[a-z-]+) -->\n```[a-z]*\n(?P<body>.*?)^```$",
                    re.MULTILINE | re.DOTALL)
VARYING = [
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?(\.\d+)?(Z|[+-]\d\d:\d\d)?"),
     "DATE TIME"),
    (re.compile(r"\b1[6-9]\d{8}\b"), "EPOCH"),
    (re.compile(r"\b\d\d:\d\d(:\d\d)?\b"), "TIME"),
    (re.compile(r"/tmp/[^\s/]+"), "/tmp/FOLDER"),
]


def stashplex(*args: str, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"},
    )
    return result.stdout


def _with_servers(body: Callable[[Path, StashEmulator, PlexEmulator], str]) -> str:
    """The demo's sample library in both emulators, and a folder for a config."""
    stash = StashEmulator(api_key=DEMO_KEY).start()
    plex = PlexEmulator(token=DEMO_TOKEN).start()
    try:
        _populate(stash, plex, 36)
        with tempfile.TemporaryDirectory(prefix="stashplex-sample-") as folder:
            return body(Path(folder), stash, plex)
    finally:
        stash.stop()
        plex.stop()


def _config(folder: Path, stash: StashEmulator, plex: PlexEmulator, path_map: list) -> None:
    data = {
        "stash": {"url": stash.url, "api_key": DEMO_KEY},
        "plex": {"url": plex.url, "token": DEMO_TOKEN, "libraries": ["Adult"]},
        "path_map": path_map,
        "sync": {"fields": ["title", "summary", "date", "studio", "performers", "tags"]},
        "database": "stashplex.db",
    }
    path = folder / "stashplex.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path.chmod(0o600)


def sample_check(folder: Path, stash: StashEmulator, plex: PlexEmulator) -> str:
    _config(folder, stash, plex, [{"stash": "/data/stash", "plex": "/media/library"}])
    return "$ stashplex check\n" + stashplex("check", cwd=folder)


def sample_status(folder: Path, stash: StashEmulator, plex: PlexEmulator) -> str:
    _config(folder, stash, plex, [{"stash": "/data", "plex": "/media"}])
    stashplex("reconcile", cwd=folder)
    return "$ stashplex status\n" + stashplex("status", cwd=folder)


SAMPLES: dict[str, Callable[[], str]] = {
    "demo": lambda: "$ stashplex demo\n" + stashplex("demo"),
    "help": lambda: "$ stashplex --help\n" + stashplex("--help"),
    "check": lambda: _with_servers(sample_check),
    "status": lambda: _with_servers(sample_status),
}


def masked(text: str) -> str:
    for pattern, replacement in VARYING:
        text = pattern.sub(replacement, text)
    return text


def main(argv: list[str]) -> int:
    write = "--write" in argv
    readme = README.read_text(encoding="utf-8")
    blocks = {match.group("name"): match for match in MARKER.finditer(readme)}
    missing = sorted(set(SAMPLES) - set(blocks))
    if missing:
        print(f"README.md: no sample block for {', '.join(missing)}", file=sys.stderr)
        return 1
    drifted = []
    for name, match in sorted(blocks.items(), key=lambda item: -item[1].start()):
        fresh = SAMPLES[name]()
        old = match.group("body")
        if masked(old) == masked(fresh):
            continue
        drifted.append(name)
        if write:
            readme = readme[: match.start("body")] + fresh + readme[match.end("body") :]
        else:
            diff = difflib.unified_diff(
                masked(old).splitlines(), masked(fresh).splitlines(),
                f"README.md ({name})", f"stashplex ({name})", lineterm="",
            )
            print("\n".join(diff))
    if write:
        README.write_text(readme, encoding="utf-8")
        print(f"rewrote: {', '.join(reversed(drifted)) or 'nothing'}")
        return 0
    if drifted:
        print(f"README.md's samples drifted: {', '.join(drifted)}; run python "
              "tools/readme_samples.py --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

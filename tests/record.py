"""`python -m tests.record`: record every cassette again, then replay them to prove they hold.

From the bundled emulators (no environment needed), every cassette under `cassettes/` is
rewritten and any cassette no test uses any more is removed. With STASHPLEX_RECORD_PLEX_URL,
STASHPLEX_RECORD_PLEX_TOKEN and STASHPLEX_RECORD_PLEX_LIBRARY set, the same tests run against
a real Plex's scratch library through the proxy of `tests/scratch.py`; with
STASHPLEX_RECORD_STASH_URL, STASHPLEX_RECORD_STASH_API_KEY and STASHPLEX_RECORD_STASH_PATH,
against a real Stash's scratch scenes through `tests/scratch_stash.py`. The cassettes they
write replace the emulator-made ones file by file. Either way the run ends with a replay in
record mode `none`.

    python -m tests.record                 # all cassettes, from the emulators
    python -m tests.record -k http_500     # some of them (pytest's -k)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASSETTES = ROOT / "cassettes"
REAL_PLEX = ("STASHPLEX_RECORD_PLEX_URL", "STASHPLEX_RECORD_PLEX_TOKEN",
             "STASHPLEX_RECORD_PLEX_LIBRARY")
REAL_STASH = ("STASHPLEX_RECORD_STASH_URL", "STASHPLEX_RECORD_STASH_API_KEY",
              "STASHPLEX_RECORD_STASH_PATH")


def cassette_modules(tests: Path = ROOT / "tests") -> list[Path]:
    """The test modules that replay cassettes (those with a `pytest.mark.vcr` test)."""
    return sorted(p for p in tests.rglob("test_*.py") if "@pytest.mark.vcr" in p.read_text())


def real_servers(env: Mapping[str, str]) -> str | None:
    """'plex', 'stash', 'plex+stash' or None (the emulators); ValueError on a partial set."""
    found = []
    for server, names in (("plex", REAL_PLEX), ("stash", REAL_STASH)):
        given = [name for name in names if env.get(name)]
        if given and len(given) != len(names):
            missing = [name for name in names if name not in given]
            raise ValueError(f"recording against a real {server.title()} needs "
                             f"{', '.join(missing)} too")
        if given:
            found.append(server)
    return "+".join(found) or None


def _pytest(modules: list[Path], extra: list[str], env: Mapping[str, str]) -> int:
    # one test at a time: a recording against real servers asks them one thing at a time
    command = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:randomly",
               "-p", "no:cacheprovider", *map(str, modules), *extra]
    return subprocess.run(command, cwd=ROOT, env=dict(env)).returncode


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.record", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", dest="keyword", help="only the tests pytest's -k selects")
    args = parser.parse_args(argv)
    env = dict(os.environ if env is None else env)
    try:
        real = real_servers(env)
    except ValueError as exc:
        print(f"tests.record: {exc}", file=sys.stderr)
        return 2
    modules = cassette_modules()
    selection = ["-k", args.keyword] if args.keyword else []
    started = time.time()
    print(f"recording {len(modules)} modules from {real or 'the bundled emulators'}")
    if _pytest(modules, ["--record-mode=rewrite", *selection], env):
        print("tests.record: some tests failed while recording; cassettes left as written",
              file=sys.stderr)
        return 1
    if real is None and not args.keyword:
        for stale in sorted(Path(env.get("STASHPLEX_CASSETTE_DIR") or CASSETTES).rglob("*.yaml")):
            if stale.stat().st_mtime < started:
                print(f"removing {stale}: no test records it any more")
                stale.unlink()
    replay_env = {k: v for k, v in env.items() if not k.startswith("STASHPLEX_RECORD_")}
    print("replaying them in record mode none")
    return 1 if _pytest(modules, selection, replay_env) else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`python -m reconciler.contract`: settle the Plex behaviours nobody has confirmed, on your server.

Opt-in and live: against the Plex server named by the environment, on the item of a scratch
library with the lowest ratingKey (the first one scanned), it runs each behaviour of
`plex-http.md` §8 marked unknown (and the measured ones worth settling), prints what the
server did and which setting of the Plex emulator matches, and puts the item back as it
was (about 20 requests). Without the environment
variables it says what to set and exits 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from .contract_probes import ContractError, PlexWire, Report, run_probes

ENVIRONMENT = {
    "STASHPLEX_RECORD_PLEX_URL": "the Plex server's URL, e.g. http://plex.lan:32400",
    "STASHPLEX_RECORD_PLEX_TOKEN": "an X-Plex-Token of the server's owner",
    "STASHPLEX_RECORD_PLEX_LIBRARY": "a scratch library with at least one scanned item "
    "(its item with the lowest ratingKey is edited and then restored)",
}


def render(report: Report, url: str) -> str:
    item = report.item
    lines = [
        f"Plex at {url}, library {report.library!r}, item {item.rating_key} ({item.title!r})",
        "",
    ]
    width = max(len(f.behaviour) for f in report.findings) if report.findings else 0
    for finding in report.findings:
        line = f"{finding.mark} {finding.behaviour.ljust(width)}  {finding.observed}"
        if finding.switch != "-":
            line += f"  [emulator: {finding.switch}]"
        lines.append(line)
    lines.append("")
    lines.append(f"restored: {', '.join(report.restored) or 'nothing'}")
    if report.not_restored:
        lines.append(f"NOT restored (check by hand): {', '.join(report.not_restored)}")
    lines.append("the probe's uploaded posters stay in the item's poster list "
                 "(Plex has no request to delete one)")
    lines.append(f"{report.requests} requests")
    return "\n".join(lines)


def main(
    argv: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m reconciler.contract",
        description=__doc__,
        epilog="environment: " + "; ".join(f"{k}: {v}" for k, v in ENVIRONMENT.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    env = os.environ if env is None else env
    out = out or sys.stdout
    missing = [name for name in ENVIRONMENT if not env.get(name)]
    if missing:
        print("stashplex contract: set " + ", ".join(missing) + " to run the live check; "
              + "; ".join(f"{name}: {ENVIRONMENT[name]}" for name in missing), file=sys.stderr)
        return 2
    url = env["STASHPLEX_RECORD_PLEX_URL"]
    wire = PlexWire(url, env["STASHPLEX_RECORD_PLEX_TOKEN"])
    try:
        report = run_probes(wire, env["STASHPLEX_RECORD_PLEX_LIBRARY"], sleep=sleep)
    except ContractError as exc:
        print(f"stashplex contract: {exc}", file=sys.stderr)
        return 1
    print(render(report, url), file=out)
    return 0 if not report.not_restored else 1


if __name__ == "__main__":
    raise SystemExit(main())

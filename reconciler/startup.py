"""The very start of a `stashplex` process, before the heavy imports.

systemd may stop a daemon that is still importing its libraries or reading its
config; Python would die of that SIGTERM (status -15, a failure to systemd). Armed
first thing, this remembers the signal instead: the daemon then stops cleanly as soon
as it is set up (`cli.main` takes the signal over), and every other command gets the
default behaviour back.
"""

from __future__ import annotations

import faulthandler
import signal

_received: list[int] = []
_armed: list[bool] = []


def _remember(signum: int, frame: object) -> None:
    _received.append(signum)


def arm() -> None:
    signal.signal(signal.SIGTERM, _remember)
    _armed.append(True)


def received() -> bool:
    """Whether SIGTERM came while armed."""
    return bool(_received)


def main() -> int:
    """The `stashplex` command: armed, then the command line."""
    arm()
    faulthandler.enable()  # a hung or crashed process shows every thread's stack on SIGABRT
    from reconciler.cli import main as cli_main

    return cli_main()

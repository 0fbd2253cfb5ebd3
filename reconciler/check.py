"""`stashplex check`: can this configuration work? Each check prints one line."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.config import Config
from reconciler.errors import StashplexError
from reconciler.pathmap import path_key
from reconciler.plex import PlexClient, Section
from reconciler.stash import StashClient


def _within(path: str, prefix: str) -> bool:
    path, prefix = path_key(path), path_key(prefix)
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def run_checks(config: Config, say: Callable[[str], None] = print) -> int:
    """0 when every check holds, 3 when a server is unreachable or refuses us, 1 otherwise."""
    failed_server = failed_other = False

    def ok(text: str) -> None:
        say(f"ok    {text}")

    def fail(text: str) -> None:
        say(f"FAIL  {text}")

    ok(f"config {config.source} is valid")
    stash = StashClient(config.stash)
    try:
        version = stash.version()
        ok(f"Stash at {config.stash.url} answers (version {version}) and accepts the API key")
    except StashplexError as exc:
        fail(f"Stash: {exc}")
        failed_server = True
    finally:
        stash.close()

    plex = PlexClient(config.plex)
    sections: list[Section] = []
    try:
        server = plex.server
        ok(
            f"Plex at {config.plex.url} answers ({server.friendlyName}, version "
            f"{server.version}) and accepts the token"
        )
        existing = plex.sections()
        by_title = {section.title: section for section in existing}
        for title in config.plex.libraries:
            if title in by_title:
                sections.append(by_title[title])
                ok(
                    f"library {title!r} found ({by_title[title].type}, "
                    f"{', '.join(by_title[title].locations) or 'no folders'})"
                )
            else:
                names = ", ".join(repr(s.title) for s in existing) or "none"
                fail(f"plex.libraries: library {title!r} not found; Plex has {names}")
                failed_other = True
    except StashplexError as exc:
        fail(f"Plex: {exc}")
        failed_server = True
    finally:
        plex.session.close()

    if sections:
        locations = [loc for section in sections for loc in section.locations]
        for i, mapping in enumerate(config.path_map):
            if any(_within(mapping.plex, loc) or _within(loc, mapping.plex) for loc in locations):
                ok(f"path_map[{i}]: {mapping.plex!r} lies in a configured library")
            else:
                fail(
                    f"path_map[{i}]: Plex prefix {mapping.plex!r} is in none of the configured "
                    f"libraries' folders ({', '.join(locations) or 'none'})"
                )
                failed_other = True
    if failed_server:
        return 3
    return 1 if failed_other else 0

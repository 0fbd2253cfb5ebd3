"""`stashplex check`: can this configuration work? Each check prints one line.

Beyond answering servers, it takes up to 200 Stash scenes, maps their paths and
looks for them in Plex's listing; when few are found it proposes the `path_map`
that would find them (see `pathguess`). With `match: filename` it looks for their file
names instead, and needs no `path_map`.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.config import Config
from reconciler.errors import StashplexError
from reconciler.matching import BY_FILENAME, file_name
from reconciler.pathguess import SAMPLE_SIZE, Proposal, matched, propose
from reconciler.pathmap import PathMap, path_key
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
    sample: list[str] | None = None
    try:
        version = stash.version()
        ok(f"Stash at {config.stash.url} answers (version {version}) and accepts the API key")
        sample = sample_paths(stash)
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

    plex_files: list[str] | None = None
    try:
        if sections and sample:
            plex_files = [
                file for section in sections for item in plex.list_items(section)
                for file in item.files
            ]
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
    if sample == []:
        ok("Stash lists no scene yet: no path to compare with Plex")
    elif sample and plex_files is not None:
        failed_other |= not _check_sample(config, sample, plex_files, ok, fail, say)
    if failed_server:
        return 3
    return 1 if failed_other else 0


def sample_paths(stash: StashClient, size: int = SAMPLE_SIZE) -> list[str]:
    """The file paths of up to `size` Stash scenes (the first page of a listing)."""
    for scenes, _ in stash.scenes_by_id(per_page=size):
        return [scene.path for scene in scenes if scene.path]
    return []


def proposal_lines(proposals: list[Proposal], sampled: int) -> list[str]:
    """The proposed entries, then the YAML to paste."""
    lines = [
        f"stash: {p.stash} -> plex: {p.plex} would match {p.matches} of {sampled}"
        for p in proposals
    ]
    lines.append("in stashplex.yaml:")
    lines.append("  path_map:")
    lines.extend(f"    - {{stash: {_yaml(p.stash)}, plex: {_yaml(p.plex)}}}" for p in proposals)
    return lines


def _yaml(text: str) -> str:
    plain = text and all(c.isalnum() or c in "/._- " for c in text) and text.strip() == text
    return text if plain else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_sample(
    config: Config,
    sample: list[str],
    plex_files: list[str],
    ok: Callable[[str], None],
    fail: Callable[[str], None],
    say: Callable[[str], None],
) -> bool:
    """Whether most sampled Stash files are found in Plex under the configured path_map (or
    by their names, with `match: filename`)."""
    if config.match == BY_FILENAME:
        names = {file_name(file) for file in plex_files}
        found_names = [path for path in sample if file_name(path) in names]
        counted = f"{len(found_names)} of {len(sample)} sampled Stash scenes found in Plex"
        if len(found_names) * 2 >= len(sample):
            ok(f"match: filename: {counted} by file name")
            return True
        missing = next(path for path in sample if path not in found_names)
        fail(
            f"match: filename: {counted} by file name; e.g. no file named "
            f"{missing.replace(chr(92), '/').rsplit('/', 1)[-1]!r} in plex.libraries"
        )
        return False
    path_map = PathMap((m.stash, m.plex) for m in config.path_map)
    keys = {path_key(file) for file in plex_files}
    found = matched(sample, keys, path_map)
    counted = f"{len(found)} of {len(sample)} sampled Stash scenes found in Plex"
    healthy = len(found) * 2 >= len(sample)
    proposals = [] if len(found) == len(sample) else propose(sample, plex_files)
    better = sum(p.matches for p in proposals) > len(found)
    if healthy:
        ok(f"path_map: {counted}")
    else:
        missing = next(path for path in sample if path not in found)
        fail(f"path_map: {counted}; e.g. {missing} was looked for as {path_map.to_plex(missing)}")
    if better:
        say("      " + ("a path_map that would match more:" if healthy else "proposal:"))
        for line in proposal_lines(proposals, len(sample)):
            say(f"      {line}")
    elif not healthy:
        say("      no sampled file name is in the configured libraries either: check "
            "plex.libraries, or whether Plex has scanned these files")
    return healthy

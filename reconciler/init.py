"""`stashplex init`: write a config file for the user's servers, then check it.

Asks for what the flags do not give (nothing with `--yes`), lists Plex's libraries to
choose from, proposes `path_map` from the file names both servers list, writes the
documented example filled in (mode 0600: it may hold the token), and runs `check`.
A secret taken from the environment stays there and is not written to the file.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path

from reconciler.check import run_checks, sample_paths
from reconciler.config import API_KEY_ENV, TOKEN_ENV, Config, load_config, parse_config
from reconciler.configtext import example_text, render
from reconciler.errors import ConfigError, StashplexError
from reconciler.pathguess import Proposal, propose
from reconciler.plex import PlexClient, Section
from reconciler.redact import register_secret
from reconciler.stash import StashClient

Ask = Callable[[str], str]


class Prompter:
    """Questions on a terminal; with `--yes` (or no terminal) every answer is the default."""

    def __init__(self, interactive: bool, ask: Ask = input, secret: Ask = getpass.getpass):
        self.interactive = interactive
        self._ask = ask
        self._secret = secret

    def text(self, question: str, default: str) -> str:
        if not self.interactive:
            return default
        answer = self._ask(f"{question} [{default}]: " if default else f"{question}: ").strip()
        return answer or default

    def secret(self, question: str) -> str:
        if not self.interactive:
            return ""
        return self._secret(f"{question} (hidden, Enter for none): ").strip()

    def yes(self, question: str, default: bool = True) -> bool:
        if not self.interactive:
            return default
        answer = self._ask(f"{question} [{'Y/n' if default else 'y/N'}]: ").strip().lower()
        return default if not answer else answer.startswith("y")


def _library_files(plex: PlexClient, section: Section) -> list[str]:
    return [file for item in plex.list_items(section) for file in item.files]


def _name_overlap(sample: list[str], files: list[str]) -> int:
    names = {file.replace("\\", "/").rsplit("/", 1)[-1].casefold() for file in files}
    return sum(path.replace("\\", "/").rsplit("/", 1)[-1].casefold() in names for path in sample)


def _choose_libraries(
    sections: list[Section],
    files: dict[str, list[str]],
    sample: list[str],
    wanted: list[str] | None,
    prompt: Prompter,
    say: Callable[[str], None],
) -> list[str]:
    say("Plex libraries:")
    for number, section in enumerate(sections, 1):
        overlap = _name_overlap(sample, files[section.title]) if sample else 0
        found = f"; {overlap} of {len(sample)} sampled Stash files by name" if sample else ""
        say(
            f"  {number}) {section.title} ({section.type}, "
            f"{', '.join(section.locations) or 'no folders'}{found})"
        )
    if wanted:
        unknown = [title for title in wanted if title not in files]
        if unknown:
            raise ConfigError(
                f"--library: Plex has no library {unknown[0]!r}; it has "
                + ", ".join(repr(s.title) for s in sections)
            )
        return wanted
    ranked = sorted(sections, key=lambda s: _name_overlap(sample, files[s.title]), reverse=True)
    best = [s.title for s in ranked if sample and _name_overlap(sample, files[s.title])]
    if not best:
        best = [next((s.title for s in sections if s.type == "movie"), sections[0].title)]
    answer = prompt.text(
        "libraries holding your Stash files (numbers or titles, comma-separated)",
        ", ".join(best),
    )
    chosen = []
    for part in (p.strip() for p in answer.split(",") if p.strip()):
        if part.isdigit() and 1 <= int(part) <= len(sections):
            chosen.append(sections[int(part) - 1].title)
        elif part in files:
            chosen.append(part)
        else:
            raise ConfigError(f"init: no library {part!r} on Plex")
    return chosen


def _discover(
    config: Config, wanted: list[str] | None, prompt: Prompter, say: Callable[[str], None]
) -> tuple[list[str] | None, list[Proposal]]:
    """The libraries to use and the path_map to propose, from what both servers list."""
    stash = StashClient(config.stash)
    try:
        sample = sample_paths(stash)
    except StashplexError as exc:
        say(f"Stash: {exc}")
        sample = []
    finally:
        stash.close()
    plex = PlexClient(config.plex)
    try:
        sections = plex.sections()
        if not sections:
            say("Plex has no library yet")
            return None, []
        files = {section.title: _library_files(plex, section) for section in sections}
    except StashplexError as exc:
        say(f"Plex: {exc}")
        return None, []
    finally:
        plex.session.close()
    libraries = _choose_libraries(sections, files, sample, wanted, prompt, say)
    if not sample:
        return libraries, []
    chosen_files = [file for title in libraries for file in files[title]]
    proposals = propose(sample, chosen_files)
    if not proposals:
        return libraries, []
    say("proposed path_map:")
    for p in proposals:
        say(f"  stash: {p.stash} -> plex: {p.plex} would match {p.matches} of {len(sample)}")
    return libraries, proposals if prompt.yes("use this path_map?") else []


def run_init(
    args: argparse.Namespace,
    say: Callable[[str], None] = print,
    ask: Ask = input,
    secret: Ask = getpass.getpass,
    env: dict | None = None,
) -> int:
    env = os.environ if env is None else env
    path = Path(args.path)
    prompt = Prompter(not args.yes and sys.stdin.isatty(), ask, secret)
    if path.exists() and not args.force and not prompt.yes(f"{path} exists; overwrite it?", False):
        raise ConfigError(f"{path}: already exists; pass --force to overwrite it")
    defaults = parse_config({}, env={})
    values: dict[str, object] = {}
    values["stash.url"] = args.stash_url or prompt.text("Stash URL", defaults.stash.url)
    key = (args.stash_api_key or "").strip()
    if not key and not env.get(API_KEY_ENV):
        key = prompt.secret("Stash API key (Settings > Security)")
    values["plex.url"] = args.plex_url or prompt.text("Plex URL", defaults.plex.url)
    token = (args.plex_token or "").strip()
    if not token and not env.get(TOKEN_ENV):
        token = prompt.secret("Plex token (X-Plex-Token)")
    if key:
        values["stash.api_key"] = key
    if token:
        values["plex.token"] = token
    for value in (key, token):
        register_secret(value)
    data = {
        "stash": {"url": values["stash.url"], "api_key": key},
        "plex": {"url": values["plex.url"], "token": token},
    }
    config = parse_config(data, "init", env)
    values["stash.url"], values["plex.url"] = config.stash.url, config.plex.url
    libraries, proposals = _discover(config, args.library, prompt, say)
    if libraries:
        values["plex.libraries"] = libraries
    text = render(example_text(), values, [(p.stash, p.plex) for p in proposals])
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
    say(f"wrote {path}")
    say("")
    say(f"$ stashplex check --config {path}")
    return run_checks(load_config(str(path), env), say)

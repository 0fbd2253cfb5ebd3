"""Filling in the documented example config: the values change, its comments stay.

Pure logic over the text of `stashplex.yaml.example` (shipped in the package as
`reconciler/data/`), so `stashplex init` writes a file that still explains every key.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import yaml

_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[a-z_]+):(?P<gap> *)(?P<value>[^#\n]*?)"
                       r"(?P<comment> +#.*)?$")


def example_text() -> str:
    """The example config as shipped inside the package (so a wheel install has it)."""
    return (resources.files("reconciler") / "data" / "stashplex.yaml.example").read_text(
        encoding="utf-8"
    )


def _scalar(value: Any) -> str:
    """`value` as YAML on one line."""
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix(
        "\n..."
    ).strip()


def _replaced(match: re.Match, value: Any) -> str:
    old = match.group("value")
    text = _scalar(value)
    comment = match.group("comment") or ""
    if comment:
        # keep the comments' column where the new value is short enough
        text = text.ljust(len(old) + len(comment) - len(comment.lstrip()) - 1)
        comment = " " + comment.lstrip()
    return f"{match.group('indent')}{match.group('key')}:{match.group('gap')}{text}{comment}"


def render(text: str, values: dict[str, Any], path_map: list[tuple[str, str]]) -> str:
    """`text` with each `section.key` of `values` set, and `path_map` set when given."""
    lines = text.splitlines()
    section = ""
    out: list[str] = []
    for line in lines:
        match = _KEY_LINE.match(line)
        if match and not match.group("indent"):
            section = match.group("key")
            if section == "path_map" and path_map:
                comment = match.group("comment") or ""
                out.append(f"path_map:{' ' * (len(match.group('value')) + 1)}{comment}".rstrip())
                out.extend(
                    f"  - {{stash: {_scalar(stash)}, plex: {_scalar(plex)}}}"
                    for stash, plex in path_map
                )
                continue
            key = section
        elif match:
            key = f"{section}.{match.group('key')}"
        else:
            out.append(line)
            continue
        out.append(_replaced(match, values[key]) if key in values else line)
    return "\n".join(out) + "\n"

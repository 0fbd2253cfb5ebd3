"""The title written to Plex: `sync.title_format` filled from the scene (pure).

A placeholder Stash leaves empty becomes "", and what it leaves behind (doubled spaces,
empty brackets, a separator at either end) is tidied away, so "{studio} - {title}" on a
scene without a studio reads just the title. Without a Stash title, `title_fallback:
filename` uses the primary file's name without its extension; `none` writes no title.
"""

from __future__ import annotations

import ntpath
import posixpath
import re
import string

from reconciler.config import SyncConfig
from reconciler.models import Scene

_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]|\{\s*\}")
_SPACES = re.compile(r"\s{2,}")
_SEPARATORS = " -–—|·,:/"
_DANGLING = re.compile(r"\s+[-–—|·,:/]+(?=\s+[-–—|·,:/]+\s)")


def file_stem(path: str | None) -> str:
    """The file's name without folder or extension, for Windows and POSIX paths alike."""
    if not path:
        return ""
    name = ntpath.basename(path) if "\\" in path else posixpath.basename(path)
    return posixpath.splitext(name)[0]


def _tidy(literal: str, first: bool, last: bool) -> str:
    """The template's own text between two filled placeholders, without the leftovers of
    empty ones; the scene's values are never touched."""
    literal = _EMPTY_BRACKETS.sub("", literal)
    literal = _DANGLING.sub("", literal)
    literal = _SPACES.sub(" ", literal)
    if first:
        literal = literal.lstrip(_SEPARATORS + "\t")
    if last:
        literal = literal.rstrip(_SEPARATORS + "\t")
    return literal


def _fill(template: str, values: dict[str, str]) -> str:
    pieces: list[str] = []  # literal, value, literal, value, ..., literal
    literal = ""
    for text, name, spec, conversion in string.Formatter().parse(template):
        literal += text
        if name is None:
            continue
        value = values[name]
        if conversion:
            value = {"r": repr, "s": str, "a": ascii}[conversion](value)
        value = format(value, spec or "")
        if value:
            pieces += [literal, value]
            literal = ""
    pieces.append(literal)
    last = len(pieces) - 1
    return "".join(
        _tidy(piece, i == 0, i == last) if i % 2 == 0 else piece for i, piece in enumerate(pieces)
    )


def render_title(scene: Scene, sync: SyncConfig, clean: str) -> str | None:
    """The scene's title as `sync.title_format` says; None when there is none to write.

    `clean` is the scene's own title already cleaned for Plex ("" when Stash has none).
    """
    title = clean
    if not title:
        if sync.title_fallback != "filename":
            return None
        title = file_stem(scene.path)
        if not title:
            return None
    date = scene.date or ""
    values = {
        "title": title,
        "studio": scene.studio or "",
        "parent_studio": scene.parent_studio or "",
        "date": date,
        "year": date[:4],
        "performers": ", ".join(scene.performers),
        "code": scene.code or "",
        "filename": file_stem(scene.path),
    }
    return _fill(sync.title_format, values).strip() or title

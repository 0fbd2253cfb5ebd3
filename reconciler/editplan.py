"""Planning the PUTs of one edit under a request-size budget (pure: no I/O).

Plex takes edits only in the query string, and a PMS or a proxy in front of it answers
414 to an over-long request line (shared/reference/plex-http.md §8: nginx's default is
8 KB). An edit that fits goes out as one PUT; one that does not is split, in order, into
the text fields and then each tag list, packed into as few PUTs as the budget allows,
every PUT locking what it writes. A single value that fits no request is shortened at a
character boundary and ends with "…"; a tag list keeps as many names as fit.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from plexapi.utils import joinArgs

from reconciler.diff import PLEX_FIELDS, Edit, FieldChange
from reconciler.errors import PlexRequestTooLong

ELLIPSIS = "…"
_JOINERS = {"\u200d", "\ufe0e", "\ufe0f"}


@dataclass
class EditPlan:
    """The query arguments of each PUT, and the values sent shortened (field -> value)."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    shortened: dict[str, Any] = field(default_factory=dict)


def query_size(args: dict[str, Any]) -> int:
    """Bytes of the query string plexapi builds for `args` ('?' included)."""
    return len(joinArgs(args))


# what urllib3 leaves as it is in a query string, besides letters, digits and "-._~"
_QUERY_SAFE = "!$&'()*+,;=:@/?"
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


_UNRESERVED_BYTES = bytes(sorted(_UNRESERVED))


def _percent_table(safe: str) -> list[bytes]:
    """Each byte as `quote(..., safe=safe)` writes it: itself, or percent-encoded."""
    kept = _UNRESERVED | frozenset(safe.encode())
    return [bytes((byte,)) if byte in kept else b"%%%02X" % byte for byte in range(256)]


_KEY_TABLE = _percent_table(_QUERY_SAFE)
_VALUE_TABLE = _percent_table("")
_LONG = 64  # bytes from which a text is encoded kind by kind (below, byte by byte is quicker)
_FEW = 8  # kinds of bytes to encode up to which it is


def _quoted(text: str, table: list[bytes]) -> str:
    """`quote(text, safe=...)` in C, where `quote` calls a Python function for every byte
    (the costliest part of building a long edit). Text of unreserved characters only (ids,
    types, most short values) is its own encoding; a long one with few kinds of bytes to
    encode (a summary's spaces and commas) has each kind replaced over the whole text, "%"
    first (the others bring it in); anything else is encoded byte by byte, a table look-up
    each."""
    encoded = text.encode()
    rest = encoded.translate(None, _UNRESERVED_BYTES)
    if not rest:
        return text
    kinds = set(rest) if len(encoded) >= _LONG else ()
    if not kinds or len(kinds) > _FEW:
        return b"".join(map(table.__getitem__, encoded)).decode("ascii")
    if 0x25 in kinds:
        encoded = encoded.replace(b"%", table[0x25])
        kinds.discard(0x25)
    for byte in kinds:
        if len(table[byte]) > 1:
            encoded = encoded.replace(bytes((byte,)), table[byte])
    return encoded.decode("ascii")


@functools.lru_cache(maxsize=1024)
def _quoted_key(key: str) -> str:
    """A key as it goes on the wire: the same few (`genre[3].tag.tag`) come in every edit."""
    return _quoted(key, _KEY_TABLE)


def wire_query(args: dict[str, Any]) -> str:
    """plexapi's query string for `args` (`joinArgs`: keys in its order, values quoted) as it
    goes on the wire: the keys' brackets percent-encoded as urllib3 encodes them, so that
    nothing has to encode it again."""
    if not args:
        return ""
    pairs = (
        f"{_quoted_key(key)}={_quoted(str(args[key]), _VALUE_TABLE)}"
        for key in sorted(args, key=str.lower)
    )
    return "?" + "&".join(pairs)


def fits(args: dict[str, Any], room: int) -> bool:
    """Whether the query string of `args` is at most `room` bytes; a cheap bound first
    (percent-encoding makes a byte at most three), the exact size only near the limit."""
    bound = 1 + sum(len(key) + 2 + 3 * len(str(value).encode()) for key, value in args.items())
    return bound <= room or query_size(args) <= room


def _value(change: FieldChange) -> str:
    value = change.new
    if PLEX_FIELDS[change.field][1] == "rating" and value is not None:
        value = f"{value:g}"
    return "" if value is None else str(value)


def text_args(change: FieldChange, value: str | None = None) -> dict[str, Any]:
    plex_name = PLEX_FIELDS[change.field][0]
    return {
        f"{plex_name}.value": _value(change) if value is None else value,
        f"{plex_name}.locked": 1,
    }


def tag_args(tag: str, names: Names, thumbs: dict[str, str] | None = None) -> dict[str, Any]:
    """The indexed list that replaces the item's tags of this type, locked; `thumbs` (name
    folded to case -> URL) gives actors their photos (`actor[i].tag.thumb`, as plexapi's
    `_edit_tags` spells a tag's fields: shared/reference/plex-http.md §2)."""
    args: dict[str, Any] = {f"{tag}.locked": 1}
    for i, name in enumerate(names):
        args[f"{tag}[{i}].tag.tag"] = name
        thumb = thumbs.get(name.casefold()) if thumbs else None
        if thumb:
            args[f"{tag}[{i}].tag.thumb"] = thumb
    return args


def _thumbs(edit: Edit, tag: str) -> dict[str, str] | None:
    return edit.actor_thumbs if tag == "actor" else None


Names = tuple[str, ...] | list[str]


def leftovers(wanted: Names, current: Names) -> list[str]:
    """Names the item has that the new list does not (compared without regard to case)."""
    keep = {name.casefold() for name in wanted}
    return [name for name in current or () if name.casefold() not in keep]


def removal_args(tag: str, names: list[str]) -> dict[str, Any]:
    return {f"{tag}[].tag.tag-": ",".join(quote(name) for name in names)} if names else {}


def single_request(base: dict[str, Any], edit: Edit) -> dict[str, Any]:
    """Every field of the edit in one PUT's arguments."""
    args = dict(base)
    for change in edit.changes:
        plex_name, kind = PLEX_FIELDS[change.field]
        if kind == "tags":
            args.update(tag_args(plex_name, change.new, _thumbs(edit, plex_name)))
            args.update(removal_args(plex_name, leftovers(change.new, change.old)))
        else:
            args.update(text_args(change))
    if edit.lock_poster:
        args["thumb.locked"] = 1
    if edit.lock_art:
        args["art.locked"] = 1
    return args


def _cut(text: str, length: int) -> str:
    """`text` cut to at most `length` characters, never inside a combined character."""
    while 0 < length < len(text) and (
        unicodedata.combining(text[length])
        or text[length] in _JOINERS
        or text[length - 1] in _JOINERS
    ):
        length -= 1
    return text[:length].rstrip() + ELLIPSIS


def _longest(count: int, fits: Callable[[int], bool]) -> int:
    """The largest n in 0..count with fits(n) (fits is monotonic), -1 if none."""
    low, high = -1, count
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return low


class _Packer:
    """Fills PUTs in order, starting a new one when the next piece does not fit."""

    def __init__(self, base: dict[str, Any], room: int) -> None:
        self.base, self.room = base, room
        self.requests: list[dict[str, Any]] = []
        self.current = dict(base)

    def fits_alone(self, piece: dict[str, Any]) -> bool:
        return fits({**self.base, **piece}, self.room)

    def add(self, piece: dict[str, Any]) -> None:
        clash = any(key in self.current for key in piece)
        too_big = not fits({**self.current, **piece}, self.room)
        if (clash or too_big) and self.current != self.base:
            self.requests.append(self.current)
            self.current = dict(self.base)
        self.current.update(piece)

    def done(self) -> list[dict[str, Any]]:
        if self.current != self.base:
            self.requests.append(self.current)
        return self.requests


def plan_edit(base: dict[str, Any], edit: Edit, room: int) -> EditPlan:
    """The PUTs that apply `edit`, each query string at most `room` bytes.

    `base` (the item's id and type) starts every PUT. Raises `PlexRequestTooLong`
    when not even one shortened piece fits.
    """
    whole = single_request(base, edit)
    if fits(whole, room):
        return EditPlan([whole])
    plan = EditPlan()
    packer = _Packer(base, room)
    texts = [c for c in edit.changes if PLEX_FIELDS[c.field][1] != "tags"]
    tags = [c for c in edit.changes if PLEX_FIELDS[c.field][1] == "tags"]
    for change in texts:
        piece = text_args(change)
        if not packer.fits_alone(piece):
            piece = _shorten_text(packer, change, plan)
        packer.add(piece)
    if edit.lock_poster:
        packer.add({"thumb.locked": 1})
    if edit.lock_art:
        packer.add({"art.locked": 1})
    for change in tags:
        tag = PLEX_FIELDS[change.field][0]
        thumbs = _thumbs(edit, tag)
        names = tuple(change.new)
        if not packer.fits_alone(tag_args(tag, names, thumbs)):
            names = _shorten_tags(packer, change, tag, plan, thumbs)
        packer.add(tag_args(tag, names, thumbs))
        for chunk in _removal_chunks(packer, tag, leftovers(names, change.old)):
            packer.add(chunk)
    plan.requests = packer.done()
    return plan


def _shorten_text(packer: _Packer, change: FieldChange, plan: EditPlan) -> dict[str, Any]:
    text = _value(change)
    count = _longest(len(text), lambda n: packer.fits_alone(text_args(change, _cut(text, n))))
    if count < 0:
        raise PlexRequestTooLong(
            f"{change.field}: not even a shortened value fits in a request of {packer.room} bytes"
        )
    value = _cut(text, count)
    plan.shortened[change.field] = value
    return text_args(change, value)


def _shorten_tags(
    packer: _Packer,
    change: FieldChange,
    tag: str,
    plan: EditPlan,
    thumbs: dict[str, str] | None = None,
) -> Names:
    names = tuple(change.new)
    count = _longest(len(names), lambda n: packer.fits_alone(tag_args(tag, names[:n], thumbs)))
    if count < 1:
        raise PlexRequestTooLong(
            f"{change.field}: the tag {names[0][:40]!r} alone does not fit in a request of "
            f"{packer.room} bytes"
        )
    plan.shortened[change.field] = names[:count]
    return names[:count]


def _removal_chunks(packer: _Packer, tag: str, names: list[str]) -> list[dict[str, Any]]:
    """Leftover tags to remove, in as few pieces as fit (removals are independent)."""
    chunks: list[dict[str, Any]] = []
    batch: list[str] = []
    for name in names:
        if batch and not packer.fits_alone(removal_args(tag, [*batch, name])):
            chunks.append(removal_args(tag, batch))
            batch = []
        batch.append(name)
    if batch:
        chunks.append(removal_args(tag, batch))
    return chunks

"""Read-back memory: what Plex shows for what stashplex sent.

Plex does not always keep a value as sent: it may merge a tag into one spelled with
other case, round a rating, trim a value, and stashplex itself shortens a value too long
for any request. Rewriting such a field would not change what Plex shows, so every job
would write it again. Instead the difference is remembered (as digests, per scene and
field) and a field that shows the remembered value for the same Stash value is in sync;
a change in Stash, or an edit in Plex, makes it differ again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from reconciler.diff import (
    PHOTOS_SHOWN,
    Edit,
    current_value,
    same_value,
    sent_thumbs,
    shown_thumbs,
)
from reconciler.models import PlexItem


def digest(value: Any) -> str:
    """A short, stable fingerprint of a field's value (tag lists as lists, ratings rounded)."""
    if isinstance(value, tuple | list):
        value = list(value)
    elif isinstance(value, float):
        value = round(value, 3)
    blob = json.dumps(value, ensure_ascii=False).encode()
    return hashlib.blake2b(blob, digest_size=12).hexdigest()


@dataclass(frozen=True)
class Remembered:
    """Plex showed the value with digest `shown` after stashplex sent the value `wanted`."""

    wanted: str
    shown: str

    def matches(self, wanted: Any, current: Any) -> bool:
        return digest(wanted) == self.wanted and digest(current) == self.shown


@dataclass(frozen=True)
class ReadBack:
    """One written field as Plex shows it after the write."""

    field: str
    wanted: Any  # what Stash says
    sent: Any  # what went to Plex (shortened values differ from `wanted`)
    shown: Any  # what Plex shows now

    @property
    def kept(self) -> bool:
        """Plex shows exactly what Stash says: nothing to remember."""
        return self.shown == self.wanted

    @property
    def changed_by_plex(self) -> bool:
        """Plex shows something other than what was sent (not only shortened by stashplex)."""
        return self.shown != self.sent

    def memory(self) -> Remembered:
        return Remembered(digest(self.wanted), digest(self.shown))


def read_back(edit: Edit, after: PlexItem) -> list[ReadBack]:
    """Each field of a written `edit` as the re-read item `after` shows it.

    A field Plex shows in a form that does not even count as the sent value (another
    value altogether, as an outside edit would leave) is not reported: it is no
    rounding or folding to remember, and the next job writes it again.
    """
    found = []
    for change in edit.changes:
        if change.field == "collection":
            continue  # the collection list is what Plex had plus one: nothing to fold
        sent = edit.shortened.get(change.field, change.new)
        shown = sent if _kept_as_sent(after, change.field, sent) else None
        if shown is None:
            shown = current_value(after, change.field)
        if not same_value(change.field, shown, sent) and not _plex_form(change.field, shown, sent):
            continue
        found.append(ReadBack(change.field, change.new, sent, shown))
    if edit.actor_thumbs and any(change.field == "performers" for change in edit.changes):
        # the photo URLs as Plex shows them: one it keeps in a form of its own is remembered
        sent = sent_thumbs(edit.actor_thumbs)
        found.append(ReadBack(PHOTOS_SHOWN, sent, sent, shown_thumbs(after, edit.actor_thumbs)))
    return found


# the PlexItem attribute that holds each sync field as Plex sent it
_RAW = {
    "title": "title",
    "summary": "summary",
    "date": "originally_available_at",
    "studio": "studio",
    "rating": "user_rating",
    "performers": "actors",
    "tags": "genres",
    "year": "year",
    "content_rating": "content_rating",
}


def _kept_as_sent(after: PlexItem, name: str, sent: Any) -> bool:
    """The cheap, common case: Plex holds exactly what was sent (no cleaning, no sorting)."""
    raw = getattr(after, _RAW[name])
    if isinstance(sent, tuple):
        return len(raw) == len(sent) and set(raw) == set(sent)
    return sent is not None and raw == sent


def remember(
    found: list[ReadBack], known: dict[str, Remembered]
) -> tuple[dict[str, Remembered], list[str], list[ReadBack]]:
    """From one write's read-back and the scene's memory so far: the entries to keep, the
    fields to forget (Plex now shows them as Stash says), and the differences Plex made
    that are new (to log once)."""
    memory: dict[str, Remembered] = {}
    news: list[ReadBack] = []
    for back in found:
        if back.kept:
            continue
        memory[back.field] = back.memory()
        if back.changed_by_plex and known.get(back.field) != memory[back.field]:
            news.append(back)
    forget = [back.field for back in found if back.kept and back.field in known]
    return memory, forget, news


def _plex_form(name: str, shown: Any, sent: Any) -> bool:
    """Whether `shown` is a form Plex turns `sent` into: trimmed or cut text, a rounded rating."""
    if isinstance(sent, str) and isinstance(shown, str):
        return bool(shown) and (shown.split() == sent.split() or sent.startswith(shown))
    if isinstance(sent, float) and isinstance(shown, float):
        return abs(sent - shown) <= 0.5
    return False

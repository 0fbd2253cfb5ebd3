"""Plain data that flows between the clients, the diff and the queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Scene:
    """A Stash scene, reduced to what stashplex syncs."""

    id: str
    updated_at: str = ""
    title: str | None = None
    details: str | None = None
    date: str | None = None
    rating100: int | None = None
    studio: str | None = None
    performers: list[str] = field(default_factory=list)
    # each performer's `image_path` in Stash, by name (`&default=true` marks a placeholder)
    performer_images: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    screenshot: str | None = None
    code: str | None = None
    parent_studio: str | None = None
    groups: list[str] = field(default_factory=list)  # the names of its groups (movies)
    organized: bool = False
    urls: list[str] = field(default_factory=list)
    stash_ids: list[str] = field(default_factory=list)  # "endpoint#id" of each StashID
    # Stash ids of what the scene carries: which scenes a deleted object must be taken off
    studio_id: str | None = None
    performer_ids: list[str] = field(default_factory=list)
    tag_ids: list[str] = field(default_factory=list)

    @property
    def path(self) -> str | None:
        """The primary file: Stash lists it first."""
        return self.files[0] if self.files else None

    @property
    def label(self) -> str:
        """How messages name the scene: its id, and the start of its title."""
        if not self.title:
            return f"scene {self.id}"
        title = self.title if len(self.title) <= 60 else self.title[:57] + "..."
        return f"scene {self.id} ({title!r})"

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain data (what `dataclasses.asdict` gives, written out: it copies
        its way through every value generically, and a full pass asks for many scenes)."""
        return {
            "id": self.id,
            "updated_at": self.updated_at,
            "title": self.title,
            "details": self.details,
            "date": self.date,
            "rating100": self.rating100,
            "studio": self.studio,
            "performers": list(self.performers),
            "performer_images": dict(self.performer_images),
            "tags": list(self.tags),
            "files": list(self.files),
            "screenshot": self.screenshot,
            "code": self.code,
            "parent_studio": self.parent_studio,
            "groups": list(self.groups),
            "organized": self.organized,
            "urls": list(self.urls),
            "stash_ids": list(self.stash_ids),
            "studio_id": self.studio_id,
            "performer_ids": list(self.performer_ids),
            "tag_ids": list(self.tag_ids),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scene:
        """Tolerant of payloads queued by older versions (fields missing get their defaults)."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class PlexItem:
    """A Plex item as stashplex sees it: synced fields, locks, files and stamps."""

    rating_key: int
    section_id: int
    title: str = ""
    summary: str = ""
    originally_available_at: str | None = None
    studio: str | None = None
    user_rating: float | None = None
    year: int | None = None
    content_rating: str | None = None
    genres: list[str] = field(default_factory=list)
    actors: list[str] = field(default_factory=list)
    actor_thumbs: dict[str, str] = field(default_factory=dict)  # `<Role thumb=..>` by name
    collections: list[str] = field(default_factory=list)
    locked: set[str] = field(default_factory=set)
    files: list[str] = field(default_factory=list)
    updated_at: int = 0
    added_at: int = 0
    type: str = "movie"
    last_rated_at: int = 0  # a rating given in Plex moves this stamp, not `updated_at`
    # the token's account's activity: plays, when last watched, where it stopped (ms)
    view_count: int = 0
    last_viewed_at: int = 0
    view_offset: int = 0

    @property
    def changed_at(self) -> int:
        """The newest of the stamps a Plex-side change moves."""
        return max(self.updated_at, self.added_at, self.last_rated_at, self.last_viewed_at)

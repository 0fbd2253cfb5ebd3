"""Actor photos: the URL Plex is given for each performer's image in Stash (pure logic).

Plex fetches an actor's `thumb` URL itself and keeps it in its database, so the URL must
never carry the Stash API key. Stash's `Performer.image_path` is
`{base}/performer/{id}/image?t={updated_at}`, with `&default=true` when the performer has no
image of its own (a generated placeholder, skipped here); fetching it needs the `ApiKey`
header when Stash has credentials (shared/reference/stash-graphql.md, "More facts", read from
Stash's `internal/api/urlbuilders/performer.go`). So:

- Stash without an API key: Plex gets Stash's URL as it is;
- with a key: Plex gets `{server.public_url}/performer/{id}/image?t={stamp}`, which stashplex
  serves itself (`photoserve.py`), fetching from Stash with the key;
- with a key and no `server.public_url` or no `server.listen`: no photos (the config warns
  once at start).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, urlsplit

from reconciler.config import Config

STASH_URLS = "stash"  # the photo source that hands Plex Stash's own URLs
_PHOTO_PATH = re.compile(r"/performer/(\d+)/image$")


def photo_source(config: Config) -> str:
    """Where actor photo URLs point: `STASH_URLS`, stashplex's public URL, or "" for none."""
    if "performer_photos" not in config.sync.fields:
        return ""
    if not config.stash.api_key:
        return STASH_URLS
    return config.server.public_url if config.server.listen else ""


def is_placeholder(image_path: str) -> bool:
    """Stash marks a generated image (the performer has none of its own) with `default=true`."""
    values = parse_qs(urlsplit(image_path).query).get("default", [])
    return any(value.lower() == "true" for value in values)


def served_path(performer_id: str, stamp: str) -> str:
    """The path stashplex serves a performer's photo at; the stamp makes each photo's URL new."""
    return f"/performer/{performer_id}/image" + (f"?t={quote(stamp, safe='')}" if stamp else "")


def photo_url(image_path: str, source: str) -> str | None:
    """The URL Plex is given for one performer's `image_path`, or None for no photo."""
    if not source or not image_path or is_placeholder(image_path):
        return None
    if source == STASH_URLS:
        return image_path
    parts = urlsplit(image_path)
    found = _PHOTO_PATH.search(parts.path)
    if found is None:
        return None
    stamp = parse_qs(parts.query).get("t", [""])[0]
    return source + served_path(found.group(1), stamp)


def actor_thumbs(images: dict[str, str], names: tuple[str, ...], source: str) -> dict[str, str]:
    """The photo URL of each performer in `names` that has one, keyed by name folded to case."""
    by_name = {name.casefold(): path for name, path in images.items()}
    thumbs: dict[str, str] = {}
    for name in names:
        url = photo_url(by_name.get(name.casefold(), ""), source)
        if url:
            thumbs[name.casefold()] = url
    return thumbs

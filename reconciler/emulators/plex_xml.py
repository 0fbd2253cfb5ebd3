"""XML documents the Plex emulator answers with, in the shapes a real PMS uses.

Built by string concatenation with explicit escaping (not ElementTree) because listing pages
of 100k-item sections must render in milliseconds; per-item fragments are cached on the
item and dropped whenever the item changes.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from .plex_model import IMAGES, TAGS, PlexLibrary, _Item, _Section

PMS_VERSION = "1.41.3.9314-a0bfb8370"
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
    }
)
# How many of each tag a listing (partial object) carries, like PMS; None = all.
LISTING_TAGS: dict[str, int | None] = {
    "genre": 2,
    "country": 2,
    "director": 1,
    "writer": 2,
    "actor": 3,
    "collection": None,
}
_FIELD_ORDER = {
    name: i
    for i, name in enumerate(
        [
            "title",
            "titleSort",
            "originalTitle",
            "summary",
            "tagline",
            "studio",
            "contentRating",
            "originallyAvailableAt",
            "year",
            "userRating",
            "addedAt",
            "thumb",
            "art",
            "clearLogo",
            "theme",
            *TAGS,
        ]
    )
}


def esc(value: object) -> str:
    text = str(value)
    if _BAD_XML.search(text):
        text = _BAD_XML.sub("", text)
    return text.translate(_ESCAPES)


def attrs(pairs: list[tuple[str, object]]) -> str:
    return "".join(f' {k}="{esc(v)}"' for k, v in pairs if v is not None)


def element(tag: str, pairs: list[tuple[str, object]], children: str = "") -> str:
    if children:
        return f"<{tag}{attrs(pairs)}>{children}</{tag}>"
    return f"<{tag}{attrs(pairs)}/>"


def document(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


def _rating(value: float | None) -> str | None:
    return None if value is None else str(float(value))


def _container_base(library: PlexLibrary) -> list[tuple[str, object]]:
    return [
        ("allowSync", 1),
        ("identifier", "com.plexapp.plugins.library"),
        ("mediaTagPrefix", "/system/bundle/media/flags/"),
        ("mediaTagVersion", library.created_at),
    ]


def _section_attrs(section: _Section) -> list[tuple[str, object]]:
    return [
        ("librarySectionID", section.key),
        ("librarySectionTitle", section.title),
        ("librarySectionUUID", section.uuid),
    ]


# -- server and sections --------------------------------------------------------------------


def root(library: PlexLibrary) -> bytes:
    dirs = "".join(
        element("Directory", [("count", 1), ("key", k), ("title", k)])
        for k in (
            "activities",
            "butler",
            "channels",
            "clients",
            "diagnostics",
            "hubs",
            "library",
            "media",
            "playlists",
            "search",
            "server",
            "system",
            "transcode",
            "updater",
        )
    )
    return document(
        element(
            "MediaContainer",
            [
                ("size", 14),
                ("allowCameraUpload", 0),
                ("allowChannelAccess", 1),
                ("allowMediaDeletion", 1),
                ("allowSharing", 1),
                ("allowSync", 1),
                ("backgroundProcessing", 1),
                ("certificate", 0),
                ("companionProxy", 1),
                ("eventStream", 1),
                ("friendlyName", "stashplex-emulator"),
                ("hubSearch", 1),
                ("machineIdentifier", library.machine_identifier),
                ("multiuser", 1),
                ("myPlex", 0),
                ("myPlexSigninState", "none"),
                ("platform", "Linux"),
                ("platformVersion", "6.1"),
                ("pluginHost", 1),
                ("readOnlyLibraries", 0),
                ("requestParametersInCookie", 1),
                ("streamingBrainVersion", 2),
                ("sync", 1),
                ("transcoderActiveVideoSessions", 0),
                ("transcoderAudio", 1),
                ("transcoderVideo", 1),
                ("updatedAt", library.created_at),
                ("updater", 1),
                ("version", PMS_VERSION),
                ("voiceSearch", 1),
            ],
            dirs,
        )
    )


def identity(library: PlexLibrary) -> bytes:
    return document(
        element(
            "MediaContainer",
            [
                ("size", 0),
                ("claimed", 1),
                ("machineIdentifier", library.machine_identifier),
                ("version", PMS_VERSION),
            ],
        )
    )


def library_root() -> bytes:
    dirs = "".join(
        element("Directory", [("key", k), ("title", t)])
        for k, t in (
            ("sections", "Library Sections"),
            ("recentlyAdded", "Recently Added Content"),
            ("onDeck", "On Deck"),
        )
    )
    return document(
        element(
            "MediaContainer",
            [
                ("size", 3),
                ("allowSync", 0),
                ("art", "/:/resources/library-art.png"),
                ("content", ""),
                ("identifier", "com.plexapp.plugins.library"),
                ("mediaTagPrefix", "/system/bundle/media/flags/"),
                ("title1", "Plex Library"),
                ("title2", ""),
            ],
            dirs,
        )
    )


_AGENTS = {
    "movie": ("tv.plex.agents.movie", "Plex Movie"),
    "show": ("tv.plex.agents.series", "Plex TV Series"),
}


def sections(library: PlexLibrary) -> bytes:
    body = []
    for sec in library.sections.values():
        agent, scanner = _AGENTS[sec.type]
        locations = "".join(
            element("Location", [("id", sec.key * 100 + i + 1), ("path", loc)])
            for i, loc in enumerate(sec.locations)
        )
        body.append(
            element(
                "Directory",
                [
                    ("allowSync", 1),
                    ("art", f"/:/resources/{sec.type}-fanart.jpg"),
                    ("composite", None),
                    ("filters", 1),
                    ("refreshing", 0),
                    ("thumb", f"/:/resources/{sec.type}.png"),
                    ("key", sec.key),
                    ("type", sec.type),
                    ("title", sec.title),
                    ("agent", agent),
                    ("scanner", scanner),
                    ("language", "en-US"),
                    ("uuid", sec.uuid),
                    ("updatedAt", sec.created_at),
                    ("createdAt", sec.created_at),
                    ("scannedAt", sec.created_at),
                    ("content", 1),
                    ("directory", 1),
                    ("contentChangedAt", library.version),
                    ("hidden", 0),
                ],
                locations,
            )
        )
    return document(
        element(
            "MediaContainer",
            [
                ("size", len(body)),
                ("allowSync", 0),
                ("identifier", "com.plexapp.plugins.library"),
                ("mediaTagPrefix", "/system/bundle/media/flags/"),
                ("title1", "Plex Library"),
            ],
            "".join(body),
        )
    )


# -- items --------------------------------------------------------------------------------


def _item_attrs(item: _Item, section: _Section) -> list[tuple[str, object]]:
    key = f"/library/metadata/{item.rating_key}"
    pairs: list[tuple[str, object]] = [
        ("ratingKey", item.rating_key),
        ("key", key),
        ("guid", item.guid),
        ("type", item.type),
        ("title", item.title),
        ("titleSort", item.title_sort),
        ("originalTitle", item.original_title),
        ("contentRating", item.content_rating),
        ("summary", item.summary),
        ("tagline", item.tagline),
        ("studio", item.studio),
        ("userRating", _rating(item.user_rating)),
        ("lastRatedAt", item.last_rated_at),
        ("viewCount", item.view_count or None),
        ("viewOffset", item.view_offset or None),
        ("lastViewedAt", item.last_viewed_at),
        ("year", item.shown_year),
        ("originallyAvailableAt", item.originally_available_at),
        ("thumb", f"{key}/thumb/{item.updated_at}"),
        ("art", f"{key}/art/{item.updated_at}" if _selected(item, "art") else None),
        ("addedAt", item.added_at),
        ("updatedAt", item.updated_at),
        ("librarySectionID", section.key),
        ("librarySectionKey", f"/library/sections/{section.key}"),
        ("librarySectionTitle", section.title),
    ]
    if item.episode:
        show, season, index = item.episode
        pairs += [
            ("grandparentTitle", show),
            ("parentTitle", f"Season {season}"),
            ("parentIndex", season),
            ("index", index),
        ]
    return pairs


def _selected(item: _Item, lock: str) -> bool:
    shelf = item.images.get(lock)
    return bool(shelf and shelf.selected)


def _media(item: _Item, streams: bool) -> str:
    out = []
    for part in item.parts:
        container = _extension(part.path)
        inner = ""
        if streams:
            inner = element(
                "Stream",
                [
                    ("id", part.part_id * 2 - 1),
                    ("streamType", 1),
                    ("default", 1),
                    ("codec", "h264"),
                    ("index", 0),
                    ("displayTitle", "1080p (H.264)"),
                ],
            ) + element(
                "Stream",
                [
                    ("id", part.part_id * 2),
                    ("streamType", 2),
                    ("selected", 1),
                    ("default", 1),
                    ("codec", "aac"),
                    ("index", 1),
                    ("channels", 2),
                    ("displayTitle", "AAC Stereo"),
                ],
            )
        part_xml = element(
            "Part",
            [
                ("id", part.part_id),
                ("key", f"/library/parts/{part.part_id}/{item.added_at}/file.{container or 'bin'}"),
                ("file", part.path),
                ("size", part.size),
                ("container", container),
            ],
            inner,
        )
        out.append(
            element(
                "Media",
                [
                    ("id", part.media_id),
                    ("container", container),
                    ("videoCodec", "h264"),
                    ("audioCodec", "aac"),
                ],
                part_xml,
            )
        )
    return "".join(out)


def _extension(path: str) -> str | None:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem and ext else None


def _guids(item: _Item) -> str:
    return "".join(element("Guid", [("id", g)]) for g in item.guids)


def listing_video(item: _Item, section: _Section, include_guids: bool) -> str:
    """The partial object PMS puts in listings: truncated tags, no Field/Label elements."""
    cache_key = ("listing", include_guids)
    cached = item.cache.get(cache_key)
    if cached is not None:
        return cached
    children = [_media(item, streams=False)]
    for tag, limit in LISTING_TAGS.items():
        names = item.tags.get(tag, [])
        children += [
            element(TAGS[tag], [("tag", n)]) for n in (names if limit is None else names[:limit])
        ]
    if include_guids:
        children.append(_guids(item))
    xml = element("Video", _item_attrs(item, section), "".join(children))
    item.cache[cache_key] = xml
    return xml


def detail_video(item: _Item, section: _Section, library: PlexLibrary) -> str:
    """The full object: every tag with id/filter, Guids, a Field per lock, streams."""
    children = [_media(item, streams=True)]
    for tag, elem in TAGS.items():
        for name in item.tags.get(tag, []):
            tag_id = library.tag_id(tag, name)
            pairs: list[tuple[str, object]] = [
                ("id", tag_id),
                ("filter", f"{tag}={tag_id}"),
                ("tag", name),
            ]
            if tag == "actor":
                pairs += [("role", item.roles.get(name)), ("thumb", item.role_thumbs.get(name))]
            children.append(element(elem, pairs))
    children.append(_guids(item))
    for name in sorted(item.locked, key=lambda n: (_FIELD_ORDER.get(n, 99), n)):
        children.append(element("Field", [("locked", 1), ("name", name)]))
    return element("Video", _item_attrs(item, section), "".join(children))


def listing(
    library: PlexLibrary,
    section: _Section,
    items: list[_Item],
    *,
    offset: int,
    total: int,
    include_guids: bool,
    meta: str = "",
) -> bytes:
    kind = "movie" if section.type == "movie" else "show"
    head = [
        ("size", len(items)),
        ("totalSize", total),
        ("offset", offset),
        *_container_base(library),
        ("art", f"/:/resources/{kind}-fanart.jpg"),
        *_section_attrs(section),
        ("thumb", f"/:/resources/{kind}.png"),
        ("title1", section.title),
        ("title2", "All"),
        ("viewGroup", items[0].type if items else kind),
        ("viewMode", 65592),
    ]
    body = meta + "".join(listing_video(it, section, include_guids) for it in items)
    return document(
        element("MediaContainer", head, body) if body else element("MediaContainer", head)
    )


COLLECTION_KEYS = 1_000_000  # collections' ratingKeys sit above the items' in the emulator


def collection_members(section: _Section) -> dict[str, list[_Item]]:
    """Each collection tag the section's items carry -> those items, by ratingKey."""
    members: dict[str, list[_Item]] = {}
    for item in section.ordered():
        for name in item.tags.get("collection", []):
            members.setdefault(name, []).append(item)
    return members


def collections(
    library: PlexLibrary,
    section: _Section,
    meta: str = "",
    start: int = 0,
    size: int | None = None,
) -> bytes:
    """`/library/sections/{id}/collections`: a `Directory type="collection"` per collection
    tag the section's items carry, with `childCount` (HA fixture
    `library_movies_collections.xml`, `shared/reference/plex-http.md`). A tag on an item is
    what makes the collection; whether PMS keeps one whose last item left is not known, so
    the emulator lists only collections that hold items."""
    members = collection_members(section)
    names = sorted(members, key=str.lower)
    page = names[start:] if size is None else names[start : start + size]
    body = meta
    for name in page:
        key = COLLECTION_KEYS + library.tag_id("collection", name)
        body += element(
            "Directory",
            [
                ("ratingKey", key),
                ("key", f"/library/collections/{key}/children"),
                ("guid", f"collection://{section.uuid}-{key}"),
                ("type", "collection"),
                ("title", name),
                ("subtype", members[name][0].type),
                ("librarySectionID", section.key),
                ("childCount", len(members[name])),
            ],
        )
    head = [
        ("size", len(page)),
        ("totalSize", len(names)),
        ("offset", start),
        *_container_base(library),
        *_section_attrs(section),
    ]
    return document(
        element("MediaContainer", head, body) if body else element("MediaContainer", head)
    )


def details(library: PlexLibrary, items: list[_Item]) -> bytes:
    section_ids = {it.section_id for it in items}
    head = [("size", len(items)), *_container_base(library)]
    if len(section_ids) == 1:
        head += _section_attrs(library.sections[items[0].section_id])
    body = "".join(detail_video(it, library.sections[it.section_id], library) for it in items)
    return document(element("MediaContainer", head, body))


def images(library: PlexLibrary, item: _Item, kind: str) -> bytes:
    lock, folder = IMAGES[kind]
    shelf = item.images.get(lock)
    photos = []
    for sha1 in shelf.uploads if shelf else []:
        rating_key = f"upload://{folder}/{sha1}"
        url = f"/library/metadata/{item.rating_key}/file?url={quote(rating_key, safe='')}"
        photos.append(
            element(
                "Photo",
                [
                    ("key", url),
                    ("ratingKey", rating_key),
                    ("selected", 1 if shelf and shelf.selected == sha1 else 0),
                    ("thumb", url),
                ],
            )
        )
    return document(
        element(
            "MediaContainer", [("size", len(photos)), *_container_base(library)], "".join(photos)
        )
    )


def empty_container(library: PlexLibrary, section: _Section | None = None, meta: str = "") -> bytes:
    head = [("size", 0), ("totalSize", 0), ("offset", 0), *_container_base(library)]
    if section is not None:
        head += _section_attrs(section)
    return document(
        element("MediaContainer", head, meta) if meta else element("MediaContainer", head)
    )


def history(library: PlexLibrary, items: list[_Item], account_id: int | None) -> bytes:
    """`/status/sessions/history/all`: one `Video` per play, newest first."""
    rows = sorted(
        (
            (viewed_at, account, item)
            for item in items
            for viewed_at, account in item.views
            if account_id is None or account == account_id
        ),
        key=lambda row: (-row[0], row[2].rating_key),
    )
    body = "".join(
        element(
            "Video",
            [
                ("historyKey", f"/status/sessions/history/{index + 1}"),
                ("key", f"/library/metadata/{item.rating_key}"),
                ("ratingKey", item.rating_key),
                ("librarySectionID", item.section_id),
                ("title", item.title),
                ("type", item.type),
                ("viewedAt", viewed_at),
                ("accountID", account),
                ("deviceID", 1),
            ],
        )
        for index, (viewed_at, account, item) in enumerate(rows)
    )
    head = [("size", len(rows)), ("totalSize", len(rows)), ("offset", 0)]
    return document(element("MediaContainer", head, body))

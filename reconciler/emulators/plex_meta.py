"""The `includeMeta=1` answer: what plexapi's `_loadFilters` reads to validate filters and sorts.

Only fields/sorts the emulator really evaluates are advertised, so a filter plexapi accepts
is one the emulator applies (plexapi adds `updatedAt`, `id`, `guid`, `index`, `lastRatedAt`
itself, but their FieldType `date`/`integer` must come from here).
"""

from __future__ import annotations

from .plex_model import SEARCH_TYPES, PlexLibrary, _Item, _Section
from .plex_xml import element

# (key, type, title) of custom-filter fields; Field keys of non-movie libtypes get a `libtype.`
# prefix (plexapi matches the last dotted part), Filter and Sort keys never do.
_FIELDS = [
    ("title", "string", "Title"),
    ("studio", "string", "Studio"),
    ("year", "integer", "Year"),
    ("userRating", "integer", "Rating"),
    ("originallyAvailableAt", "date", "Release Date"),
    ("addedAt", "date", "Date Added"),
    ("contentRating", "string", "Content Rating"),
    ("genre", "tag", "Genre"),
    ("collection", "tag", "Collection"),
    ("actor", "tag", "Actor"),
    ("director", "tag", "Director"),
    ("writer", "tag", "Writer"),
    ("label", "tag", "Label"),
    ("country", "tag", "Country"),
    ("producer", "tag", "Producer"),
]
_FILTERS = [
    ("genre", "Genre"),
    ("collection", "Collection"),
    ("actor", "Actor"),
    ("director", "Director"),
    ("writer", "Writer"),
    ("label", "Labels"),
    ("country", "Country"),
    ("studio", "Studio"),
    ("year", "Year"),
    ("contentRating", "Content Rating"),
]
# (key, default direction, title)
_SORTS = [
    ("titleSort", "asc", "Title"),
    ("year", "desc", "Year"),
    ("originallyAvailableAt", "desc", "Release Date"),
    ("userRating", "desc", "Rating"),
    ("contentRating", "asc", "Content Rating"),
    ("addedAt", "desc", "Date Added"),
    ("lastRatedAt", "desc", "Last Rated"),
]
_OPERATORS = {
    "tag": [("=", "is"), ("!=", "is not")],
    "integer": [("=", "is"), ("!=", "is not"), (">>=", "is greater than"), ("<<=", "is less than")],
    "string": [
        ("=", "contains"),
        ("!=", "does not contain"),
        ("==", "is"),
        ("!==", "is not"),
        ("<=", "begins with"),
        (">=", "ends with"),
    ],
    "boolean": [("=", "is true"), ("!=", "is false")],
    "date": [("<<=", "is before"), (">>=", "is after")],
}


def _type(section: _Section, libtype: str, title: str, active: bool) -> str:
    search = SEARCH_TYPES[libtype]
    prefix = "" if libtype == "movie" else f"{libtype}."
    base = f"/library/sections/{section.key}"
    children = [
        element(
            "Filter",
            [
                ("filter", f),
                ("filterType", "string"),
                ("key", f"{base}/{f}?type={search}"),
                ("title", t),
                ("type", "filter"),
            ],
        )
        for f, t in _FILTERS
    ]
    for key, direction, stitle in _SORTS:
        pairs: list[tuple[str, object]] = [
            ("defaultDirection", direction),
            ("descKey", f"{key}:desc"),
            ("key", key),
            ("title", stitle),
        ]
        if key == "titleSort":
            pairs = [
                ("active", 1),
                ("activeDirection", "asc"),
                ("default", "asc"),
                *pairs,
                ("firstCharacterKey", f"{base}/firstCharacter"),
            ]
        children.append(element("Sort", pairs))
    children += [
        element("Field", [("key", f"{prefix}{k}"), ("title", t), ("type", ft)])
        for k, ft, t in _FIELDS
    ]
    return element(
        "Type",
        [
            ("key", f"{base}/all?type={search}"),
            ("type", libtype),
            ("title", title),
            ("active", 1 if active else 0),
        ],
        "".join(children),
    )


def _field_types() -> str:
    return "".join(
        element(
            "FieldType",
            [("type", ft)],
            "".join(element("Operator", [("key", k), ("title", t)]) for k, t in ops),
        )
        for ft, ops in _OPERATORS.items()
    )


def section_meta(section: _Section) -> str:
    base = f"/library/sections/{section.key}"
    if section.type == "movie":
        types = _type(section, "movie", "Movies", True)
    else:
        types = (
            _type(section, "show", "TV Shows", True)
            + _type(section, "season", "Seasons", False)
            + _type(section, "episode", "Episodes", False)
        )
    folder = element(
        "Type",
        [("key", f"{base}/folder"), ("type", "folder"), ("title", "By Folder"), ("active", 0)],
    )
    return element("Meta", [], types + folder + _field_types())


def collections_meta(section: _Section) -> str:
    base = f"/library/sections/{section.key}"
    sorts = "".join(
        element(
            "Sort", [("defaultDirection", d), ("descKey", f"{k}:desc"), ("key", k), ("title", t)]
        )
        for k, d, t in (("titleSort", "asc", "Title"), ("addedAt", "desc", "Date Added"))
    )
    fields = element("Field", [("key", "title"), ("title", "Title"), ("type", "string")])
    ctype = element(
        "Type",
        [
            ("key", f"{base}/collections"),
            ("type", "collection"),
            ("title", "Collections"),
            ("active", 1),
        ],
        sorts + fields,
    )
    return element("Meta", [], ctype + _field_types())


def filter_choices(
    library: PlexLibrary, section: _Section, name: str, items: list[_Item]
) -> str | None:
    """Directory elements for `/library/sections/{id}/{filter}` (None if not a filter we know)."""
    if name in ("studio", "contentRating", "year"):
        getters = {
            "studio": lambda it: it.studio,
            "contentRating": lambda it: it.content_rating,
            "year": lambda it: it.shown_year,
        }
        values = sorted({str(v) for v in map(getters[name], items) if v is not None})
        pairs = [(v, v) for v in values]
    elif any(name == f for f, _ in _FILTERS):
        names = sorted({t for it in items for t in it.tags.get(name, [])}, key=str.lower)
        pairs = [(str(library.tag_id(name, n)), n) for n in names]
    else:
        return None
    base = f"/library/sections/{section.key}/all"
    return "".join(
        element(
            "Directory",
            [("fastKey", f"{base}?{name}={k}"), ("key", k), ("title", t), ("type", name)],
        )
        for k, t in pairs
    )

"""Media queries on `/library/sections/{id}/all`: type, filters, sort, limit, paging.

Grammar as PMS documents it: `field[op]=value` with ops `=` `!=` `==` `!==` `<=` `>=` `>>=` `<<=`,
`,` between values = OR, `push=1` ... `pop=1` around a group and `or=1` between its terms
(terms are AND-ed otherwise), dates as epoch seconds or relative `-N[unit]`,
`sort=[libtype.]field[:asc|desc|nullsLast],...`. Keys arrive percent-encoded
(`updatedAt%3E%3E=`); `parse_qsl` has already decoded them, splitting at the first `=`,
so `updatedAt>>=5` is `("updatedAt>>", "5")` and `title==x` is `("title", "=x")`.

What a real PMS does, as the emulator models it (`shared/reference/plex-http.md` §8):
- a relative date `-N` with no unit is N seconds ago, so `updatedAt>>=-1` means "the last
  second" (Plex API docs, "Media Queries", relative values; plexapi `library.py`);
- `>>=` and `<<=` are strict (bomer/plexify `docs/PLEX-API.md` §3.3);
- an unknown filter field is ignored, not refused, so a query of only unknown filters answers
  with the whole library (plexify §3.3 and its delta-filter probe); that is measured by a third
  party only ([M]), so `reject_unknown=True` models a server that answers 400 instead, the
  other answer `python -m reconciler.contract` can observe;
- without `sort` a listing is in `titleSort` order (HA fixture `library_movies_sort.xml`,
  `key="titleSort" default="asc"`); `sort=id` orders by ratingKey and `id>>=N` pages by key
  (plexapi `library.py` sort fields, plexapi CI).
Whether a PMS understands OR groups is not certain: `or_groups=False` models one that does
not, treating the grouped filter as unknown (the whole library comes back).
"""

from __future__ import annotations

import bisect
import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .plex_model import SEARCH_TYPES, TAGS, EditError, _Item, _Section

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "mon": 2592000, "y": 31536000}
_RELATIVE = re.compile(r"^(-)?(\d+)(mon|[smhdwy])?$")
_KEY = re.compile(r"^(?:([a-z]+)\.)?([A-Za-z]+)(>>|<<|!|<|>)?$")
_ARTICLES = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)

NUMERIC: dict[str, Callable[[_Item], Any]] = {
    "updatedAt": lambda it: it.updated_at,
    "addedAt": lambda it: it.added_at,
    "lastRatedAt": lambda it: it.last_rated_at,
    "lastViewedAt": lambda it: it.last_viewed_at,
    "viewCount": lambda it: it.view_count,
    "viewOffset": lambda it: it.view_offset,
    "originallyAvailableAt": lambda it: _epoch_of(it.originally_available_at),
    "year": lambda it: it.shown_year,
    "userRating": lambda it: it.user_rating,
    "id": lambda it: it.rating_key,
    "index": lambda it: it.episode[2] if it.episode else None,
}
DATES = {"updatedAt", "addedAt", "lastRatedAt", "lastViewedAt", "originallyAvailableAt"}
STRINGS: dict[str, Callable[[_Item], str | None]] = {
    "title": lambda it: it.title,
    "titleSort": lambda it: title_sort_key(it),
    "originalTitle": lambda it: it.original_title,
    "studio": lambda it: it.studio,
    "summary": lambda it: it.summary,
    "tagline": lambda it: it.tagline,
    "contentRating": lambda it: it.content_rating,
    "guid": lambda it: it.guid,
}
SORTS: dict[str, Callable[[_Item], Any]] = {
    **NUMERIC,
    "titleSort": lambda it: title_sort_key(it),
    "title": lambda it: it.title.lower(),
    "studio": lambda it: (it.studio or "").lower() or None,
    "contentRating": lambda it: it.content_rating,
    "guid": lambda it: it.guid,
    "summary": lambda it: it.summary,
    "tagline": lambda it: it.tagline,
}
# Parameters that shape the answer rather than select items.
_PASSIVE = {"type", "sort", "limit", "group", "having", "clusterZoomLevel"}
_GROUPING = {"push", "pop", "or", "and"}


def title_sort_key(item: _Item) -> str:
    return (item.title_sort or _ARTICLES.sub("", item.title)).lower()


def _epoch_of(date: str | None) -> int | None:
    if not date:
        return None
    year, month, day = (int(x) for x in date.split("-"))
    return calendar.timegm((year, month, day, 0, 0, 0))


# A filter expression: ("leaf", field, op, values) or ("any" | "all", (expression, ...)).
Expression = tuple


@dataclass(frozen=True)
class Query:
    """A validated listing request; hashable so a result list can be cached per query."""

    item_type: str | None
    where: Expression
    sort: tuple[tuple[str, bool, bool], ...]  # (field, descending, nulls last)
    limit: int | None


def _number(field: str, raw: str, now: int) -> float:
    raw = raw.strip()
    if field in DATES:
        m = _RELATIVE.match(raw)
        if m and (m.group(1) or m.group(3)):
            return now - int(m.group(2)) * _UNITS[m.group(3) or "s"]
        if re.match(r"^\d{4}-\d{2}-\d{2}$", raw):
            return _epoch_of(raw) or 0
    try:
        return float(raw)
    except ValueError:
        raise EditError(400, f"bad value {raw!r} for {field}") from None


def _leaf(key: str, raw: str, now: int) -> Expression | None:
    """One `field[op]=value` term; None for a parameter that selects nothing (or is unknown)."""
    m = _KEY.match(key)
    name, op = (m.group(2), m.group(3) or "") if m else (key, "")
    if name in NUMERIC:
        if raw.startswith("="):
            raw = raw[1:]
        return ("leaf", name, op, tuple(_number(name, v, now) for v in raw.split(",")))
    if name in STRINGS:
        if raw.startswith("="):
            op, raw = op + "=", raw[1:]
        return ("leaf", name, op, tuple(v.lower() for v in raw.split(",")))
    if name in TAGS:
        return ("leaf", name, op, tuple(v.lower() for v in raw.lstrip("=").split(",")))
    return None


def _close(alternatives: list[list[Expression]]) -> Expression:
    """A group's terms: AND within each run, OR between runs that `or=1` separated."""
    runs = [("all", tuple(run)) for run in alternatives if run]
    if not runs:
        return ("all", ())
    return runs[0] if len(runs) == 1 else ("any", tuple(runs))


def _where(
    params: list[tuple[str, str]], now: int, or_groups: bool, reject_unknown: bool
) -> Expression:
    groups: list[list[list[Expression]]] = [[[]]]
    ignored = 0  # depth inside a group a PMS without OR groups does not understand
    for key, raw in params:
        if key in _GROUPING and not or_groups:
            ignored += {"push": 1, "pop": -1}.get(key, 0)
            continue
        if ignored > 0:
            continue
        if key in _GROUPING:
            if key == "push":
                groups.append([[]])
            elif key == "pop":
                if len(groups) == 1:
                    raise EditError(400, "pop=1 without push=1")
                done = _close(groups.pop())
                groups[-1][-1].append(done)
            elif key == "or":
                groups[-1].append([])
            continue
        if key in _PASSIVE or key.startswith(("X-Plex-", "include", "exclude", "async", "check")):
            continue
        term = _leaf(key, raw, now)
        if term is not None:
            groups[-1][-1].append(term)
        elif reject_unknown:
            raise EditError(400, f"unknown filter field {key!r}")
    if len(groups) != 1:
        raise EditError(400, "push=1 without pop=1")
    return _close(groups[0])


def parse_query(
    section: _Section,
    params: list[tuple[str, str]],
    now: int,
    or_groups: bool = True,
    reject_unknown: bool = False,
) -> Query:
    """Turn the query string into a Query; unknown filter fields are ignored, as PMS does,
    or refused with 400 when `reject_unknown`."""
    query = dict(params)
    item_type: str | None = section.item_type if section.type == "movie" else "show"
    if query.get("type"):
        try:
            type_num = int(query["type"])
        except ValueError:
            raise EditError(400, f"bad type {query['type']!r}") from None
        item_type = next((k for k, v in SEARCH_TYPES.items() if v == type_num), None)
        if item_type is None:
            raise EditError(400, f"unsupported type {type_num}")
    where = _where(params, now, or_groups, reject_unknown)
    sort = []
    for spec in filter(None, query.get("sort", "").split(",")):
        field_part, _, direction = spec.partition(":")
        field_name = field_part.rsplit(".", 1)[-1]
        if field_name not in SORTS or direction not in ("", "asc", "desc", "nullsLast"):
            raise EditError(400, f"unknown sort {spec!r}")
        sort.append((field_name, direction == "desc", direction == "nullsLast"))
    limit = None
    if query.get("limit"):
        try:
            limit = max(0, int(query["limit"]))
        except ValueError:
            raise EditError(400, f"bad limit {query['limit']!r}") from None
    return Query(item_type, where, tuple(sort), limit)


def _predicate(
    name: str, op: str, values: tuple[Any, ...], library_tag_id: Callable[[str, str], int]
) -> Callable[[_Item], bool]:
    if name in NUMERIC:
        get = NUMERIC[name]
        compare: dict[str, Callable[[Any, Any], bool]] = {
            "": lambda a, b: a == b,
            "!": lambda a, b: a != b,
            ">>": lambda a, b: a > b,
            "<<": lambda a, b: a < b,
            ">": lambda a, b: a >= b,
            "<": lambda a, b: a <= b,
        }
        cmp = compare[op]
        if op == "!":
            return lambda it: get(it) is None or all(cmp(get(it), v) for v in values)
        return lambda it: get(it) is not None and any(cmp(get(it), v) for v in values)
    if name in STRINGS:
        sget = STRINGS[name]
        string_ops: dict[str, Callable[[str, str], bool]] = {
            "": lambda a, b: b in a,
            "!": lambda a, b: b not in a,
            "=": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            "<": lambda a, b: a.startswith(b),
            ">": lambda a, b: a.endswith(b),
        }
        if op not in string_ops:
            raise EditError(400, f"operator {op!r} does not apply to {name}")
        scmp = string_ops[op]
        combine = all if op in ("!", "!=") else any
        return lambda it: combine(scmp((sget(it) or "").lower(), v) for v in values)

    def has(it: _Item) -> bool:
        names = it.tags.get(name, [])
        for value in values:
            for tag in names:
                if tag.lower() == value or str(library_tag_id(name, tag)) == value:
                    return True
        return False

    if op == "!":
        return lambda it: not has(it)
    if op:
        raise EditError(400, f"operator {op!r} does not apply to tag {name}")
    return has


def _sort_key(get: Callable[[_Item], Any], nulls_last: bool) -> Callable[[_Item], Any]:
    """SQLite order: NULL is smallest (first ascending, last descending) unless `nullsLast`."""

    def key(item: _Item) -> tuple[int, Any]:
        value = get(item)
        if value is None:
            return (1 if nulls_last else 0, 0)
        return (0 if nulls_last else 1, value)

    return key


def _compile(where: Expression, tag_id: Callable[[str, str], int]) -> Callable[[_Item], bool]:
    if where[0] == "leaf":
        return _predicate(where[1], where[2], where[3], tag_id)
    parts = [_compile(child, tag_id) for child in where[1]]
    if where[0] == "any":
        return lambda it: any(part(it) for part in parts)
    return lambda it: all(part(it) for part in parts)


def _key_floor(where: Expression) -> tuple[float | None, Expression]:
    """A top-level `id>>=N` (keyset paging) taken out of the filter, to start by bisection."""
    if where[0] != "all":
        return None, where
    floors = [t for t in where[1] if t[:3] == ("leaf", "id", ">>") and len(t[3]) == 1]
    if not floors:
        return None, where
    rest = tuple(t for t in where[1] if t not in floors)
    return max(t[3][0] for t in floors), ("all", rest)


def run_query(section: _Section, query: Query, tag_id: Callable[[str, str], int]) -> list[_Item]:
    """Items matching `query`, in PMS order: by titleSort (then ratingKey) unless sorted."""
    ordered = section.ordered()
    floor, where = _key_floor(query.where)
    if floor is not None:
        ordered = ordered[bisect.bisect_right(ordered, floor, key=lambda it: it.rating_key) :]
    if query.item_type == section.item_type:  # a section holds items of one type
        items = list(ordered)
    else:
        items = [it for it in ordered if it.type == query.item_type]
    if where != ("all", ()):
        pred = _compile(where, tag_id)
        items = [it for it in items if pred(it)]
    if not query.sort:
        items.sort(key=title_sort_key)
    elif query.sort != (("id", False, False),):  # by ratingKey is the order they are kept in
        for field_name, descending, nulls_last in reversed(query.sort):
            items.sort(key=_sort_key(SORTS[field_name], nulls_last), reverse=descending)
    if query.limit is not None:
        items = items[: query.limit]
    return items

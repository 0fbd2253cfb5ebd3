"""Filter and sort building blocks for the Stash emulator, modelled on Stash's SQLite layer.

Stash turns a filter into SQL, so its answers carry SQL's quirks: text columns compare as strings
(timestamps included), `LIKE` is case-insensitive for ASCII only and treats `%`/`_` as wildcards,
NULL makes a comparison unknown rather than false, and names sort with a case-insensitive
natural collation. The helpers here reproduce those quirks so that a client which works against
the emulator meets no surprise against Stash.

A predicate takes a record and answers True, False or None (SQL's unknown); only True selects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

Pred = Callable[[Any], "bool | None"]


class QueryError(Exception):
    """A request Stash would refuse while running it; becomes a GraphQL error at HTTP 200."""


# --- three-valued logic ---------------------------------------------------------------------


def and_all(preds: Sequence[Pred]) -> Pred | None:
    """AND of predicates with SQL's NULL rules; None when there is nothing to test."""
    preds = [p for p in preds if p is not None]
    if not preds:
        return None
    if len(preds) == 1:
        return preds[0]

    def pred(record: Any) -> bool | None:
        result: bool | None = True
        for p in preds:
            value = p(record)
            if value is False:
                return False
            if value is None:
                result = None
        return result

    return pred


def or_any(values: Iterable[bool | None]) -> bool | None:
    """SQL OR over already computed values (also what "any joined row matches" means)."""
    result: bool | None = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def not_(value: bool | None) -> bool | None:
    return None if value is None else not value


def combine_sub_filter(own: Pred | None, op: str, sub: Pred | None) -> Pred | None:
    """Join a filter's own criteria with its AND/OR/NOT sub-filter as Stash's filterBuilder does."""
    if sub is None:
        return own
    if own is None:
        if op == "NOT":
            return lambda r: not_(sub(r))
        return sub
    if op == "AND":
        return and_all([own, sub])
    if op == "OR":
        return lambda r: or_any((own(r), sub(r)))
    return and_all([own, lambda r: not_(sub(r))])


# --- SQLite LIKE and regexp -------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for ch in pattern:
        if ch == "%":
            parts.append(".*")
        elif ch == "_":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL | re.IGNORECASE | re.ASCII)


def like(value: str | None, pattern: str) -> bool | None:
    """SQLite `value LIKE pattern`: ASCII-only case folding, `%`/`_` wildcards, NULL unknown."""
    if value is None:
        return None
    return _like_regex(pattern).fullmatch(value) is not None


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise QueryError(f"error parsing regexp: {exc}") from None


def regexp(value: str | None, pattern: str) -> bool | None:
    if value is None:
        return None
    return _regex(pattern).search(value) is not None


def _words(value: str) -> tuple[list[str], bool]:
    """Split a search value the way Stash's INCLUDES/EXCLUDES do: words, or one quoted phrase."""
    q = value.strip()
    trimmed = q.strip('"')
    if trimmed == q:
        return re.sub(r"\s+", " ", q).split(" "), False
    return [trimmed], True


# --- criteria -------------------------------------------------------------------------------


def _modifier(criterion: dict) -> str:
    return criterion.get("modifier") or "EQUALS"


def string_criterion(criterion: dict, get: Callable[[Any], str | None]) -> Pred:
    """StringCriterionInput on one column (Stash's stringCriterionHandler)."""
    modifier = _modifier(criterion)
    value = criterion.get("value") or ""
    if modifier in ("INCLUDES", "EXCLUDES"):
        words, _ = _words(value)
        if modifier == "INCLUDES":
            return lambda r: or_any(like(get(r), f"%{w}%") for w in words)
        return lambda r: _all3(not_(like(get(r), f"%{w}%")) for w in words)
    if modifier == "EQUALS":
        return lambda r: like(get(r), value)
    if modifier == "NOT_EQUALS":
        return lambda r: not_(like(get(r), value))
    if modifier == "MATCHES_REGEX":
        _regex(value)
        return lambda r: get(r) is not None and bool(regexp(get(r), value))
    if modifier == "NOT_MATCHES_REGEX":
        _regex(value)
        return lambda r: get(r) is None or not regexp(get(r), value)
    if modifier == "IS_NULL":
        return lambda r: get(r) is None or get(r).strip(" ") == ""
    if modifier == "NOT_NULL":
        return lambda r: get(r) is not None and get(r).strip(" ") != ""
    raise QueryError("unsupported string filter modifier")


def _all3(values: Iterable[bool | None]) -> bool | None:
    result: bool | None = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def rows_criterion(
    row_pred: Callable[[str | None], bool | None], rows: Callable[[Any], list]
) -> Pred:
    """A criterion on a joined table: the record matches when any joined row does (a LEFT JOIN
    with no rows gives one row of NULLs)."""
    return lambda r: or_any(row_pred(v) for v in (rows(r) or [None]))


def string_rows_criterion(criterion: dict, rows: Callable[[Any], list]) -> Pred:
    """StringCriterionInput on a joined list (urls, aliases); EXCLUDES means no row matches."""
    if _modifier(criterion) == "EXCLUDES":
        pattern = f"%{criterion.get('value') or ''}%"
        return lambda r: not any(like(v, pattern) for v in rows(r))
    single = string_criterion(criterion, lambda v: v)
    return rows_criterion(single, rows)


def path_criterion(criterion: dict, paths: Callable[[Any], list]) -> Pred:
    """StringCriterionInput on `folder || '/' || basename` of every file (pathCriterionHandler)."""
    modifier = _modifier(criterion)
    value = criterion.get("value") or ""
    row: Callable[[str | None], bool | None]
    if modifier in ("INCLUDES", "EXCLUDES"):
        words, _ = _words(value)
        if modifier == "INCLUDES":

            def row(v: str | None) -> bool | None:
                return or_any(like(v, f"%{w}%") for w in words)
        else:

            def row(v: str | None) -> bool | None:
                return _all3(not_(like(v, f"%{w}%")) for w in words)
    elif modifier == "EQUALS":

        def row(v: str | None) -> bool | None:
            return like(v, value)
    elif modifier == "NOT_EQUALS":

        def row(v: str | None) -> bool | None:
            return not_(like(v, value))
    elif modifier == "MATCHES_REGEX":
        _regex(value)

        def row(v: str | None) -> bool | None:
            return v is not None and bool(regexp(v, value))
    elif modifier == "NOT_MATCHES_REGEX":
        _regex(value)

        def row(v: str | None) -> bool | None:
            return v is None or not regexp(v, value)
    elif modifier == "IS_NULL":

        def row(v: str | None) -> bool | None:
            return v is None or v.strip(" ") == ""
    elif modifier == "NOT_NULL":

        def row(v: str | None) -> bool | None:
            return v is not None and v.strip(" ") != ""
    else:
        raise QueryError("unsupported string filter modifier")
    return rows_criterion(row, paths)


def _compare(column: Any, modifier: str, value: Any, value2: Any, kind: str) -> bool | None:
    if modifier == "IS_NULL":
        return column is None or (kind == "text" and column == "")
    if modifier == "NOT_NULL":
        return column is not None and not (kind == "text" and column == "")
    if column is None:
        return None
    if modifier == "EQUALS":
        return column == value
    if modifier == "NOT_EQUALS":
        return column != value
    if modifier == "GREATER_THAN":
        return column > value
    if modifier == "LESS_THAN":
        return column < value
    if modifier == "BETWEEN":
        return value <= column <= value2
    if modifier == "NOT_BETWEEN":
        return not (value <= column <= value2)
    raise QueryError(
        f"unsupported {'date' if kind == 'text' else 'numeric'} modifier type {modifier}"
    )


def number_criterion(criterion: dict, get: Callable[[Any], float | None]) -> Pred:
    """IntCriterionInput/FloatCriterionInput; a missing value2 counts as 0, as in Stash."""
    modifier = _modifier(criterion)
    value = criterion.get("value")
    value2 = criterion.get("value2")
    if value2 is None:
        value2 = 0
    _compare(1, modifier, 0, 0, "number")  # reject unknown modifiers up front
    return lambda r: _compare(get(r), modifier, value, value2, "number")


def text_time_criterion(
    criterion: dict, get: Callable[[Any], str | None], upper_default: str
) -> Pred:
    """TimestampCriterionInput/DateCriterionInput: compared as TEXT, exactly like SQLite does.

    `upper_default` is what Stash uses when BETWEEN has no value2: now + 1 day, RFC3339, host zone.
    """
    modifier = _modifier(criterion)
    value = criterion.get("value")
    value2 = criterion.get("value2")
    if value2 is None:
        value2 = upper_default
    _compare("", modifier, "", "", "text")
    return lambda r: _compare(get(r), modifier, value, value2, "text")


def _ids(values: Iterable[Any] | None) -> list[Any]:
    """IDs as the integers stored in the database; text that is no number matches nothing."""
    out = []
    for v in values or ():
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            out.append(str(v))
    return out


def multi_criterion(criterion: dict, get: Callable[[Any], Iterable[int]]) -> Pred | None:
    """MultiCriterionInput over a join table (Stash's joinedMultiCriterionHandlerBuilder)."""
    modifier = _modifier(criterion)
    if modifier == "IS_NULL":
        return lambda r: not any(True for _ in get(r))
    if modifier == "NOT_NULL":
        return lambda r: any(True for _ in get(r))
    values = _ids(criterion.get("value"))
    excludes = _ids(criterion.get("excludes"))
    if not values and not excludes:
        return None
    if modifier == "EXCLUDES":
        modifier, excludes, values = "INCLUDES_ALL", excludes + values, []
    preds: list[Pred] = []
    if values:
        wanted = set(values)
        if modifier == "INCLUDES":
            preds.append(lambda r: not wanted.isdisjoint(get(r)))
        elif modifier == "INCLUDES_ALL":
            preds.append(lambda r: wanted.issubset(set(get(r))))
        elif modifier == "EQUALS":
            preds.append(lambda r: set(get(r)) == wanted)
        elif modifier == "NOT_EQUALS":
            raise QueryError("not equals modifier is not supported for multi criterion input")
    if excludes:
        unwanted = set(excludes)
        preds.append(lambda r: unwanted.isdisjoint(get(r)))
    return and_all(preds)


def hierarchical_criterion(
    criterion: dict,
    get: Callable[[Any], Iterable[int]],
    expand: Callable[[Any, int], set],
) -> Pred | None:
    """HierarchicalMultiCriterionInput: like a multi criterion, where `depth` also takes in
    descendants (-1: all of them); EQUALS/NOT_EQUALS are refused, as Stash does."""
    modifier = _modifier(criterion)
    if modifier in ("EQUALS", "NOT_EQUALS"):
        raise QueryError(f"modifier {modifier} is not supported for hierarchical multi criterion")
    if modifier == "IS_NULL":
        return lambda r: not any(True for _ in get(r))
    if modifier == "NOT_NULL":
        return lambda r: any(True for _ in get(r))
    depth = criterion.get("depth") or 0
    values = _ids(criterion.get("value"))
    excludes = _ids(criterion.get("excludes"))
    if not values and not excludes:
        return None
    if modifier == "EXCLUDES":
        modifier, excludes, values = "INCLUDES_ALL", excludes + values, []
    preds: list[Pred] = []
    if values:
        groups = [expand(v, depth) for v in values]
        if modifier == "INCLUDES":
            union = set().union(*groups)
            preds.append(lambda r: not union.isdisjoint(get(r)))
        elif modifier == "INCLUDES_ALL":
            preds.append(lambda r: all(not g.isdisjoint(get(r)) for g in groups))
    if excludes:
        unwanted = set().union(*(expand(v, depth) for v in excludes))
        preds.append(lambda r: unwanted.isdisjoint(get(r)))
    return and_all(preds)


# --- free-text search (FindFilterType.q) ----------------------------------------------------


def parse_search(q: str) -> tuple[list[str], list[str], list[list[str]]]:
    """Stash's search syntax: words (AND), "quoted phrases", `-word` (NOT), `a OR b`."""
    tokens = re.findall(r'-?"[^"]*"|\S+', q.strip())
    must: list[str] = []
    must_not: list[str] = []
    any_sets: list[list[str]] = []
    i = 0
    while i < len(tokens):
        if i + 2 < len(tokens) and tokens[i + 1].lower() == "or":
            group = [tokens[i]]
            while i + 2 < len(tokens) and tokens[i + 1].lower() == "or":
                group.append(tokens[i + 2])
                i += 2
            any_sets.append([t.strip('"') for t in group])
            i += 1
            continue
        token = tokens[i]
        if token.startswith("-") and len(token) > 1:
            must_not.append(token[1:].strip('"'))
        elif token.strip('"'):
            must.append(token.strip('"'))
        i += 1
    return must, must_not, any_sets


def search_predicate(q: str | None, columns: Callable[[Any], list]) -> Pred | None:
    """FindFilterType.q over the given text columns (each a value or None)."""
    if not q or not q.strip():
        return None
    must, must_not, any_sets = parse_search(q)

    def pred(record: Any) -> bool | None:
        cols = columns(record)
        results: list[bool | None] = []
        for word in must:
            results.append(or_any(like(c, f"%{word}%") for c in cols))
        for word in must_not:
            results.append(_all3(not like(c or "", f"%{word}%") for c in cols))
        for group in any_sets:
            results.append(or_any(like(c, f"%{w}%") for c in cols for w in group))
        return _all3(results)

    return pred


# --- sorting --------------------------------------------------------------------------------

_CHUNKS = re.compile(r"(\d+)")


@lru_cache(maxsize=262144)
def natural_key(text: str) -> tuple:
    """Sort key for Stash's NATURAL_CI collation: case-insensitive, digit runs by value, digits
    before other characters, shorter-when-equal first."""
    key: list[tuple] = []
    for i, part in enumerate(_CHUNKS.split(text.lower())):
        if not part:
            continue
        if i % 2:
            stripped = part.lstrip("0")
            key.append((0, len(stripped), stripped, len(part) - len(stripped)))
        else:
            key.append((1, part))
    return tuple(key)


def nulls_first(value: Any) -> tuple:
    """SQLite orders NULL before every value (ascending)."""
    return (0,) if value is None else (1, value)

"""Cursor paging and the `query:` search syntax of Shopify's connections."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from graphql import GraphQLError

from .shopify_schema import MAX_PAGE

__all__ = ["SearchFilter", "paginate", "parse_search"]

_HEAD = re.compile(r"(?P<field>[a-z_]+):(?P<op><=|>=|<|>|)")
_DATE_FIELDS = {"updated_at", "created_at", "processed_at"}
_TEXT_FIELDS = {"sku", "name", "id", "status", "order_id"}


def _encode(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor!r}") from None


def paginate(items: Sequence[Any], key: Callable[[Any], Any], *, first: int | None = None,
             after: str | None = None, last: int | None = None, before: str | None = None,
             node: Callable[[Any], Any] = lambda x: x) -> dict[str, Any]:
    """A Relay connection over `items` (already sorted by `key`), as Shopify shapes it."""
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    size = first if first is not None else last
    assert size is not None
    if size < 0 or size > MAX_PAGE:
        raise GraphQLError(f"first/last must be between 0 and {MAX_PAGE}, got {size}")
    keys = [key(item) for item in items]
    start, stop = 0, len(items)
    if after is not None:
        mark = _decode(after)
        start = next((i for i, k in enumerate(keys) if _as_list(k) > _as_list(mark)), len(items))
    if before is not None:
        mark = _decode(before)
        stop = next((i for i, k in enumerate(keys) if _as_list(k) >= _as_list(mark)), len(items))
    window = list(range(start, max(start, stop)))
    chosen = window[:size] if first is not None else window[-size:] if size else []
    nodes = [node(items[i]) for i in chosen]
    cursors = [_encode(keys[i]) for i in chosen]
    return {
        "nodes": nodes,
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes)],
        "pageInfo": {
            "hasNextPage": chosen[-1] + 1 < stop if chosen else False,
            "hasPreviousPage": bool(chosen) and chosen[0] > 0,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
        "_unfilled": size - len(nodes),
    }


def _as_list(key: Any) -> list[Any]:
    return list(key) if isinstance(key, (list, tuple)) else [key]


class SearchFilter:
    """Terms like `updated_at:>'2024-01-01T00:00:00Z' AND sku:PS-0001`, ANDed."""

    def __init__(self, terms: list[tuple[str, str, Any]]) -> None:
        self.terms = terms

    def matches(self, fields: dict[str, Any]) -> bool:
        for name, op, value in self.terms:
            actual = fields.get(name)
            if actual is None:
                return False
            if name in _DATE_FIELDS:
                actual = _parse_time(str(actual), name)
            else:
                actual, value = str(actual).lower(), str(value).lower()
            ok = {"": actual == value, ">": actual > value, ">=": actual >= value,
                  "<": actual < value, "<=": actual <= value}[op]
            if not ok:
                return False
        return True


def _parse_time(text: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise GraphQLError(f"search term {field}: {text!r} is not an ISO-8601 timestamp") from None
    if moment.tzinfo is None:
        raise GraphQLError(f"search term {field}: {text!r} needs a UTC offset, e.g. 2024-01-01T00:00:00Z")
    return moment


def parse_search(query: str | None) -> SearchFilter:
    """Parse Shopify's search syntax (the subset the connectors use); GraphQLError says what is wrong.

    Terms ``field:value`` with an optional comparator (``:<``, ``:>=``...), joined by whitespace or
    ``AND``. A value is a bare word or a quoted string (single or double quotes), and a backslash
    takes the next character as it is (https://shopify.dev/docs/api/usage/search-syntax), so
    ``sku:'O\\'Reilly Mug'`` is the SKU ``O'Reilly Mug``.
    """
    if not query or not query.strip():
        return SearchFilter([])
    terms: list[tuple[str, str, Any]] = []
    at = 0
    while True:
        while at < len(query) and query[at].isspace():
            at += 1
        if at == len(query):
            return SearchFilter(terms)
        head = _HEAD.match(query, at)
        if head is None:
            word = query[at:].split(None, 1)[0]
            if word == "AND" and terms:
                at += len(word)
                continue
            raise GraphQLError(f"cannot parse search term {word!r}; expected field:>'value', e.g. "
                               "updated_at:>'2024-01-01T00:00:00Z' (the sandbox joins terms with AND only)")
        field, op = head["field"], head["op"]
        value, at = _value(query, head.end())
        if field in _DATE_FIELDS:
            terms.append((field, op, _parse_time(value, field)))
        elif field in _TEXT_FIELDS:
            terms.append((field, op, value))
        else:
            raise GraphQLError(f"unsupported search field {field!r}; supported: "
                               f"{', '.join(sorted(_DATE_FIELDS | _TEXT_FIELDS))}")


def _value(query: str, at: int) -> tuple[str, int]:
    """The value starting at ``at`` (quotes and escapes removed) and where the term ends."""
    quote = query[at] if at < len(query) and query[at] in "'\"" else ""
    at += len(quote)
    value: list[str] = []
    while at < len(query):
        char = query[at]
        if char == "\\" and at + 1 < len(query):
            value.append(query[at + 1])
            at += 2
            continue
        if (quote and char == quote) or (not quote and char.isspace()):
            break
        value.append(char)
        at += 1
    if quote:
        if at == len(query):
            raise GraphQLError(f"search value {quote}{''.join(value)} has no closing {quote}; escape a quote "
                               "inside a value with a backslash")
        at += 1
        if at < len(query) and not query[at].isspace():
            raise GraphQLError(f"unexpected {query[at]!r} after the quoted search value {quote}{''.join(value)}{quote}")
    elif not value:
        raise GraphQLError("a search term needs a value after its field, e.g. sku:PS-0001")
    return "".join(value), at

"""One strict JSON parse for everything that comes in from outside.

Python's ``json.loads`` accepts what no other system would send and what the
engine cannot keep: ``NaN`` and ``Infinity``, ``1e400`` (read as infinity),
integers of any length (then refused by ``int`` past 4,300 digits), nesting
deep enough to exhaust the stack, lone UTF-16 surrogates that cannot be
encoded as UTF-8, U+0000 (which PostgreSQL cannot store in text) and repeated
keys (where readers disagree on which value counts). ``parse_json`` refuses
each with a ``JsonInputError`` that says which rule was broken, so a caller can
answer 400 instead of failing later, in the store or in an actor.

Nesting is measured before the parser runs, on the text with its strings taken
out: each pass deletes every innermost ``[]`` and ``{}``, so ``max_depth``
passes (each one C-speed string work) tell whether the document is too deep,
without ever recursing.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from peppasync.errors import JsonInputError

__all__ = ["MAX_DEPTH", "MAX_INT_DIGITS", "deeper_than", "parse_json"]

#: Deepest nesting accepted from outside; Shopify's order bodies nest about six levels.
MAX_DEPTH = 64
#: Longest integer accepted (digits, without the sign); Shopify's ids have at most 20.
MAX_INT_DIGITS = 30

_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
# Escapes that may yield a lone surrogate or U+0000; only then are the strings walked.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")
_SURROGATE = re.compile("[\ud800-\udfff]")


def deeper_than(text: str, limit: int) -> bool:
    """Whether the JSON document ``text`` nests more than ``limit`` levels.

    A document whose brackets do not pair up is not judged here (False): the
    parser will say where it breaks.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    skeleton = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(limit):
        if not skeleton:
            return False
        reduced = skeleton.replace("[]", "").replace("{}", "")
        if len(reduced) == len(skeleton):
            return False
        skeleton = reduced
    return bool(skeleton) and len(skeleton.replace("[]", "").replace("{}", "")) < len(skeleton)


def parse_json(data: bytes | str, *, max_depth: int = MAX_DEPTH, max_int_digits: int = MAX_INT_DIGITS) -> Any:
    """The value of the JSON document ``data`` (UTF-8 when bytes), or JsonInputError saying why not."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonInputError(
                f"the document is not UTF-8: byte {exc.start} ({data[exc.start:exc.start + 1]!r}) {exc.reason}",
                problem="not_utf8", position=exc.start,
            ) from None
    else:
        text = data
    if deeper_than(text, max_depth):
        raise JsonInputError(f"the document nests deeper than {max_depth} levels", problem="too_deep")

    def whole(digits: str) -> int:
        if len(digits) - digits.startswith("-") > max_int_digits:
            raise JsonInputError(
                f"an integer has {len(digits.lstrip('-'))} digits, more than {max_int_digits}: {digits[:20]}...",
                problem="number_too_long",
            )
        return int(digits)

    def real(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            raise JsonInputError(f"the number {literal[:40]} is out of range", problem="number_out_of_range")
        return value

    def constant(name: str) -> Any:
        raise JsonInputError(f"{name} is not a JSON number", problem="not_a_number")

    def mapping(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found = dict(pairs)
        if len(found) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise JsonInputError(f"the key {key[:80]!r} appears twice in one object", problem="duplicate_key")
                seen.add(key)
        return found

    try:
        value = json.loads(text, object_pairs_hook=mapping, parse_int=whole, parse_float=real, parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise JsonInputError(f"not valid JSON: {exc}", problem="not_json", position=exc.pos) from None
    except RecursionError:
        raise JsonInputError(f"the document nests deeper than {max_depth} levels", problem="too_deep") from None
    if _SUSPECT_ESCAPE.search(text):
        _check_strings(value)
    return value


def _check_strings(value: Any) -> None:
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            todo.extend(item)
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise JsonInputError("a string holds U+0000, which cannot be stored", problem="nul_character")
            found = _SURROGATE.search(item)
            if found:
                raise JsonInputError(
                    f"a string holds a lone UTF-16 surrogate (\\u{ord(found.group()):04x}), which is not Unicode",
                    problem="lone_surrogate",
                )

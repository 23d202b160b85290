"""A hostile Shopify: signed webhooks whose bodies and headers are mutated, from a seed.

Each webhook starts from a real order body (as the sandbox's generator builds
them) and gets one mutation, either of its JSON value (a field dropped, given
another type, nested deep; an id that is not one) or of its text (NaN, 1e400,
a 5,000-digit integer, a lone surrogate, a repeated key, invalid UTF-8, cut
short), then headers that may lie: another topic for the same body (a create
replayed as a cancellation), an event id used before with another body, a
trigger time hours old or not a time, now and then a wrong signature. The body
is signed after the mutation, as only someone with the app's secret could do:
this is what a compromised or buggy sender can make the engine swallow.

    fuzzer = WebhookFuzzer(secret, [order.payload for order in placed], seed=13)
    hook = fuzzer.next()
    requests.post(url, data=hook.body, headers=hook.headers)

Webhook k depends only on the seed, the orders and k.
"""

from __future__ import annotations

import copy
import json
import random
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .webhooks import sign

__all__ = ["FuzzedWebhook", "MUTATIONS", "WebhookFuzzer"]

_TOPICS = ("orders/create", "orders/updated", "orders/cancelled", "refunds/create")
_ODD_TOPICS = ("orders/delete", "", "ORDERS/CREATE", "orders/create ", "x" * 300)
_ODD_EVENT_IDS = ("x" * 300, "caf\xe9", "a b", "a\tb", "<>")
_ODD_TIMES = ("yesterday", "2026-13-45T99:99:99Z", "0", "9999-12-31T23:59:59Z", "")
_HOSTILE: tuple[Any, ...] = (
    None, "", " ", "x", "'", '"', "\\", "1e999999999", "-1", "NaN", "Infinity", 0, -1, 10**19, -(10**19),
    1.5, 1e308, -1e308, True, False, [], {}, [None], {"a": 1}, "\U0001f600" * 10, "x" * 10_000,
    "\u0663", "\uff11\uff12", "2026-13-45T99:99:99Z", "<script>", "' OR 1=1 --", "sku:'*'",
)
_NUMBER = re.compile(r'(?<=[:\[,])\s*-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?=[,\]}])')
_STRING_START = re.compile(r'(?<=[:\[,])\s*"')


@dataclass(frozen=True)
class FuzzedWebhook:
    """One request to send: the raw body, the headers, and which mutation made it."""

    body: bytes
    headers: dict[str, str]
    mutation: str
    order_id: str | None


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _set(value: Any, path: tuple[Any, ...], new: Any) -> None:
    for step in path[:-1]:
        value = value[step]
    value[path[-1]] = new


def _drop(value: Any, path: tuple[Any, ...]) -> None:
    for step in path[:-1]:
        value = value[step]
    del value[path[-1]]


def _nested(depth: int) -> list[Any]:
    outer: list[Any] = []
    inner = outer
    for _ in range(depth - 1):
        inner.append([])
        inner = inner[0]
    return outer


# -- mutations of the value: (rng, order) -> (order, topic) --------------------------------------

def _valid(rng: random.Random, order: dict[str, Any]) -> tuple[Any, str]:
    return order, "orders/create"


def _drop_field(rng: random.Random, order: dict[str, Any]) -> tuple[Any, str]:
    _drop(order, rng.choice(_paths(order)))
    return order, rng.choice(("orders/create", "orders/updated"))


def _retype(rng: random.Random, order: dict[str, Any]) -> tuple[Any, str]:
    for _ in range(rng.choice((1, 1, 2, 5))):
        _set(order, rng.choice(_paths(order)), copy.deepcopy(rng.choice(_HOSTILE)))
    return order, rng.choice(("orders/create", "orders/updated"))


def _deepen(rng: random.Random, order: dict[str, Any]) -> tuple[Any, str]:
    _set(order, rng.choice(_paths(order)), _nested(rng.choice((10, 60, 63, 64, 65, 100, 700))))
    return order, "orders/create"


def _bad_id(rng: random.Random, order: dict[str, Any]) -> tuple[Any, str]:
    order["id"] = copy.deepcopy(rng.choice(_HOSTILE))
    return order, "orders/create"


def _replayed_as_cancel(rng: random.Random, order: dict[str, Any]) -> tuple[Any, str]:
    order.pop("cancelled_at", None)
    return order, "orders/cancelled"


def _cancelled(rng: random.Random, order: dict[str, Any]) -> tuple[Any, str]:
    order["cancelled_at"] = rng.choice((order.get("updated_at"), "2026-12-01T10:00:00Z", "soon", 1, True))
    return order, rng.choice(("orders/cancelled", "orders/updated"))


def _refund(rng: random.Random, order: dict[str, Any]) -> tuple[Any, str]:
    lines = [{"id": rng.randrange(1, 10**6), "line_item_id": line.get("id"), "quantity": line.get("quantity"),
              "line_item": line} for line in order.get("line_items") or [] if isinstance(line, dict)]
    refund = {"id": rng.randrange(1, 10**12), "order_id": order.get("id"), "created_at": order.get("updated_at"),
              "refund_line_items": lines, "transactions": [], "order_adjustments": []}
    if rng.random() < 0.5:
        _set(refund, rng.choice(_paths(refund)), copy.deepcopy(rng.choice(_HOSTILE)))
    return refund, "refunds/create"


# -- mutations of the text: (rng, text) -> text ----------------------------------------------------

def _number(rng: random.Random, text: str) -> str:
    spots = list(_NUMBER.finditer(text))
    if not spots:
        return text
    spot = rng.choice(spots)
    literal = rng.choice(("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 5000, "1e-400", "-0", "1E+2",
                          "0" * 40 + "1", "9" * 31, "123456789012345678901234567890"))
    return text[:spot.start()] + literal + text[spot.end():]


def _escape(rng: random.Random, text: str) -> str:
    spots = list(_STRING_START.finditer(text))
    if not spots:
        return text
    at = rng.choice(spots).end()
    escape = rng.choice(("\\ud800", "\\udfff", "\\udc00\\ud800", "\\u0000", "\\ud83d\\ude00", "\\u00e9"))
    return text[:at] + escape + text[at:]


def _repeat_key(rng: random.Random, text: str) -> str:
    return '{"id": 1, ' + text[1:] if text.startswith("{") else text


def _cut(rng: random.Random, text: str) -> str:
    return text[:rng.randrange(0, max(1, len(text)))]


def _wrap(rng: random.Random, text: str) -> str:
    depth = rng.choice((1, 64, 65, 1000, 10_000))
    return "[" * depth + text + "]" * depth


_VALUE_MUTATIONS: dict[str, Callable[[random.Random, dict[str, Any]], tuple[Any, str]]] = {
    "valid": _valid,
    "drop_field": _drop_field,
    "retype": _retype,
    "deepen": _deepen,
    "bad_id": _bad_id,
    "replayed_as_cancel": _replayed_as_cancel,
    "cancelled": _cancelled,
    "refund": _refund,
}
_TEXT_MUTATIONS: dict[str, Callable[[random.Random, str], str]] = {
    "number": _number,
    "escape": _escape,
    "repeat_key": _repeat_key,
    "cut": _cut,
    "wrap": _wrap,
}
_BYTE_MUTATIONS = ("invalid_utf8", "bom", "flip")
#: Every mutation's name, as ``FuzzedWebhook.mutation`` gives it.
MUTATIONS = (*_VALUE_MUTATIONS, *_TEXT_MUTATIONS, *_BYTE_MUTATIONS)


class WebhookFuzzer:
    """Signed, mutated Shopify webhooks made from ``orders`` (REST order bodies)."""

    def __init__(self, secret: str, orders: Sequence[dict[str, Any]], *, seed: int, now: Callable[[], float]) -> None:
        if not orders:
            raise ValueError("the fuzzer needs at least one order to start from")
        self._secret = secret
        self._orders = [copy.deepcopy(o) for o in orders]
        self._seed = seed
        self._now = now
        self._count = 0
        self._recent_ids: list[Any] = []
        self._recent_events: list[str] = []

    def next(self) -> FuzzedWebhook:
        """The next webhook of the sequence."""
        k = self._count
        self._count += 1
        rng = random.Random(f"{self._seed}:fuzz:{k}")
        order = copy.deepcopy(rng.choice(self._orders))
        if self._recent_ids and rng.random() < 0.3:
            order["id"] = rng.choice(self._recent_ids)  # a later event for an order sent before
            order["updated_at"] = _iso(self._now() + k)
        else:
            order["id"] = 9_000_000_000_000 + self._seed * 1_000_000 + k
        self._recent_ids = [*self._recent_ids[-49:], order["id"]]
        roll = rng.random()
        if roll < 0.55:
            name = rng.choice(list(_VALUE_MUTATIONS))
            value, topic = _VALUE_MUTATIONS[name](rng, order)
            body = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
        elif roll < 0.9:
            name = rng.choice(list(_TEXT_MUTATIONS))
            topic = "orders/create"
            body = _TEXT_MUTATIONS[name](rng, json.dumps(order)).encode()
        else:
            name = rng.choice(_BYTE_MUTATIONS)
            topic = "orders/create"
            body = _bytes(rng, name, json.dumps(order, ensure_ascii=False).encode())
        order_id = order.get("id") if isinstance(order, dict) else None
        return FuzzedWebhook(body, self._headers(rng, topic, body), name, None if order_id is None else str(order_id))

    def _headers(self, rng: random.Random, topic: str, body: bytes) -> dict[str, str]:
        if rng.random() < 0.1:
            topic = rng.choice((*_TOPICS, *_ODD_TOPICS))
        roll = rng.random()
        if self._recent_events and roll < 0.08:
            event_id = rng.choice(self._recent_events)  # used before, likely with another body
        elif roll < 0.13:
            event_id = rng.choice(_ODD_EVENT_IDS)
        else:
            event_id = str(uuid.UUID(int=rng.getrandbits(128)))
        self._recent_events = [*self._recent_events[-99:], event_id]
        roll = rng.random()
        if roll < 0.1:
            triggered = _iso(self._now() - rng.choice((3600 * 5, 3600 * 47, 3600 * 100)))
        elif roll < 0.15:
            triggered = rng.choice(_ODD_TIMES)
        else:
            triggered = _iso(self._now())
        signature = sign(self._secret, body if rng.random() > 0.03 else body + b" ")
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Event-Id": event_id,
            "X-Shopify-Triggered-At": triggered,
        }


def _bytes(rng: random.Random, name: str, raw: bytes) -> bytes:
    at = rng.randrange(0, max(1, len(raw)))
    if name == "invalid_utf8":
        return raw[:at] + rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf")) + raw[at:]
    if name == "bom":
        return b"\xef\xbb\xbf" + raw
    return raw[:at] + bytes([raw[at] ^ (1 << rng.randrange(8))]) + raw[at + 1:] if raw else raw


def _iso(moment: float) -> str:
    try:
        return (datetime.fromtimestamp(0, UTC) + timedelta(seconds=moment)).isoformat(timespec="milliseconds") \
            .replace("+00:00", "Z")
    except OverflowError:
        return "9999-12-31T23:59:59.000Z"

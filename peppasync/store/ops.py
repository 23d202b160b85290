"""Write operations: immutable values the group-commit writer applies in order.

A request is a sequence of ops applied in one transaction; each op yields one
result. Payloads are encoded to JSON when the op is built, so a payload that
cannot be stored, or could not be read back, is refused at once, in the caller,
with the op that carried it (TypeError for a value of the wrong type,
ValueError for a bad value).
"""

from __future__ import annotations

import json
import json.decoder
import json.encoder
import json.scanner
import math
import re
from dataclasses import dataclass, field
from typing import Any

from peppasync.strict_json import deeper_than

__all__ = [
    "MAX_STORED_DEPTH",
    "OP_TYPES",
    "Audit",
    "Dedup",
    "Discard",
    "Done",
    "Fence",
    "Insert",
    "InsertOnce",
    "Op",
    "PruneDedup",
    "PutState",
    "Quarantine",
    "Release",
    "Requeue",
    "Retry",
    "Start",
    "decoded",
]


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
# The C encoder _ENCODER.encode would build anew for every call (half its cost for a small
# payload), built once. Without its table of the containers on the way down, a structure
# that holds itself ends in a RecursionError rather than a ValueError: both are refused.
_ENCODE = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", False, False, False,
) if getattr(json.encoder, "c_make_encoder", None) is not None else None
_SURROGATE = re.compile("[\ud800-\udfff]")

#: The deepest payload the store keeps. Actor state wraps input (at most
#: ``strict_json.MAX_DEPTH`` deep) a few levels down; anything deeper than this
#: could exhaust the stack of whoever reads it back.
MAX_STORED_DEPTH = 256


# The C scanner json.loads reaches through two Python calls and two whitespace matches.
_SCAN = json.scanner.c_make_scanner(json.decoder.JSONDecoder())  # type: ignore[attr-defined]


def decoded(encoded: str) -> Any:
    """A fresh copy of what an op's ``encoded`` holds (no whitespace to skip: it is our own encoding)."""
    return _SCAN(encoded, 0)[0]


def _text(op: str, name: str, value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{op}: {name} must be a non-empty string, got {value!r}")
    if not value:
        raise ValueError(f"{op}: {name} must be a non-empty string, got {value!r}")


def _ident(op: str, name: str, value: object) -> None:
    if type(value) is int and value > 0:
        return  # nearly always: one test rather than three
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{op}: {name} must be a positive integer id, got {value!r}")
    if value < 1:
        raise ValueError(f"{op}: {name} must be a positive integer id, got {value!r}")


def _time(op: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{op}: {name} must be an epoch time in seconds, got {value!r}")
    if math.isnan(value):
        raise ValueError(f"{op}: {name} must be an epoch time in seconds, got {value!r}")


def _json(op: str, name: str, value: object) -> str:
    if not isinstance(value, dict):
        raise TypeError(f"{op}: {name} must be a dict, got {type(value).__name__}")
    try:
        encoded = "".join(_ENCODE(value, 0)) if _ENCODE is not None else _ENCODER.encode(value)
    except RecursionError:
        raise ValueError(f"{op}: {name} cannot be stored as JSON: it holds itself, or nests too deep") from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{op}: {name} cannot be stored as JSON: {exc}") from None
    surrogate = None if encoded.isascii() else _SURROGATE.search(encoded)
    if surrogate:
        raise ValueError(
            f"{op}: {name} cannot be stored as JSON: a string holds a lone surrogate"
            f" (\\u{ord(surrogate.group()):04x}), which UTF-8 cannot encode"
        )
    if deeper_than(encoded, MAX_STORED_DEPTH):
        raise ValueError(f"{op}: {name} nests deeper than {MAX_STORED_DEPTH} levels and could not be read back")
    return encoded


@dataclass(frozen=True)
class Insert:
    """Add a durable message; result: its id. ``available_at`` None means now."""

    kind: str
    key: str
    payload: dict[str, Any]
    available_at: float | None = None
    encoded: str = field(init=False, repr=False, compare=False)

    def __init__(self, kind: str, key: str, payload: dict[str, Any], available_at: float | None = None) -> None:
        # What the generated one does (checked, then set), but it sets each field through
        # ``object.__setattr__``, a call per field; ingest and every send build one per message.
        if type(kind) is not str or not kind:
            _text("Insert", "kind", kind)
        if type(key) is not str or not key:
            _text("Insert", "key", key)
        if available_at is not None:
            _time("Insert", "available_at", available_at)
        fields = self.__dict__
        fields["kind"], fields["key"], fields["payload"], fields["available_at"] = kind, key, payload, available_at
        fields["encoded"] = _json("Insert", "payload", payload)


@dataclass(frozen=True)
class Start:
    """Claim a message: state running, attempts + 1; result: the new attempt count."""

    message_id: int

    def __post_init__(self) -> None:
        _ident("Start", "message_id", self.message_id)


@dataclass(frozen=True)
class Done:
    """Acknowledge a message: its row is deleted; result: None."""

    message_id: int

    def __init__(self, message_id: int) -> None:
        # As Insert's: checked, then set without a call per field (one per message handled).
        if type(message_id) is not int or message_id < 1:
            _ident("Done", "message_id", message_id)
        self.__dict__["message_id"] = message_id


@dataclass(frozen=True)
class Release:
    """Give back a started message that was not handled: pending again, that attempt not counted.

    Result: None. A message no longer running (done, quarantined, gone) is left as it is.
    """

    message_id: int

    def __post_init__(self) -> None:
        _ident("Release", "message_id", self.message_id)


@dataclass(frozen=True)
class Retry:
    """Put a message back to pending until ``available_at``; result: None."""

    message_id: int
    available_at: float
    error: str

    def __post_init__(self) -> None:
        _ident("Retry", "message_id", self.message_id)
        _time("Retry", "available_at", self.available_at)
        if not isinstance(self.error, str):
            raise TypeError(f"Retry: error must be a string, got {self.error!r}")


@dataclass(frozen=True)
class Quarantine:
    """Move a message into quarantine; result: the quarantine entry id."""

    message_id: int
    reason: str
    error_class: str
    traceback: str

    def __post_init__(self) -> None:
        _ident("Quarantine", "message_id", self.message_id)
        _text("Quarantine", "reason", self.reason)
        _text("Quarantine", "error_class", self.error_class)
        if not isinstance(self.traceback, str):
            raise TypeError(f"Quarantine: traceback must be a string, got {self.traceback!r}")


@dataclass(frozen=True)
class PutState:
    """Replace an actor's persisted state; result: the new version (1 for the first)."""

    kind: str
    key: str
    state: dict[str, Any]
    encoded: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _text("PutState", "kind", self.kind)
        _text("PutState", "key", self.key)
        object.__setattr__(self, "encoded", _json("PutState", "state", self.state))


@dataclass(frozen=True)
class Dedup:
    """Record a webhook event id, whatever its body; result: True when new, False when seen before."""

    source: str
    event_id: str

    def __post_init__(self) -> None:
        _text("Dedup", "source", self.source)
        _text("Dedup", "event_id", self.event_id)


@dataclass(frozen=True)
class InsertOnce:
    """Add ``message`` unless the event was recorded before; records it.

    An event is its (source, event_id) and the ``digest`` of its body: the same
    id with another digest is another event, added and flagged ``reused``. An
    empty digest (an event whose body does not matter) matches any digest.
    Result: an ``records.Admission``; its ``message_id`` is None for an event
    seen before (nothing is added). ``also``: more messages the same event makes,
    added with it or not at all (their ids in ``Admission.also``).
    """

    source: str
    event_id: str
    message: Insert
    digest: str = ""
    also: tuple[Insert, ...] = ()

    def __post_init__(self) -> None:
        _text("InsertOnce", "source", self.source)
        _text("InsertOnce", "event_id", self.event_id)
        if not isinstance(self.message, Insert):
            raise TypeError(f"InsertOnce: message must be an ops.Insert, got {type(self.message).__name__}")
        if not isinstance(self.digest, str):
            raise TypeError(f"InsertOnce: digest must be a string, got {self.digest!r}")
        if not all(isinstance(m, Insert) for m in self.also):
            raise TypeError("InsertOnce: also must hold ops.Insert only")


@dataclass(frozen=True)
class Audit:
    """Append to the audit log; result: the entry id."""

    who: str
    action: str
    target: str
    detail: dict[str, Any]
    encoded: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _text("Audit", "who", self.who)
        _text("Audit", "action", self.action)
        if not isinstance(self.target, str):
            raise TypeError(f"Audit: target must be a string, got {self.target!r}")
        object.__setattr__(self, "encoded", _json("Audit", "detail", self.detail))


@dataclass(frozen=True)
class Requeue:
    """Send an open quarantine entry back to its mailbox as a fresh message; result: its id.

    ``payload`` None keeps the quarantined payload. The entry becomes retried,
    the quarantined message row goes, and the action is audited, all at once.
    """

    quarantine_id: int
    who: str
    payload: dict[str, Any] | None = None
    encoded: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _ident("Requeue", "quarantine_id", self.quarantine_id)
        _text("Requeue", "who", self.who)
        enc = None if self.payload is None else _json("Requeue", "payload", self.payload)
        object.__setattr__(self, "encoded", enc)


@dataclass(frozen=True)
class Discard:
    """Close an open quarantine entry without retrying it; audited; result: None."""

    quarantine_id: int
    who: str

    def __post_init__(self) -> None:
        _ident("Discard", "quarantine_id", self.quarantine_id)
        _text("Discard", "who", self.who)


@dataclass(frozen=True)
class PruneDedup:
    """Forget up to ``limit`` webhook event ids recorded before ``before``; result: how many went.

    Bounded, so that pruning a long backlog of keys never holds the writer
    (and every message waiting on its commit) for long.
    """

    before: float
    limit: int = 10_000

    def __post_init__(self) -> None:
        _time("PruneDedup", "before", self.before)
        _ident("PruneDedup", "limit", self.limit)


@dataclass(frozen=True)
class Fence:
    """The request commits only while lease ``lease`` is still at ``epoch``; result: None.

    An actor of a cluster node puts one in front of every write it makes (its
    state, its sends, its done marks): a node whose lease moved on (presumed
    dead, then back) has the whole request refused with ``FencedError`` inside
    the transaction that would have committed it.
    """

    lease: str
    epoch: int

    def __post_init__(self) -> None:
        _text("Fence", "lease", self.lease)
        _ident("Fence", "epoch", self.epoch)


Op = (Insert | InsertOnce | Start | Done | Release | Retry | Quarantine | PutState | Dedup | Audit | Requeue
      | Discard | PruneDedup | Fence)

#: Every op class, for isinstance checks.
OP_TYPES: tuple[type, ...] = (
    Insert, InsertOnce, Start, Done, Release, Retry, Quarantine, PutState, Dedup, Audit, Requeue, Discard,
    PruneDedup, Fence,
)

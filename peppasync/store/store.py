"""The Store: durable mailboxes, quarantine, audit, dedup keys and actor state behind one object."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from gevent.event import AsyncResult

from peppasync.clock import Clock
from peppasync.errors import NotFoundError, StoreError
from peppasync.metrics import Metrics
from peppasync.store import ops
from peppasync.store.backend import Backend, Session
from peppasync.store.migrations import apply_migrations, current_version
from peppasync.store.records import (
    AuditEntry,
    MailboxStats,
    Message,
    QuarantineEntry,
    QuarantinePage,
)
from peppasync.store.writer import Acknowledger, Claimer, CommitListener, GroupWriter, as_store_error
from peppasync.strict_json import deeper_than

__all__ = ["Store"]

T = TypeVar("T")

_MESSAGE_COLUMNS = "id, kind, key, payload, state, attempts, available_at, created_at, updated_at, last_error"
_ENTRY_COLUMNS = (
    "id, message_id, kind, key, payload, reason, error_class, traceback, attempts,"
    " first_failure_at, last_failure_at, state, resolved_at"
)
_QUARANTINE_STATES = ("open", "retried", "discarded")
_OP_TYPES = frozenset(ops.OP_TYPES)
# pending_keys walks at most this many ready messages before it groups the rest.
_SCAN_CHUNK = 2000
_SCAN_ROWS = 20000


def _limit(name: str, value: object, *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer of at least {low}, got {value!r}")
    return value


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _payload(text: str) -> dict[str, Any]:
    """A stored payload, or, for one that cannot be read back, a description of it.

    Such a payload was written before payloads were checked (ops refuse them
    now). Described, it fails alone: its message is quarantined as of an
    unknown type, the rest of its mailbox flows, and listings still list it.
    """
    problem = f"nests deeper than {ops.MAX_STORED_DEPTH} levels"
    if not deeper_than(text, ops.MAX_STORED_DEPTH):
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as exc:
            problem = f"is not readable JSON ({type(exc).__name__})"
        else:
            if isinstance(value, dict):
                return value
            problem = f"is a JSON {type(value).__name__}, not an object"
    return {"type": "unreadable", "error": f"the stored payload {problem}", "size": len(text), "head": text[:200]}


def _message(row: Sequence[Any]) -> Message:
    return Message.of(
        int(row[0]), row[1], row[2], _payload(row[3]), row[4], int(row[5]),
        float(row[6]), float(row[7]), float(row[8]), row[9],
    )


def _entry(row: Sequence[Any]) -> QuarantineEntry:
    return QuarantineEntry(
        int(row[0]), int(row[1]), row[2], row[3], _payload(row[4]), row[5], row[6], row[7],
        int(row[8]), float(row[9]), float(row[10]), row[11], None if row[12] is None else float(row[12]),
    )


def _quarantine_filters(state: str | None, kind: str | None, reason: str | None) -> tuple[list[str], list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if state is not None:
        if state not in _QUARANTINE_STATES:
            raise ValueError(f"state must be one of {', '.join(_QUARANTINE_STATES)} or None, got {state!r}")
        clauses.append("state = ?")
        params.append(state)
    if kind is not None:
        clauses.append("kind = ?")
        params.append(_text("kind", kind))
    if reason is not None:
        clauses.append("reason = ?")
        params.append(_text("reason", reason))
    return clauses, params


class Store:
    """Durable store of record; build one with ``open_store``.

    Writes go through one group-commit writer greenlet (``submit``/``write``);
    reads run on their own connection (off the gevent hub for SQLite). Every
    value returned is a plain frozen dataclass or builtin, never a live row.
    """

    def __init__(
        self, backend: Backend, url: str, clock: Clock, batch_max: int, metrics: Metrics | None
    ) -> None:
        self._backend = backend
        self._metrics = metrics
        self._closed = False
        self._writer = GroupWriter(backend, url, clock, batch_max, metrics)
        self.url = url
        self.clock = clock

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._backend.name

    @property
    def commits(self) -> int:
        """Transactions the writer has committed since the store was opened."""
        return self._writer.commits

    def _read(self, fn: Callable[[Session], T], *, point: bool = False) -> T:
        if self._closed:
            raise StoreError(f"store {self.url} is closed", url=self.url)
        try:
            return self._backend.read(fn, point=point)
        except Exception as exc:
            raise as_store_error(exc, self.url) from exc

    # -- schema ---------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply every migration step not applied yet; returns the versions applied now."""
        return self._read(lambda s: apply_migrations(s, self.clock.time(), self.url))

    def schema_version(self) -> int:
        """The highest migration applied (0 for an empty database)."""
        return self._read(current_version)

    def ping(self) -> bool:
        """True when the database answers; never raises (readiness probes call it)."""
        try:
            up = bool(self._read(lambda s: s.one("SELECT 1")[0]) == 1)
        except Exception:  # noqa: BLE001 - a failed ping is an answer, not an error
            up = False
        if self._metrics is not None:
            self._metrics.store_up.set(1 if up else 0)
        return up

    def close(self) -> None:
        """Commit every queued write, then close the connections; safe to call twice."""
        if self._closed:
            return
        try:
            self._writer.close()
        finally:
            self._closed = True
            self._backend.close()

    # -- writes ---------------------------------------------------------------

    def submit(self, operations: Sequence[ops.Op]) -> AsyncResult:
        """Queue one request for the writer; its AsyncResult gets one result per op once committed."""
        result = self._writer.submit(_checked(operations))
        assert result is not None
        return result

    def post(self, operations: Sequence[ops.Op], ack: Acknowledger) -> None:
        """Queue one request; ``ack(results, error)`` is told once it committed or failed.

        For a caller that goes on meanwhile (an actor's commit): cheaper than an AsyncResult.
        ``ack`` runs in the writer's greenlet, before the next batch: it must not block.
        """
        self._writer.submit(_checked(operations), ack)

    def listen(self, listener: CommitListener, *, claimer: Claimer | None = None,
               settled: Callable[[], None] | None = None) -> None:
        """Tell ``listener`` of every message committed from now on, in id order, before its writer hears.

        With ``claimer``, messages it claims are stored with their first
        attempt counted (see ``Claimer``): the one store's one actor host.
        ``settled`` is called after each commit it was asked about, once
        ``listener`` was told (or the commit failed).
        """
        self._writer.listeners.append(listener)
        if claimer is not None:
            if self._writer.claimer is not None:
                raise ValueError(f"store {self.url} already has a claimer")
            self._writer.claimer = claimer
            self._writer.settled = settled

    def unlisten(self, listener: CommitListener) -> None:
        """Stop telling ``listener`` (and drop the claimer given with it)."""
        if listener in self._writer.listeners:
            self._writer.listeners.remove(listener)
            self._writer.claimer = None
            self._writer.settled = None

    def write(self, operations: Sequence[ops.Op]) -> list[Any]:
        """Submit and block this greenlet until the request is committed (or failed)."""
        result: list[Any] = self.submit(operations).get()
        return result

    def enqueue(self, kind: str, key: str, payload: dict[str, Any], *, delay: float = 0.0) -> int:
        """Durably add one message; returns its id once committed."""
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not delay >= 0:
            raise ValueError(f"delay must be a number of seconds >= 0, got {delay!r}")
        at = self.clock.time() + delay if delay else None
        return int(self.write([ops.Insert(kind, key, payload, at)])[0])

    # -- mailboxes ------------------------------------------------------------

    def _now(self, now: float | None) -> float:
        if now is None:
            return self.clock.time()
        if isinstance(now, bool) or not isinstance(now, (int, float)) or math.isnan(now):
            raise ValueError(f"now must be an epoch time in seconds, got {now!r}")
        return float(now)

    def pending(self, kind: str, key: str, *, limit: int, now: float | None = None) -> list[Message]:
        """Messages of one mailbox, pending or running, available by ``now``, oldest first."""
        params = (_text("kind", kind), _text("key", key), self._now(now), _limit("limit", limit))
        sql = (f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE kind = ? AND key = ?"
               " AND state <> 'quarantined' AND available_at <= ? ORDER BY id LIMIT ?")
        return [_message(r) for r in self._read(lambda s: s.all(sql, params), point=True)]

    def load_many(
        self, kind: str, keys: Sequence[str], *, limit: int
    ) -> dict[str, tuple[tuple[dict[str, Any], int] | None, list[Message]]]:
        """What activating many actors of one kind needs, in one round trip per 500 keys.

        For each key: its persisted state and version (or None), and up to
        ``limit`` of its messages, pending or running, oldest first, whatever
        their ``available_at``.
        """
        _text("kind", kind)
        _limit("limit", limit)
        wanted = list(dict.fromkeys(_text("key", k) for k in keys))

        def query(s: Session) -> dict[str, tuple[tuple[dict[str, Any], int] | None, list[Message]]]:
            out: dict[str, tuple[tuple[dict[str, Any], int] | None, list[Message]]] = {}
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                marks = ", ".join("?" for _ in chunk)
                states = {
                    r[0]: (json.loads(r[1]), int(r[2]))
                    for r in s.all(f"SELECT key, state, version FROM actor_state WHERE kind = ? AND key IN ({marks})",
                                   (kind, *chunk))
                }
                rows = s.all(
                    f"SELECT {_MESSAGE_COLUMNS} FROM (SELECT {_MESSAGE_COLUMNS},"
                    " ROW_NUMBER() OVER (PARTITION BY key ORDER BY id) AS n FROM messages"
                    f" WHERE kind = ? AND key IN ({marks}) AND state <> 'quarantined') AS m"
                    " WHERE n <= ? ORDER BY id",
                    (kind, *chunk, limit),
                )
                messages: dict[str, list[Message]] = {k: [] for k in chunk}
                for r in rows:
                    messages[r[2]].append(_message(r))
                for k in chunk:
                    out[k] = (states.get(k), messages[k])
            return out

        return self._read(query, point=True)

    def pending_keys(
        self, kind: str | None = None, *, now: float | None = None, limit: int = 10000,
        accept: Callable[[str, str], bool] | None = None,
    ) -> list[tuple[str, str]]:
        """Mailboxes with a message ready by ``now``, the one with the oldest message first.

        Walks ready messages in id order until ``limit`` mailboxes are found, so
        the usual case reads a few pages; if the first ``_SCAN_ROWS`` messages
        belong to too few mailboxes, one grouped query finishes the job.
        ``accept`` (kind, key) leaves out the mailboxes it refuses (those another
        node of a cluster owns) before they count towards ``limit``.
        """
        at = self._now(now)
        wanted = _limit("limit", limit)
        # SQLite's "+kind" keeps the planner on the primary key: through the
        # kind index it would sort every message of that kind first.
        only = "" if kind is None else " AND +kind = ?" if self.backend == "sqlite" else " AND kind = ?"
        extra: tuple[object, ...] = () if kind is None else (_text("kind", kind),)
        scan = ("SELECT id, kind, key FROM messages WHERE id > ? AND state <> 'quarantined'"
                f" AND available_at <= ?{only} ORDER BY id LIMIT ?")
        grouped = ("SELECT kind, key FROM messages WHERE id > ? AND state <> 'quarantined'"
                   f" AND available_at <= ?{only.replace('+', '')} GROUP BY kind, key ORDER BY MIN(id)")

        def query(s: Session) -> list[tuple[str, str]]:
            found: dict[tuple[str, str], None] = {}
            last, scanned = 0, 0
            refused: set[tuple[str, str]] = set()

            def take(k: str, key: str) -> None:
                ident = (k, key)
                if ident in found or ident in refused:
                    return
                if accept is None or accept(k, key):
                    found[ident] = None
                else:
                    refused.add(ident)

            while scanned < _SCAN_ROWS:
                rows = s.all(scan, (last, at, *extra, _SCAN_CHUNK))
                for _, k, key in rows:
                    take(k, key)
                    if len(found) == wanted:
                        return list(found)
                if len(rows) < _SCAN_CHUNK:
                    return list(found)
                last, scanned = int(rows[-1][0]), scanned + len(rows)
            for k, key in s.execute(grouped, (last, at, *extra)):
                take(k, key)
                if len(found) == wanted:
                    break
            return list(found)

        return self._read(query)

    def next_available_at(self, kind: str, key: str) -> float | None:
        """When the earliest pending message of a mailbox becomes available, or None."""
        sql = "SELECT MIN(available_at) FROM messages WHERE kind = ? AND key = ? AND state = 'pending'"
        params = (_text("kind", kind), _text("key", key))
        value = self._read(lambda s: s.one(sql, params), point=True)[0]
        return None if value is None else float(value)

    def mailbox_stats(self, now: float | None = None) -> dict[str, MailboxStats]:
        """Per actor kind: messages pending or running, and the age of the oldest."""
        at = self._now(now)
        sql = ("SELECT kind, COUNT(*), MIN(created_at) FROM messages"
               " WHERE state <> 'quarantined' GROUP BY kind")
        return {
            r[0]: MailboxStats(int(r[1]), max(0.0, at - float(r[2])))
            for r in self._read(lambda s: s.all(sql))
        }

    def get_state(self, kind: str, key: str) -> tuple[dict[str, Any], int] | None:
        """An actor's persisted state and its version, or None if it never saved one."""
        params = (_text("kind", kind), _text("key", key))
        row = self._read(lambda s: s.one("SELECT state, version FROM actor_state WHERE kind = ? AND key = ?", params),
                         point=True)
        return None if row is None else (json.loads(row[0]), int(row[1]))

    def states(self, kind: str, *, changed_since: float | None = None,
               limit: int = 100_000) -> list[tuple[str, dict[str, Any]]]:
        """Every persisted state of ``kind`` (key, state), saved at or after ``changed_since`` when given."""
        sql = "SELECT key, state FROM actor_state WHERE kind = ?"
        params: list[object] = [_text("kind", kind)]
        if changed_since is not None:
            sql += " AND updated_at >= ?"
            params.append(float(changed_since))
        sql += " ORDER BY key LIMIT ?"
        params.append(_limit("limit", limit))
        rows = self._read(lambda s: s.all(sql, tuple(params)))
        return [(str(r[0]), json.loads(r[1])) for r in rows]

    def count_by_status(self, kind: str) -> dict[str, int]:
        """How many actors of ``kind`` have each ``status`` in their saved state (none: not counted)."""
        status = "json_extract(state, '$.status')" if self.backend == "sqlite" else "(state::jsonb)->>'status'"
        sql = f"SELECT {status}, COUNT(*) FROM actor_state WHERE kind = ? GROUP BY 1"
        rows = self._read(lambda s: s.all(sql, (_text("kind", kind),)))
        return {str(r[0]): int(r[1]) for r in rows if r[0] is not None}

    # -- quarantine and audit -------------------------------------------------

    def quarantine_list(
        self,
        *,
        state: str | None = "open",
        kind: str | None = None,
        reason: str | None = None,
        after: int = 0,
        limit: int | None = None,
    ) -> list[QuarantineEntry]:
        """Every quarantine entry that matches, in id order (at most ``limit`` when one is given).

        ``state`` None lists every state; ``after`` skips ids up to and including it.
        """
        clauses, params = _quarantine_filters(state, kind, reason)
        params += [_limit("after", after, allow_zero=True)]
        sql = f"SELECT {_ENTRY_COLUMNS} FROM quarantine WHERE {' AND '.join([*clauses, 'id > ?'])} ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(_limit("limit", limit))
        return [_entry(r) for r in self._read(lambda s: s.all(sql, params))]

    def quarantine_page(
        self,
        *,
        state: str | None = "open",
        kind: str | None = None,
        reason: str | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> QuarantinePage:
        """Up to ``limit`` matching entries with ids above ``after``, the total that match, the next cursor.

        Filters apply before the limit; ``total`` counts every entry that
        matches them, whatever ``after``. Ids only grow, so paging with
        ``after=page.next`` neither repeats an entry nor misses one added
        meanwhile.
        """
        clauses, params = _quarantine_filters(state, kind, reason)
        size = _limit("limit", limit)
        rows_sql = (f"SELECT {_ENTRY_COLUMNS} FROM quarantine WHERE {' AND '.join([*clauses, 'id > ?'])}"
                    " ORDER BY id LIMIT ?")
        rows_params = [*params, _limit("after", after, allow_zero=True), size + 1]
        count_sql = "SELECT COUNT(*) FROM quarantine" + (f" WHERE {' AND '.join(clauses)}" if clauses else "")

        def query(s: Session) -> QuarantinePage:
            rows = s.all(rows_sql, rows_params)
            total = int(s.one(count_sql, params)[0])
            entries = tuple(_entry(r) for r in rows[:size])
            return QuarantinePage(entries, total, entries[-1].id if len(rows) > size else None)

        return self._read(query)

    def quarantine_get(self, qid: int) -> QuarantineEntry:
        """One quarantine entry; NotFoundError when there is none with that id."""
        ident = _limit("quarantine id", qid)
        row = self._read(lambda s: s.one(f"SELECT {_ENTRY_COLUMNS} FROM quarantine WHERE id = ?", (ident,)))
        if row is None:
            raise NotFoundError("quarantine entry", qid)
        return _entry(row)

    def quarantine_counts(self) -> dict[tuple[str, str], int]:
        """Open quarantine entries per (kind, reason)."""
        sql = "SELECT kind, reason, COUNT(*) FROM quarantine WHERE state = 'open' GROUP BY kind, reason"
        return {(r[0], r[1]): int(r[2]) for r in self._read(lambda s: s.all(sql))}

    def quarantine_retry(self, qid: int, *, who: str, payload: dict[str, Any] | None = None) -> int:
        """Send an open entry back to its mailbox (optionally with an edited payload); the new message id."""
        return int(self.write([ops.Requeue(qid, who, payload)])[0].message_id)

    def quarantine_discard(self, qid: int, *, who: str) -> None:
        """Close an open entry for good; audited."""
        self.write([ops.Discard(qid, who)])

    def audit_list(self, *, limit: int = 100) -> list[AuditEntry]:
        """The audit log, newest first."""
        sql = "SELECT id, at, who, action, target, detail FROM audit_log ORDER BY id DESC LIMIT ?"
        rows = self._read(lambda s: s.all(sql, (_limit("limit", limit),)))
        return [AuditEntry(int(r[0]), float(r[1]), r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    # -- webhook dedup keys ---------------------------------------------------

    def prune_dedup(self, *, before: float, batch: int = 10_000) -> int:
        """Forget webhook event ids recorded before ``before``, ``batch`` per commit; how many went.

        An event id older than Shopify's retry window can never come again as a
        retry, so its key only costs disk and index pages.
        """
        _limit("batch", batch)
        total = 0
        while True:
            pruned = int(self.write([ops.PruneDedup(self._now(before), batch)])[0])
            total += pruned
            if pruned < batch:
                return total


def _checked(operations: Sequence[ops.Op]) -> tuple[ops.Op, ...]:
    # Lists and tuples skip the slower abstract Sequence check.
    if type(operations) not in (list, tuple) and (
        isinstance(operations, (str, bytes)) or not isinstance(operations, Sequence)
    ):
        raise TypeError(f"submit expects a sequence of store ops, got {type(operations).__name__}")
    for op in operations:
        if type(op) not in _OP_TYPES:
            raise TypeError(f"not a store op: {op!r} (build one from peppasync.store.ops)")
    return tuple(operations)

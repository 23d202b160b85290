"""How each write op becomes SQL: the statements the writer runs inside its transaction."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Collection, Sequence
from typing import Any

from peppasync.errors import FencedError, NotFoundError, StoreError
from peppasync.store import ops
from peppasync.store.backend import Session
from peppasync.store.records import Admission, Requeued

__all__ = ["INSERT_SQL", "apply_batch", "apply_ops"]

INSERT_SQL = (
    "INSERT INTO messages (kind, key, payload, state, attempts, available_at, created_at, updated_at)"
    " VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)"
)
_START = (
    "UPDATE messages SET state = 'running', attempts = attempts + 1, updated_at = ?"
    " WHERE id = ? AND state <> 'quarantined' RETURNING attempts"
)
_DONE = "DELETE FROM messages WHERE id = ? AND state <> 'quarantined'"
# A message claimed when it was stored is still 'pending', with its attempt counted.
_RELEASE = (
    "UPDATE messages SET state = 'pending', attempts = attempts - 1, updated_at = ?"
    " WHERE id = ? AND state <> 'quarantined' AND attempts > 0"
)
_RETRY = (
    "UPDATE messages SET state = 'pending', available_at = ?, last_error = ?, updated_at = ?,"
    " first_failed_at = COALESCE(first_failed_at, ?) WHERE id = ? AND state <> 'quarantined'"
)
_MESSAGE = "SELECT kind, key, payload, attempts, first_failed_at, state FROM messages WHERE id = ?"
_QUARANTINE = (
    "INSERT INTO quarantine (message_id, kind, key, payload, reason, error_class, traceback,"
    " attempts, first_failure_at, last_failure_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')"
)
_SET_QUARANTINED = "UPDATE messages SET state = 'quarantined', last_error = ?, updated_at = ? WHERE id = ?"
_PUT_STATE = (
    "INSERT INTO actor_state (kind, key, state, version, updated_at) VALUES (?, ?, ?, 1, ?)"
    " ON CONFLICT (kind, key) DO UPDATE SET state = excluded.state,"
    " version = actor_state.version + 1, updated_at = excluded.updated_at RETURNING version"
)
_SEEN = "SELECT digest FROM webhook_dedup WHERE source = ? AND event_id = ?"
_DEDUP = (
    "INSERT INTO webhook_dedup (source, event_id, digest, received_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)
_AUDIT = "INSERT INTO audit_log (at, who, action, target, detail) VALUES (?, ?, ?, ?, ?)"
_ENTRY = "SELECT message_id, kind, key, payload, state FROM quarantine WHERE id = ?"
_RESOLVE = "UPDATE quarantine SET state = ?, resolved_at = ? WHERE id = ?"
_DROP_QUARANTINED = "DELETE FROM messages WHERE id = ? AND state = 'quarantined'"


# FOR KEY SHARE: a takeover (which locks the lease FOR UPDATE before it moves the
# epoch) waits until this transaction ends, so no write made under the old epoch
# commits after the new owner started; the owner's renewal (a plain UPDATE of
# expires_at) does not conflict with it. Locked in name order, as every lease
# statement is, so two of them never deadlock.
_FENCE_PG = "SELECT name, epoch FROM leases WHERE name IN ({}) ORDER BY name FOR KEY SHARE"
_FENCE_SQLITE = "SELECT name, epoch FROM leases WHERE name IN ({})"


def _check_fences(s: Session, fences: Sequence[ops.Fence]) -> None:
    """Raise FencedError unless every lease named is still at the epoch its fence carries."""
    names = sorted({f.lease for f in fences})
    sql = (_FENCE_PG if s.backend == "postgresql" else _FENCE_SQLITE).format(_marks(len(names)))
    current = {row[0]: int(row[1]) for row in s.all(sql, names)}
    for fence in fences:
        now_at = current.get(fence.lease, 0)
        if now_at != fence.epoch:
            raise FencedError(fence.lease, fence.epoch, now_at)


def _fence(s: Session, op: ops.Fence, now: float) -> None:
    _check_fences(s, [op])


def _new_id(s: Session, sql: str, params: Sequence[object]) -> int:
    if s.backend == "postgresql":
        return int(s.one(sql + " RETURNING id", params)[0])
    return int(s.execute(sql, params).lastrowid)


def _missing_message(s: Session, op: str, message_id: int) -> StoreError | NotFoundError:
    row = s.one("SELECT state FROM messages WHERE id = ?", (message_id,))
    if row is None:
        return NotFoundError("message", message_id)
    return StoreError(f"{op}: message {message_id} is quarantined; retry or discard its quarantine entry")


def _insert(s: Session, op: ops.Insert, now: float, attempts: int = 0) -> int:
    at = now if op.available_at is None else op.available_at
    return _new_id(s, INSERT_SQL, (op.kind, op.key, op.encoded, attempts, at, now, now))


def _start(s: Session, op: ops.Start, now: float) -> int:
    row = s.one(_START, (now, op.message_id))
    if row is None:
        raise _missing_message(s, "Start", op.message_id)
    return int(row[0])


def _done(s: Session, op: ops.Done, now: float) -> None:
    if s.execute(_DONE, (op.message_id,)).rowcount != 1:
        raise _missing_message(s, "Done", op.message_id)


def _release(s: Session, op: ops.Release, now: float) -> None:
    s.execute(_RELEASE, (now, op.message_id))


def _retry(s: Session, op: ops.Retry, now: float) -> None:
    if s.execute(_RETRY, (op.available_at, op.error, now, now, op.message_id)).rowcount != 1:
        raise _missing_message(s, "Retry", op.message_id)


def _quarantine(s: Session, op: ops.Quarantine, now: float) -> int:
    row = s.one(_MESSAGE, (op.message_id,))
    if row is None or row[5] == "quarantined":
        raise _missing_message(s, "Quarantine", op.message_id)
    kind, key, payload, attempts, first_failed_at, _ = row
    first = now if first_failed_at is None else first_failed_at
    qid = _new_id(s, _QUARANTINE, (
        op.message_id, kind, key, payload, op.reason, op.error_class, op.traceback, attempts, first, now,
    ))
    s.execute(_SET_QUARANTINED, (f"{op.error_class}: {op.reason}", now, op.message_id))
    return qid


def _put_state(s: Session, op: ops.PutState, now: float) -> int:
    return int(s.one(_PUT_STATE, (op.kind, op.key, op.encoded, now))[0])


def _record_event(s: Session, source: str, event_id: str, digest: str, now: float) -> bool | None:
    """Record an event; None when seen before, else whether its id came before with another body.

    An empty digest matches any: an event recorded without one (or before
    digests were kept) is the same event whatever the body.
    """
    seen = {row[0] for row in s.all(_SEEN, (source, event_id))}
    if seen and (digest in seen or "" in seen or not digest):
        return None
    if s.execute(_DEDUP, (source, event_id, digest, now)).rowcount != 1:
        return None  # recorded meanwhile by another node's transaction
    return bool(seen)


def _dedup(s: Session, op: ops.Dedup, now: float) -> bool:
    return _record_event(s, op.source, op.event_id, "", now) is not None


def _insert_once(s: Session, op: ops.InsertOnce, now: float, claimed: Collection[int] = ()) -> Admission:
    reused = _record_event(s, op.source, op.event_id, op.digest, now)
    if reused is None:
        return Admission(None)
    return Admission(_insert(s, op.message, now, 1 if id(op.message) in claimed else 0), reused,
                     tuple(_insert(s, more, now, 1 if id(more) in claimed else 0) for more in op.also))


def _audit(s: Session, op: ops.Audit, now: float) -> int:
    return _new_id(s, _AUDIT, (now, op.who, op.action, op.target, op.encoded))


def _open_entry(s: Session, quarantine_id: int) -> tuple[int, str, str, str]:
    row = s.one(_ENTRY, (quarantine_id,))
    if row is None:
        raise NotFoundError("quarantine entry", quarantine_id)
    message_id, kind, key, payload, state = row
    if state != "open":
        raise StoreError(f"quarantine entry {quarantine_id} is already {state}")
    return int(message_id), kind, key, payload


def _requeue(s: Session, op: ops.Requeue, now: float) -> Requeued:
    message_id, kind, key, payload = _open_entry(s, op.quarantine_id)
    edited = op.encoded is not None
    new_id = _new_id(s, INSERT_SQL, (kind, key, op.encoded if edited else payload, 0, now, now, now))
    s.execute(_RESOLVE, ("retried", now, op.quarantine_id))
    s.execute(_DROP_QUARANTINED, (message_id,))
    detail = {"kind": kind, "key": key, "message_id": new_id, "payload_edited": edited}
    s.execute(_AUDIT, (now, op.who, "quarantine.retry", f"quarantine/{op.quarantine_id}", json.dumps(detail)))
    try:
        body = op.payload if op.payload is not None else json.loads(payload)
        message: ops.Insert | None = ops.Insert(kind, key, body)
    except (TypeError, ValueError, RecursionError):
        message = None
    return Requeued(new_id, message)


def _discard(s: Session, op: ops.Discard, now: float) -> None:
    message_id, kind, key, _ = _open_entry(s, op.quarantine_id)
    s.execute(_RESOLVE, ("discarded", now, op.quarantine_id))
    s.execute(_DROP_QUARANTINED, (message_id,))
    detail = {"kind": kind, "key": key, "message_id": message_id}
    s.execute(_AUDIT, (now, op.who, "quarantine.discard", f"quarantine/{op.quarantine_id}", json.dumps(detail)))


# Oldest first, by row: the key is not unique on its own once bodies' digests are kept too.
_PRUNE_SQLITE = (
    "DELETE FROM webhook_dedup WHERE rowid IN"
    " (SELECT rowid FROM webhook_dedup WHERE received_at < ? ORDER BY received_at LIMIT ?)"
)
_PRUNE_POSTGRESQL = (
    "DELETE FROM webhook_dedup WHERE ctid = ANY(ARRAY("
    "SELECT ctid FROM webhook_dedup WHERE received_at < ? ORDER BY received_at LIMIT ?))"
)


def _prune_dedup(s: Session, op: ops.PruneDedup, now: float) -> int:
    sql = _PRUNE_POSTGRESQL if s.backend == "postgresql" else _PRUNE_SQLITE
    return int(s.execute(sql, (op.before, op.limit)).rowcount)


_APPLY: dict[type, Callable[[Session, Any, float], object]] = {
    ops.Insert: _insert,
    ops.Start: _start,
    ops.Done: _done,
    ops.Release: _release,
    ops.Retry: _retry,
    ops.Quarantine: _quarantine,
    ops.PutState: _put_state,
    ops.Dedup: _dedup,
    ops.InsertOnce: _insert_once,
    ops.Audit: _audit,
    ops.Requeue: _requeue,
    ops.Discard: _discard,
    ops.PruneDedup: _prune_dedup,
    ops.Fence: _fence,
}


def apply_ops(
    s: Session, operations: Sequence[ops.Op], now: float, claimed: Collection[int] = ()
) -> list[object]:
    """Apply one request's ops in order inside the open transaction; one result per op.

    ``claimed`` holds the ``id()`` of Inserts (alone or in an InsertOnce) whose actor takes
    them at once: they are stored with their first attempt already counted.
    """
    return [_apply_one(s, op, now, claimed) for op in operations]


def _apply_one(s: Session, op: ops.Op, now: float, claimed: Collection[int]) -> object:
    """One op; the Inserts in ``claimed`` (alone or in an InsertOnce) with their first attempt counted."""
    if type(op) is ops.Insert:
        return _insert(s, op, now, 1 if id(op) in claimed else 0)
    if type(op) is ops.InsertOnce:
        return _insert_once(s, op, now, claimed)
    return _APPLY[type(op)](s, op, now)


def _insert_many(s: Session, run: list[ops.Insert], now: float, claimed: Collection[int] = ()) -> list[int]:
    if s.backend == "postgresql":
        return _insert_many_postgresql(s, [
            (op.kind, op.key, op.encoded, 1 if id(op) in claimed else 0,
             now if op.available_at is None else op.available_at) for op in run], now)
    rows = [(op.kind, op.key, op.encoded, 1 if id(op) in claimed else 0,
             now if op.available_at is None else op.available_at, now, now)
            for op in run]
    ids: list[int] = []
    # Multi-row statements: sqlite3 drops and retakes the GIL around every
    # step, and while the hub is busy each retake can wait a switch interval.
    # One statement inserts its rows in VALUES order and, under our write lock,
    # AUTOINCREMENT numbers them one after another: the ids end at lastrowid.
    for at in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[at:at + _ROWS_PER_STATEMENT]
        last = int(s.execute(_insert_rows(len(chunk)), [v for row in chunk for v in row]).lastrowid)
        ids += range(last - len(chunk) + 1, last + 1)
    return ids


_ROWS_PER_STATEMENT = 1000  # 7,000 parameters, well under SQLite's 32,766

# The ids first, from the table's own sequence, then every row in one statement: a
# RETURNING of a multi-row insert has no promised order, and one result set per row
# (pipelined) cost a poll of the connection each.
_NEXT_IDS = "SELECT nextval(pg_get_serial_sequence('messages', 'id')) FROM generate_series(1, ?)"
_INSERT_UNNEST = (
    "INSERT INTO messages (id, kind, key, payload, state, attempts, available_at, created_at, updated_at)"
    " SELECT id, kind, key, payload, 'pending', attempts, available_at, ?, ?"
    " FROM unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::integer[], ?::double precision[])"
    " AS m(id, kind, key, payload, attempts, available_at)"
)


def _insert_many_postgresql(s: Session, rows: list[tuple[Any, ...]], now: float) -> list[int]:
    # Sorted, so that each row gets a larger id than the row before it (mailbox FIFO), as
    # when each row took its own: another writer's ids may fall between ours either way.
    ids = sorted(int(r[0]) for r in s.all(_NEXT_IDS, (len(rows),)))
    kinds, keys, payloads, attempts, available = (list(column) for column in zip(*rows))
    s.execute(_INSERT_UNNEST, (now, now, ids, kinds, keys, payloads, attempts, available))
    return ids


@functools.lru_cache(maxsize=64)
def _insert_rows(n: int) -> str:
    return INSERT_SQL + ", (?, ?, ?, 'pending', ?, ?, ?, ?)" * (n - 1)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _start_many(s: Session, run: list[ops.Start], now: float) -> list[int]:
    ids = [op.message_id for op in run]
    attempts: dict[int, int] = {}
    for at in range(0, len(ids), _IDS_PER_STATEMENT):
        chunk = ids[at:at + _IDS_PER_STATEMENT]
        rows = s.all(
            "UPDATE messages SET state = 'running', attempts = attempts + 1, updated_at = ?"
            f" WHERE id IN ({_marks(len(chunk))}) AND state <> 'quarantined' RETURNING id, attempts",
            (now, *chunk),
        )
        attempts.update((int(r[0]), int(r[1])) for r in rows)
    missing = [i for i in ids if i not in attempts]
    if missing:
        raise _missing_message(s, "Start", missing[0])
    return [attempts[i] for i in ids]


def _done_many(s: Session, run: list[ops.Done], now: float) -> list[None]:
    ids = [op.message_id for op in run]
    for at in range(0, len(ids), _IDS_PER_STATEMENT):
        chunk = ids[at:at + _IDS_PER_STATEMENT]
        # Counted rather than RETURNING: sqlite3 drops and retakes the GIL for every row returned.
        deleted = s.execute(
            f"DELETE FROM messages WHERE id IN ({_marks(len(chunk))}) AND state <> 'quarantined'", chunk
        ).rowcount
        if deleted != len(chunk):
            # One gone or quarantined: the writer applies the batch again request by request,
            # and the request at fault fails on its own with what was wrong (``_done``).
            raise StoreError(f"Done: {len(chunk) - deleted} of {len(chunk)} messages were not there to delete")
    return [None] * len(ids)


_STATES_UPSERT = (
    "INSERT INTO actor_state (kind, key, state, version, updated_at) VALUES {}"
    " ON CONFLICT (kind, key) DO UPDATE SET state = excluded.state,"
    " version = actor_state.version + excluded.version, updated_at = excluded.updated_at"
    " RETURNING kind, key, version"
)
_STATES_PER_STATEMENT = 1000  # 5,000 parameters


def _put_state_many(s: Session, run: list[ops.PutState], now: float) -> list[int]:
    """Every actor's last state in one statement per thousand; each op's result is the version it made.

    An actor saved n times in the batch ends at n versions on (as n statements would leave it):
    the row carries n, added on conflict. One row per actor, as PostgreSQL refuses a
    statement that updates a row twice.
    """
    last: dict[tuple[str, str], ops.PutState] = {}
    times: dict[tuple[str, str], int] = {}
    for op in run:
        ident = (op.kind, op.key)
        last[ident] = op
        times[ident] = times.get(ident, 0) + 1
    rows = [(kind, key, op.encoded, times[kind, key], now) for (kind, key), op in last.items()]
    final: dict[tuple[str, str], int] = {}
    for at in range(0, len(rows), _STATES_PER_STATEMENT):
        chunk = rows[at:at + _STATES_PER_STATEMENT]
        sql = _STATES_UPSERT.format(", ".join(["(?, ?, ?, ?, ?)"] * len(chunk)))
        saved = s.all(sql, [v for row in chunk for v in row])
        final.update(((kind, key), int(version)) for kind, key, version in saved)
    # The k-th of an actor's n saves made the version n - k below its last.
    versions: list[int] = []
    for op in run:
        ident = (op.kind, op.key)
        times[ident] -= 1
        versions.append(final[ident] - times[ident])
    return versions


_IDS_PER_STATEMENT = 900
_SET_BASED: dict[type, Callable[[Session, Any, float], list[Any]]] = {
    ops.Insert: _insert_many,
    ops.Start: _start_many,
    ops.Done: _done_many,
    ops.PutState: _put_state_many,
}
# Ops that name an existing message by id: set-based statements reorder them,
# which is safe only while no message is named twice in one batch.
_BY_MESSAGE = (ops.Start, ops.Done, ops.Release, ops.Retry, ops.Quarantine)


def _reorderable(flat: Sequence[ops.Op]) -> bool:
    seen: set[int] = set()
    for op in flat:
        if isinstance(op, _BY_MESSAGE):
            if op.message_id in seen:
                return False
            seen.add(op.message_id)
    return True


def apply_batch(
    s: Session, requests: Sequence[Sequence[ops.Op]], now: float, claimed: Collection[int] = ()
) -> list[list[object]]:
    """Apply many requests in one transaction, each kind of frequent op in one statement per kind.

    The effect is the same as ``apply_ops`` on each request in turn: ops on
    different messages commute, Inserts keep their order (so mailbox FIFO
    holds), and an actor's saved states keep theirs (the last one stays, and
    its version counts every one). Set-based statements matter because sqlite3
    drops and retakes the GIL around every statement, and each retake can wait
    a switch interval while the hub is busy. An error fails the whole call (the writer then
    isolates the request that caused it).
    """
    flat = [op for request in requests for op in request]
    if not _reorderable(flat):
        return [apply_ops(s, request, now, claimed) for request in requests]
    results: list[object] = [None] * len(flat)
    groups: dict[type, list[int]] = {}
    rest: list[int] = []
    fences: list[ops.Fence] = []
    for i, op in enumerate(flat):
        if type(op) is ops.Fence:
            fences.append(op)
        elif type(op) in _SET_BASED:
            groups.setdefault(type(op), []).append(i)
        else:
            rest.append(i)
    if fences:
        # One check for every fence of the batch, before anything is written;
        # a refusal fails the batch, and the writer then finds which request it was.
        _check_fences(s, fences)
    for op_type in (ops.Insert, ops.Start, ops.Done, ops.PutState):
        positions = groups.get(op_type)
        if not positions:
            continue
        if op_type is ops.Insert:
            run: list[Any] = [flat[i] for i in positions]
            values: list[Any] = _insert_many(s, run, now, claimed)
        elif len(positions) == 1:
            values = [_APPLY[op_type](s, flat[positions[0]], now)]
        else:
            values = _SET_BASED[op_type](s, [flat[i] for i in positions], now)
        for i, value in zip(positions, values):
            results[i] = value
    for i in rest:
        results[i] = _apply_one(s, flat[i], now, claimed)
    out: list[list[object]] = []
    at = 0
    for request in requests:
        out.append(results[at:at + len(request)])
        at += len(request)
    return out

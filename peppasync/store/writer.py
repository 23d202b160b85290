"""The group-commit writer: one greenlet, one transaction for every request waiting.

Callers queue requests and wait on their own AsyncResult. The writer takes up
to ``batch_max`` waiting requests, applies them in one transaction and commits
once, so durability costs one fsync per batch instead of one per message.

A failure must hit only the request that caused it. If the batch transaction
fails, the batch runs again with a savepoint around each request; if even that
transaction cannot commit, each request gets its own transaction.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import gevent
import gevent.event
from gevent.event import AsyncResult

from peppasync.clock import Clock
from peppasync.errors import PeppasyncError, StoreError
from peppasync.metrics import Metrics
from peppasync.store import ops
from peppasync.store.applier import apply_batch, apply_ops
from peppasync.store.backend import Backend, Session

__all__ = ["Acknowledger", "Claimer", "CommitListener", "GroupWriter", "as_store_error"]

#: Told, in the writer greenlet and in id order, of every message a commit added
#: (by ``Insert``, ``InsertOnce`` with its ``also``, or ``Requeue``):
#: ``(message id, the Insert, commit time, claimed)``; it runs before any writer hears "ok".
CommitListener = Callable[[list[tuple[int, ops.Insert, float, bool]]], None]
#: Asked before a batch is applied whether (kind, key) takes a new message at
#: once (given how many it was already promised in this batch). A claimed
#: message is stored with its first attempt counted, so its actor skips the
#: Start commit; one that is not taken after all shows one attempt too many.
Claimer = Callable[[str, str, int], bool]

log = logging.getLogger("peppasync.store")

_BY_ID = itemgetter(0)


def as_store_error(exc: BaseException, url: str) -> PeppasyncError:
    """Our own errors unchanged; database errors as a StoreError naming the (redacted) URL."""
    if isinstance(exc, PeppasyncError):
        return exc
    # One line: libpq's messages carry a tab-indented hint on a second line.
    text = " ".join(str(exc).split()) or type(exc).__name__
    hint = ""
    if "no such table" in text or "does not exist" in text:
        hint = " (is the schema migrated? run `peppasync migrate`)"
    error = StoreError(f"store {url}: {type(exc).__name__}: {text}{hint}", url=url)
    error.__cause__ = exc
    return error


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


#: Told once a request committed, in the writer greenlet: its results, or the error that
#: failed it (``GroupWriter.submit``). It must not block.
Acknowledger = Callable[[list[Any] | None, BaseException | None], None]


class _Request:
    __slots__ = ("ack", "answered", "operations", "result")

    def __init__(self, operations: Sequence[ops.Op], ack: Acknowledger | None) -> None:
        self.operations = operations
        self.ack = ack
        # An AsyncResult only for a caller that waits: setting one costs a hub
        # callback, which the many actors' commits nobody waits on can do without.
        self.result: AsyncResult | None = AsyncResult() if ack is None else None
        self.answered = False

    def answer(self, results: list[Any] | None, error: BaseException | None) -> None:
        self.answered = True
        if self.ack is not None:
            try:
                self.ack(results, error)
            except Exception:  # noqa: BLE001 - one caller's bug must not fail the others' answers
                log.exception("commit acknowledger failed")
        elif error is not None:
            self.result.set_exception(error)  # type: ignore[union-attr]
        else:
            self.result.set(results)  # type: ignore[union-attr]


class GroupWriter:
    """Owns the writer greenlet; ``commits`` counts the transactions it committed."""

    def __init__(
        self, backend: Backend, url: str, clock: Clock, batch_max: int, metrics: Metrics | None
    ) -> None:
        self._backend = backend
        self._url = url
        self._clock = clock
        self._batch_max = batch_max
        self._metrics = metrics
        self._queue: deque[_Request] = deque()
        self._wake = gevent.event.Event()
        self._greenlet: gevent.Greenlet[None] | None = None
        self._closing = False
        self._busy = False
        self._inflight: list[_Request] = []
        self.commits = 0
        self.listeners: list[CommitListener] = []
        self.claimer: Claimer | None = None
        #: Called after each batch the claimer was asked about, once the listeners were told (or
        #: the batch failed): a reader that saw the messages it claimed now knows them claimed.
        self.settled: Callable[[], None] | None = None

    def submit(self, operations: Sequence[ops.Op], ack: Acknowledger | None = None) -> AsyncResult | None:
        """Queue a request: its AsyncResult, or None when ``ack`` is told instead."""
        if self._closing:
            raise StoreError(f"store {self._url} is closed", url=self._url)
        request = _Request(operations, ack)
        self._queue.append(request)
        if self._greenlet is None or self._greenlet.dead:
            # Also after the writer was killed (a bug, or a kill at shutdown):
            # a fresh one takes over the queue rather than leave it stranded.
            self._busy = False
            self._greenlet = gevent.spawn(self._run)
        if not self._busy:
            self._wake.set()
        return request.result

    def close(self) -> None:
        """Refuse new requests, commit every queued one, then stop the greenlet."""
        self._closing = True
        if self._greenlet is not None:
            self._wake.set()
            self._greenlet.join()

    def _run(self) -> None:
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                # While busy the writer looks at the queue again before it
                # sleeps, so submitters need not set the event.
                self._busy = True
                while self._queue:
                    n = min(len(self._queue), self._batch_max)
                    self._inflight = [self._queue.popleft() for _ in range(n)]
                    self._commit(self._inflight)
                    self._inflight = []
                self._busy = False
                if self._closing:
                    return
        except BaseException as exc:
            # Never leave a caller waiting forever on a writer that is gone. A
            # batch in flight may still commit: its callers hear "unknown".
            error = StoreError(
                f"store {self._url}: the writer stopped ({exc!r}); writes in flight may or may not"
                " have committed", url=self._url,
            )
            for request in [*self._inflight, *self._queue]:
                if not request.answered:
                    request.answer(None, error)
            self._inflight = []
            self._queue.clear()
            raise

    def _commit(self, batch: list[_Request]) -> None:
        started = time.perf_counter()
        now = self._clock.time()
        try:
            claimed = self._claims(batch)  # never raises: at worst nothing is claimed
            outcomes, commits = self._backend.write(lambda s: self._apply(s, batch, now, claimed))
        except Exception as exc:  # noqa: BLE001 - the connection itself failed: every request hears it
            outcomes, commits = [_Failed(exc)] * len(batch), 0
        self.commits += commits
        m = self._metrics
        if m is not None:
            # Down only when nothing committed for a reason of the database's own.
            up = commits > 0 or all(
                not isinstance(o, _Failed) or isinstance(o.error, PeppasyncError) for o in outcomes
            )
            m.store_up.set(1 if up else 0)
            if commits:
                m.store_commits_total.inc(commits)
                m.store_commit_batch_size.observe(len(batch))
                m.store_commit_duration_seconds.observe(time.perf_counter() - started)
        if commits and self.listeners:
            self._tell_listeners(batch, outcomes, now, claimed)
        self._settle()
        for request, outcome in zip(batch, outcomes):
            if type(outcome) is _Failed:
                request.answer(None, as_store_error(outcome.error, self._url))
            else:
                request.answer(outcome, None)  # type: ignore[arg-type]

    def _settle(self) -> None:
        settled = self.settled
        if self.claimer is not None and settled is not None:
            try:
                settled()
            except Exception:  # noqa: BLE001 - like a listener's, its bug must not fail the writes
                log.exception("commit claimer's settled hook failed")

    def _claims(self, batch: list[_Request]) -> frozenset[int]:
        claimer = self.claimer
        if claimer is None:
            return frozenset()
        promised: dict[tuple[str, str], int] = {}
        claimed: set[int] = set()
        try:
            for request in batch:
                for op in request.operations:
                    # An InsertOnce's messages are claimed as if inserted (a duplicate inserts none:
                    # its claims are only promised, which keeps the bound).
                    inserts = (op,) if type(op) is ops.Insert else (
                        (op.message, *op.also) if type(op) is ops.InsertOnce else ())
                    for insert in inserts:
                        if insert.available_at is not None:
                            continue
                        ident = (insert.kind, insert.key)
                        n = promised.get(ident, 0)
                        if claimer(insert.kind, insert.key, n):
                            claimed.add(id(insert))
                            promised[ident] = n + 1
        except Exception:  # noqa: BLE001 - a claimer's bug must not fail the writes
            log.exception("commit claimer failed; nothing in this batch is claimed")
            return frozenset()
        return frozenset(claimed)

    def _tell_listeners(
        self, batch: list[_Request], outcomes: list[object], now: float, claimed: frozenset[int]
    ) -> None:
        added: list[tuple[int, ops.Insert, float, bool]] = []
        for request, outcome in zip(batch, outcomes):
            if type(outcome) is _Failed:
                continue
            results: list[object] = outcome  # type: ignore[assignment]
            for op, r in zip(request.operations, results):
                if type(op) is ops.Insert:
                    added.append((int(r), op, now, id(op) in claimed))  # type: ignore[call-overload]
                elif type(op) is ops.InsertOnce and r.message_id is not None:  # type: ignore[attr-defined]
                    added.append((r.message_id, op.message, now, id(op.message) in claimed))  # type: ignore[attr-defined]
                    added.extend((i, m, now, id(m) in claimed)
                                 for i, m in zip(r.also, op.also, strict=True))  # type: ignore[attr-defined]
                elif type(op) is ops.Requeue and r.message is not None:  # type: ignore[attr-defined]
                    added.append((r.message_id, r.message, now, False))  # type: ignore[attr-defined]
        if not added:
            return
        added.sort(key=_BY_ID)  # a C key: no Python call per message
        for listener in self.listeners:
            try:
                listener(added)
            except Exception:  # noqa: BLE001 - a listener never stops the writer
                log.exception("commit listener failed")

    @staticmethod
    def _apply(
        s: Session, batch: list[_Request], now: float, claimed: frozenset[int] = frozenset()
    ) -> tuple[list[object], int]:
        """Runs where the backend puts writes (a DB thread for SQLite)."""
        try:
            s.begin()
            results: list[object] = list(apply_batch(s, [r.operations for r in batch], now, claimed))
            s.commit()
            return results, 1
        except Exception:  # noqa: BLE001 - find out below which request it was
            s.rollback()
        if len(batch) > 1:
            try:
                s.begin()
                results = []
                for r in batch:
                    s.savepoint()
                    try:
                        results.append(apply_ops(s, r.operations, now, claimed))
                        s.release()
                    except Exception as exc:  # noqa: BLE001 - this request alone fails
                        s.rollback_to()
                        s.release()
                        results.append(_Failed(exc))
                s.commit()
                return results, 1
            except Exception:  # noqa: BLE001 - the transaction as a whole failed
                s.rollback()
        results, commits = [], 0
        for r in batch:
            try:
                s.ensure()
                s.begin()
                results.append(apply_ops(s, r.operations, now, claimed))
                s.commit()
                commits += 1
            except Exception as exc:  # noqa: BLE001 - reported to that request's caller
                s.rollback()
                results.append(_Failed(exc))
        return results, commits

"""ConcurrencyLimiter: at most ``limit`` calls in flight; waiters go by priority lane, then by their place in line.

A caller's place in line is when the work it is doing began: by default the
moment it asked for a slot (plain FIFO), or, inside ``placed_at``, the time an
order was placed. An order whose webhook was lost, or whose call failed and is
tried again, then waits where its placement puts it, not behind every order
that reached the engine before it. The head start is bounded
(``MAX_HEAD_START``): an update to an order placed months ago goes ahead of at
most that much of the line.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from enum import IntEnum

import gevent

__all__ = ["MAX_HEAD_START", "ConcurrencyLimiter", "Priority", "placed_at"]

#: Seconds ahead of its arrival a placement can put a caller in line.
MAX_HEAD_START = 600.0

_placed: ContextVar[float | None] = ContextVar("peppasync_placed_at", default=None)


@contextmanager
def placed_at(when: float | None) -> Iterator[None]:
    """Calls made inside the block wait in line as of ``when`` (epoch seconds; None: as they arrive)."""
    token = _placed.set(when)
    try:
        yield
    finally:
        _placed.reset(token)


class Priority(IntEnum):
    """The lanes callers use; any int works, higher is admitted first.

    ``HIGH`` is for work whose delay the user sees at once and that is small beside
    the bulk: shipment news on its way to Shopify, stock numbers for Shopify, the
    next call of an order whose ERP work has already begun. ``NORMAL`` is
    everything else (new work, reads in bulk). ``RECONCILE`` is the reconciler's:
    connectors give it a reserved slot (see ``ConcurrencyLimiter``'s ``reserved``),
    so the sweep that finds what webhooks missed goes on however deep a surge is.
    ``BACKGROUND`` is for reads nothing waits on (a margin's payment fees and unit
    costs): admitted after every other lane (save the limiter's turn for the oldest
    waiter), so a sale's stock numbers and orders do not queue behind them.
    """

    BACKGROUND = -1
    NORMAL = 0
    HIGH = 1
    RECONCILE = 2


class _Waiter:
    __slots__ = ("place", "priority", "greenlet", "admitted", "queued", "gone")

    def __init__(self, place: tuple[float, int], priority: int) -> None:
        self.place = place  # (time in line, arrival number): lower goes first
        self.priority = priority
        self.greenlet = gevent.getcurrent()
        self.admitted = False
        self.queued = False  # woken through the hub's queue of callbacks
        self.gone = False

    def __lt__(self, other: _Waiter) -> bool:
        return self.place < other.place


class ConcurrencyLimiter:
    """A counting gate whose limit can change at runtime and which can be paused.

    Waiters park on their own ``gevent.event.Event``, so a waiting greenlet only
    yields to the hub and never blocks it. A free slot goes to the oldest waiter of
    the highest priority waiting, except that every ``oldest_every``-th admission in
    a row that passed over an older waiter goes to the oldest waiter of any lane:
    a lower lane keeps at least that share of the admissions however busy the
    higher ones are, so it cannot starve. The share, unlike an age threshold, needs
    no clock and no guess of how deep a backlog gets: a queue of minutes is as
    fair as one of seconds. ``oldest_every=1`` is plain FIFO. Pausing stops
    admissions (calls in flight finish); nothing is dropped. ``on_inflight`` is
    told every change of the in-flight count.

    ``reserved`` gives lanes slots of their own, on top of ``limit``: a ``slot`` in
    such a lane is taken at once while fewer than its reservation are held, and
    waits like any other once they are all in use. A share of the shared slots,
    or a priority, is not enough for work that must not wait behind a surge: the
    shared slots may all be held by calls that wait for the API's own budget. The
    reservation is a floor for that lane, and costs the API at most that many
    calls beyond the limit.

    On a cluster, ``set_share`` caps the shared slots further at this node's share
    of a cap the nodes hold together (``peppasync.store.limits.SharedLimit``; 0
    admits nothing), and ``on_wait`` is told when a caller has to wait, so the
    share can grow at once.

    A slot a call gives back goes to the next waiter at once: the releasing
    greenlet switches to it, and goes on itself after the ready greenlets queued
    before it. Woken the usual way (an event's callback), the waiter would run only
    after all of them, and the slot would hold no call meanwhile: in a surge,
    milliseconds of every call to the API whose slots are scarce.
    """

    def __init__(self, limit: int, *, on_inflight: Callable[[int], None] | None = None,
                 oldest_every: int = 4, reserved: Mapping[int, int] | None = None,
                 now: Callable[[], float] = time.time) -> None:
        if limit < 1:
            raise ValueError(f"a concurrency limit must be at least 1, got {limit}")
        if oldest_every < 1:
            raise ValueError(f"oldest_every must be at least 1 (1 is plain FIFO), got {oldest_every}")
        if any(n < 0 for n in (reserved or {}).values()):
            raise ValueError(f"a lane's reserved slots must be 0 or more, got {dict(reserved or {})}")
        self._reserved = {int(lane): n for lane, n in (reserved or {}).items() if n > 0}
        self._reserved_held: dict[int, int] = {}
        self._limit = limit
        self._share: int | None = None
        self._cap = limit  # min(limit, share): what admissions compare with
        #: Told when a caller has to wait for a slot (a cluster's shared limit grows its share).
        self.on_wait: Callable[[], None] | None = None
        self._inflight = 0
        self._paused = False
        # Each lane a heap of its waiters by place in line; one killed while waiting is marked gone.
        self._lanes: dict[int, list[_Waiter]] = {}
        self._counts: dict[int, int] = {}
        self._now = now
        self._waiting = 0
        self._seq = 0
        self._oldest_every = oldest_every
        self._passed_over = 0
        self._to_wake = 0  # admitted waiters woken through the hub that have not gone on yet
        self._on_inflight = on_inflight or (lambda n: None)

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def inflight(self) -> int:
        """Calls in flight, in the shared slots and the reserved ones."""
        return self._inflight + sum(self._reserved_held.values())

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def paused(self) -> bool:
        return self._paused

    def waiting_by_priority(self) -> dict[int, int]:
        """How many callers wait in each lane (lanes with none are left out)."""
        return dict(sorted(self._counts.items(), reverse=True))

    def set_limit(self, limit: int) -> None:
        """Change the limit; a raise admits waiters at once, a cut lets calls in flight finish."""
        if limit < 1:
            raise ValueError(f"a concurrency limit must be at least 1, got {limit}")
        self._limit = limit
        self._cap = limit if self._share is None else min(limit, self._share)
        self._admit()

    def set_share(self, share: int | None) -> None:
        """This node's share of a cap shared by a cluster (None: no such cap); 0 admits nothing."""
        if share is not None and share < 0:
            raise ValueError(f"a share is 0 or more, got {share}")
        self._share = share
        self._cap = self._limit if share is None else min(self._limit, share)
        self._admit()

    @property
    def share(self) -> int | None:
        return self._share

    @property
    def inflight_shared(self) -> int:
        """Calls in flight in the shared slots (not the reserved ones)."""
        return self._inflight

    def pause(self) -> None:
        """Admit nothing until ``resume``; callers keep waiting in order."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._admit()

    def acquire(self, priority: int = Priority.NORMAL) -> None:
        """Wait (cooperatively) for a slot; ``priority`` picks the lane (higher goes first).

        Within a lane, callers go by their place in line (see ``placed_at``).
        """
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise TypeError(f"a priority is an int (see Priority), got {priority!r}")
        if not self._paused and not self._waiting and self._inflight < self._cap:
            self._take()
            return
        now = self._now()
        placed = _placed.get()
        line = now if placed is None else min(now, max(placed, now - MAX_HEAD_START))
        waiter = _Waiter((line, self._seq), int(priority))
        self._seq += 1
        heapq.heappush(self._lanes.setdefault(waiter.priority, []), waiter)
        self._counts[waiter.priority] = self._counts.get(waiter.priority, 0) + 1
        self._waiting += 1
        if self.on_wait is not None:
            self.on_wait()
        hub = gevent.get_hub()
        try:
            while not waiter.admitted:
                hub.switch()  # until _wake switches back
        except BaseException:
            # Killed while waiting: give the slot back if it was already handed over.
            if waiter.admitted:
                self._to_wake -= waiter.queued
                self.release()
            else:
                self._remove(waiter)
            raise
        self._to_wake -= waiter.queued

    def release(self) -> None:
        self._inflight -= 1
        self._on_inflight(self.inflight)
        self._admit(hand_over=True)

    @contextmanager
    def slot(self, priority: int = Priority.NORMAL) -> Iterator[None]:
        """Hold one slot for the duration of the block: a reserved one of the lane when one is free."""
        lane = int(priority)
        if not self._paused and self._reserved_held.get(lane, 0) < self._reserved.get(lane, 0):
            self._reserved_held[lane] = self._reserved_held.get(lane, 0) + 1
            self._on_inflight(self.inflight)
            try:
                yield
            finally:
                self._reserved_held[lane] -= 1
                self._on_inflight(self.inflight)
            return
        self.acquire(priority)
        try:
            yield
        finally:
            self.release()

    def _take(self) -> None:
        self._inflight += 1
        self._on_inflight(self.inflight)

    def _admit(self, *, hand_over: bool = False) -> None:
        admitted: list[_Waiter] = []
        while not self._paused and self._waiting and self._inflight < self._cap:
            self._take()
            admitted.append(self._pop())
        for n, waiter in enumerate(admitted):
            self._wake(waiter, hand_over=hand_over and n == len(admitted) - 1)

    def _wake(self, waiter: _Waiter, *, hand_over: bool) -> None:
        """Let an admitted waiter go on: at once (the caller goes on later), or when the hub gets to it.

        At once only when no waiter admitted before it is still to go on, so that they go on in
        the order they were admitted.
        """
        waiter.admitted = True
        hub = gevent.get_hub()
        current = gevent.getcurrent()
        if hand_over and not self._to_wake and current is not hub and waiter.greenlet is not current:
            hub.loop.run_callback(current.switch)
            waiter.greenlet.switch()
        else:
            waiter.queued = True
            self._to_wake += 1
            hub.loop.run_callback(waiter.greenlet.switch)

    def _first(self, priority: int) -> _Waiter:
        lane = self._lanes[priority]
        while lane[0].gone:
            heapq.heappop(lane)
        return lane[0]

    def _pop(self) -> _Waiter:
        top = self._first(max(self._counts))
        oldest = min(self._first(priority) for priority in self._counts)
        if top is oldest or self._passed_over + 1 >= self._oldest_every:
            chosen = oldest
            self._passed_over = 0
        else:
            chosen = top
            self._passed_over += 1
        heapq.heappop(self._lanes[chosen.priority])  # the first of its lane, as _first left it
        self._gone(chosen)
        return chosen

    def _remove(self, waiter: _Waiter) -> None:
        waiter.gone = True  # dropped from its heap when it comes to the top
        self._gone(waiter)

    def _gone(self, waiter: _Waiter) -> None:
        lane = waiter.priority
        self._counts[lane] -= 1
        if not self._counts[lane]:
            del self._counts[lane]
            del self._lanes[lane]
        self._waiting -= 1

"""Greenlets for the actors that have work, none for those that wait.

A durable actor owns no greenlet. Its inbox, when a message goes into it and the
actor is not already scheduled, puts the actor on the run queue; a worker
greenlet takes it from there and runs it until its inbox is empty. So 100,000
active actors that wait for their next message hold no greenlet, no saved
stack and no queue of gevent's each: only their own objects.

One actor never runs on two workers at once: it is on the run queue, or in a
worker, or neither (``Inbox.scheduled``). What it sets in context variables
stays its own, as it did when each actor had its own greenlet: a worker runs
each actor in the actor's own ``contextvars.Context``.

A handler may block (an ERP call, a commit it waits for), and its worker waits
with it. Workers are not a fixed pool: a worker that takes an actor while more
wait on the run queue, and no other worker is free, starts a spare first, so
that the queue moves on if this actor blocks. A worker ends when the run
queue is empty.

The workers take turns on the hub together: once actors have run for ``_SLICE``
seconds since the hub last polled its sockets, the next worker to take one waits
for the hub's next cycle first (an answer on a socket, a due timer, the store's
commits), whichever worker it is. A turn per worker, or ``gevent.sleep(0)``, is not
enough: it puts the worker behind the greenlets that are ready, and gevent runs up
to 50 of those before it polls again. In a surge's ingest, each of hundreds of
new orders runs on a spare worker until it waits for the ERP, and an ERP slot's
answer waited for dozens of them, 15 ms on average, a third of its slots idle.
"""

from __future__ import annotations

import contextvars
import time
from collections import deque
from typing import Any, Protocol

import gevent

__all__ = ["Dispatcher", "Inbox", "Runnable", "dispatcher"]

#: How long the workers run actors, all of them together, before the hub polls its sockets again.
_SLICE = 0.002


def _next_cycle() -> None:
    """Wait for the hub's next cycle: its sockets polled, its due timers fired.

    A timer due at once fires only after the poll; ``gevent.sleep(0)`` is a callback,
    run before it. Costs a few microseconds when nothing else is waiting.
    """
    hub = gevent.get_hub()
    timer = hub.loop.timer(0.0)
    try:
        hub.wait(timer)
    finally:
        timer.close()


class Runnable(Protocol):
    def run_inbox(self) -> None:
        """Handle what the inbox holds, until it is empty or the actor stopped."""


class Inbox:
    """An actor's inbox (pykka's ``ActorInbox``): a deque, and the actor's place on the run queue.

    The deque is there only while it holds something (``items`` is None otherwise): an empty
    deque keeps a block of 64 slots, over 600 bytes, and most of 100,000 active actors wait with
    an empty inbox. Its runner drops it once it has emptied it (``release``).
    """

    __slots__ = ("_actor", "context", "items", "scheduled")

    def __init__(self, actor: Runnable) -> None:
        # Strong, as a thread of its own would keep it: an actor nobody refers to
        # still takes the stop it was sent. ``closed`` breaks the cycle once it stopped.
        self._actor: Runnable | None = actor
        self.items: deque[Any] | None = None
        #: On the run queue or in a worker: a put then needs no scheduling.
        self.scheduled = False
        #: The actor's own context variables, as a greenlet of its own had them.
        self.context = contextvars.Context()

    def put(self, envelope: Any, /) -> None:
        items = self.items
        if items is None:
            items = self.items = deque()
        items.append(envelope)
        if not self.scheduled:
            actor = self._actor
            if actor is not None:
                self.scheduled = True
                dispatcher.schedule(actor)

    def release(self) -> None:
        """Drop the deque if it is empty (its runner has taken everything from it)."""
        if not self.items:
            self.items = None

    def close(self) -> None:
        """The actor stopped: nothing puts it on the run queue again, and it can be freed."""
        self._actor = None

    def get(self) -> Any:
        if not self.items:
            raise IndexError("get from an empty inbox")
        return self.items.popleft()

    def empty(self) -> bool:
        return not self.items

    def qsize(self) -> int:
        return len(self.items) if self.items else 0


class Dispatcher:
    """The run queue of actors with work, and the worker greenlets that run them."""

    def __init__(self) -> None:
        self._ready: deque[Runnable] = deque()
        self._free = 0  # workers not inside an actor: between two, or letting the hub run
        self.workers = 0
        self._turn = time.monotonic()  # when the hub last polled its sockets (a check watcher tells)
        self._polls: Any = None

    def schedule(self, actor: Runnable) -> None:
        """Run ``actor`` soon (its inbox has work); the caller made sure it is not scheduled already."""
        self._ready.append(actor)
        if self._free == 0:
            self._spawn()

    def _spawn(self) -> None:
        loop = gevent.get_hub().loop
        if self._polls is None or self._polls.loop is not loop:
            # Told after each poll, on this hub's loop (a new hub has a new one); keeps no hub alive.
            self._polls = loop.check(ref=False)
            self._polls.start(self._polled)
        self._free += 1
        self.workers += 1
        gevent.spawn(self._work)

    def _polled(self) -> None:
        self._turn = time.monotonic()

    def _work(self) -> None:
        ready = self._ready
        clock = time.monotonic
        try:
            while ready:
                if clock() - self._turn > _SLICE:
                    _next_cycle()  # then this worker runs one actor at least, whatever the watcher says
                    if not ready:
                        break
                actor = ready.popleft()
                if ready and self._free == 1:
                    self._spawn()  # a spare: if this actor blocks, the queue goes on without it
                self._free -= 1
                try:
                    actor.run_inbox()
                finally:
                    self._free += 1
        finally:
            self._free -= 1
            self.workers -= 1


#: One run queue per process: every durable actor runs on the hub's greenlets.
dispatcher = Dispatcher()

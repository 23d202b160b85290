"""The actor system: virtual actors addressed by (kind, key), activated on demand.

The registry is a dict, so lookups stay O(1) with 100,000 actors (pykka's own
registry is a list). The number of active actors is capped: beyond the cap,
messages wait in the store and a sweep activates their actors as room frees
up, so memory stays bounded under any backlog and no caller ever blocks.

A crashed actor is restarted as its supervisor decides (``supervision``, see
``supervisors.KeyedSupervisor``): it is held back, from wakes and sweeps
alike, until its jittered backoff is over, then activated again; or, when its
kind exceeded its restart intensity, the system reports the escalation to
``on_fault`` and its own supervisor (``ActorSystemHost`` under the root)
takes over.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

import gevent
import pykka

from peppasync.clock import Clock
from peppasync.exits import Exit, ExitKind, Restart
from peppasync.store import Message, Store, ops

from actors.durable import PASSIVATE, WAKE, ActorContext, DurableActor, PoisonPolicy
from actors.hooks import ActorHooks

__all__ = ["ActorSystem", "Supervision"]

log = logging.getLogger("peppasync.actors")

_ACTIVATORS = 2
_ACTIVATION_BATCH = 500


class Supervision(Protocol):
    """Decides what a crashed actor deserves (implemented in ``supervisors/``)."""

    def crashed(self, kind: str, key: str, exit: Exit) -> Restart: ...

    def ended(self, kind: str, key: str) -> None: ...

    def reset(self) -> None: ...


class ActorSystem:
    """Hosts the durable actors of every registered kind."""

    #: Messages an actor holds at once; also how many a crash may run twice per actor.
    DEFAULT_PREFETCH = 16

    def __init__(
        self,
        store: Store,
        policy: PoisonPolicy,
        *,
        clock: Clock,
        supervision: Supervision,
        hooks: ActorHooks | None = None,
        prefetch: int = DEFAULT_PREFETCH,
        idle_seconds: float = 60.0,
        max_active: int = 50_000,
        sweep_interval: float = 1.0,
        services: Mapping[str, Any] | None = None,
        max_sweep_failures: int = 30,
    ) -> None:
        self.store = store
        self.clock = clock
        self.hooks = hooks or ActorHooks()
        self.context = ActorContext(
            system=self,
            store=store,
            policy=policy,
            clock=clock,
            hooks=self.hooks,
            prefetch=prefetch,
            idle_seconds=idle_seconds,
            services=dict(services or {}),
        )
        self._kinds: dict[str, type[DurableActor]] = {}
        self._active: dict[tuple[str, str], DurableActor] = {}
        self._woken: set[tuple[str, str]] = set()
        self._activating: dict[tuple[str, str], None] = {}
        self._rewake: set[tuple[str, str]] = set()
        self._activators: set[gevent.Greenlet] = set()
        self._to_load: deque[tuple[str, str]] = deque()  # in _activating, not yet read
        self._restarting: dict[tuple[str, str], gevent.Greenlet] = {}  # crashed, waiting for their delay
        self._max_active = max_active
        self._sweep_interval = sweep_interval
        self._sweeper: gevent.Greenlet | None = None
        self._idler: gevent.Greenlet | None = None
        self._idle_seconds = idle_seconds
        self._stopping = False
        self._max_sweep_failures = max_sweep_failures
        self.supervision = supervision
        self._escalated = False
        #: Told once when the system cannot go on (the store is gone, a kind gave up): its supervisor acts.
        self.on_fault: Callable[[Exit], None] | None = None

    # -- configuration -------------------------------------------------------

    def register(self, actor_class: type[DurableActor]) -> None:
        """Make ``actor_class.kind`` addressable."""
        if actor_class.kind in self._kinds:
            raise ValueError(f"actor kind {actor_class.kind!r} is registered twice")
        self._kinds[actor_class.kind] = actor_class

    @property
    def kinds(self) -> list[str]:
        return sorted(self._kinds)

    # -- messaging -----------------------------------------------------------

    def tell(self, kind: str, key: str, payload: dict[str, Any], *, delay: float = 0.0) -> int:
        """Persist a message for (kind, key), then wake its actor; returns the message id."""
        self._check_kind(kind)
        at = self.clock.time() + delay if delay > 0 else None
        message_id = int(self.store.write([ops.Insert(kind, key, payload, at)])[0])
        if delay <= 0:
            self.wake(kind, key)
        return message_id

    def wake(self, kind: str, key: str, *, reread: bool = False) -> None:
        """Make sure (kind, key) looks at its mailbox: tell it, or activate it.

        Messages committed through the store are handed to their active actor
        as they commit; ``reread`` says the mailbox changed otherwise (a
        quarantined message put back), so the actor must read it.
        """
        if self._stopping or kind not in self._kinds:
            return
        ident = (kind, key)
        if ident in self._restarting:
            return  # crashed: it starts again, and reads its mailbox, when its delay is over
        actor = self._active.get(ident)
        if actor is not None:
            if reread:
                actor.mark_stale()
            if ident in self._woken:
                return  # a wake is already queued: one drain will see both messages
            try:
                actor.actor_ref.tell(WAKE)
                self._woken.add(ident)
                return
            except pykka.ActorDeadError:
                self._active.pop(ident, None)
        if ident in self._activating:
            self._rewake.add(ident)  # it may have been read before this message was stored
            return
        if len(self._active) + len(self._activating) >= self._max_active:
            return  # the sweep activates it when there is room
        self._activate(kind, key)

    def passivate_all(self) -> None:
        """Ask every active actor to passivate once it has handled what it holds (frees memory)."""
        for actor in list(self._active.values()):
            try:
                actor.actor_ref.tell(PASSIVATE)
            except pykka.ActorDeadError:
                pass

    def active(self, kind: str | None = None) -> int:
        if kind is None:
            return len(self._active)
        return sum(1 for k, _ in self._active if k == kind)

    def is_active(self, kind: str, key: str) -> bool:
        return (kind, key) in self._active

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Resume every mailbox with pending messages, then keep sweeping."""
        self._stopping = False
        self._escalated = False
        self.supervision.reset()
        self.store.listen(self._committed, claimer=self._claim)
        self.sweep()
        self._sweeper = gevent.spawn(self._sweep_forever)
        self._idler = gevent.spawn(self._passivate_idle_forever)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every actor; what they had not handled stays in the store."""
        self._stopping = True
        self.store.unlisten(self._committed)
        for greenlet in (self._sweeper, self._idler):
            if greenlet is not None:
                greenlet.kill()
        self._sweeper = self._idler = None
        for activator in list(self._activators):
            activator.kill()
        self._activators.clear()
        self._to_load.clear()
        self._activating.clear()
        self._rewake.clear()
        for timer in self._restarting.values():
            timer.kill(block=False)
        self._restarting.clear()
        refs = [actor.actor_ref for actor in self._active.values()]
        self._active.clear()
        self._woken.clear()
        for ref in refs:
            try:
                ref.stop(block=False)
            except pykka.ActorDeadError:
                pass
        with gevent.Timeout(timeout, False):
            for ref in refs:
                ref.actor_stopped.wait()

    def sweep(self) -> int:
        """Activate actors whose messages are ready but who are not active; returns how many.

        An active actor that has sat idle for a whole sweep interval while a
        message of its is ready is told to read its mailbox: that message was
        stored where no commit of ours could hand it over (another process,
        e.g. ``peppasync quarantine retry``).
        """
        if self._stopping:
            return 0
        room = self._max_active - len(self._active) - len(self._activating)
        idle_before = self.clock.monotonic() - self._sweep_interval
        woken = 0
        limit = max(room, 0) + len(self._active) + len(self._restarting)
        for kind, key in self.store.pending_keys(now=self.clock.time(), limit=limit):
            ident = (kind, key)
            actor = self._active.get(ident)
            if actor is not None:
                if 0.0 < actor.idle_since <= idle_before and ident not in self._woken:
                    self.wake(kind, key, reread=True)
                continue
            if ident in self._activating or ident in self._restarting or kind not in self._kinds:
                continue
            if len(self._active) + len(self._activating) >= self._max_active:
                continue  # no room, but the active ones further on may still need a wake
            self._activate(kind, key)
            woken += 1
        return woken

    # -- called by actors ----------------------------------------------------

    def draining(self, kind: str, key: str) -> None:
        """The actor is about to read its mailbox: a later message needs a new wake."""
        self._woken.discard((kind, key))

    def passivate(self, actor: DurableActor) -> None:
        """Called from inside an idle actor: unregister it first, then let it stop."""
        if self._active.get((actor.kind, actor.key)) is actor:
            del self._active[(actor.kind, actor.key)]
            self._woken.discard((actor.kind, actor.key))
        actor.stop()

    def on_actor_exit(self, actor: DurableActor, exit: Exit) -> None:
        ident = (actor.kind, actor.key)
        if self._active.get(ident) is actor:
            del self._active[ident]
            self._woken.discard(ident)
        self.hooks.on_deactivated(actor.kind, exit)
        if exit.abnormal and not self._stopping:
            restart = self.supervision.crashed(actor.kind, actor.key, exit)
            if restart.escalation is not None:
                log.error(
                    "actor crashed; its kind gave up restarting",
                    exc_info=exit.exc_info,
                    extra={"kind": actor.kind, "key": actor.key, "error": exit.detail},
                )
                self._fault(restart.escalation)
                return
            self._restarting[ident] = gevent.spawn_later(restart.delay, self._restart, actor.kind, actor.key)
            log.error(
                "actor crashed; restarting",
                exc_info=exit.exc_info,
                extra={"kind": actor.kind, "key": actor.key, "error": exit.detail, "delay": restart.delay},
            )
        elif exit.kind is ExitKind.NORMAL:
            self.supervision.ended(actor.kind, actor.key)

    # -- internals -----------------------------------------------------------

    def _restart(self, kind: str, key: str) -> None:
        self._restarting.pop((kind, key), None)
        self.wake(kind, key)

    def _activate(self, kind: str, key: str) -> None:
        # Activations asked for in the same moment share one read of their
        # state and first messages: one query for a burst, not two per actor.
        self._activating[(kind, key)] = None
        self._to_load.append((kind, key))
        self._spawn_activator()

    def _spawn_activator(self) -> None:
        # Two activators: one reads the next batch (on the second reader
        # connection) while the other starts the actors of the batch before.
        if len(self._activators) < _ACTIVATORS and not self._stopping:
            self._activators.add(gevent.spawn(self._activate_batch))

    def _activate_batch(self) -> None:
        try:
            gevent.sleep(0)  # let the wakes of this moment gather
            while self._to_load and not self._stopping:
                batch: list[tuple[str, str]] = []
                while self._to_load and len(batch) < _ACTIVATION_BATCH:
                    ident = self._to_load.popleft()
                    if ident in self._activating:
                        batch.append(ident)
                by_kind: dict[str, list[str]] = {}
                for kind, key in batch:
                    by_kind.setdefault(kind, []).append(key)
                for kind, keys in by_kind.items():
                    try:
                        loaded = self.store.load_many(kind, keys, limit=self.context.prefetch)
                    except Exception as exc:
                        log.warning("activation read failed; the sweep retries", extra={"error": repr(exc)})
                        loaded = {}
                    claimed = self._claim_first(loaded)
                    for key in keys:
                        ident = (kind, key)
                        if key not in loaded or ident in self._active:
                            self._activating.pop(ident, None)
                            continue
                        state, messages = loaded[key]
                        if messages and messages[0].id in claimed:
                            messages = [replace(messages[0], attempts=claimed[messages[0].id]), *messages[1:]]
                        # Starting yields to other greenlets: the key stays in
                        # _activating meanwhile, so a wake then is noted, not lost.
                        self._active[ident] = self._kinds[kind].spawn(key, self.context, (state, messages), claimed)
                        self._activating.pop(ident, None)
                        # A commit since the read: the actor reads once it has
                        # handled what it was given.
                        if ident in self._rewake:
                            self._rewake.discard(ident)
                            self.wake(kind, key, reread=True)
        finally:
            self._activators.discard(gevent.getcurrent())
            if self._to_load:
                self._spawn_activator()

    def _claim(self, kind: str, key: str, promised: int) -> bool:
        actor = self._active.get((kind, key))
        return actor is not None and actor.takes(promised)

    def _committed(self, added: list[tuple[int, ops.Insert, float, bool]]) -> None:
        # The writer calls this in id order, before any sender hears of its
        # commit: an active actor gets its new messages without a read.
        active = self._active
        for item in added:
            op = item[1]
            ident = (op.kind, op.key)
            actor = active.get(ident)
            if actor is not None:
                actor.offer(*item)
            elif ident in self._activating:
                # Its activation may have read the mailbox before this commit.
                self._rewake.add(ident)

    def _passivate_idle_forever(self) -> None:
        # One sweep for every actor instead of a timer each: a timer per actor
        # costs a greenlet (memory) and a spawn per drain (time).
        interval = min(max(self._idle_seconds / 4, 0.01), 5.0)
        while True:
            gevent.sleep(interval)
            horizon = self.clock.monotonic() - self._idle_seconds
            for ident, actor in list(self._active.items()):
                if actor.idle_since and actor.idle_since <= horizon and ident not in self._woken:
                    try:
                        actor.actor_ref.tell(actor.idle_message())
                    except pykka.ActorDeadError:
                        pass

    def _claim_first(self, loaded: Mapping[str, tuple[Any, list[Message]]]) -> dict[int, int]:
        # Count the first attempt of each actor's first message in one commit
        # for the whole batch, instead of one Start round trip per actor.
        now = self.clock.time()
        firsts = [msgs[0].id for _, msgs in loaded.values()
                  if msgs and msgs[0].state == "pending" and msgs[0].available_at <= now]
        submitted = [(message_id, self.store.submit([ops.Start(message_id)])) for message_id in firsts]
        claimed: dict[int, int] = {}
        for message_id, result in submitted:
            try:
                claimed[message_id] = int(result.get()[0])
            except Exception:  # noqa: BLE001 - the actor's own Start finds out what is wrong
                pass
        return claimed

    def _sweep_forever(self) -> None:
        failures = 0
        while True:
            gevent.sleep(self._sweep_interval)
            try:
                self.sweep()
                failures = 0
            except Exception as exc:
                failures += 1
                log.warning("mailbox sweep failed", extra={"error": repr(exc), "failures": failures})
                if failures >= self._max_sweep_failures:
                    # The store has not answered for a while: let supervision decide.
                    self._fault(Exit.failure(exc, "store unreachable"))
                    return

    def _fault(self, exit: Exit) -> None:
        if self._escalated or self.on_fault is None:
            return
        self._escalated = True
        self.on_fault(exit)

    def _check_kind(self, kind: str) -> None:
        if kind not in self._kinds:
            raise ValueError(f"no actor kind {kind!r}; registered: {', '.join(self.kinds) or 'none'}")


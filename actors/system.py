"""The actor system: virtual actors addressed by (kind, key), activated on demand.

How a message reaches its actor (the commit listener, activation, the sweep)
and the rules it keeps (FIFO per actor, at least once, no lost wake) are
``actors.delivery``'s. The system registers the kinds, starts and stops
delivery, passivates idle actors and hands crashes to supervision.

The number of active actors is capped: beyond the cap, messages wait in the
store and the sweep activates their actors as room frees up, so memory stays
bounded under any backlog and no caller ever blocks.

On a cluster, ``ownership`` says which keys this node may handle (see
``actors.delivery``); without it the node handles every key.

A crashed actor is restarted as its supervisor decides (``supervision``, see
``supervisors.KeyedSupervisor``): it is held back, from delivery and sweeps
alike, until its jittered backoff is over, then activated again; or, when its
kind exceeded its restart intensity, the system reports the escalation to
``on_fault`` and its own supervisor (``ActorSystemHost`` under the root)
takes over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import gevent
import pykka

from peppasync.clock import Clock
from peppasync.exits import Exit, ExitKind, Restart
from peppasync.store import Store, ops

from actors.delivery import Delivery, Ownership
from actors.durable import PASSIVATE, ActorContext, DurableActor, PoisonPolicy
from actors.hooks import ActorHooks

__all__ = ["ActorSystem", "Supervision"]

log = logging.getLogger("peppasync.actors")


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
        ownership: Ownership | None = None,
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
        self._restarting: dict[tuple[str, str], gevent.Greenlet] = {}  # crashed, waiting for their delay
        #: How committed messages reach their actors (see ``actors.delivery``).
        self.delivery = Delivery(
            self.context, self._kinds, max_active=max_active, sweep_interval=sweep_interval, held=self._restarting,
            ownership=ownership,
        )
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
        """Persist a message for (kind, key); its commit delivers it. Returns the message id."""
        self._check_kind(kind)
        at = self.clock.time() + delay if delay > 0 else None
        message_id = int(self.store.write([ops.Insert(kind, key, payload, at)])[0])
        if at is None and not self.delivery.listening:
            self.delivery.wake(kind, key)  # not started yet: no commit listener to deliver it
        return message_id

    def wake(self, kind: str, key: str, *, reread: bool = False) -> None:
        """Make sure (kind, key) looks at its mailbox: tell it, or activate it.

        Messages committed through this process's store reach their actor
        without it; ``reread`` says the mailbox changed otherwise (another
        process stored a message), so the actor must read it.
        """
        self.delivery.wake(kind, key, reread=reread)

    def passivate_all(self) -> None:
        """Ask every active actor to passivate once it has handled what it holds (frees memory)."""
        for actor in self.delivery.actors():
            try:
                actor.actor_ref.tell(PASSIVATE)
            except pykka.ActorDeadError:
                pass

    def active(self, kind: str | None = None) -> int:
        return self.delivery.active(kind)

    def is_active(self, kind: str, key: str) -> bool:
        return self.delivery.is_active(kind, key)

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Resume every mailbox with pending messages, then keep sweeping."""
        self._stopping = False
        self._escalated = False
        self.supervision.reset()
        self.delivery.open()
        self.delivery.sweep()
        self._sweeper = gevent.spawn(self._sweep_forever)
        self._idler = gevent.spawn(self._passivate_idle_forever)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every actor; what they had not handled stays in the store."""
        self._stopping = True
        for greenlet in (self._sweeper, self._idler):
            if greenlet is not None:
                greenlet.kill()
        self._sweeper = self._idler = None
        refs = [actor.actor_ref for actor in self.delivery.close()]
        for timer in self._restarting.values():
            timer.kill(block=False)
        self._restarting.clear()
        for ref in refs:
            try:
                ref.stop(block=False)
            except pykka.ActorDeadError:
                pass
        with gevent.Timeout(timeout, False):
            for ref in refs:
                ref.actor_stopped.wait()

    def sweep(self) -> int:
        """Activate actors whose messages are ready but who are not active (see ``Delivery.sweep``)."""
        return self.delivery.sweep()

    # -- called by actors ----------------------------------------------------

    def passivate(self, actor: DurableActor) -> None:
        """Called from inside an idle actor: unregister it first, then let it stop."""
        self.delivery.forget(actor)
        actor.stop()

    def on_actor_exit(self, actor: DurableActor, exit: Exit) -> None:
        self.delivery.forget(actor)
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
            self._restarting[(actor.kind, actor.key)] = gevent.spawn_later(
                restart.delay, self._restart, actor.kind, actor.key)
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
        self.delivery.wake(kind, key)

    def _passivate_idle_forever(self) -> None:
        # One sweep for every actor instead of a timer each: a timer per actor
        # costs a greenlet (memory) and a spawn per drain (time).
        interval = min(max(self._idle_seconds / 4, 0.01), 5.0)
        while True:
            gevent.sleep(interval)
            for actor in self.delivery.idle(self.clock.monotonic() - self._idle_seconds):
                try:
                    actor.actor_ref.tell(actor.idle_message())
                except pykka.ActorDeadError:
                    pass

    def _sweep_forever(self) -> None:
        failures = 0
        while True:
            gevent.sleep(self._sweep_interval)
            try:
                self.delivery.sweep()
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

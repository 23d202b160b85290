"""The durable actor: pykka's mailbox in front, the store's mailbox of record behind.

A message is in the store before anyone is told of it; how it reaches the
actor, and the FIFO and at-least-once rules, are ``actors.delivery``'s. The
actor handles what its ``Mailbox`` gives it: it counts the attempt in the
store *before* the handler runs (so a process killed mid-message cannot loop
on it forever), and marks it done in the same transaction as the state it
saved and the messages it sent. A failing handler never stops the actor: the
poison policy decides between a later retry (the key waits, so order holds)
and quarantine (the key moves on).

A busy actor counts the attempts of the messages it has read (at most
``prefetch``) in one commit, and the messages it has handled are marked done
together, with one copy of its state (the last). So a crash charges an attempt
to messages read but not yet handled, as it does to messages claimed when they
were stored; the poison policy allows for a few such crashes before it
quarantines.
"""

from __future__ import annotations

import copy
import logging
import os
import pickle
import sys
import traceback
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import gevent
import pykka
from gevent.event import Event
from greenlet import GreenletExit

from peppasync.clock import Clock
from peppasync.errors import FencedError, NotFoundError, PeppasyncError
from peppasync.exits import Exit, ExitListener, Verdict
from peppasync.store import Message, Store, ops

from actors.delivery import WAKE, Mailbox, ready_to_start
from actors.dispatch import Inbox, dispatcher
from actors.guard import current_guard
from actors.hooks import ActorHooks

if TYPE_CHECKING:
    from actors.system import ActorSystem

__all__ = ["PASSIVATE", "WAKE", "ActorContext", "DurableActor", "HandlerCrashedError", "PoisonPolicy"]

log = logging.getLogger("peppasync.actors")

_ALL = float("inf")
#: How long what handled messages decided may wait to commit with the next one's: handlers
#: that take longer (a vendor call) commit their results on their own, without waiting.
_CARRY_FOR = 0.01


class PoisonPolicy(Protocol):
    """Decides what a failed message deserves (implemented in ``supervisors/``)."""

    def decide(self, attempts: int, error: BaseException, now: float) -> Verdict: ...


class HandlerCrashedError(PeppasyncError):
    """The process died while a handler ran this message (found on recovery)."""

    reason = "crashed"


@dataclass(frozen=True)
class ActorContext:
    """Everything an actor needs from its host, injected at construction."""

    system: ActorSystem
    store: Store
    policy: PoisonPolicy
    clock: Clock
    hooks: ActorHooks
    prefetch: int = 16
    idle_seconds: float = 60.0
    services: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Idle:
    token: int | None  # None: passivate now, whatever the timer says


@dataclass(frozen=True)
class _Fault:
    error: BaseException


PASSIVATE = _Idle(None)


class DurableActor(pykka.ThreadingActor):
    """Base of every actor addressed by (kind, key); subclasses implement ``handle``."""

    kind: ClassVar[str] = "actor"
    #: One per cluster, whatever its key: on a cluster it runs on the leader (``peppasync.store.leases``).
    singleton: ClassVar[bool] = False
    #: Started ahead of other kinds when many actors are activated at once (``actors.delivery``): for
    #: short handlers someone waits on, not for those that wait on an ERP anyway.
    starts_first: ClassVar[bool] = False
    #: Its handlers never change in place what the state's keys hold: they put a new value
    #: instead (copy on write). Each handler gets a shallow copy of the state, whose keys it may
    #: set and remove; a failed handler's state is then put back as it was, without the deep
    #: copy taken before every message. ``PEPPASYNC_CHECK_REPLACED_STATE=1`` checks the promise
    #: on every message (the test suite sets it).
    replaces_state: ClassVar[bool] = False
    actor_inbox: Inbox  # pykka's protocol, and the run queue's (``actors.dispatch``)

    def __init__(
        self,
        key: str,
        context: ActorContext,
        on_exit: ExitListener | None = None,
        preload: tuple[tuple[dict[str, Any], int] | None, list[Message]] | None = None,
        fence: ops.Fence | None = None,
        claimed: Collection[int] = (),
    ) -> None:
        # pykka's fields (``pykka.Actor.__init__``, pinned below 5 in setup.cfg), for an actor
        # that owns no greenlet (``actors.dispatch``): its inbox is a deque that schedules it,
        # and its stopped flag a gevent event rather than a threading one over patched locks.
        # Its reference is made when first asked for: most actors are only ever told
        # through their inbox (``actors.delivery``), and 100,000 references weigh 19 MB.
        self.actor_inbox = Inbox(self)
        self.actor_stopped = Event()
        self.__ref: pykka.ActorRef[Any] | None = None
        self.__started = False
        self.key = key
        # On a cluster: in front of every write, so none commits once our lease moved on.
        self.__fence = fence
        self.__preload = preload
        self.state: dict[str, Any] = {}
        self._ctx = context
        self.__on_exit = on_exit
        self.__unacked = 0  # commits not waited for, not yet acknowledged
        self.__settled: Event | None = None  # set when they are, for whoever waits
        self.__state_dirty = False
        self.__outbox: list[ops.Insert | ops.Audit] = []
        self.__after: list[Callable[[], None]] = []
        self.__idle_token = 0
        self.idle_since = 0.0  # monotonic; read by the system's idle sweep
        self.__ran_from = self.__ran_to = 0.0  # monotonic: when the last handler started, and ended
        self.__wake_timer: gevent.Greenlet | None = None
        self.__wake_at = 0.0
        self.__passivated = False
        self.__reported = False
        #: What delivery handed over since the last read (``actors.delivery``).
        self.mailbox = Mailbox(context.prefetch, preload is not None, claimed)

    @property
    def actor_urn(self) -> str:  # type: ignore[override]
        """pykka's name for this actor (in its reference, and its ``str``): kind, key, and which activation."""
        return f"urn:peppasync:{self.kind}:{self.key}:{id(self):x}"

    @property
    def actor_ref(self) -> pykka.ActorRef[Any]:
        ref = self.__ref
        if ref is None:
            ref = self.__ref = pykka.ActorRef(self)
        return ref

    @property
    def committing(self) -> bool:
        """Whether commits it did not wait for (its last messages' completions) are still on their way."""
        return self.__unacked > 0

    # -- what subclasses use -------------------------------------------------

    def handle(self, message: Message) -> None:
        """Handle one durable message; raise to fail it (the policy decides what next)."""
        raise NotImplementedError

    def send(self, kind: str, key: str, payload: dict[str, Any], *, delay: float = 0.0) -> None:
        """Send a durable message, committed together with this message's completion."""
        at = self._ctx.clock.time() + delay if delay > 0 else None
        self.__outbox.append(ops.Insert(kind, key, payload, at))

    def audit(self, who: str, action: str, detail: dict[str, Any]) -> None:
        """Append to the audit log, committed together with this message's completion."""
        self.__outbox.append(ops.Audit(who, action, f"{self.kind}:{self.key}", detail))

    def on_success(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once this message's handler has succeeded (events, metrics)."""
        self.__after.append(fn)

    def save_state(self) -> None:
        """Persist ``self.state`` together with this message's completion."""
        self.__state_dirty = True

    def service(self, name: str) -> Any:
        """A collaborator the host injected (a connector, the catalogue)."""
        try:
            return self._ctx.services[name]
        except KeyError:
            raise LookupError(f"{self.kind} actor needs service {name!r}, which the host did not provide") from None

    @property
    def clock(self) -> Clock:
        return self._ctx.clock

    @property
    def hooks(self) -> ActorHooks:
        return self._ctx.hooks

    def loaded(self) -> None:
        """Called once the persisted state is loaded, before the first message."""

    # -- pykka lifecycle -----------------------------------------------------

    def _start_actor_loop(self) -> None:
        # No greenlet of its own: a worker runs it (``on_start``, then its inbox).
        self.actor_inbox.scheduled = True
        dispatcher.schedule(self)

    def run_inbox(self) -> None:
        """Called by a worker (``actors.dispatch``): pykka's loop, for what the inbox holds now."""
        inbox = self.actor_inbox
        try:
            inbox.context.run(self.__run_inbox, inbox)
        finally:
            inbox.scheduled = False

    def __run_inbox(self, inbox: Inbox) -> None:
        if not self.__started:
            self.__started = True
            self._actor_loop_setup()
        items, stopped = inbox.items, self.actor_stopped
        # As pykka's ``_actor_loop_running``, but for what is in the inbox, not forever.
        # (A handler that waits may see more put into this same deque meanwhile.)
        while items and not stopped.is_set():
            envelope = items.popleft()
            message = envelope.message
            try:
                # A wake (most of what an actor is told) skips pykka's checks for its own messages.
                response = self.on_receive(message) if message is WAKE else self._handle_receive(message)
                if envelope.reply_to is not None:
                    envelope.reply_to.set(response)
            except Exception:
                if envelope.reply_to is not None:
                    envelope.reply_to.set_exception()
                else:
                    self._handle_failure(*sys.exc_info())
                    try:
                        self.on_failure(*sys.exc_info())
                    except Exception:
                        self._handle_failure(*sys.exc_info())
            except BaseException as exc:
                # Unlike pykka, not every actor of the registry: this one stops; an
                # interrupt of the process goes on up.
                self._stop()
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
        if stopped.is_set():
            self._actor_loop_teardown()
            inbox.close()
        inbox.release()

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> pykka.ActorRef[Any]:
        """Start without pykka's registry: it is a list, O(n) per stop at 100,000 actors.

        The actor system keeps its own dict; keeping out of pykka's list also
        keeps these actors out of ``ActorRegistry.stop_all()``.
        """
        obj = cls(*args, **kwargs)
        obj._start_actor_loop()
        return obj.actor_ref

    @classmethod
    def spawn(
        cls, key: str, context: ActorContext,
        preload: tuple[tuple[dict[str, Any], int] | None, list[Message]] | None = None,
        fence: ops.Fence | None = None,
        claimed: Collection[int] = (),
    ) -> DurableActor:
        """Start one and return the actor itself (the system hands it messages directly).

        ``fence``: its lease on a cluster, as it was before ``preload`` was read. ``claimed``:
        messages stored with their first attempt counted for it (``Delivery.claim``).
        """
        obj = cls(key, context, None, preload, fence, claimed)
        obj._start_actor_loop()
        return obj

    def _stop(self) -> None:
        self.__settle()  # whoever waits for us to stop may read the store next
        self.actor_stopped.set()
        try:
            self.on_stop()
        except Exception:
            log.exception("on_stop failed", extra={"kind": self.kind, "key": self.key})

    def _handle_failure(self, exception_type: Any, exception_value: Any, tb: Any) -> None:
        log.error(
            "actor failed",
            exc_info=(exception_type, exception_value, tb),
            extra={"kind": self.kind, "key": self.key},
        )
        self.actor_stopped.set()

    def on_start(self) -> None:
        try:
            # The system reads many actors' state and first messages in one
            # query when it activates them together; otherwise read our own.
            preload, self.__preload = self.__preload, None
            found = preload[0] if preload is not None else self._ctx.store.get_state(self.kind, self.key)
            if found is not None:
                self.state = found[0]
            self.loaded()
            self._ctx.hooks.on_activated(self.kind)
            self.__drain(preload[1] if preload is not None else None)
        except BaseException as exc:  # noqa: BLE001 - nothing may reach pykka's loop
            self.__report(_fenced(exc) or Exit.failure(exc, "failed to start"))
            self.stop()
            if isinstance(exc, (SystemExit, KeyboardInterrupt)):
                raise

    def on_receive(self, message: Any) -> Any:
        try:
            if message is WAKE:
                if self.__passivated:
                    # Told after we stopped taking messages: a new activation reads them.
                    self._ctx.system.delivery.wake(self.kind, self.key)
                else:
                    self.__drain()
            elif isinstance(message, _Idle):
                idle = message.token in (self.__idle_token, None) and not (message.token and self.mailbox.handed)
                if idle and not self.__passivated:
                    self.__passivated = True
                    self.mailbox.closed = True
                    self.__settle()  # a successor must not read what we are still committing
                    self._ctx.system.passivate(self)
            elif isinstance(message, _Fault):
                raise message.error
        except (Exception, gevent.Timeout, GreenletExit) as exc:
            # The store failed under us: crash cleanly so the host restarts us;
            # every message is still in the store. Fenced: another node owns us
            # now, and we just stop.
            self.__report(_fenced(exc) or Exit.failure(exc, "mailbox failure"))
            self.stop()
        return None

    def on_stop(self) -> None:
        self.__cancel_timers()
        self.__report(Exit.normal() if self.__passivated else Exit.shutdown())

    def on_failure(self, exception_type: Any, exception_value: Any, tb: Any) -> None:
        self.__cancel_timers()
        self.__report(Exit.failure(exception_value))

    # -- the mailbox loop ----------------------------------------------------

    def idle_message(self) -> object:
        """The message that passivates this actor unless it handles something first."""
        return _Idle(self.__idle_token)

    def __drain(self, first: list[Message] | None = None) -> None:
        # Zero while draining: the system's sweeps read it as "busy", not "idle since".
        self.idle_since = 0.0
        try:
            self.__drain_batches(first)
        finally:
            self.idle_since = self._ctx.clock.monotonic()

    def __drain_batches(self, first: list[Message] | None) -> None:
        ctx = self._ctx
        delivery, mailbox = ctx.system.delivery, self.mailbox
        carry: list[ops.Op] = []
        carried_at = 0.0  # when the oldest of what ``carry`` holds was handled
        while not self.__passivated:
            delivery.draining(self.kind, self.key)
            batch, claimed = mailbox.next_batch(first, self.__read)
            first = None
            if not batch:
                break
            # Messages claimed at insert (nearly all of them under load) need no Start.
            started = self.__start_all(batch, claimed, carry) if len(claimed) < len(batch) else None
            if started is not None:
                batch, claimed, carry = started
            for i, msg in enumerate(batch):
                now = ctx.clock.time()
                if msg.available_at > now:
                    self.__commit([*carry, *mailbox.hold(batch[i:], claimed)])
                    self.__schedule_wake(msg.available_at - now)
                    return
                if msg.state == "running" and msg.id not in claimed:
                    died = ctx.policy.decide(msg.attempts, HandlerCrashedError("handler crashed"), now)
                    if died.quarantine:
                        carry.append(_quarantine(msg, died, HandlerCrashedError("process died while handling")))
                        ctx.hooks.on_message(self.kind, "quarantined", 0.0)
                        continue
                fence = self.__fence
                if fence is not None and not delivery.current(fence):
                    # Our lease moved on, or may have (not renewed within its TTL): the
                    # next owner handles the rest; what we finished commits if it still can.
                    self.__commit(carry)
                    self.__guard()
                if msg.id in claimed:
                    attempts = msg.attempts  # counted when it was stored
                    running = msg if msg.state == "running" else msg.started(attempts)
                else:
                    try:
                        attempts = int(self.__commit([*carry, ops.Start(msg.id)])[-1])
                    except NotFoundError:
                        # Gone from the store (a duplicate webhook removed by its
                        # receiver): nothing to handle. What we carried still commits.
                        self.__commit(carry)
                        carry = []
                        continue
                    carry = []
                    running = msg.started(attempts)
                fresh = not carry
                done, verdict = self.__run(running, attempts)
                if fresh:
                    carried_at = self.__ran_from
                if verdict is None or verdict.quarantine:
                    carry += done
                    if self.__ran_to - carried_at > _CARRY_FOR:
                        # A slow handler (or many): what it decided (messages to other actors)
                        # does not wait for the next handler, which may be as slow.
                        self.__commit(carry, wait=False)
                        carry = []
                else:
                    # FIFO: the messages behind it wait; their attempts were not used.
                    self.__commit([*carry, *done, *mailbox.hold(batch[i + 1:], claimed)])
                    self.__schedule_wake(max(0.0, verdict.retry_at - ctx.clock.time()))
                    return
            # The batch's last completion commits while we look for more: a
            # read waits for it, and a handed-over message has a newer id.
            self.__commit(carry, wait=False)
            carry = []
            if mailbox.batch_done():
                break  # nothing was handed over meanwhile, nor left in the store unread
        self.__idle_token += 1

    def __read(self) -> list[Message]:
        self.__settle()  # what we are still committing changes what the read finds
        return self._ctx.store.pending(self.kind, self.key, limit=self._ctx.prefetch, now=_ALL)

    def __start_all(
        self, batch: list[Message], claimed: set[int], carry: list[ops.Op]
    ) -> tuple[list[Message], set[int], list[ops.Op]] | None:
        """Count the attempts of the batch's ready messages in one commit (with ``carry``).

        Returns the batch as started (running, attempts counted), the claimed ids
        and an empty carry; None when there is nothing to gain or one message is
        gone from the store, in which case each is started on its own.
        """
        ready = ready_to_start(batch, claimed, self._ctx.clock.time())
        if len(ready) < 2:
            return None
        try:
            results = self.__commit([*carry, *(ops.Start(message_id) for message_id in ready)])
        except NotFoundError:
            return None
        attempts = dict(zip(ready, (int(a) for a in results[len(results) - len(ready):])))
        started = [m.started(attempts[m.id]) if m.id in attempts else m for m in batch]
        return started, claimed | attempts.keys(), []

    def __run(self, msg: Message, attempts: int) -> tuple[list[ops.Op], Verdict | None]:
        ctx = self._ctx
        before = self.state  # what a kind that replaces its state puts back as it is
        saved = None if self.replaces_state else _snapshot(before)
        witness = _snapshot(before) if saved is None and _CHECK_REPLACED else None
        if saved is None:
            self.state = dict(before)
        self.__outbox = []
        self.__after = []
        self.__state_dirty = False
        started = self.__ran_from = ctx.clock.monotonic()
        token = current_guard.set(self.__guard) if self.__fence is not None else None
        try:
            self.handle(msg)
        except FencedError:
            # Not the message's fault: our lease moved on (or may have) mid-handler. The
            # actor stops; the next owner handles the message.
            self.state = before if saved is None else _restore(saved)
            raise
        except (Exception, gevent.Timeout, GreenletExit) as exc:
            self.state = before if saved is None else _restore(saved)
            self.__outbox = []
            self.__after = []
            verdict = ctx.policy.decide(attempts, exc, ctx.clock.time())
            self.__ran_to = ctx.clock.monotonic()
            seconds = self.__ran_to - started
            if verdict.quarantine:
                log.warning(
                    "message quarantined",
                    extra={"kind": self.kind, "key": self.key, "message_id": msg.id,
                           "reason": verdict.reason, "error": repr(exc)},
                )
                ctx.hooks.on_message(self.kind, "quarantined", seconds)
                return [_quarantine(msg, verdict, exc)], verdict
            ctx.hooks.on_message(self.kind, "retry", seconds)
            return [ops.Retry(msg.id, verdict.retry_at, _describe(exc))], verdict
        finally:
            if token is not None:
                current_guard.reset(token)
            if witness is not None and _snapshot(before) != witness:
                _changed_in_place(self.kind, self.key)
        # At least once: the message is done only when this Done commits (``actors.delivery``).
        out: list[ops.Op] = [ops.Done(msg.id), *self.__outbox]
        if self.__state_dirty:
            out.append(_SAVE_STATE)  # encoded when it commits: one copy for every message in the commit
        self.__outbox = []
        after, self.__after = self.__after, []
        for fn in after:
            fn()
        self.__ran_to = ctx.clock.monotonic()
        ctx.hooks.on_message(self.kind, "ok", self.__ran_to - started)
        return out, None

    def __guard(self) -> None:
        fence = self.__fence
        if fence is not None and not self._ctx.system.delivery.current(fence):
            raise FencedError(fence.lease, fence.epoch, None)

    def __commit(self, operations: list[ops.Op], *, wait: bool = True) -> list[Any]:
        """Commit ``operations``; their results, in their order (what goes in front has its own)."""
        if not operations:
            return []
        front: list[ops.Op] = [] if self.__fence is None else [self.__fence]
        save = False
        for op in operations:  # a loop rather than any(): no generator to call, once per message
            if op is _SAVE_STATE:
                save = True
                break
        if save:
            # The state now is the state after the last message these ops complete.
            operations = [op for op in operations if op is not _SAVE_STATE]
            front.append(ops.PutState(self.kind, self.key, self.state))
        if front:
            operations = [*front, *operations]
        if not wait:
            self._ctx.store.post(operations, partial(self.__acked, operations))
            self.__unacked += 1  # acknowledged in the writer's greenlet, never before this returns
            return []
        results = self._ctx.store.write(operations)
        self.__after_commit(operations)
        return results[len(front):]

    def __acked(self, operations: list[ops.Op], results: list[Any] | None, error: BaseException | None) -> None:
        # In the writer's greenlet, in commit order: nothing here may block.
        self.__unacked -= 1
        if error is None:
            self.__after_commit(operations)
        else:
            # Our state is ahead of the store now: crash, and restart from the store.
            self.__tell_self(_Fault(error))
        settled = self.__settled
        if not self.__unacked and settled is not None:
            self.__settled = None
            settled.set()

    def __settle(self) -> None:
        if self.__unacked:
            if self.__settled is None:
                self.__settled = Event()
            self.__settled.wait(timeout=30)

    def __after_commit(self, operations: list[ops.Op]) -> None:
        # What we sent reached its actor with the commit (``actors.delivery``);
        # a delayed message to ourselves needs our own timer.
        for op in operations:
            if type(op) is ops.Insert and op.available_at is not None and (op.kind, op.key) == (self.kind, self.key):
                delay = op.available_at - self._ctx.clock.time()
                if delay > 0:
                    self.__schedule_wake(delay)

    # -- timers --------------------------------------------------------------

    def __schedule_wake(self, delay: float) -> None:
        at = self._ctx.clock.monotonic() + delay
        if self.__wake_timer is not None and not self.__wake_timer.dead and self.__wake_at <= at:
            return
        if self.__wake_timer is not None:
            self.__wake_timer.kill(block=False)
        self.__wake_at = at
        self.__wake_timer = gevent.spawn_later(delay, self.__tell_self, WAKE)

    def __tell_self(self, message: object) -> None:
        try:
            self.actor_ref.tell(message)
        except pykka.ActorDeadError:
            pass

    def __cancel_timers(self) -> None:
        timer = self.__wake_timer
        if timer is not None and timer is not gevent.getcurrent():
            timer.kill(block=False)

    def __report(self, exit: Exit) -> None:
        if self.__reported:
            return
        self.__reported = True
        if gevent.getcurrent() is not gevent.get_hub():
            self.__settle()
        try:
            self._ctx.system.on_actor_exit(self, exit)
        finally:
            if self.__on_exit is not None:
                self.__on_exit(exit)


def _fenced(exc: BaseException) -> Exit | None:
    if not isinstance(exc, FencedError):
        return None
    log.info("actor stopped: its lease moved on to another node, or was not renewed in time",
             extra={"lease": exc.lease, "epoch": exc.epoch, "current": exc.current})
    return Exit.shutdown("fenced")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


#: Whether to check on every message that kinds which declare ``replaces_state`` keep to it.
_CHECK_REPLACED = os.environ.get("PEPPASYNC_CHECK_REPLACED_STATE", "") not in ("", "0")
#: (kind, key) of every handler found changing its old state in place (``_CHECK_REPLACED``).
CHANGED_IN_PLACE: list[tuple[str, str]] = []


def _changed_in_place(kind: str, key: str) -> None:
    CHANGED_IN_PLACE.append((kind, key))
    log.error("a handler changed the state it was to replace: a failed message would leave it changed",
              extra={"kind": kind, "key": key})


def _snapshot(state: dict[str, Any]) -> bytes | dict[str, Any]:
    # The state as it was before a handler, to put back if the handler fails.
    # A pickle of plain data is a deep copy at a tenth of deepcopy's cost
    # (which mattered for actors whose state holds hundreds of entries); it is
    # only ever read back by this process.
    if not state:
        return {}
    try:
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return copy.deepcopy(state)


def _restore(saved: bytes | dict[str, Any]) -> dict[str, Any]:
    restored: dict[str, Any] = pickle.loads(saved) if isinstance(saved, bytes) else saved  # noqa: S301 - our own bytes
    return restored


_SAVE_STATE: Any = object()  # in a list of ops: "and the actor's state as it is at commit"


def _quarantine(msg: Message, verdict: Verdict, exc: BaseException) -> ops.Quarantine:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return ops.Quarantine(msg.id, verdict.reason, type(exc).__name__, tb)

"""The supervisor actor: starts children, restarts them by strategy, gives up by intensity.

OTP's supervisor on pykka. Children start in list order and stop in reverse.
A child that ends is restarted (or not) by its restart type; the strategy says
which siblings go down and come back with it; every restart is counted
against the restart intensity, and one restart too many makes the supervisor
stop all its children and end with a failure its parent handles. A backoff
delays restarts through the scheduler, so the supervisor never sleeps.

Each child is found by id in a dict that keeps start order, so a child's
end costs O(1) whatever the number of children; only the strategies that must
look at siblings (one_for_all, rest_for_one) walk them. Its children are the
specs it was started with: children started on demand (the actors of
``actors.ActorSystem``) are supervised by ``KeyedSupervisor`` instead.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import gevent
import pykka
from greenlet import GreenletExit
from pykka.typing import ActorMemberMixin, proxy_method

from peppasync.backoff import Backoff
from peppasync.clock import Clock, SystemClock
from peppasync.exits import Exit

from .child import SupervisedActor
from .errors import RestartIntensityExceededError
from .hooks import SupervisorHooks, as_hooks
from .intensity import RestartHistory, RestartIntensity
from .restart import RestartPolicy, Streak
from .scheduler import GeventScheduler, Scheduled, Scheduler
from .spec import ChildSpec, RestartType
from .strategy import OneForOneStrategy, RestartStrategy

__all__ = ["SupervisorActor", "SupervisorProxy"]

log = logging.getLogger("peppasync.supervisors")

_GUARDED = (Exception, gevent.Timeout, GreenletExit)


@dataclass(frozen=True)
class _ChildExited:
    child_id: str
    incarnation: int
    exit: Exit


@dataclass(frozen=True)
class _RestartDue:
    token: int
    ids: tuple[str, ...]
    cause: Exit
    delay: float


@dataclass(frozen=True)
class _StartFailed:
    child_id: str
    token: int
    exit: Exit
    cause: Exit | None
    delay: float


class _Child:
    """One child's record. Running: ``ref`` is set. Waiting for a restart: ``due`` is set."""

    __slots__ = ("attempts", "due", "incarnation", "ref", "restarts", "spec", "streak")

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.ref: pykka.ActorRef[Any] | None = None
        self.incarnation = 0
        self.due = 0
        self.attempts = 0
        self.restarts = 0
        self.streak = Streak()


class SupervisorActor(SupervisedActor):
    """Supervises children given as ``ChildSpec`` values; itself a child of its parent.

    Message API (through ``proxy()``): ``which_children``. A child whose start
    raises counts as a failed child.
    """

    kind = "supervisor"

    def __init__(
        self,
        children: Sequence[ChildSpec] = (),
        *,
        name: str = "supervisor",
        strategy: RestartStrategy | None = None,
        intensity: RestartIntensity | None = None,
        backoff: Backoff | None = None,
        reset_after: float | None = None,
        clock: Clock | None = None,
        scheduler: Scheduler | None = None,
        hooks: SupervisorHooks | Iterable[SupervisorHooks] | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(name, str) or not name:
            raise ValueError(f"a supervisor needs a non-empty name, got {name!r}")
        specs = list(children)
        for spec in specs:
            if not isinstance(spec, ChildSpec):
                raise TypeError(f"supervisor {name!r}: children must be ChildSpec values, got {spec!r}")
        duplicates = sorted(i for i, n in Counter(spec.id for spec in specs).items() if n > 1)
        if duplicates:
            raise ValueError(f"supervisor {name!r}: child ids must be unique, repeated: {duplicates}")
        strategy = strategy if strategy is not None else OneForOneStrategy()
        if not isinstance(strategy, RestartStrategy):
            raise TypeError(f"supervisor {name!r}: strategy must be a RestartStrategy, got {strategy!r}")
        try:
            policy = RestartPolicy(intensity, backoff, reset_after)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"supervisor {name!r}: {exc}") from None
        self.name = name
        self.strategy = strategy
        self.policy = policy
        self.intensity = policy.intensity
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.scheduler: Scheduler = scheduler if scheduler is not None else GeventScheduler()
        self._hooks = as_hooks(hooks)
        self._specs = specs
        self._children: dict[str, _Child] = {}
        self._history = RestartHistory()
        self._timers: dict[int, Scheduled] = {}
        self._tokens = 0
        self._stopping = False

    # -- the message API -----------------------------------------------------

    def which_children(self) -> list[tuple[str, bool, int]]:
        """Every child in start order as (id, alive, restarts so far)."""
        return [
            (child_id, child.ref is not None and child.ref.is_alive(), child.restarts)
            for child_id, child in self._children.items()
        ]

    # -- lifecycle -----------------------------------------------------------

    def on_start(self) -> None:
        token = self._next_token()
        for spec in self._specs:
            child = _Child(spec)
            child.due = token
            self._children[spec.id] = child
        try:
            self._start_group(token, tuple(self._children), cause=None, delay=0.0)
        except BaseException:
            self._stop_children()
            raise

    def on_receive(self, message: Any) -> Any:
        if self._stopping:
            return None
        if isinstance(message, _ChildExited):
            self._on_child_exited(message)
        elif isinstance(message, _RestartDue):
            self._timers.pop(message.token, None)
            self._start_group(message.token, message.ids, message.cause, message.delay)
        elif isinstance(message, _StartFailed):
            self._on_start_failed(message)
        else:
            # Told, an error would stop the supervisor and its whole subtree: say so, go on.
            log.warning(
                "supervisor ignored an unknown message",
                extra={"supervisor": self.name, "unknown": repr(message)},
            )
        return None

    def on_stop(self) -> None:
        self._stop_children()

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        log.error("supervisor failed", exc_info=(exception_type, exception_value, traceback),
                  extra={"supervisor": self.name, "error": repr(exception_value)})
        self._stop_children()

    # -- supervision ---------------------------------------------------------

    def _on_child_exited(self, message: _ChildExited) -> None:
        child = self._children.get(message.child_id)
        if child is None or child.ref is None or child.incarnation != message.incarnation:
            return  # an incarnation already replaced or terminated
        child.ref = None
        child.incarnation = 0
        self._child_ended(child, message.exit)

    def _on_start_failed(self, message: _StartFailed) -> None:
        child = self._children.get(message.child_id)
        if child is None or child.ref is not None or child.due != message.token:
            return  # terminated meanwhile, or taken over by a later restart
        child.due = 0
        if self._child_ended(child, message.exit) or self._stopping:
            return
        # Not to be restarted (temporary): nothing will take over the children
        # held back behind it, so they start now. A rare path; the scan is fine.
        held = tuple(i for i, c in self._children.items() if c.due == message.token)
        self._start_group(message.token, held, message.cause, message.delay)

    def _child_ended(self, child: _Child, exit: Exit) -> bool:
        """Apply the restart type, intensity and strategy; returns whether a restart follows."""
        spec = child.spec
        self._hooks.on_child_exited(self.name, spec.id, spec.kind, exit)
        if exit.abnormal:
            log.warning(
                "child failed",
                exc_info=exit.exc_info,
                extra={"supervisor": self.name, "child": spec.id, "error": exit.detail},
            )
        if not spec.restart.restarts_after(exit):
            if spec.restart is RestartType.TEMPORARY:
                del self._children[spec.id]
            return False
        now = self.clock.monotonic()
        delay, self._history, child.streak = self.policy.decide(self._history, child.streak, now)
        if delay is None:
            self._escalate(child, exit)
            return True
        members: list[str] = []
        for child_id in reversed(self.strategy.affected(spec.id, iter(self._children))):
            sibling = self._children[child_id]
            if sibling is not child:
                if sibling.ref is not None:
                    self._terminate(sibling)
                    if sibling.spec.restart is RestartType.TEMPORARY:
                        del self._children[child_id]
                        continue
                elif not sibling.due:
                    continue  # ended for good earlier (a transient child that finished)
            members.append(child_id)
        members.reverse()
        token = self._next_token()
        for child_id in members:
            self._children[child_id].due = token
        group = tuple(members)
        if delay <= 0:
            self._start_group(token, group, exit, 0.0)
        else:
            due = _RestartDue(token, group, exit, delay)
            self._timers[token] = self.scheduler.call_later(delay, partial(self._tell_self, due))
        return True

    def _start_group(self, token: int, ids: tuple[str, ...], cause: Exit | None, delay: float) -> None:
        held: set[str] = set()
        for child_id in ids:
            child = self._children.get(child_id)
            if child is None or child.due != token or child_id in held:
                continue  # terminated, taken over by a later restart, or behind a failed start
            error = self._start(child)
            if error is not None:
                # Handled as the child's failure, in a message of its own: an
                # always-failing start then cannot recurse, and other messages
                # (a stop) get their turn between attempts. Whoever the
                # strategy ties to this child waits for that restart.
                failed = Exit.failure(error, f"failed to start: {error!r}")
                self._tell_self(_StartFailed(child_id, token, failed, cause, delay))
                held.update(self.strategy.affected(child_id, iter(self._children)))
                continue
            if cause is not None and child.attempts > 1:  # else its first start, held back till now
                child.restarts += 1
                self._hooks.on_child_restarted(self.name, child_id, child.spec.kind, cause, delay)

    def _start(self, child: _Child) -> BaseException | None:
        spec = child.spec
        incarnation = self._next_token()
        child.attempts += 1
        try:
            ref = spec.start(partial(_report, self.actor_ref, spec.id, incarnation))
        except _GUARDED as exc:
            return exc
        if not isinstance(ref, pykka.ActorRef):
            return TypeError(f"start of child {spec.id!r} returned {ref!r}, not a pykka.ActorRef")
        child.ref = ref
        child.incarnation = incarnation
        child.due = 0
        child.streak = child.streak.started(self.clock.monotonic())
        self._hooks.on_child_started(self.name, spec.id, spec.kind)
        return None

    def _terminate(self, child: _Child) -> None:
        ref, child.ref, child.incarnation, child.due = child.ref, None, 0, 0
        if ref is None:
            return
        spec = child.spec
        try:
            ref.stop(block=True, timeout=spec.stop_timeout)
        except pykka.Timeout:
            log.error(
                "child did not stop within its shutdown time; abandoned",
                extra={"supervisor": self.name, "child": spec.id, "shutdown": spec.shutdown},
            )
        except _GUARDED:
            log.exception("stopping a child failed", extra={"supervisor": self.name, "child": spec.id})
        self._hooks.on_child_exited(self.name, spec.id, spec.kind, Exit.shutdown())

    def _stop_children(self) -> None:
        self._stopping = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for child in reversed(self._children.values()):
            self._terminate(child)
        self._children.clear()

    def _escalate(self, child: _Child, cause: Exit) -> None:
        error = RestartIntensityExceededError(self.name, child.spec.id, str(self.intensity), cause)
        exit = Exit.failure(error, detail="reached_max_restart_intensity")
        log.error("supervisor gave up", extra={"supervisor": self.name, "error": str(error)})
        self._outcome = exit
        self._stop_children()
        self._hooks.on_escalated(self.name, exit)
        self.actor_ref.stop(block=False)

    def _next_token(self) -> int:
        self._tokens += 1
        return self._tokens

    def _tell_self(self, message: object) -> None:
        try:
            self.actor_ref.tell(message)
        except pykka.ActorDeadError:
            pass  # stopped meanwhile: nothing left to restart


def _report(supervisor: pykka.ActorRef[Any], child_id: str, incarnation: int, exit: Exit) -> None:
    """A child's ``on_exit``: becomes a message, handled in the supervisor's own turn."""
    try:
        supervisor.tell(_ChildExited(child_id, incarnation, exit))
    except pykka.ActorDeadError:
        pass  # the supervisor ended first, and stopped its children on the way


class SupervisorProxy(ActorMemberMixin, pykka.ActorProxy[SupervisorActor]):
    """The supervisor's message API, typed: ``cast(SupervisorProxy, ref.proxy())``; calls return futures."""

    which_children = proxy_method(SupervisorActor.which_children)

"""The supervisor of virtual actors: children addressed by kind and key, started on demand by their host.

``actors.ActorSystem`` activates actors when messages arrive and passivates them
when idle, so it starts and stops them itself; what it asks a supervisor is only
the decision after a crash. Each kind has a supervisor of its own, named after
the kind (``order``, ``inventory``...), one_for_one over that kind's actors:

- every crash counts against the kind's restart intensity (N restarts in T
  seconds, over all its keys), and the crashed key waits a jittered backoff over
  its own failures in a row before it is activated again;
- one key that keeps crashing never exceeds the intensity on its own (its
  backoff grows to the cap); many keys crashing together (a shared cause: the
  store, a bug in a release) do, and then the kind escalates: the exit it
  returns makes the actor system fail, and the root supervisor restarts the
  whole system with its own backoff; past the root's intensity the process
  exits non-zero and systemd starts it again. The durable mailboxes make each
  of these safe: nothing is lost, work is only retried.

Restarts are reported to ``SupervisorHooks.on_child_restarted`` (the metric
``actor_restarts_total{actor}``) and escalations to ``on_escalated``
(``supervisor_escalations_total{supervisor}``, the supervisor being the kind).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from peppasync.clock import Clock
from peppasync.exits import Exit, Restart

from .errors import RestartIntensityExceededError
from .hooks import SupervisorHooks, as_hooks
from .intensity import RestartHistory
from .restart import RestartPolicy, Streak

__all__ = ["KeyedSupervisor"]

log = logging.getLogger("peppasync.supervisors")


class KeyedSupervisor:
    """Decides restarts for an actor system's crashed actors, one restart history per kind."""

    def __init__(
        self,
        policy: RestartPolicy,
        *,
        clock: Clock,
        hooks: SupervisorHooks | Iterable[SupervisorHooks] | None = None,
    ) -> None:
        if not isinstance(policy, RestartPolicy):
            raise TypeError(f"policy must be a RestartPolicy, got {policy!r}")
        self.policy = policy
        self.clock = clock
        self._hooks = as_hooks(hooks)
        self._history: dict[str, RestartHistory] = {}
        # Only keys that crashed and have not ended normally since: bounded by the crashes.
        self._streaks: dict[tuple[str, str], Streak] = {}
        # Kinds that gave up, until the actor system starts afresh: a crash of another of their
        # actors while the escalation is handled is the same escalation, reported once.
        self._escalated: dict[str, Exit] = {}

    def crashed(self, kind: str, key: str, exit: Exit) -> Restart:
        """The decision for actor (kind, key) that ended with ``exit``."""
        if kind in self._escalated:
            return Restart.escalate(self._escalated[kind])
        now = self.clock.monotonic()
        ident = (kind, key)
        delay, self._history[kind], streak = self.policy.decide(
            self._history.get(kind, RestartHistory()), self._streaks.get(ident, Streak()), now
        )
        if delay is None:
            error = RestartIntensityExceededError(kind, key, str(self.policy.intensity), exit)
            escalation = Exit.failure(error, detail="reached_max_restart_intensity")
            log.error("supervisor gave up", extra={"supervisor": kind, "error": str(error)})
            self._escalated[kind] = escalation
            self._hooks.on_escalated(kind, escalation)
            return Restart.escalate(escalation)
        # The actor starts again once the delay is over: that is where a quiet period begins.
        self._streaks[ident] = streak.started(now + delay)
        self._hooks.on_child_restarted(kind, key, kind, exit, delay)
        return Restart.after(delay)

    def ended(self, kind: str, key: str) -> None:
        """Actor (kind, key) ended normally (passivated): its failures in a row are over."""
        self._streaks.pop((kind, key), None)

    def reset(self) -> None:
        """Forget every history: the actor system starts afresh, as a restarted OTP supervisor does."""
        self._history.clear()
        self._streaks.clear()
        self._escalated.clear()

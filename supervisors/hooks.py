"""Supervision events for subscribers (metrics, logs, audit): supervisors never call Prometheus.

Hooks run synchronously in the supervisor's greenlet and must not block. A
hook that raises is logged and skipped: one bad subscriber must not break
supervision.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import gevent
from greenlet import GreenletExit

from peppasync.exits import Exit
from peppasync.metrics import Metrics

__all__ = ["MetricsSupervisorHooks", "SupervisorHooks", "SupervisorHooksList"]

log = logging.getLogger("peppasync.supervisors")

# A subscriber's bug, even a stray gevent.Timeout, must not stop supervision.
_GUARDED = (Exception, gevent.Timeout, GreenletExit)


class SupervisorHooks:
    """No-op base: override what you need."""

    def on_child_started(self, supervisor: str, child_id: str, kind: str) -> None:
        """Called when a child started, first or again."""

    def on_child_exited(self, supervisor: str, child_id: str, kind: str, exit: Exit) -> None:
        """Called when a child ended, on its own or stopped by its supervisor."""

    def on_child_restarted(self, supervisor: str, child_id: str, kind: str, exit: Exit, delay: float) -> None:
        """Called when a child started again; ``exit`` caused it, after ``delay`` seconds.

        A ``KeyedSupervisor`` calls it when it decides the restart: its host
        activates the actor once ``delay`` is over.
        """

    def on_escalated(self, supervisor: str, exit: Exit) -> None:
        """Called when a supervisor gave up and ended with ``exit``, leaving it to its parent."""


class SupervisorHooksList(SupervisorHooks):
    """Several subscribers as one, called in list order; a failing one is logged and skipped."""

    def __init__(self, hooks: Iterable[SupervisorHooks]) -> None:
        self.hooks: list[SupervisorHooks] = []
        for hook in hooks:
            if isinstance(hook, SupervisorHooksList):
                self.hooks.extend(hook.hooks)
            elif isinstance(hook, SupervisorHooks):
                self.hooks.append(hook)
            else:
                raise TypeError(f"a supervisor hook must be a SupervisorHooks, got {hook!r}")

    def on_child_started(self, supervisor: str, child_id: str, kind: str) -> None:
        for hook in self.hooks:
            try:
                hook.on_child_started(supervisor, child_id, kind)
            except _GUARDED:
                _log_failure(hook, "on_child_started")

    def on_child_exited(self, supervisor: str, child_id: str, kind: str, exit: Exit) -> None:
        for hook in self.hooks:
            try:
                hook.on_child_exited(supervisor, child_id, kind, exit)
            except _GUARDED:
                _log_failure(hook, "on_child_exited")

    def on_child_restarted(self, supervisor: str, child_id: str, kind: str, exit: Exit, delay: float) -> None:
        for hook in self.hooks:
            try:
                hook.on_child_restarted(supervisor, child_id, kind, exit, delay)
            except _GUARDED:
                _log_failure(hook, "on_child_restarted")

    def on_escalated(self, supervisor: str, exit: Exit) -> None:
        for hook in self.hooks:
            try:
                hook.on_escalated(supervisor, exit)
            except _GUARDED:
                _log_failure(hook, "on_escalated")


class MetricsSupervisorHooks(SupervisorHooks):
    """Counts restarts by child kind and escalations by supervisor name."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def on_child_restarted(self, supervisor: str, child_id: str, kind: str, exit: Exit, delay: float) -> None:
        self._metrics.actor_restarts_total.labels(actor=kind).inc()

    def on_escalated(self, supervisor: str, exit: Exit) -> None:
        self._metrics.supervisor_escalations_total.labels(supervisor=supervisor).inc()


def as_hooks(hooks: SupervisorHooks | Iterable[SupervisorHooks] | None) -> SupervisorHooksList:
    """One hook, a list of them or none, as one subscriber that never raises."""
    if hooks is None:
        return SupervisorHooksList(())
    if isinstance(hooks, SupervisorHooks):
        return SupervisorHooksList((hooks,))
    return SupervisorHooksList(hooks)


def _log_failure(hook: SupervisorHooks, event: str) -> None:
    log.exception("supervisor hook failed", extra={"hook": type(hook).__name__, "event": event})

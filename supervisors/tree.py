"""Supervision trees: a supervisor as a child of another, and the root the runtime starts."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import gevent
import pykka
from greenlet import GreenletExit

from peppasync.backoff import Backoff
from peppasync.clock import Clock
from peppasync.exits import Exit, ExitListener

from .hooks import SupervisorHooks
from .intensity import RestartIntensity
from .scheduler import Scheduler
from .spec import ChildSpec, RestartType
from .strategy import RestartStrategy
from .supervisor import SupervisorActor

__all__ = ["start_root", "supervisor_spec"]

log = logging.getLogger("peppasync.supervisors")


def supervisor_spec(
    id: str,
    children: Sequence[ChildSpec],
    *,
    strategy: RestartStrategy | None = None,
    intensity: RestartIntensity | None = None,
    backoff: Backoff | None = None,
    reset_after: float | None = None,
    clock: Clock | None = None,
    scheduler: Scheduler | None = None,
    hooks: SupervisorHooks | Iterable[SupervisorHooks] | None = None,
    restart: RestartType = RestartType.PERMANENT,
    shutdown: float = math.inf,
    name: str | None = None,
) -> ChildSpec:
    """A child spec that starts a supervisor (named ``name``, else ``id``) over ``children``.

    Each start builds a fresh supervisor from the same specs, so a restarted
    subtree starts clean. ``shutdown`` defaults to infinity, as in OTP: a
    supervisor takes as long as its own children's shutdown times add up to.
    """
    specs = list(children)
    options: dict[str, Any] = {
        "name": name or id,
        "strategy": strategy,
        "intensity": intensity,
        "backoff": backoff,
        "reset_after": reset_after,
        "clock": clock,
        "scheduler": scheduler,
        "hooks": list(hooks) if hooks is not None and not isinstance(hooks, SupervisorHooks) else hooks,
    }
    # Fail now, at the call site, rather than at the first start deep in the tree.
    SupervisorActor(specs, **options)

    def start(on_exit: ExitListener) -> pykka.ActorRef[Any]:
        return SupervisorActor.start_supervised(on_exit, specs, start_timeout=None, **options)

    return ChildSpec(id, start, restart=restart, shutdown=shutdown, kind="supervisor")


def start_root(
    children: Sequence[ChildSpec],
    *,
    on_give_up: Callable[[Exit], None],
    name: str = "root",
    strategy: RestartStrategy | None = None,
    intensity: RestartIntensity | None = None,
    backoff: Backoff | None = None,
    reset_after: float | None = None,
    clock: Clock | None = None,
    scheduler: Scheduler | None = None,
    hooks: SupervisorHooks | Iterable[SupervisorHooks] | None = None,
) -> pykka.ActorRef[SupervisorActor]:
    """Start the root supervisor; returns once its children have started.

    ``on_give_up(exit)`` is called, from the root's greenlet, when the root
    ends abnormally (it exceeded its restart intensity, or failed): the
    runtime uses it to exit the process non-zero so systemd starts it again.
    It must not block; a stop on request (``ref.stop()``) does not call it.
    """
    if not callable(on_give_up):
        raise TypeError(f"on_give_up must be a callable taking an Exit, got {on_give_up!r}")

    def on_exit(exit: Exit) -> None:
        if not exit.abnormal:
            return
        try:
            on_give_up(exit)
        except (Exception, gevent.Timeout, GreenletExit):
            log.exception("on_give_up failed", extra={"supervisor": name})

    return SupervisorActor.start_supervised(
        on_exit,
        children,
        start_timeout=None,
        # Registered, so that ActorRegistry.stop_all() stops the tree from the top.
        register=True,
        name=name,
        strategy=strategy,
        intensity=intensity,
        backoff=backoff,
        reset_after=reset_after,
        clock=clock,
        scheduler=scheduler,
        hooks=hooks,
    )

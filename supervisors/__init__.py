"""Supervision: supervisor actor, restart strategies and policies, intensity, quarantine policy.

A tree, OTP-style::

    connectors = supervisor_spec(
        "connectors",
        [ChildSpec("erp", lambda on_exit: start_erp(config, on_exit), kind="connector")],
        strategy=OneForOneStrategy(),
        intensity=RestartIntensity(max_restarts=3, period=30.0),
        backoff=Backoff(base=0.5, cap=30.0, jitter=0.5),  # peppasync.backoff
        hooks=MetricsSupervisorHooks(metrics),
    )
    root = start_root([store_spec, connectors, http_spec], on_give_up=lambda exit: runtime.request_stop(1))
    cast(SupervisorProxy, root.proxy()).which_children().get()  # [(id, alive, restarts)]

``start_erp(config, on_exit)`` stands for any start that returns once the
actor runs and has it call ``on_exit(Exit)`` once when it ends (the child
protocol, see ``ChildSpec``). ``SupervisedActor`` keeps that protocol for its
subclasses and makes their specs with ``child_spec``.

Virtual actors (started on demand by ``actors.ActorSystem``) are supervised by
``KeyedSupervisor``: the same ``RestartPolicy`` (intensity and backoff), one
restart history per actor kind, escalation to the actor system's supervisor.
"""

from .child import SupervisedActor
from .errors import (
    HandlerInterruptedError,
    RestartIntensityExceededError,
)
from .hooks import MetricsSupervisorHooks, SupervisorHooks, SupervisorHooksList
from .intensity import RestartHistory, RestartIntensity
from .keyed import KeyedSupervisor
from .poison import PoisonPolicy
from .restart import RestartPolicy, Streak
from .scheduler import GeventScheduler, ManualScheduler, Scheduled, Scheduler
from .spec import ChildSpec, RestartType, StartFunction
from .strategy import OneForAllStrategy, OneForOneStrategy, RestartStrategy, RestForOneStrategy
from .supervisor import SupervisorActor, SupervisorProxy
from .tree import start_root, supervisor_spec

__all__ = [
    "ChildSpec",
    "GeventScheduler",
    "HandlerInterruptedError",
    "KeyedSupervisor",
    "ManualScheduler",
    "MetricsSupervisorHooks",
    "OneForAllStrategy",
    "OneForOneStrategy",
    "PoisonPolicy",
    "RestForOneStrategy",
    "RestartHistory",
    "RestartIntensity",
    "RestartIntensityExceededError",
    "RestartPolicy",
    "RestartStrategy",
    "RestartType",
    "Scheduled",
    "Scheduler",
    "StartFunction",
    "Streak",
    "SupervisedActor",
    "SupervisorActor",
    "SupervisorHooks",
    "SupervisorHooksList",
    "SupervisorProxy",
    "start_root",
    "supervisor_spec",
]

"""Supervision: supervisor actor, restart strategies, backoff, intensity, quarantine policy."""

from .backoff import BackoffState, BackoffStrategy, ConstantBackoffStrategy, ExponentialBackoffStrategy
from .child import SupervisedActor
from .errors import (
    ChildExistsError,
    ChildStartError,
    HandlerInterruptedError,
    RestartIntensityExceededError,
)
from .hooks import MetricsSupervisorHooks, SupervisorHooks, SupervisorHooksList
from .intensity import RestartHistory, RestartIntensity
from .poison import PoisonPolicy
from .scheduler import GeventScheduler, ManualScheduler, Scheduled, Scheduler
from .spec import ChildSpec, RestartType, StartFunction
from .strategy import OneForAllStrategy, OneForOneStrategy, RestartStrategy, RestForOneStrategy
from .supervisor import SupervisorActor, SupervisorProxy
from .tree import start_root, supervisor_spec

__all__ = [
    "BackoffState",
    "BackoffStrategy",
    "ChildExistsError",
    "ChildSpec",
    "ChildStartError",
    "ConstantBackoffStrategy",
    "ExponentialBackoffStrategy",
    "GeventScheduler",
    "HandlerInterruptedError",
    "ManualScheduler",
    "MetricsSupervisorHooks",
    "OneForAllStrategy",
    "OneForOneStrategy",
    "PoisonPolicy",
    "RestForOneStrategy",
    "RestartHistory",
    "RestartIntensity",
    "RestartIntensityExceededError",
    "RestartStrategy",
    "RestartType",
    "Scheduled",
    "Scheduler",
    "StartFunction",
    "SupervisedActor",
    "SupervisorActor",
    "SupervisorHooks",
    "SupervisorHooksList",
    "SupervisorProxy",
    "start_root",
    "supervisor_spec",
]

"""Hooks: metrics and other subscribers see restarts and escalations; a list of hooks composes."""

from typing import Any

import pytest

from peppasync.exits import Exit
from peppasync.metrics import Metrics

from supervisors import (
    MetricsSupervisorHooks,
    RestartIntensity,
    SupervisorHooks,
    SupervisorHooksList,
    supervisor_spec,
)

from .doubles import crash, supervise, workers


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_the_metrics_hooks_count_restarts_by_child_kind(journal, clock):
    metrics = Metrics(process=False)
    supervise(
        journal,
        workers(journal, "a", "b", kind="connector"),
        hooks=[MetricsSupervisorHooks(metrics), journal],
        intensity=RestartIntensity(5, 5.0),
        clock=clock,
    )

    crash(journal, "a")
    journal.wait_count("restarted", 1)
    crash(journal, "b")
    journal.wait_count("restarted", 2)

    assert _sample(metrics, "peppasync_actor_restarts_total", actor="connector") == 2.0


def test_the_metrics_hooks_count_escalations_by_supervisor_name(journal, clock):
    metrics = Metrics(process=False)
    hooks = [MetricsSupervisorHooks(metrics), journal]
    orders = supervisor_spec(
        "orders", workers(journal, "order-1"), intensity=RestartIntensity(0, 5.0), hooks=hooks
    )
    supervise(journal, [orders], hooks=hooks, intensity=RestartIntensity(5, 5.0), clock=clock)

    crash(journal, "order-1")
    journal.wait_count("restarted", 1)

    assert _sample(metrics, "peppasync_supervisor_escalations_total", supervisor="orders") == 1.0
    assert _sample(metrics, "peppasync_actor_restarts_total", actor="supervisor") == 1.0
    assert _sample(metrics, "peppasync_supervisor_escalations_total", supervisor="root") == 0.0


def test_a_list_of_hooks_calls_each_in_order_and_a_failing_one_does_not_stop_the_rest():
    calls: list[str] = []

    class Named(SupervisorHooks):
        def __init__(self, name: str) -> None:
            self.name = name

        def on_escalated(self, supervisor: str, exit: Exit) -> None:
            calls.append(self.name)

    class Failing(SupervisorHooks):
        def on_escalated(self, supervisor: str, exit: Exit) -> None:
            raise RuntimeError("subscriber bug")

    hooks = SupervisorHooksList([Named("first"), Failing(), SupervisorHooksList([Named("nested")])])

    hooks.on_escalated("root", Exit.failure(RuntimeError("x")))

    assert calls == ["first", "nested"]


def test_something_that_is_not_a_hook_is_refused():
    not_a_hook: Any = object()

    with pytest.raises(TypeError, match="a supervisor hook must be a SupervisorHooks"):
        SupervisorHooksList([not_a_hook])

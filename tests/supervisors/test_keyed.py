"""Virtual actors' restarts: a backoff per key, an intensity per kind, escalation past it."""

from dataclasses import replace

from peppasync.backoff import Backoff
from peppasync.clock import ManualClock
from peppasync.exits import Exit
from peppasync.metrics import Metrics
from peppasync.runtime import ACTOR_RESTARTS

from supervisors import (
    KeyedSupervisor,
    MetricsSupervisorHooks,
    RestartIntensity,
    RestartIntensityExceededError,
    RestartPolicy,
)

CRASH = Exit.failure(RuntimeError("boom"))


def _supervisor(metrics: Metrics, clock: ManualClock, max_restarts: int = 5) -> KeyedSupervisor:
    policy = RestartPolicy(
        RestartIntensity(max_restarts=max_restarts, period=60.0), Backoff(base=1.0, cap=30.0, jitter=0.0)
    )
    return KeyedSupervisor(policy, clock=clock, hooks=MetricsSupervisorHooks(metrics))


def _sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value("peppasync_" + name, labels)


def test_a_key_that_keeps_crashing_waits_longer_each_time_and_is_counted_as_restarts():
    metrics, clock = Metrics(process=False), ManualClock()
    supervisor = _supervisor(metrics, clock)
    delays = []
    for _ in range(4):
        delay = supervisor.crashed("order", "1001", CRASH).delay
        delays.append(delay)
        clock.advance(delay + 0.1)  # it restarts, and crashes again at once

    assert delays == [1.0, 2.0, 4.0, 8.0]
    assert _sample(metrics, "actor_restarts_total", actor="order") == 4


def test_each_key_has_its_own_backoff():
    metrics, clock = Metrics(process=False), ManualClock()
    supervisor = _supervisor(metrics, clock)

    supervisor.crashed("order", "1001", CRASH)
    other = supervisor.crashed("order", "1002", CRASH)

    assert other.delay == 1.0


def test_a_key_that_ended_normally_starts_its_backoff_over():
    metrics, clock = Metrics(process=False), ManualClock()
    supervisor = _supervisor(metrics, clock)
    supervisor.crashed("order", "1001", CRASH)
    supervisor.crashed("order", "1001", CRASH)

    supervisor.ended("order", "1001")

    assert supervisor.crashed("order", "1001", CRASH).delay == 1.0


def test_with_the_products_policy_one_key_crashing_forever_never_exceeds_its_kinds_intensity():
    shortest = replace(ACTOR_RESTARTS.backoff, random=lambda: 0.0)  # every draw at its shortest
    policy = RestartPolicy(ACTOR_RESTARTS.intensity, shortest)
    metrics, clock = Metrics(process=False), ManualClock()
    supervisor = KeyedSupervisor(policy, clock=clock, hooks=MetricsSupervisorHooks(metrics))

    for _ in range(200):
        restart = supervisor.crashed("order", "1001", CRASH)
        assert restart.escalation is None
        clock.advance(restart.delay)

    assert _sample(metrics, "supervisor_escalations_total", supervisor="order") is None


def test_many_keys_of_a_kind_crashing_together_escalate_and_are_counted():
    metrics, clock = Metrics(process=False), ManualClock()
    supervisor = _supervisor(metrics, clock, max_restarts=2)

    decisions = [supervisor.crashed("order", str(key), CRASH) for key in range(3)]

    assert [d.escalation is None for d in decisions] == [True, True, False]
    escalation = decisions[-1].escalation
    assert escalation is not None and escalation.detail == "reached_max_restart_intensity"
    assert isinstance(escalation.error, RestartIntensityExceededError)
    assert (escalation.error.supervisor, escalation.error.cause) == ("order", CRASH)
    assert _sample(metrics, "supervisor_escalations_total", supervisor="order") == 1


def test_kinds_count_their_restarts_apart():
    metrics, clock = Metrics(process=False), ManualClock()
    supervisor = _supervisor(metrics, clock, max_restarts=2)
    for key in range(2):
        supervisor.crashed("order", str(key), CRASH)

    restart = supervisor.crashed("inventory", "MUG", CRASH)

    assert restart.escalation is None


def test_a_reset_forgets_every_history_as_a_restarted_supervisor_does():
    metrics, clock = Metrics(process=False), ManualClock()
    supervisor = _supervisor(metrics, clock, max_restarts=2)
    for key in range(2):
        supervisor.crashed("order", str(key), CRASH)

    supervisor.reset()

    assert supervisor.crashed("order", "0", CRASH).escalation is None


def test_a_kind_that_gave_up_escalates_once_until_the_system_starts_afresh():
    metrics, clock = Metrics(process=False), ManualClock()
    supervisor = _supervisor(metrics, clock, max_restarts=0)

    first = supervisor.crashed("order", "1001", CRASH)
    second = supervisor.crashed("order", "1002", CRASH)  # crashed while the escalation is handled

    assert first.escalation is not None and second.escalation is first.escalation
    assert _sample(metrics, "supervisor_escalations_total", supervisor="order") == 1
    supervisor.reset()
    assert supervisor.crashed("order", "1003", CRASH).escalation is not None
    assert _sample(metrics, "supervisor_escalations_total", supervisor="order") == 2

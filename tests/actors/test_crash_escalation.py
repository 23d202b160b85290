"""Crashed actors restart through their kind's supervisor; a kind past its intensity escalates to the root."""

import gevent.event

from peppasync.backoff import Backoff
from peppasync.clock import SystemClock
from peppasync.metrics import Metrics

from actors.durable import DurableActor
from actors.host import ActorSystemHost
from supervisors import (
    ChildSpec,
    KeyedSupervisor,
    MetricsSupervisorHooks,
    RestartIntensity,
    RestartIntensityExceededError,
    RestartPolicy,
    SupervisorHooks,
    start_root,
)


class Unloadable(DurableActor):
    """Cannot load its state: every activation crashes."""

    kind = "unloadable"

    def loaded(self) -> None:
        raise RuntimeError("the saved state cannot be read")

    def handle(self, message):
        pass


def _supervision(metrics: Metrics, max_restarts: int) -> KeyedSupervisor:
    policy = RestartPolicy(RestartIntensity(max_restarts=max_restarts, period=60.0), Backoff(base=0.001, cap=0.002))
    return KeyedSupervisor(policy, clock=SystemClock(), hooks=MetricsSupervisorHooks(metrics))


def _escalations(metrics: Metrics, supervisor: str) -> float | None:
    return metrics.registry.get_sample_value("peppasync_supervisor_escalations_total", {"supervisor": supervisor})


def test_a_kind_whose_actors_keep_crashing_escalates_until_the_root_gives_up_and_nothing_is_lost(
        make_system, store):
    metrics = Metrics(process=False)
    system = make_system(Unloadable, supervision=_supervision(metrics, max_restarts=2))
    gave_up = gevent.event.AsyncResult()
    root = start_root(
        [ChildSpec("actors", ActorSystemHost.spec_start(system, 5.0), shutdown=10.0, kind="actor_system")],
        on_give_up=gave_up.set,
        intensity=RestartIntensity(max_restarts=0, period=60.0),
        hooks=MetricsSupervisorHooks(metrics),
    )

    for key in ("k1", "k2", "k3"):
        system.tell("unloadable", key, {"n": 1})
    exit = gave_up.get(timeout=30)

    assert root.actor_stopped.wait(10)
    assert exit.detail == "reached_max_restart_intensity"
    assert isinstance(exit.error, RestartIntensityExceededError)
    assert (exit.error.supervisor, exit.error.child_id) == ("root", "actors")
    kind_gave_up = exit.error.cause.error
    assert isinstance(kind_gave_up, RestartIntensityExceededError)
    assert kind_gave_up.supervisor == "unloadable"
    assert _escalations(metrics, "unloadable") == 1
    assert _escalations(metrics, "root") == 1
    assert metrics.registry.get_sample_value("peppasync_actor_restarts_total", {"actor": "unloadable"}) == 2
    assert sorted(key for _, key in store.pending_keys(now=float("inf"), limit=10)) == ["k1", "k2", "k3"]


class _Restarted(SupervisorHooks):
    """Sets ``done`` once ``target`` restarts were decided."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.count = 0
        self.done = gevent.event.Event()

    def on_child_restarted(self, supervisor, child_id, kind, exit, delay):
        self.count += 1
        if self.count >= self.target:
            self.done.set()


def test_under_its_intensity_a_crashed_actor_is_restarted_again_and_again(make_system):
    restarted = _Restarted(target=5)
    policy = RestartPolicy(RestartIntensity(max_restarts=1000, period=60.0), Backoff(base=0.001, cap=0.002))
    system = make_system(Unloadable, supervision=KeyedSupervisor(policy, clock=SystemClock(), hooks=restarted))
    faults = []
    system.on_fault = faults.append
    system.start()

    system.tell("unloadable", "k1", {"n": 1})

    assert restarted.done.wait(30)
    assert faults == []


def test_a_crashed_actor_waits_out_its_restart_delay_even_when_a_sweep_finds_its_messages(make_system):
    restarted = _Restarted(target=1)
    an_hour = RestartPolicy(RestartIntensity(max_restarts=1000, period=60.0), Backoff(base=3600.0, cap=3600.0, jitter=0.0))
    system = make_system(Unloadable, supervision=KeyedSupervisor(an_hour, clock=SystemClock(), hooks=restarted),
                         sweep_interval=3600.0)
    system.start()
    system.tell("unloadable", "k1", {"n": 1})
    assert restarted.done.wait(30)

    woken = system.sweep()
    system.wake("unloadable", "k1")

    assert woken == 0
    assert not system.is_active("unloadable", "k1")

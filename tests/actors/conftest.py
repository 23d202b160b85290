import os

import gevent
import pytest

from peppasync.backoff import Backoff
from peppasync.clock import SystemClock
from peppasync.retry import RetryPolicy
from peppasync.store import open_store

from actors.hooks import ActorHooks
from actors.system import ActorSystem
from supervisors import KeyedSupervisor, PoisonPolicy, RestartIntensity, RestartPolicy


class CountingHooks(ActorHooks):
    """Counts outcomes and lets a test wait for a total without sleeping."""

    def __init__(self) -> None:
        self.outcomes: dict[str, int] = {}
        self.activations = 0
        self._waiters: list[tuple[int, gevent.event.Event]] = []

    def on_message(self, kind: str, outcome: str, seconds: float) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        done = sum(self.outcomes.get(o, 0) for o in ("ok", "quarantined"))
        for target, event in self._waiters:
            if done >= target:
                event.set()

    def on_activated(self, kind: str) -> None:
        self.activations += 1

    def wait_finished(self, total: int, timeout: float = 30.0) -> None:
        event = gevent.event.Event()
        self._waiters.append((total, event))
        self.on_message("", "tick", 0.0)
        assert event.wait(timeout), f"only {self.outcomes} of {total} messages finished"


def small_policy(max_attempts: int = 3) -> PoisonPolicy:
    return PoisonPolicy(RetryPolicy(max_attempts=max_attempts, backoff=Backoff(base=0.01, cap=0.05)))


def roomy_supervision(clock=None) -> KeyedSupervisor:
    """Restarts after 10 to 50 ms, and no kind gives up within a test."""
    return KeyedSupervisor(
        RestartPolicy(RestartIntensity(max_restarts=1000, period=60.0), Backoff(base=0.01, cap=0.05)),
        clock=clock or SystemClock(),
    )


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path}/engine.db")
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def make_system(store):
    systems = []

    def make(*kinds, hooks=None, policy=None, supervision=None, **options):
        system = ActorSystem(
            store,
            policy or small_policy(),
            clock=SystemClock(),
            supervision=supervision or roomy_supervision(),
            hooks=hooks or CountingHooks(),
            sweep_interval=options.pop("sweep_interval", 0.05),
            **options,
        )
        for kind in kinds:
            system.register(kind)
        systems.append(system)
        return system

    yield make
    for system in systems:
        system.stop(timeout=5)


needs_postgres = pytest.mark.skipif(
    not os.environ.get("PEPPASYNC_TEST_POSTGRES_URL"),
    reason="PEPPASYNC_TEST_POSTGRES_URL is not set",
)

"""What the crash tests' child processes share: an actor system that restarts fast, and its progress."""

from peppasync.backoff import Backoff
from peppasync.clock import SystemClock
from peppasync.retry import RetryPolicy
from peppasync.store import Store

from actors.hooks import ActorHooks
from actors.system import ActorSystem
from supervisors import KeyedSupervisor, PoisonPolicy, RestartIntensity, RestartPolicy


class Progress(ActorHooks):
    """Prints "handled N" every ``every`` messages handled, for the parent test to follow."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.done = 0

    def on_message(self, kind, outcome, seconds):
        if outcome == "ok":
            self.done += 1
            if self.done % self.every == 0:
                print(f"handled {self.done}", flush=True)


def worker_system(store: Store, *, every: int, **options) -> ActorSystem:
    """An actor system on ``store`` with quick retries and restarts (``options`` go to ``ActorSystem``)."""
    return ActorSystem(
        store,
        PoisonPolicy(RetryPolicy(max_attempts=5, backoff=Backoff(base=0.01, cap=0.1))),
        clock=SystemClock(),
        supervision=KeyedSupervisor(
            RestartPolicy(RestartIntensity(max_restarts=100, period=1.0), Backoff(base=0.01, cap=0.1)),
            clock=SystemClock(),
        ),
        hooks=Progress(every),
        sweep_interval=0.05,
        **options,
    )

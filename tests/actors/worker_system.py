"""What the crash tests share: for their child processes, an actor system that restarts fast and
its progress; for the tests, starting a child and killing it mid-run."""

import os
import signal
import subprocess
import sys
from pathlib import Path

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


ROOT = Path(__file__).resolve().parents[2]


def start_worker(script: str, *args: str) -> subprocess.Popen[str]:
    """Run ``tests/actors/<script>`` with ``args`` in a child process; its progress on stdout."""
    return subprocess.Popen([sys.executable, str(Path(__file__).with_name(script)), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def kill_once_handled(child: subprocess.Popen[str], handled: int) -> None:
    """SIGKILL ``child`` as soon as it says it handled at least ``handled`` messages."""
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("handled") and int(line.split()[1]) >= handled:
            break
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)

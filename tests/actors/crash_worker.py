"""A child process for the crash-recovery test: runs the engine on a store until killed.

Usage: python crash_worker.py STORE_URL EFFECT_LOG [--until-empty]
Prints "handled N" lines as it goes, and "drained" when --until-empty finds nothing left.
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402

from peppasync.backoff import Backoff  # noqa: E402
from peppasync.clock import SystemClock  # noqa: E402
from peppasync.retry import RetryPolicy  # noqa: E402
from peppasync.store import open_store  # noqa: E402

from actors.durable import DurableActor  # noqa: E402
from actors.hooks import ActorHooks  # noqa: E402
from actors.system import ActorSystem  # noqa: E402
from supervisors import KeyedSupervisor, PoisonPolicy, RestartIntensity, RestartPolicy  # noqa: E402

url, effect_log = sys.argv[1], sys.argv[2]
until_empty = "--until-empty" in sys.argv
log = open(effect_log, "a", buffering=1)


class Effector(DurableActor):
    """Records an external effect (may repeat after a crash) and an idempotent one in its state."""

    kind = "effector"

    def handle(self, message):
        n = message.payload["n"]
        if message.payload.get("kill"):
            os._exit(3)  # a message that takes the whole process down (a crash in C, an OOM kill)
        log.write(f"{self.key} {n}\n")
        seen = self.state.setdefault("seen", [])
        if n not in seen:
            seen.append(n)
        self.save_state()


class Progress(ActorHooks):
    def __init__(self):
        self.done = 0

    def on_message(self, kind, outcome, seconds):
        if outcome == "ok":
            self.done += 1
            if self.done % 100 == 0:
                print(f"handled {self.done}", flush=True)


store = open_store(url)
store.migrate()
system = ActorSystem(
    store,
    PoisonPolicy(RetryPolicy(max_attempts=5, backoff=Backoff(base=0.01, cap=0.1))),
    clock=SystemClock(),
    supervision=KeyedSupervisor(
        RestartPolicy(RestartIntensity(max_restarts=100, period=1.0), Backoff(base=0.01, cap=0.1)),
        clock=SystemClock(),
    ),
    hooks=Progress(),
    sweep_interval=0.05,
)
system.register(Effector)
system.start()
while True:
    gevent.sleep(0.05)
    if until_empty and not store.pending_keys(now=float("inf"), limit=1):
        print("drained", flush=True)
        system.stop()
        store.close()
        os._exit(0)

"""A child process for the gates' SIGKILL test: runs the gate actors on a store until killed.

Usage: python gate_worker.py STORE_URL
Prints "handled N" every 10 messages. Its design gate is due 4 s after it opens.
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

import gevent  # noqa: E402

from peppasync.backoff import Backoff  # noqa: E402
from peppasync.clock import SystemClock  # noqa: E402
from peppasync.config import parse_config  # noqa: E402
from peppasync.retry import RetryPolicy  # noqa: E402
from peppasync.store import open_store  # noqa: E402

from actors.gate import GateActor, GateTimerActor  # noqa: E402
from actors.gate_workflows import GateSettings  # noqa: E402
from actors.hooks import ActorHooks  # noqa: E402
from actors.system import ActorSystem  # noqa: E402
from supervisors import KeyedSupervisor, PoisonPolicy, RestartIntensity, RestartPolicy  # noqa: E402

GATES = {
    "workflows": {"custom": {"order_tags": ["custom"], "gates": ["finance", "design"]}},
    "finance": {"owner": "finance", "sla_hours": 24},
    "design": {"owner": "design", "sla_hours": 4 / 3600},
}


class Progress(ActorHooks):
    def __init__(self):
        self.done = 0

    def on_message(self, kind, outcome, seconds):
        if outcome == "ok":
            self.done += 1
            if self.done % 10 == 0:
                print(f"handled {self.done}", flush=True)


store = open_store(sys.argv[1])
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
    services={"gates": GateSettings.from_config(parse_config({"gates": GATES}, environ={}).gates)},
)
system.register(GateActor)
system.register(GateTimerActor)
system.start()
while True:
    gevent.sleep(1)

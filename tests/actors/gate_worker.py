"""A child process for the gates' SIGKILL test: runs the gate actors on a store until killed.

Usage: python gate_worker.py STORE_URL
Prints "handled N" every 10 messages. Its design gate is due 4 s after it opens.
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

import gevent  # noqa: E402

from peppasync.config import parse_config  # noqa: E402
from peppasync.store import open_store  # noqa: E402

from actors.gate import GateActor, GateTimerActor  # noqa: E402
from actors.gate_workflows import GateSettings  # noqa: E402
from tests.actors.worker_system import worker_system  # noqa: E402

GATES = {
    "workflows": {"custom": {"order_tags": ["custom"], "gates": ["finance", "design"]}},
    "finance": {"owner": "finance", "sla_hours": 24},
    "design": {"owner": "design", "sla_hours": 4 / 3600},
}

store = open_store(sys.argv[1])
store.migrate()
settings = GateSettings.from_config(parse_config({"gates": GATES}, environ={}).gates)
system = worker_system(store, every=10, services={"gates": settings})
system.register(GateActor)
system.register(GateTimerActor)
system.start()
while True:
    gevent.sleep(1)

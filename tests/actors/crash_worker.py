"""A child process for the crash-recovery test: runs the engine on a store until killed.

Usage: python crash_worker.py STORE_URL EFFECT_LOG [--until-empty]
Prints "handled N" lines as it goes, and "drained" when --until-empty finds nothing left.
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402

from peppasync.store import open_store  # noqa: E402

from actors.durable import DurableActor  # noqa: E402
from tests.actors.worker_system import worker_system  # noqa: E402

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


store = open_store(url)
store.migrate()
system = worker_system(store, every=100)
system.register(Effector)
system.start()
while True:
    gevent.sleep(0.05)
    if until_empty and not store.pending_keys(now=float("inf"), limit=1):
        print("drained", flush=True)
        system.stop()
        store.close()
        os._exit(0)

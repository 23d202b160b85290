"""A SIGKILL in the middle of a build-to-order workflow loses no approval and no timer."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from peppasync.store import open_store, ops

from tests.actors.worker_system import kill_once_handled, start_worker

ORDERS = [str(1000 + n) for n in range(40)]


def test_a_sigkill_mid_workflow_loses_no_approval_and_every_design_gate_breaches_once_after_the_restart(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gates.db"
    store = open_store(url)
    store.migrate()
    store.write([ops.Insert("gate", f"{o}:finance", {"type": "open", "workflow": "custom"}) for o in ORDERS])
    store.write([ops.Insert("gate", f"{o}:finance", {"type": "signal", "action": "approve", "who": "alice",
                                                    "why": f"deposit for {o}", "signal_id": f"a{o}"})
                 for o in ORDERS])

    kill_once_handled(start_worker("gate_worker.py", url), 30)
    second = start_worker("gate_worker.py", url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            states = {o: store.get_state("gate", f"{o}:design") for o in ORDERS}
            if all(s is not None and s[0]["gate"]["breached"] for s in states.values()):
                break
            time.sleep(0.2)
    finally:
        second.send_signal(signal.SIGKILL)
        second.wait(timeout=10)

    finance = {o: store.get_state("gate", f"{o}:finance")[0]["gate"] for o in ORDERS}  # type: ignore[index]
    design = {o: s[0]["gate"] for o, s in states.items() if s is not None}
    store.close()
    for order in ORDERS:
        approvals = [h for h in finance[order]["history"] if h["action"] == "approve"]
        assert [(h["who"], h["why"]) for h in approvals] == [("alice", f"deposit for {order}")]
        breaches = [h for h in design[order]["history"] if h["action"] == "breach"]
        assert len(breaches) == 1, design[order]["history"]
        assert breaches[0]["at"] >= design[order]["due_at"] == design[order]["opened_at"] + 4.0

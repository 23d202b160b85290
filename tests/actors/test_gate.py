"""The gate actors on a real store: signals applied once with who and why, the next gate opened, the
order told, and durable timers that fire once, at the right time, across a restart (an injected clock)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest

from peppasync.clock import ManualClock
from peppasync.config import parse_config
from peppasync.store import Store, open_store

from actors.gate import GateActor, GateTimerActor
from actors.gate_workflows import GateSettings
from actors.system import ActorSystem

from .conftest import CountingHooks, roomy_supervision, small_policy

HOUR = 3600.0
GATES = {
    "workflows": {"custom": {"order_tags": ["custom"], "gates": ["finance", "design", "production"]}},
    "finance": {"owner": "finance", "sla_hours": 24, "pass_at_paid_percent": 50},
    "design": {"owner": "design", "sla_hours": 72, "remind_hours": 24},
    "production": {"owner": "factory", "sla_hours": 1},
}


def settings(**changes: Any) -> GateSettings:
    return GateSettings.from_config(parse_config({"gates": {**GATES, **changes}}, environ={}).gates)


class Gates:
    """Gate actors on ``store`` with a manual clock; ``restart`` stops them and starts new ones on the same store."""

    def __init__(self, path: Path, gates: GateSettings) -> None:
        self.clock = ManualClock()
        self.store: Store = open_store(f"sqlite:///{path}/gates.db", clock=self.clock)
        self.store.migrate()
        self.gates = gates
        self.system: ActorSystem | None = None
        self.start()

    def start(self) -> None:
        self.hooks = CountingHooks()
        self.system = ActorSystem(self.store, small_policy(), clock=self.clock, supervision=roomy_supervision(self.clock),
                                  hooks=self.hooks, sweep_interval=0.02, services={"gates": self.gates})
        self.system.register(GateActor)
        self.system.register(GateTimerActor)
        self.system.start()

    def restart(self, gates: GateSettings | None = None) -> None:
        assert self.system is not None
        self.system.stop(timeout=5)
        self.gates = gates or self.gates
        self.start()

    def advance(self, seconds: float) -> None:
        """Move the clock on, and tell the timers so: a held mailbox waits on a gevent timer that the
        manual clock does not move (with the system clock, that timer fires by itself)."""
        assert self.system is not None
        self.clock.advance(seconds)
        for kind, key in self.store.pending_keys(now=self.clock.time(), limit=1000):
            self.system.wake(kind, key, reread=True)

    def tell(self, key: str, payload: dict[str, Any]) -> None:
        assert self.system is not None
        self.system.tell("gate", key, payload)

    def gate(self, key: str) -> dict[str, Any]:
        found = self.store.get_state("gate", key)
        return found[0]["gate"] if found else {}

    def wait(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        with gevent.Timeout(timeout, AssertionError("the gates did not get there in time")):
            while not check():
                gevent.sleep(0.02)

    def orders_told(self, order: str = "1001") -> list[dict[str, Any]]:
        """What the gates told the order (no order actor runs here: it stays in the order's mailbox)."""
        return [m.payload for m in self.store.pending("order", order, limit=100, now=float("inf"))]


@pytest.fixture
def gates(tmp_path: Path) -> Iterator[Gates]:
    g = Gates(tmp_path, settings())
    yield g
    if g.system is not None:
        g.system.stop(timeout=5)
    g.store.close()


def _opened(gates: Gates, order: str = "1001") -> None:
    gates.tell(f"{order}:finance", {"type": "open", "workflow": "custom"})
    gates.wait(lambda: gates.gate(f"{order}:finance").get("status") == "open")


def test_an_approval_sent_twice_is_applied_once_with_who_and_why_and_opens_the_next_gate(gates: Gates) -> None:
    _opened(gates)
    approve = {"type": "signal", "action": "approve", "who": "alice", "why": "deposit checked", "signal_id": "s1"}

    gates.tell("1001:finance", approve)
    gates.tell("1001:finance", approve)
    gates.wait(lambda: gates.gate("1001:design").get("status") == "open")
    gates.wait(lambda: gates.hooks.outcomes.get("ok", 0) >= 4)

    finance = gates.gate("1001:finance")
    assert finance["status"] == "passed"
    assert [(h["who"], h["action"], h["why"]) for h in finance["history"]] == [
        ("workflow", "open", ""), ("alice", "approve", "deposit checked")]
    trail = sorted((e.id, e.who, e.action) for e in gates.store.audit_list() if e.target == "gate:1001:finance")
    assert [(who, action) for _, who, action in trail] == [("workflow", "gate.opened"), ("alice", "gate.passed")]


def test_finance_passes_by_itself_when_half_is_paid_and_each_gate_passed_is_told_to_the_order(gates: Gates) -> None:
    _opened(gates)

    gates.tell("1001:finance", {"type": "paid", "share": "0.5"})
    gates.wait(lambda: gates.gate("1001:design").get("status") == "open")
    gates.tell("1001:design", {"type": "signal", "action": "approve", "who": "bob", "signal_id": "d1"})
    gates.wait(lambda: gates.gate("1001:production").get("status") == "open")
    gates.tell("1001:production", {"type": "signal", "action": "approve", "who": "factory-7", "why": "built",
                                   "signal_id": "p1"})
    gates.wait(lambda: len(gates.orders_told()) == 3)

    assert [(m["gate"], m["event"], m["who"]) for m in gates.orders_told()] == [
        ("finance", "passed", "rule"), ("design", "passed", "bob"), ("production", "passed", "factory-7")]
    assert gates.orders_told()[-1] == {"type": "gate", "gate": "production", "event": "passed", "workflow": "custom",
                                       "who": "factory-7", "why": "built", "cancel": False}


def test_a_rejection_tells_the_order_with_the_reason_and_a_later_approval_is_kept_as_refused(
        gates: Gates) -> None:
    _opened(gates)

    gates.tell("1001:finance", {"type": "signal", "action": "reject", "who": "alice", "why": "card declined",
                                "signal_id": "r1"})
    gates.tell("1001:finance", {"type": "signal", "action": "approve", "who": "bob", "signal_id": "late"})
    gates.wait(lambda: len(gates.gate("1001:finance")["history"]) == 3)

    assert gates.orders_told()[0]["event"] == "rejected" and gates.orders_told()[0]["why"] == "card declined"
    refused = gates.gate("1001:finance")["history"][-1]
    assert (refused["who"], refused["action"]) == ("bob", "refused")
    assert refused["why"] == "approve: finance of order 1001 is rejected already"


def test_an_approval_is_handled_at_once_while_the_gates_sla_timer_is_days_away(gates: Gates) -> None:
    _opened(gates)
    timer = gates.gate("1001:finance")["due_at"]

    gates.tell("1001:finance", {"type": "signal", "action": "approve", "who": "alice", "signal_id": "s1"})

    gates.wait(lambda: gates.gate("1001:finance")["status"] == "passed", timeout=5.0)
    assert timer - gates.clock.time() == 24 * HOUR


def test_an_sla_breach_fires_once_at_its_due_time_across_a_restart(gates: Gates) -> None:
    _opened(gates)
    for gate in ("finance", "design"):
        gates.tell(f"1001:{gate}", {"type": "signal", "action": "approve", "who": "alice", "signal_id": gate})
        gates.wait(lambda gate=gate: gates.gate(f"1001:{gate}").get("status") == "passed")
    gates.wait(lambda: gates.gate("1001:production").get("status") == "open")
    due = gates.gate("1001:production")["due_at"]

    gates.advance(HOUR - 1)
    gevent.sleep(0.2)
    before = gates.gate("1001:production")["breached"]
    gates.restart()
    gates.advance(1)
    gates.wait(lambda: gates.gate("1001:production")["breached"])
    gates.advance(5 * HOUR)
    gates.restart()
    gevent.sleep(0.2)

    production = gates.gate("1001:production")
    breaches = [h for h in production["history"] if h["action"] == "breach"]
    assert before is False
    assert [h["at"] for h in breaches] == [due]


def test_a_changed_sla_applies_to_an_open_gate_after_a_restart_and_its_timer_follows(gates: Gates) -> None:
    _opened(gates)
    opened_at = gates.gate("1001:finance")["opened_at"]

    gates.restart(settings(finance={"owner": "finance", "sla_hours": 2}))
    gates.tell("1001:finance", {"type": "signal", "action": "note", "who": "alice", "why": "called the customer"})
    gates.wait(lambda: gates.gate("1001:finance")["due_at"] == opened_at + 2 * HOUR)
    gates.advance(2 * HOUR)

    gates.wait(lambda: gates.gate("1001:finance")["breached"])


def test_money_paid_before_a_gate_opens_passes_it_as_soon_as_it_opens(gates: Gates) -> None:
    gates.gates = settings(workflows={"custom": {"order_tags": ["custom"], "gates": ["design", "finance"]}})
    gates.restart()
    gates.tell("1001:design", {"type": "open", "workflow": "custom"})
    gates.tell("1001:finance", {"type": "paid", "share": "0.6", "workflow": "custom"})

    gates.tell("1001:design", {"type": "signal", "action": "approve", "who": "bob", "signal_id": "d1"})

    gates.wait(lambda: gates.gate("1001:finance").get("status") == "passed")
    assert gates.gate("1001:finance")["history"][-1]["why"] == "60% of the total paid, 50% needed"
    assert gates.hooks.outcomes.get("quarantined", 0) == 0

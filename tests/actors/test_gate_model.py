"""One stage gate's rules, with time given by hand."""

from decimal import Decimal

import pytest

from actors.gate_model import Gate, GateError, GateRule, Workflow, next_wake, open_gate, paid, signal, tick

HOUR, DAY = 3600.0, 86400.0
FINANCE = GateRule("finance", "finance", sla=24 * HOUR, pass_at_paid_share=Decimal("0.5"))
DESIGN = GateRule("design", "design", sla=3 * DAY, remind_every=DAY, expire_after=14 * DAY, on_expiry="approve")
PRODUCTION = GateRule("production", "factory", sla=10 * DAY)
CUSTOM = Workflow("custom", (FINANCE, DESIGN, PRODUCTION), tags=frozenset({"custom"}), sku_prefixes=("CUS-",))


def opened(rule, at=0.0):
    gate = Gate("1001", rule.name)
    open_gate(gate, rule, at)
    return gate


def test_a_workflow_matches_by_tag_or_sku_prefix_and_knows_the_next_gate():
    assert CUSTOM.matches(["Custom "], ["MUG"]) and CUSTOM.matches([], ["CUS-TABLE-1"])
    assert not CUSTOM.matches(["gift"], ["MUG"])
    assert (CUSTOM.after("finance"), CUSTOM.after("production")) == (DESIGN, None)


def test_finance_passes_by_itself_once_half_the_total_is_paid():
    gate = opened(FINANCE)

    assert paid(gate, FINANCE, Decimal("0.3"), 10.0) == []
    assert paid(gate, FINANCE, Decimal("0.5"), 20.0) == ["passed"]
    assert gate.history[-1] == {"at": 20.0, "who": "rule", "action": "approve", "why": "50% of the total paid, 50% needed"}


def test_a_signal_applies_once_and_says_who_and_why():
    gate = opened(DESIGN)

    first = signal(gate, DESIGN, "hold", who="bob", why="proof 2 needed", signal_id="s1", now=5.0)
    again = signal(gate, DESIGN, "hold", who="bob", why="proof 2 needed", signal_id="s1", now=6.0)

    assert (first, again, gate.status) == (["held"], [], "held")
    with pytest.raises(GateError, match="held: release it first"):
        signal(gate, DESIGN, "approve", who="bob", now=7.0)
    assert signal(gate, DESIGN, "release", who="bob", now=8.0) == ["released"]
    assert signal(gate, DESIGN, "approve", who="bob", why="proof 3 ok", now=9.0) == ["passed"]
    assert [(h["who"], h["action"]) for h in gate.history] == [
        ("workflow", "open"), ("bob", "hold"), ("bob", "release"), ("bob", "approve")]
    with pytest.raises(GateError, match="passed already"):
        signal(gate, DESIGN, "reject", who="carol", now=10.0)


def test_a_gate_not_yet_open_takes_no_decision_but_takes_a_note():
    gate = Gate("1001", "production")

    assert signal(gate, PRODUCTION, "note", who="dan", why="steel arrives Friday", now=1.0) == ["noted"]
    with pytest.raises(GateError, match="not open yet"):
        signal(gate, PRODUCTION, "approve", who="dan", now=2.0)
    with pytest.raises(GateError, match="unknown action 'ship'"):
        signal(gate, PRODUCTION, "ship", who="dan", now=2.0)


def test_the_sla_breaches_once_reminders_repeat_and_the_design_approval_expires_into_approval():
    gate = opened(DESIGN, at=0.0)

    assert next_wake(gate, DESIGN) == DAY  # the first reminder
    assert tick(gate, DESIGN, DAY) == ["reminded"]
    assert tick(gate, DESIGN, DAY + 1) == []
    assert next_wake(gate, DESIGN) == 2 * DAY
    assert tick(gate, DESIGN, 3 * DAY) == ["breached", "reminded"]
    assert tick(gate, DESIGN, 3 * DAY + 5) == []  # breached once only
    assert next_wake(gate, DESIGN) == 4 * DAY
    assert tick(gate, DESIGN, 14 * DAY) == ["passed"]
    assert (gate.history[-1]["who"], gate.history[-1]["why"]) == ("rule", "no answer in 14 days")
    assert next_wake(gate, DESIGN) is None


def test_a_held_gate_still_breaches_but_is_not_reminded_nor_expired():
    gate = opened(DESIGN, at=0.0)
    signal(gate, DESIGN, "hold", who="bob", now=1.0)

    assert tick(gate, DESIGN, 20 * DAY) == ["breached"]
    assert gate.status == "held" and next_wake(gate, DESIGN) is None


def test_a_gate_round_trips_through_its_saved_form():
    gate = opened(FINANCE, at=100.0)
    signal(gate, FINANCE, "note", who="alice", why="deposit by wire", signal_id="n1", now=101.0)

    assert Gate.from_json(gate.to_json()) == gate


def test_a_gate_still_open_after_its_escalation_time_escalates_once_to_the_named_role():
    rule = GateRule("design", "design", escalate_after=4 * DAY, escalate_to="ops")
    gate = opened(rule)

    assert next_wake(gate, rule) == 4 * DAY
    assert tick(gate, rule, 4 * DAY) == ["escalated"]
    assert tick(gate, rule, 5 * DAY) == []
    assert gate.history[-1] == {"at": 4 * DAY, "who": "rule", "action": "escalate", "why": "to ops"}
    assert next_wake(gate, rule) is None


def test_a_workflow_matches_a_line_carrying_one_of_its_properties():
    engraved = Workflow("engraved", (DESIGN,), line_properties=frozenset({"Engraving"}))

    assert engraved.matches([], ["MUG"], ["Engraving"]) and not engraved.matches([], ["MUG"], ["Gift wrap"])

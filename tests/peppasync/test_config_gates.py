"""The [gates] section: workflows and their gates as the file gives them, and every mistake named with its key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from peppasync.config import parse_config
from peppasync.errors import ConfigError

GATES = {
    "on_reject": "cancel",
    "workflows": {"custom": {"order_tags": ["Custom"], "sku_prefixes": ["BTO-"], "line_properties": ["Engraving"],
                             "product_tags": ["Made-To-Order"], "gates": ["finance", "design", "production"]}},
    "finance": {"owner": "finance", "sla_hours": 24, "pass_at_paid_percent": 50},
    "design": {"owner": "design", "sla_hours": 72, "remind_hours": 24, "escalate_hours": 96, "escalate_to": "ops",
               "expire_days": 14, "on_expiry": "approve", "due_attribute": "design_due"},
    "production": {"owner": "factory", "sla_hours": 240},
}


def _problems(gates: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config({"gates": gates}, source="p.toml", environ={})
    return [str(p) for p in caught.value.problems]


def test_a_workflow_and_its_gates_are_read_in_order_with_durations_in_seconds():
    gates = parse_config({"gates": GATES}, environ={}).gates

    [workflow] = gates.workflows
    design = gates.gates["design"]
    assert (workflow.name, workflow.gates, workflow.order_tags) == ("custom", ("finance", "design", "production"),
                                                                   ("custom",))
    assert workflow.product_tags == ("made-to-order",)
    assert gates.on_reject == "cancel"
    assert gates.gates["finance"].pass_at_paid_share == Decimal("0.5")
    assert (design.sla, design.remind_every, design.escalate_after, design.expire_after, design.on_expiry) == (
        72 * 3600.0, 24 * 3600.0, 96 * 3600.0, 14 * 86400.0, "approve")


def test_without_a_gates_section_no_order_passes_any_gate():
    assert parse_config({}, environ={}).gates.workflows == ()


def test_a_workflow_naming_a_gate_without_a_table_and_a_gate_without_an_owner_are_named():
    gates = {**GATES, "workflows": {"custom": {"order_tags": ["custom"], "gates": ["finance", "painting"]}},
             "finance": {"sla_hours": 24}}

    assert _problems(gates) == [
        "p.toml: gates.finance.owner: expected the role that acts on this gate, such as \"finance\", got None",
        "p.toml: gates.workflows.custom.gates: gate 'painting' has no [gates.painting] table with its owner and SLA",
    ]


def test_an_expiry_policy_other_than_approve_or_cancel_and_a_negative_sla_are_refused():
    gates = {**GATES, "design": {"owner": "design", "sla_hours": -1, "expire_days": 14, "on_expiry": "ignore"}}

    assert _problems(gates) == [
        "p.toml: gates.design.on_expiry: expected one of 'approve', 'cancel', got 'ignore'",
        "p.toml: gates.design.sla_hours: expected a positive number, got -1",
    ]


def test_a_workflow_that_takes_no_order_and_an_unknown_rejection_policy_are_refused():
    gates = {**GATES, "on_reject": "ignore", "workflows": {"custom": {"gates": ["finance"]}}}

    assert _problems(gates) == [
        "p.toml: gates.on_reject: expected one of 'hold', 'cancel', got 'ignore'",
        "p.toml: gates.workflows.custom: takes no order: give order_tags, sku_prefixes, line_properties or product_tags",
    ]


def test_a_gate_owned_by_a_role_no_console_user_has_is_refused():
    console = {"users": {"alice": "finance"}, "tokens": {"alice": "a" * 32}}

    with pytest.raises(ConfigError) as caught:
        parse_config({"gates": GATES, "console": console}, source="p.toml", environ={})

    assert "p.toml: gates.design: role 'design' is no [console] user's: nobody could act on this gate in the " \
           "console" in [str(p) for p in caught.value.problems]

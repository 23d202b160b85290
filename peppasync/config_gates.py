"""The ``[gates]`` section: build-to-order workflows and their stage gates.

Unlike the flat sections of ``peppasync.config``, it nests: one table per workflow
(which orders, which gates in order) and one per gate (who owns it, its SLA, its
reminders and escalation, its automatic rules)::

    [gates]
    on_reject = "hold"                 # or "cancel": what a rejected gate does to its order

    [gates.workflows.custom]
    order_tags = ["custom"]            # an order is built to order when it has one of these tags,
    sku_prefixes = ["BTO-"]            # or a line whose SKU starts so,
    line_properties = ["Engraving"]    # or a line carrying one of these properties,
    product_tags = ["made-to-order"]   # or a line of a product with one of these tags (read from Shopify)
    gates = ["finance", "design", "production", "qc"]

    [gates.finance]
    owner = "finance"                  # the console role whose people act on it
    sla_hours = 24
    pass_at_paid_percent = 50          # passes by itself once this share of the total is paid

    [gates.design]
    owner = "design"
    sla_hours = 72
    due_attribute = "design_due"       # an order attribute with an ISO 8601 date: due then instead
    remind_hours = 24
    escalate_hours = 96
    escalate_to = "ops"
    expire_days = 14
    on_expiry = "approve"              # or "cancel"

Every problem is reported with its key, as the rest of the configuration's are.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from peppasync.errors import ConfigProblem

__all__ = ["GATE_ON_EXPIRY", "GATE_ON_REJECT", "GateConfig", "GatesConfig", "WorkflowConfig", "parse_gates"]

#: What a rejected gate does to its order: held everywhere until someone decides, or cancelled.
GATE_ON_REJECT = ("hold", "cancel")
#: What an approval request that is not answered in time turns into.
GATE_ON_EXPIRY = ("approve", "cancel")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_GATE_KEYS = ("owner", "sla_hours", "due_attribute", "remind_hours", "escalate_hours", "escalate_to",
              "pass_at_paid_percent", "expire_days", "on_expiry")
_WORKFLOW_KEYS = ("order_tags", "sku_prefixes", "line_properties", "product_tags", "gates")


@dataclass(frozen=True)
class GateConfig:
    """One gate; durations in seconds (the file gives hours and days)."""

    name: str
    owner: str
    sla: float | None = None
    due_attribute: str = ""
    remind_every: float | None = None
    escalate_after: float | None = None
    escalate_to: str = ""
    pass_at_paid_share: Decimal | None = None
    expire_after: float | None = None
    on_expiry: str | None = None


@dataclass(frozen=True)
class WorkflowConfig:
    """Which orders are built to order, and the gates they pass, in order."""

    name: str
    gates: tuple[str, ...]
    order_tags: tuple[str, ...] = ()
    sku_prefixes: tuple[str, ...] = ()
    line_properties: tuple[str, ...] = ()
    product_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class GatesConfig:
    """Build-to-order workflows (none: no order passes any gate) and their gates by name."""

    on_reject: str = "hold"
    workflows: tuple[WorkflowConfig, ...] = ()
    gates: Mapping[str, GateConfig] = field(default_factory=lambda: types.MappingProxyType({}))

    def workflow(self, name: str) -> WorkflowConfig | None:
        return next((w for w in self.workflows if w.name == name), None)


def parse_gates(table: Mapping[str, Any], source: str, env: Mapping[str, str],
                problems: list[ConfigProblem]) -> GatesConfig:
    """The ``[gates]`` table as a ``GatesConfig``; what is wrong goes to ``problems``."""

    def bad(key: str, message: str) -> None:
        problems.append(ConfigProblem(source, f"gates.{key}", message))

    on_reject = env.get("PEPPASYNC_GATES_ON_REJECT", table.get("on_reject", "hold"))
    if on_reject not in GATE_ON_REJECT:
        bad("on_reject", f"expected one of {', '.join(map(repr, GATE_ON_REJECT))}, got {on_reject!r}")
        on_reject = "hold"
    gates: dict[str, GateConfig] = {}
    for name, value in table.items():
        if name in ("on_reject", "workflows"):
            continue
        if not isinstance(value, dict):
            bad(name, f"unknown key {name!r} in [gates]; a gate is a table such as [gates.{name}] with an owner")
        elif not _NAME.fullmatch(name):
            bad(name, "expected a gate name of lower-case letters, digits and '_', such as design")
        else:
            gates[name] = _gate(name, value, bad)
    workflows: list[WorkflowConfig] = []
    given = table.get("workflows", {})
    if not isinstance(given, dict):
        bad("workflows", "expected tables such as [gates.workflows.custom]")
        given = {}
    for name, value in given.items():
        if not isinstance(value, dict):
            bad(f"workflows.{name}", "expected a table with gates = [...] and what orders it takes")
            continue
        workflow = _workflow(name, value, gates, bad)
        if workflow is not None:
            workflows.append(workflow)
    return GatesConfig(on_reject, tuple(workflows), types.MappingProxyType(gates))


def _gate(name: str, table: Mapping[str, Any], bad: Any) -> GateConfig:
    for key in table:
        if key not in _GATE_KEYS:
            bad(f"{name}.{key}", f"unknown key {key!r} in [gates.{name}]; valid: {', '.join(_GATE_KEYS)}")
    owner = table.get("owner")
    if not isinstance(owner, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", owner):
        bad(f"{name}.owner", f"expected the role that acts on this gate, such as \"finance\", got {owner!r}")
        owner = ""

    def seconds(key: str, unit: float) -> float | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            bad(f"{name}.{key}", f"expected a positive number, got {value!r}")
            return None
        return float(value) * unit

    share = None
    percent = table.get("pass_at_paid_percent")
    if percent is not None:
        if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 < percent <= 100:
            bad(f"{name}.pass_at_paid_percent", f"expected a percentage above 0 and at most 100, got {percent!r}")
        else:
            share = Decimal(str(percent)) / 100
    expire_after = seconds("expire_days", 86400.0)
    on_expiry = table.get("on_expiry")
    if (expire_after is None) != (on_expiry is None):
        bad(f"{name}.on_expiry", "expire_days and on_expiry go together: after so many days, approve or cancel")
    elif on_expiry is not None and on_expiry not in GATE_ON_EXPIRY:
        bad(f"{name}.on_expiry", f"expected one of {', '.join(map(repr, GATE_ON_EXPIRY))}, got {on_expiry!r}")
        on_expiry = None
    escalate_to = table.get("escalate_to", "")
    escalate_after = seconds("escalate_hours", 3600.0)
    if not isinstance(escalate_to, str) or (escalate_after is not None and not escalate_to):
        bad(f"{name}.escalate_to", "escalate_hours needs escalate_to, the role told when the gate is that late")
        escalate_to = ""
    due_attribute = table.get("due_attribute", "")
    if not isinstance(due_attribute, str):
        bad(f"{name}.due_attribute", f"expected the name of an order attribute, got {due_attribute!r}")
        due_attribute = ""
    return GateConfig(name=name, owner=owner, sla=seconds("sla_hours", 3600.0), due_attribute=due_attribute,
                      remind_every=seconds("remind_hours", 3600.0), escalate_after=escalate_after,
                      escalate_to=escalate_to, pass_at_paid_share=share, expire_after=expire_after,
                      on_expiry=on_expiry)


def _workflow(name: str, table: Mapping[str, Any], gates: Mapping[str, GateConfig], bad: Any) -> WorkflowConfig | None:
    where = f"workflows.{name}"
    for key in table:
        if key not in _WORKFLOW_KEYS:
            bad(f"{where}.{key}", f"unknown key {key!r} in [gates.{where}]; valid: {', '.join(_WORKFLOW_KEYS)}")
    lists: dict[str, tuple[str, ...]] = {}
    for key in _WORKFLOW_KEYS:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            bad(f"{where}.{key}", f"expected an array of names, got {value!r}")
            value = []
        lists[key] = tuple(v.strip() for v in value)
    ok = True
    if not lists["gates"]:
        bad(f"{where}.gates", "expected the gates an order passes, in order, such as [\"finance\", \"design\"]")
        ok = False
    for gate in lists["gates"]:
        if gate not in gates:
            bad(f"{where}.gates", f"gate {gate!r} has no [gates.{gate}] table with its owner and SLA")
            ok = False
    if len(set(lists["gates"])) != len(lists["gates"]):
        bad(f"{where}.gates", "a gate is named twice")
        ok = False
    if not (lists["order_tags"] or lists["sku_prefixes"] or lists["line_properties"] or lists["product_tags"]):
        bad(where, "takes no order: give order_tags, sku_prefixes, line_properties or product_tags")
        ok = False
    if not ok:
        return None
    return WorkflowConfig(name, lists["gates"], tuple(t.lower() for t in lists["order_tags"]), lists["sku_prefixes"],
                          lists["line_properties"], tuple(t.lower() for t in lists["product_tags"]))

"""The ``[gates]`` configuration as the gate model's values, and which workflow an order takes.

An order is built to order when a workflow matches it: by the order's tags, a line's SKU
prefix, a property on a line (a Shopify line item's ``properties``, such as an engraving
text), or a tag of a line's product (read from Shopify, as the webhook does not carry it).
A gate may be due at a date the order itself carries (a note attribute, ISO 8601) instead
of after its SLA. The facts are read from the order's webhook body, the REST order
resource (``peppasync/contracts/shopify.json``: ``tags``, ``line_items[].properties``,
``note_attributes``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from peppasync.clock import parse_timestamp
from peppasync.config_gates import GatesConfig

from actors.gate_model import GateRule, Workflow

__all__ = ["GATE_KIND", "GATE_TIMER_KIND", "GateSettings", "gate_key", "split_gate_key"]

GATE_KIND = "gate"
GATE_TIMER_KIND = "gate_timer"


def gate_key(order_id: str, gate: str) -> str:
    """The key of one order's gate actor: ``<order id>:<gate>``."""
    return f"{order_id}:{gate}"


def split_gate_key(key: str) -> tuple[str, str]:
    """``<order id>:<gate>`` -> (order id, gate); a ValueError says what a key looks like."""
    order_id, sep, gate = key.partition(":")
    if not sep or not order_id or not gate:
        raise ValueError(f"a gate key is <order id>:<gate>, such as 1001:design, got {key!r}")
    return order_id, gate


@dataclass(frozen=True)
class GateSettings:
    """The workflows, what a rejection does to its order, and the order attribute each gate's due date is in."""

    workflows: tuple[Workflow, ...] = ()
    on_reject: str = "hold"
    due_attributes: Mapping[str, str] = field(default_factory=dict)
    # What each gate's expiry does to the order ("approve" or "cancel").
    on_expiry: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: GatesConfig) -> GateSettings:
        rules = {
            name: GateRule(name, g.owner, sla=g.sla, remind_every=g.remind_every, expire_after=g.expire_after,
                           on_expiry=None if g.on_expiry is None else ("approve" if g.on_expiry == "approve"
                                                                       else "reject"),
                           pass_at_paid_share=g.pass_at_paid_share, escalate_after=g.escalate_after,
                           escalate_to=g.escalate_to)
            for name, g in config.gates.items()
        }
        workflows = tuple(
            Workflow(w.name, tuple(rules[g] for g in w.gates), tags=frozenset(w.order_tags),
                     sku_prefixes=w.sku_prefixes, line_properties=frozenset(w.line_properties),
                     product_tags=frozenset(w.product_tags))
            for w in config.workflows)
        return cls(workflows, config.on_reject,
                   {name: g.due_attribute for name, g in config.gates.items() if g.due_attribute},
                   {name: g.on_expiry for name, g in config.gates.items() if g.on_expiry})

    def workflow(self, name: str) -> Workflow | None:
        return next((w for w in self.workflows if w.name == name), None)

    def rule(self, workflow: str, gate: str) -> GateRule | None:
        found = self.workflow(workflow)
        return found.rule(gate) if found is not None else None

    def for_order(self, body: Mapping[str, Any],
                  product_tags: Callable[[], Iterable[str]] | None = None) -> Workflow | None:
        """The first workflow that takes this order (its webhook body), or None: not built to order.

        The body carries no product's tags: ``product_tags`` reads them (from the storefront),
        only when a workflow takes orders by product tag and nothing in the body decided.
        """
        tags = [t for t in str(body.get("tags") or "").split(",") if t.strip()]
        items = [i for i in body.get("line_items") or () if isinstance(i, Mapping)]
        skus = [str(i.get("sku") or "") for i in items]
        properties = [str(p.get("name") or "") for i in items for p in i.get("properties") or ()
                      if isinstance(p, Mapping)]
        found = next((w for w in self.workflows if w.matches(tags, skus, properties)), None)
        if found is not None or product_tags is None or not any(w.product_tags for w in self.workflows):
            return found
        read = list(product_tags())
        return next((w for w in self.workflows if w.matches(tags, skus, properties, read)), None)

    def due_at(self, gate: str, body: Mapping[str, Any]) -> float | None:
        """When the order says ``gate`` is due (its configured attribute, an ISO 8601 date), if it says."""
        name = self.due_attributes.get(gate)
        if not name:
            return None
        for attribute in body.get("note_attributes") or ():
            if isinstance(attribute, Mapping) and attribute.get("name") == name:
                value = str(attribute.get("value") or "").strip()
                moment = parse_timestamp(value)
                return moment.timestamp() if moment is not None else None
        return None

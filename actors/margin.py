"""The margin actor: one per order, keeping its true margin current as the facts arrive.

It hears of the order from the order actor (every ``orders/*`` webhook and every order
the reconciler imports, as a ``sale`` with the order body, and ``refunds/create`` as a
``refund``), of labels from the shipment feed (a ``label`` per WMS shipment, voided ones
too) and of costs from the cost book. On each it gathers the facts
(``actors.adapters.shopify.sale_facts``), recomputes the margin
(``actors.margin_model.compute_margin``) and keeps both in its state, which
``peppasync margin show`` and ``margin report`` read.

Rules:
- The unit costs are a snapshot taken when the order is first seen (the time of sale);
  a later cost change reaches the order only by a ``recost`` (``peppasync margin recost``).
- Order bodies may arrive out of order: the one with the latest ``updated_at`` stands.
- A refund is counted once whether it arrives in a ``refunds/create`` body, in a later
  order body, or both (by its id).
- A cost source that fails (the ERP is down) is passed over for the next source in the
  order, and every cost is read again on the order's next event; the margin never waits
  for a cost. (No delayed message: it would hold the mailbox, which is FIFO, until due.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial
from typing import Any

from peppasync.clock import parse_timestamp
from peppasync.config import COST_SOURCES, MarginConfig
from peppasync.errors import ValidationError
from peppasync.store import Message

from actors.adapters.shopify import sale_facts
from actors.costs import CostBook
from actors.durable import DurableActor
from actors.margin_model import (
    Component,
    Label,
    Margin,
    MarginRules,
    SaleFacts,
    UnitCost,
    compute_margin,
    sku_breakdown,
)

__all__ = ["MARGIN_KIND", "MarginActor", "MarginSettings", "margin_message"]

MARGIN_KIND = "margin"
#: How many event-to-margin lags an order keeps.
LAGS_KEPT = 10

# What the margin reads of an order body (the rest is the order actor's business).
_ORDER_KEYS = ("id", "name", "created_at", "updated_at", "cancelled_at", "currency", "presentment_currency",
               "taxes_included", "total_price", "total_price_set", "financial_status")
_LINE_KEYS = ("id", "sku", "quantity", "price", "price_set", "discount_allocations", "tax_lines", "gift_card",
              "requires_shipping")
_SHIPPING_KEYS = ("price", "price_set", "discounted_price", "discounted_price_set", "tax_lines")
_REFUND_KEYS = ("id", "created_at", "order_adjustments")
_REFUND_LINE_KEYS = ("line_item_id", "quantity", "subtotal", "subtotal_set", "total_tax", "total_tax_set",
                     "restock_type")


@dataclass(frozen=True)
class MarginSettings:
    """The ``[margin]`` configuration in the form the actor uses."""

    rules: MarginRules = MarginRules()
    cost_sources: tuple[str, ...] = COST_SOURCES
    floor_percent: Decimal | None = None

    @classmethod
    def from_config(cls, config: MarginConfig) -> MarginSettings:
        def dec(value: float | None) -> Decimal | None:
            return None if value is None else Decimal(str(value))

        return cls(
            rules=MarginRules(
                cost_percent=dec(config.cost_percent),
                fee_percent=Decimal(str(config.fee_percent)),
                fee_fixed=Decimal(str(config.fee_fixed)),
                fulfilment_estimate=dec(config.fulfilment_estimate),
                per_order={name: Decimal(str(amount)) for name, amount in config.per_order.items()},
            ),
            cost_sources=config.cost_sources,
            floor_percent=dec(config.floor_percent),
        )


def margin_message(kind: str, received_at: float, **fields: Any) -> dict[str, Any]:
    """A message for a margin actor: ``sale`` (body), ``refund`` (body), ``label`` or ``recost``."""
    return {"type": kind, "received_at": received_at, **fields}


class MarginActor(DurableActor):
    """One order's true margin."""

    kind = MARGIN_KIND

    def handle(self, message: Message) -> None:
        payload = message.payload
        kind = payload.get("type")
        if kind == "sale":
            if not self._take_sale(payload.get("body")):
                return
        elif kind == "refund":
            self._take_refund(payload.get("body"))
        elif kind == "label":
            self._take_label(payload)
        elif kind != "recost":
            raise ValidationError(f"margin message of unknown type {kind!r}", field="type")
        if "sale" not in self.state:
            self.save_state()  # a label or refund before its order: kept until the order arrives
            return
        self._recompute(payload.get("received_at"), fresh=kind == "recost" or bool(self.state.get("recost_due")))

    # -- facts -----------------------------------------------------------------

    def _take_sale(self, body: Any) -> bool:
        if not isinstance(body, Mapping) or not isinstance(body.get("line_items"), list):
            raise ValidationError("a sale needs the order body with its line_items", field="body")
        held = self.state.get("sale")
        if held is not None and _later(held.get("updated_at"), body.get("updated_at")):
            return False  # an older version of the order than the one we hold
        self.state["sale"] = _compact_order(body)
        for refund in body.get("refunds") or ():
            if isinstance(refund, Mapping) and refund.get("id") is not None:
                self.state.setdefault("refunds", {})[str(refund["id"])] = _compact_refund(refund)
        return True

    def _take_refund(self, body: Any) -> None:
        if not isinstance(body, Mapping) or body.get("id") is None:
            raise ValidationError("a refund needs the refund body with its id", field="body")
        self.state.setdefault("refunds", {})[str(body["id"])] = _compact_refund(body)

    def _take_label(self, payload: Mapping[str, Any]) -> None:
        shipment = str(payload.get("shipment_id") or payload.get("tracking_number") or "")
        if not shipment:
            raise ValidationError("a label needs the shipment's id", field="shipment_id")
        try:
            label = {
                "shipment_cost": str(Decimal(str(payload.get("shipment_cost") or 0))),
                "insurance_cost": str(Decimal(str(payload.get("insurance_cost") or 0))),
                "voided": bool(payload.get("voided")),
            }
        except ArithmeticError:
            raise ValidationError("a label's costs must be amounts", field="shipment_cost") from None
        self.state.setdefault("labels", {})[shipment] = label

    # -- the margin ------------------------------------------------------------

    def _recompute(self, received_at: Any, *, fresh: bool) -> None:
        settings: MarginSettings = self._ctx.services.get("margin") or MarginSettings()
        sale = self.state["sale"]
        facts = sale_facts({**sale, "refunds": list(self.state.get("refunds", {}).values())})
        facts = replace(facts, labels=tuple(_label(x) for x in self.state.get("labels", {}).values()),
                        costs=self._snapshot(facts, settings, fresh=fresh))
        margin = compute_margin(facts, settings.rules)
        before = self.state.get("margin")
        record = _record(margin, sku_breakdown(facts, settings.rules))
        self.state["margin"] = record
        self.state["changed_at"] = self.clock.time()
        self.save_state()
        below = _below(record, settings.floor_percent)
        was_below = before is not None and _below(before, settings.floor_percent)
        self.on_success(partial(self.hooks.on_margin, margin.currency, _deltas(before, record),
                                None if before is not None else margin.percent, below and not was_below))
        if isinstance(received_at, (int, float)) and not isinstance(received_at, bool):
            lag = max(0.0, self.clock.time() - float(received_at))
            # The last few, for `bench black-friday` (event received -> margin computed).
            self.state["lags"] = [*self.state.get("lags", ())[-(LAGS_KEPT - 1):], round(lag, 4)]
            self.on_success(partial(self.hooks.on_flow, "event_to_margin", lag))

    def _snapshot(self, facts: SaleFacts, settings: MarginSettings, *, fresh: bool) -> dict[str, UnitCost]:
        """Each SKU's unit cost as first read for this order; read now for SKUs without one.

        ``fresh`` (a recost): every SKU is read again from its source, past any cache; a
        SKU whose source fails keeps the cost it had.
        """
        held: dict[str, Any] = self.state.setdefault("costs", {})
        sold = {line.sku for line in facts.lines if line.sku and not line.gift_card}
        wanted = sorted(sold if fresh else sold - set(held))
        book: CostBook | None = self._ctx.services.get("costs")
        if wanted and book is not None:
            failed = False
            for sku in wanted:
                found = book.unit_cost(sku, settings.cost_sources, fresh=fresh)
                failed = failed or bool(found.failed)
                # A recost answered by a lesser source (a better one failed) keeps what the order had.
                if found.cost is not None and not (fresh and found.failed and sku in held):
                    held[sku] = {"amount": str(found.cost.amount), "source": found.cost.source}
            if failed:
                self.state["recost_due"] = True
            else:
                self.state.pop("recost_due", None)
        return {sku: UnitCost(Decimal(c["amount"]), str(c["source"])) for sku, c in held.items()}


# -- the stored forms ------------------------------------------------------------


def _compact_order(body: Mapping[str, Any]) -> dict[str, Any]:
    order = {k: body[k] for k in _ORDER_KEYS if k in body}
    order["line_items"] = [_pick(line, _LINE_KEYS) for line in body["line_items"] if isinstance(line, Mapping)]
    order["shipping_lines"] = [_pick(s, _SHIPPING_KEYS) for s in body.get("shipping_lines") or ()
                               if isinstance(s, Mapping)]
    return order


def _compact_refund(refund: Mapping[str, Any]) -> dict[str, Any]:
    kept = _pick(refund, _REFUND_KEYS)
    kept["refund_line_items"] = [
        {**_pick(given, _REFUND_LINE_KEYS),
         "line_item": _pick(given.get("line_item") or {}, ("sku",))}
        for given in refund.get("refund_line_items") or () if isinstance(given, Mapping)
    ]
    return kept


def _pick(record: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {k: record[k] for k in keys if k in record}


def _later(held: Any, offered: Any) -> bool:
    """Whether the order version held is newer than the one offered."""
    a, b = parse_timestamp(held), parse_timestamp(offered)
    return a is not None and b is not None and a > b


def _label(stored: Mapping[str, Any]) -> Label:
    return Label(Decimal(stored["shipment_cost"]), Decimal(stored["insurance_cost"]), bool(stored["voided"]))


def _component(part: Component) -> dict[str, Any]:
    out = {"name": part.name, "amount": str(part.amount), "source": part.source, "basis": part.basis}
    if part.presentment is not None:
        out["presentment"] = str(part.presentment)
    return out


def _record(margin: Margin, skus: Mapping[str, tuple[int, Decimal, Decimal]]) -> dict[str, Any]:
    return {
        "currency": margin.currency,
        "presentment_currency": margin.presentment_currency,
        "revenue": _component(margin.revenue),
        "costs": [_component(c) for c in margin.costs],
        "cost": str(margin.cost),
        "margin": str(margin.margin),
        "percent": None if margin.percent is None else str(margin.percent),
        "complete": margin.complete,
        "skus": {sku: {"units": units, "revenue": str(revenue), "cogs": str(cogs)}
                 for sku, (units, revenue, cogs) in skus.items()},
    }


def _amounts(record: Mapping[str, Any] | None) -> dict[str, Decimal]:
    if record is None:
        return {}
    parts = [record["revenue"], *record["costs"]]
    return {p["name"]: Decimal(p["amount"]) for p in parts}


def _deltas(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, Decimal]:
    old, new = _amounts(before), _amounts(after)
    return {name: new.get(name, Decimal(0)) - old.get(name, Decimal(0)) for name in {*old, *new}}


def _below(record: Mapping[str, Any], floor: Decimal | None) -> bool:
    percent = record.get("percent")
    return floor is not None and percent is not None and Decimal(percent) < floor

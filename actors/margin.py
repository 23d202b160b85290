"""The margin actor: one per order, keeping its true margin current as the facts arrive.

It hears of the order from the webhook receiver, in the webhook's own transaction (every
``orders/*`` body as a ``sale``, ``refunds/create`` as a ``refund``), and from the order actor
for what came another way (orders and refunds the reconciler imports, retried quarantine
entries); of labels from the shipment feed and sweep (a ``label`` per WMS shipment, voided
ones too); of unit costs from the cost book and of payment fees from the storefront. On each it gathers the facts
(``actors.adapters.shopify.sale_facts``), recomputes the margin
(``actors.margin_model.compute_margin``) and keeps both in its state, which
``peppasync margin show`` and ``margin report`` read.

Rules:
- The unit costs are a snapshot taken when the order is first seen (the time of sale);
  a later cost change reaches the order only by a ``recost`` (``peppasync margin recost``).
- An order body that changes no money (most updates) writes nothing.
- Order bodies may arrive out of order: the one with the latest ``updated_at`` stands.
- A refund is counted once whether it arrives in a ``refunds/create`` body, in a later
  order body, or both (by its id).
- The margin never waits for a cost: a cost not known yet is read in the background
  (``actors.costs.CostBook``) and the order is told (``costs``) when it is, and recomputed;
  meanwhile that cost is missing. Under a sale the ERP's queue holds thousands of sales
  orders, and a margin read behind them would be minutes late.
- A cost source that fails (the ERP is down) is passed over for the next in the order; a
  cost taken that way is provisional and asked for again on the order's next event, once
  the failed source may be asked again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
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
    Transaction,
    UnitCost,
    compute_margin,
    sku_breakdown,
)
from actors.payment_reads import Charges, PaymentReads
from actors.validation import normalise_order

__all__ = ["MARGIN_KIND", "MarginActor", "MarginSettings", "margin_message"]

log = logging.getLogger("peppasync.margin")

MARGIN_KIND = "margin"
#: Financial statuses of an order whose money was taken (its charges have fees to read).
_PAID = ("paid", "partially_refunded", "refunded", "partially_paid")
#: How many event-to-margin lags an order keeps.
LAGS_KEPT = 10



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
    """A message for a margin actor: ``sale`` and ``refund`` (a body), ``label``, ``recost`` (read the
    unit costs again), and from its own background reads ``costs`` (known now), ``payments``
    (the charges and their fees) and ``payments_failed``."""
    return {"type": kind, "received_at": received_at, **fields}


class MarginActor(DurableActor):
    """One order's true margin."""

    kind = MARGIN_KIND
    starts_first = True  # a short handler, read by people; the order's own actor waits on the ERP
    # Under a sale every event of an order comes here: a new value for each key it changes,
    # rather than a deep copy of the whole state (the order's lines and costs) before each one.
    replaces_state = True

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
        elif kind == "payments":
            self._take_payments(payload.get("charges"))
        elif kind == "payments_failed":
            self.state.pop("payments_asked", None)
            self.save_state()
            return
        elif kind not in ("recost", "costs"):
            raise ValidationError(f"margin message of unknown type {kind!r}", field="type")
        if "sale" not in self.state:
            self.save_state()  # a label or refund before its order: kept until the order arrives
            return
        self._recompute(kind, payload.get("received_at"), fresh=kind == "recost")

    # -- facts -----------------------------------------------------------------

    def _take_sale(self, body: Any) -> bool:
        """Keep this version of the order; False when there is nothing to recompute.

        An order the order flow would refuse (``normalise_order``) gets no margin: the
        reason is kept and logged, and the order's own quarantine entry is where an
        operator deals with it; its next valid version (an ``orders/updated`` once it is
        fixed in Shopify) replaces the reason with a margin.
        """
        if not isinstance(body, Mapping) or not isinstance(body.get("line_items"), list):
            raise ValidationError("a sale needs the order body with its line_items", field="body")
        held = self.state.get("sale")
        if held is not None and not _later(body.get("updated_at"), held.get("updated_at")):
            return False  # this version of the order, or an older one, was taken already
        try:
            normalise_order(body, non_sku_lines=True)
            sale = _compact_order(body)
            refunds = [_compact_refund(r) for r in _list(body.get("refunds"), "refunds")]
        except ValidationError as exc:
            log.info("order refused: no margin for it", extra={"order_id": self.key, "reason": str(exc)})
            self.state["refused"] = str(exc)
            self.save_state()
            return False
        self.state.pop("refused", None)
        known: dict[str, Any] = self.state.get("refunds", {})
        if held is not None and _same_money(held, sale) and all(known.get(r["id"]) == r for r in refunds):
            # Most updates change something else (fulfilment, tags, notes): nothing to recompute or
            # to write; the newer version is remembered for ordering until the next write.
            self.state["sale"] = {**held, "updated_at": sale["updated_at"]}
            return False
        self.state["sale"] = sale
        self.state["refunds"] = {**known, **{r["id"]: r for r in refunds}}
        return True

    def _take_refund(self, body: Any) -> None:
        if not isinstance(body, Mapping) or body.get("id") is None:
            raise ValidationError("a refund needs the refund body with its id", field="body")
        refund = _compact_refund(body)
        self.state["refunds"] = {**self.state.get("refunds", {}), refund["id"]: refund}

    def _take_label(self, payload: Mapping[str, Any]) -> None:
        shipment = str(payload.get("shipment_id") or payload.get("tracking_number") or "")
        if not shipment:
            raise ValidationError("a label needs the shipment's id", field="shipment_id")
        self.state["labels"] = {**self.state.get("labels", {}), _text(shipment, "shipment_id"): {
            "shipment_cost": _amount(payload.get("shipment_cost"), "shipment_cost"),
            "insurance_cost": _amount(payload.get("insurance_cost"), "insurance_cost"),
            "voided": bool(payload.get("voided")),
        }}

    def _take_payments(self, charges: Any) -> None:
        self.state["charges"] = [
            {"amount": _amount(c.get("amount"), "charges.amount"),
             "fees": None if c.get("fees") is None else _amount(c.get("fees"), "charges.fees")}
            for c in _list(charges, "charges")
        ]

    def _ask_payments(self) -> None:
        """Read the order's charges and fees from the storefront in the background, once paid.

        The read is shared with other orders' (``actors.payment_reads``); the answer comes
        back as a ``payments`` message, and a failure leaves the fees estimated and is tried
        again on the order's next event.
        """
        reads: PaymentReads | None = self._ctx.services.get("payments")
        sale = self.state.get("sale") or {}
        if (reads is None or "charges" in self.state or self.state.get("payments_asked")
                or sale.get("financial_status") not in _PAID):
            return
        self.state["payments_asked"] = True
        system, key, clock = self._ctx.system, self.key, self._ctx.clock

        def answer(charges: Charges) -> None:
            if isinstance(charges, Exception):
                log.warning("payment fees not read: estimated until the order's next event",
                            extra={"order_id": key, "error": str(charges)})
                system.tell(MARGIN_KIND, key, margin_message("payments_failed", clock.time()))
            elif charges is not None:
                system.tell(MARGIN_KIND, key, margin_message(
                    "payments", clock.time(),
                    charges=[{"amount": str(c.amount), "fees": None if c.fees is None else str(c.fees)}
                             for c in charges]))

        self.on_success(partial(reads.ask, key, answer))

    # -- the margin ------------------------------------------------------------

    def _recompute(self, event: str, received_at: Any, *, fresh: bool) -> None:
        settings: MarginSettings = self._ctx.services.get("margin") or MarginSettings()
        sale = self.state["sale"]
        facts = sale_facts({**sale, "refunds": list(self.state.get("refunds", {}).values())})
        facts = replace(facts, labels=tuple(_label(x) for x in self.state.get("labels", {}).values()),
                        costs=self._snapshot(facts, settings, fresh=fresh),
                        transactions=tuple(Transaction(Decimal(c["amount"]),
                                                       None if c["fees"] is None else Decimal(c["fees"]))
                                           for c in self.state.get("charges", ())))
        self._ask_payments()
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
            # The last few, with their event, for `bench black-friday` (event received -> margin computed).
            self.state["lags"] = [*self.state.get("lags", ())[-(LAGS_KEPT - 1):], [event, round(lag, 4)]]
            self.on_success(partial(self.hooks.on_flow, "event_to_margin", lag))

    def _told(self) -> None:
        """A unit cost this order waited on is known now (called from the cost book's reader)."""
        self._ctx.system.tell(MARGIN_KIND, self.key, margin_message("costs", self._ctx.clock.time()))

    def _snapshot(self, facts: SaleFacts, settings: MarginSettings, *, fresh: bool) -> dict[str, UnitCost]:
        """Each SKU's unit cost as first read for this order; read now for SKUs without one.

        ``fresh`` (a recost): every SKU is read again from its source, past any cache; a
        SKU whose source fails keeps the cost it had.
        """
        held: dict[str, Any] = dict(self.state.get("costs", {}))
        self.state["costs"] = held  # a new dict: the old state's stays as it was
        sold = {line.sku for line in facts.lines if line.sku and not line.gift_card}
        # A cost taken from a lesser source because a better one failed is asked for again.
        wanted = sorted(sold if fresh else {sku for sku in sold if sku not in held or held[sku].get("provisional")})
        book: CostBook | None = self._ctx.services.get("costs")
        if wanted and book is not None:
            failed = waiting = False
            for sku in wanted:
                # One call back per recompute is enough: the next recompute waits on what is still pending.
                found = book.lookup(sku, settings.cost_sources, wait=fresh, fresh=fresh,
                                    then=None if waiting else self._told)
                waiting = waiting or found.pending
                failed = failed or bool(found.failed) or found.pending
                # A recost answered by a lesser source (a better one failed) keeps what the order had.
                if found.cost is not None and not (fresh and found.failed and sku in held):
                    held[sku] = {"amount": str(found.cost.amount), "source": found.cost.source}
                    if found.failed:
                        held[sku]["provisional"] = True
            if failed:
                self.state["recost_due"] = True
            else:
                self.state.pop("recost_due", None)
        return {sku: UnitCost(Decimal(c["amount"]), str(c["source"])) for sku, c in held.items()}


# -- the stored forms ------------------------------------------------------------
#
# Only what the margin reads is kept, each value checked for its type: an order body is
# signed but may still hold anything (a nested structure a thousand levels deep, a
# number too long to be an amount), and what is stored must load again.

_LIMIT = Decimal(10) ** 12  # no amount of one order comes near a trillion


def _text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool) or len(str(value)) > 255:
        raise ValidationError(f"{name} must be a short string, got {type(value).__name__}", field=name)
    return str(value)


def _amount(value: Any, name: str) -> str:
    if value is None:
        return "0"
    try:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ArithmeticError
        amount = Decimal(str(value))
        if not amount.is_finite() or abs(amount) >= _LIMIT:
            raise ArithmeticError
    except ArithmeticError:
        raise ValidationError(f"{name} must be an amount such as \"12.50\", got {str(value)[:40]!r}",
                              field=name) from None
    return str(amount)


def _money_set(value: Any, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        return {side: {"amount": _amount(value[side]["amount"], f"{name}.{side}.amount")}
                for side in ("shop_money", "presentment_money")}
    except (TypeError, KeyError):
        raise ValidationError(f"{name} must hold shop_money and presentment_money amounts", field=name) from None


def _list(value: Any, name: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ValidationError(f"{name} must be a list of objects", field=name)
    return value


def _priced(record: Mapping[str, Any], name: str, amount: str = "price", money: str = "price_set") -> dict[str, Any]:
    return {amount: _amount(record.get(amount), f"{name}.{amount}"),
            money: _money_set(record.get(money), f"{name}.{money}")}


def _units(quantity: Any, at: str) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity < 10**6:
        raise ValidationError(f"{at}.quantity must be a whole number of units", field="quantity")
    return quantity


def _taxes(value: Any, name: str) -> list[dict[str, Any]]:
    return [_priced(t, f"{name}[{i}]") for i, t in enumerate(_list(value, name))]


def _compact_order(body: Mapping[str, Any]) -> dict[str, Any]:
    lines = []
    for i, line in enumerate(_list(body.get("line_items"), "line_items")):
        at = f"line_items[{i}]"
        lines.append({
            "id": _text(line.get("id"), f"{at}.id"), "sku": _text(line.get("sku"), f"{at}.sku"),
            "quantity": _units(line.get("quantity"), at), **_priced(line, at),
            "discount_allocations": [_priced(d, f"{at}.discount_allocations[{j}]", "amount", "amount_set")
                                     for j, d in enumerate(_list(line.get("discount_allocations"), at))],
            "tax_lines": _taxes(line.get("tax_lines"), f"{at}.tax_lines"),
            "gift_card": bool(line.get("gift_card")), "requires_shipping": line.get("requires_shipping") is not False,
        })
    shipping = []
    for i, ship in enumerate(_list(body.get("shipping_lines"), "shipping_lines")):
        at = f"shipping_lines[{i}]"
        kept = _priced(ship, at)
        if ship.get("discounted_price") is not None or ship.get("discounted_price_set") is not None:
            kept.update(_priced(ship, at, "discounted_price", "discounted_price_set"))
        shipping.append({**kept, "tax_lines": _taxes(ship.get("tax_lines"), f"{at}.tax_lines")})
    currency = _text(body.get("currency"), "currency")
    return {
        **{key: _text(body.get(key), key) for key in ("id", "name", "created_at", "updated_at", "financial_status")},
        "cancelled_at": _text(body.get("cancelled_at"), "cancelled_at") or None,
        "currency": currency, "presentment_currency": _text(body.get("presentment_currency"), "") or currency,
        "taxes_included": bool(body.get("taxes_included")),
        **_priced(body, "order", "total_price", "total_price_set"),
        "line_items": lines, "shipping_lines": shipping,
    }


def _compact_refund(refund: Mapping[str, Any]) -> dict[str, Any]:
    lines = []
    for i, given in enumerate(_list(refund.get("refund_line_items"), "refund_line_items")):
        at = f"refund_line_items[{i}]"
        item = given.get("line_item")
        lines.append({
            "line_item_id": _text(given.get("line_item_id"), f"{at}.line_item_id"),
            "quantity": _units(given.get("quantity"), at),
            **_priced(given, at, "subtotal", "subtotal_set"), **_priced(given, at, "total_tax", "total_tax_set"),
            "restock_type": _text(given.get("restock_type"), f"{at}.restock_type"),
            "line_item": {"sku": _text(item.get("sku"), f"{at}.line_item.sku")} if isinstance(item, Mapping) else {},
        })
    adjustments = [{"kind": _text(a.get("kind"), "order_adjustments.kind"),
                    **_priced(a, f"order_adjustments[{i}]", "amount", "amount_set")}
                   for i, a in enumerate(_list(refund.get("order_adjustments"), "order_adjustments"))]
    return {"id": _text(refund.get("id"), "id"), "created_at": _text(refund.get("created_at"), "created_at"),
            "refund_line_items": lines, "order_adjustments": adjustments}


def _same_money(held: Mapping[str, Any], offered: Mapping[str, Any]) -> bool:
    return {k: v for k, v in held.items() if k != "updated_at"} == {k: v for k, v in offered.items()
                                                                     if k != "updated_at"}


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

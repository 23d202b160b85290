"""True margin of one order: what it earned, what it cost, and how sure we are of each part.

A pure calculation over the facts of a sale, so it can be recomputed on every event that
changes one of them (an edit, a refund, a label, a new cost) and tested by hand.

- **Revenue** is what the customer paid for goods and shipping, net of discounts and
  refunds, tax excluded, in the shop's currency (the buyer's currency kept beside it).
  Gift cards sold are not revenue: they are paid for when they are spent.
- **COGS** is each unit's cost snapshot from the time of sale (the first source that has
  one, in the configured order: the ERP's average cost, last purchase price or landed cost,
  Shopify's ``InventoryItem.unitCost``), else the configured share of its price. Units
  refunded and restocked cost nothing; units refunded and not returned still do.
- **Fulfilment** is the warehouse labels' ``shipmentCost`` + ``insuranceCost``, voided
  labels left out, else the configured estimate.
- **Payment fees** are the fees Shopify reports on a transaction (Shopify Payments only),
  else the configured rate on the amount charged. Fees stay when an order is refunded.
- **Other** costs per order that ships (packaging, handling) come from the configuration.

Each component says where it came from and whether it is ``actual``, ``estimated`` or
``missing``: a margin with a missing cost looks better than it is and is marked incomplete.
Sources for these rules: ../shared/reference/money-and-gates.md, §1 and §2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from peppasync.config import COST_SOURCES
from peppasync.money import MoneyBag, round_money

__all__ = [
    "COST_SOURCES",
    "Basis",
    "Component",
    "Label",
    "Margin",
    "MarginRules",
    "Refund",
    "RefundLine",
    "SaleFacts",
    "SoldLine",
    "Transaction",
    "UnitCost",
    "choose_unit_cost",
    "compute_margin",
    "sku_breakdown",
]

Basis = Literal["actual", "estimated", "missing"]
_RANK: dict[Basis, int] = {"actual": 0, "estimated": 1, "missing": 2}


_ZERO = Decimal(0)


@dataclass(frozen=True)
class UnitCost:
    """The cost of one unit of a SKU at the time of sale, in the shop's currency."""

    amount: Decimal
    source: str


@dataclass(frozen=True)
class SoldLine:
    """A line as sold: unit price, and the discount and tax that belong to the whole line."""

    sku: str
    quantity: int
    price: MoneyBag
    discount: MoneyBag = MoneyBag()
    tax: MoneyBag = MoneyBag()
    gift_card: bool = False


@dataclass(frozen=True)
class RefundLine:
    """Units given back: ``amount`` is what was refunded for them, tax excluded."""

    sku: str
    quantity: int
    amount: MoneyBag
    restocked: bool = False


@dataclass(frozen=True)
class Refund:
    """Money given back: for units, for shipping, and any other amount (all tax excluded)."""

    id: str
    lines: tuple[RefundLine, ...] = ()
    shipping: MoneyBag = MoneyBag()
    other: MoneyBag = MoneyBag()  # e.g. a goodwill amount beyond the units' price


@dataclass(frozen=True)
class Label:
    """A warehouse shipping label, in the shop's currency."""

    shipment_cost: Decimal
    insurance_cost: Decimal = _ZERO
    voided: bool = False


@dataclass(frozen=True)
class Transaction:
    """Money taken from the buyer; ``fees`` is None when the payment provider reports none."""

    amount: Decimal
    fees: Decimal | None = None


@dataclass(frozen=True)
class SaleFacts:
    """What is known about one order's money, gathered from the storefront, ERP and warehouse."""

    order_id: str
    shop_currency: str
    presentment_currency: str
    lines: tuple[SoldLine, ...]
    shipping: MoneyBag = MoneyBag()  # shipping charged, net of shipping discounts
    shipping_tax: MoneyBag = MoneyBag()
    taxes_included: bool = False  # prices include tax (as in most EU shops)
    total: MoneyBag = MoneyBag()  # what the buyer was asked to pay, tax included
    needs_shipping: bool = True
    refunds: tuple[Refund, ...] = ()
    labels: tuple[Label, ...] = ()
    transactions: tuple[Transaction, ...] = ()
    costs: Mapping[str, UnitCost] = field(default_factory=dict)  # by SKU, snapshot at sale


@dataclass(frozen=True)
class MarginRules:
    """The estimates a margin falls back on, from the ``[margin]`` configuration."""

    cost_percent: Decimal | None = None  # a unit's cost as a percentage of its price
    fee_percent: Decimal = _ZERO  # payment fee rate, percent of the amount charged...
    fee_fixed: Decimal = _ZERO  # ...plus this much per charge
    fulfilment_estimate: Decimal | None = None  # per order that ships, without a label yet
    # Costs of every order that ships (packaging, handling): a gift card sold alone has none.
    per_order: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Component:
    """One part of a margin, rounded to the shop currency's minor unit."""

    name: str
    amount: Decimal
    source: str
    basis: Basis
    presentment: Decimal | None = None  # revenue only: the same in the buyer's currency


@dataclass(frozen=True)
class Margin:
    """An order's revenue, its costs, and what is left; ``percent`` is None without revenue."""

    order_id: str
    currency: str
    presentment_currency: str
    revenue: Component
    costs: tuple[Component, ...]

    @property
    def cost(self) -> Decimal:
        return sum((c.amount for c in self.costs), _ZERO)

    @property
    def margin(self) -> Decimal:
        return self.revenue.amount - self.cost

    @property
    def percent(self) -> Decimal | None:
        if not self.revenue.amount:
            return None
        return (self.margin * 100 / self.revenue.amount).quantize(Decimal("0.01"))

    @property
    def complete(self) -> bool:
        """Whether every component is known (actual or estimated); a missing one flatters."""
        return all(c.basis != "missing" for c in (self.revenue, *self.costs))

    def component(self, name: str) -> Component:
        for part in (self.revenue, *self.costs):
            if part.name == name:
                return part
        raise KeyError(name)


def choose_unit_cost(candidates: Mapping[str, Decimal | None], order: Sequence[str] = COST_SOURCES) -> UnitCost | None:
    """The first of ``order``'s sources that has a cost among ``candidates``, or None."""
    for source in order:
        amount = candidates.get(source)
        if amount is not None:
            return UnitCost(amount, source)
    return None


def compute_margin(facts: SaleFacts, rules: MarginRules) -> Margin:
    """The order's margin from its facts; every figure rounded to the shop currency's minor unit."""
    currency = facts.shop_currency
    revenue = _revenue(facts)
    costs = (
        _cogs(facts, rules),
        _fulfilment(facts, rules),
        _payment_fees(facts, rules),
        *(Component(name, amount if facts.needs_shipping else _ZERO, f"config.margin.{name}", "estimated")
          for name, amount in rules.per_order.items()),
    )
    return Margin(
        order_id=facts.order_id,
        currency=currency,
        presentment_currency=facts.presentment_currency,
        revenue=Component(
            "revenue",
            round_money(revenue.shop, currency),
            "shopify.order",
            "actual",
            presentment=round_money(revenue.presentment, facts.presentment_currency),
        ),
        costs=tuple(Component(c.name, round_money(c.amount, currency), c.source, c.basis) for c in costs),
    )


def sku_breakdown(facts: SaleFacts, rules: MarginRules) -> dict[str, tuple[int, Decimal, Decimal]]:
    """Per SKU: units kept by the buyer, revenue and COGS in the shop's currency (rounded).

    The same rules as the order's revenue and COGS, line by line; shipping, fees and
    per-order costs belong to the order, not to a SKU. Lines without a SKU are under "".
    """
    currency = facts.shop_currency
    refunded: dict[str, tuple[int, int, Decimal]] = {}  # sku -> units given back, restocked, amount
    for refund in facts.refunds:
        for given in refund.lines:
            units, restocked, amount = refunded.get(given.sku, (0, 0, _ZERO))
            refunded[given.sku] = (units + given.quantity, restocked + (given.quantity if given.restocked else 0),
                                   amount + given.amount.shop)
    rows: dict[str, tuple[int, Decimal, Decimal]] = {}
    for line in facts.lines:
        if line.gift_card:
            continue
        units, revenue, cogs = rows.get(line.sku, (0, _ZERO, _ZERO))
        sold = line.price.shop * line.quantity - line.discount.shop - (line.tax.shop if facts.taxes_included else 0)
        cost = facts.costs.get(line.sku)
        unit_cost = (cost.amount if cost is not None
                     else line.price.shop * rules.cost_percent / 100 if rules.cost_percent is not None else _ZERO)
        rows[line.sku] = (units + line.quantity, revenue + sold, cogs + unit_cost * line.quantity)
    for sku, (given_back, restocked, amount) in refunded.items():
        if sku not in rows:
            continue
        units, revenue, cogs = rows[sku]
        per_unit = cogs / units if units else _ZERO
        rows[sku] = (max(0, units - given_back), revenue - amount, cogs - per_unit * min(restocked, units))
    return {sku: (units, round_money(revenue, currency), round_money(cogs, currency))
            for sku, (units, revenue, cogs) in rows.items()}


def _revenue(facts: SaleFacts) -> MoneyBag:
    total = MoneyBag()
    for line in facts.lines:
        if line.gift_card:
            continue
        total = total + line.price.times(line.quantity) - line.discount
        if facts.taxes_included:
            total = total - line.tax
    total = total + facts.shipping
    if facts.taxes_included:
        total = total - facts.shipping_tax
    for refund in facts.refunds:
        total = total - refund.shipping - refund.other
        for given in refund.lines:
            total = total - given.amount
    return total


def _cogs(facts: SaleFacts, rules: MarginRules) -> Component:
    restocked: dict[str, int] = {}
    for refund in facts.refunds:
        for given in refund.lines:
            if given.restocked:
                restocked[given.sku] = restocked.get(given.sku, 0) + given.quantity
    amount = _ZERO
    sources: set[str] = set()
    basis: Basis = "actual"
    for line in facts.lines:
        if line.gift_card:
            continue
        units = max(0, line.quantity - restocked.pop(line.sku, 0))
        cost = facts.costs.get(line.sku)
        if cost is not None:
            amount += cost.amount * units
            sources.add(cost.source)
        elif rules.cost_percent is not None:
            amount += line.price.shop * rules.cost_percent / 100 * units
            sources.add("config.margin.cost_percent")
            basis = _worse(basis, "estimated")
        elif units:
            basis = "missing"
    return Component("cogs", amount, "+".join(sorted(sources)) or "none", basis)


def _fulfilment(facts: SaleFacts, rules: MarginRules) -> Component:
    live = [label for label in facts.labels if not label.voided]
    if live:
        cost = sum((label.shipment_cost + label.insurance_cost for label in live), _ZERO)
        return Component("fulfilment", cost, "wms.label", "actual")
    if not facts.needs_shipping:
        return Component("fulfilment", _ZERO, "none", "actual")
    if rules.fulfilment_estimate is not None:
        return Component("fulfilment", rules.fulfilment_estimate, "config.margin.fulfilment_estimate", "estimated")
    return Component("fulfilment", _ZERO, "none", "missing")


def _payment_fees(facts: SaleFacts, rules: MarginRules) -> Component:
    charges = facts.transactions or (Transaction(facts.total.shop),)
    amount = _ZERO
    sources: set[str] = set()
    basis: Basis = "actual"
    for charge in charges:
        if charge.fees is not None:
            amount += charge.fees
            sources.add("shopify.transaction_fees")
        else:
            amount += charge.amount * rules.fee_percent / 100 + rules.fee_fixed
            sources.add("config.margin.fee_rate")
            basis = "estimated"
    return Component("payment_fees", amount, "+".join(sorted(sources)), basis)


def _worse(a: Basis, b: Basis) -> Basis:
    return a if _RANK[a] >= _RANK[b] else b

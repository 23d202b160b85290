"""Did the engine leave the three systems consistent? The sandbox's scorecard plus our side.

The sandbox's scorecard judges the simulators' final state (every valid order
in the ERP and WMS once, shipments fulfilled with their tracking). What only
the engine can answer is added here: each malformed order sits in quarantine,
no valid order does, every ERP sales order carries the order's lines and
quantities and adds up to the order's total (lines, discounts, shipping and tax,
within the currency's minor unit), and every refund made has exactly one credit
document in the ERP. The demo, the end-to-end tests and the benchmarks ask these
questions here and nowhere else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from peppasync.money import minor_unit
from peppasync.sandbox import Sandbox, Scorecard
from peppasync.sandbox.erp_book import BookedOrder
from peppasync.store import Store

__all__ = ["Consistency", "check_consistency"]


@dataclass(frozen=True)
class Consistency:
    """The scorecard, and what the engine itself holds (order ids where something is wrong)."""

    scorecard: Scorecard
    quarantined_expected: int
    quarantined_found: int
    malformed_not_quarantined: tuple[int, ...]
    valid_quarantined: tuple[int, ...]
    wrong_lines: tuple[int, ...]
    wrong_totals: tuple[int, ...] = ()
    # Refund ids without exactly one credit memo or cash refund in the ERP.
    refunds_not_credited_once: tuple[str, ...] = ()
    refunds: int = 0
    credit_documents: int = 0

    @property
    def consistent(self) -> bool:
        return self.scorecard.consistent and not (
            self.malformed_not_quarantined or self.valid_quarantined or self.wrong_lines or self.wrong_totals
            or self.refunds_not_credited_once
        )

    def as_dict(self) -> dict[str, Any]:
        card = self.scorecard.as_dict()
        return {
            **{k: (len(v) if isinstance(v, (tuple, list)) else v) for k, v in card.items()},
            "quarantined_expected": self.quarantined_expected,
            "quarantined_found": self.quarantined_found,
            "malformed_not_quarantined": len(self.malformed_not_quarantined),
            "valid_quarantined": len(self.valid_quarantined),
            "wrong_lines": len(self.wrong_lines),
            "wrong_totals": len(self.wrong_totals),
            "refunds_not_credited_once": len(self.refunds_not_credited_once),
            "refunds": self.refunds,
            "credit_documents": self.credit_documents,
            "consistent": self.consistent,
        }


def _lines(items: Any) -> Counter[tuple[str, int]]:
    """(SKU, live quantity) of a Shopify order's lines: after an edit, ``current_quantity`` counts."""
    counted: Counter[tuple[str, int]] = Counter()
    for item in items or []:
        live = int(item.get("current_quantity", item.get("quantity")) or 0)
        if live > 0:
            counted[(str(item.get("sku") or ""), live)] += 1
    return counted


def check_consistency(sandbox: Sandbox, store: Store) -> Consistency:
    """Judge the sandbox's final state and our quarantine against the orders it placed (as they are now)."""
    card = sandbox.scorecard()
    quarantined = {e.key for e in store.quarantine_list(kind="order")}
    sales = sandbox.erp.booked()
    shop = sandbox.shopify.shop
    with shop.lock:
        now = {oid: order["line_items"] for oid, order in shop.orders.items()}
        totals = {oid: (str(order.get("current_total_price") or order.get("total_price")),
                        str(order.get("total_tax") or 0), str(order.get("currency") or "USD"),
                        bool(order.get("cancelled_at")))
                  for oid, order in shop.orders.items()}
    placed = sandbox.placed
    malformed = [p for p in placed if not p.valid]
    wrong = []
    wrong_totals = []
    for p in placed:
        record = sales.get(str(p.id))
        if p.valid and record is not None:
            erp_lines = Counter(record.lines)
            if erp_lines != _lines(now.get(p.id, p.payload["line_items"])):
                wrong.append(p.id)
            if not _adds_up(record, *totals[p.id]):
                wrong_totals.append(p.id)
    # Credit documents are NetSuite's; Business Central's adapter books no refunds (it refuses them, visibly).
    credits = sandbox.netsuite.erp.credit_documents() if sandbox.erp.name == "netsuite" else {}
    not_once = tuple(str(r["id"]) for r in sandbox.refunds
                     if sandbox.erp.name == "netsuite" and len(credits.get(f"shopify-refund-{r['id']}", [])) != 1)
    return Consistency(
        scorecard=card,
        quarantined_expected=len(malformed),
        quarantined_found=sum(1 for p in malformed if str(p.id) in quarantined),
        malformed_not_quarantined=tuple(p.id for p in malformed if str(p.id) not in quarantined),
        valid_quarantined=tuple(p.id for p in placed if p.valid and str(p.id) in quarantined),
        wrong_lines=tuple(wrong),
        wrong_totals=tuple(wrong_totals),
        refunds_not_credited_once=not_once,
        refunds=len(sandbox.refunds),
        credit_documents=sum(len(kinds) for kinds in credits.values()),
    )


def _adds_up(record: BookedOrder, total: str, tax: str, currency: str, cancelled: bool) -> bool:
    """Whether a sales order's total (the ERP's, from its lines, shipping and tax) is Shopify's, within the
    minor unit; without tax details the ERP's tax engine adds the tax, so the rest must add up without it."""
    if cancelled or record.total is None:
        return True  # a cancelled order's money is the refunds' business; an ERP that keeps no total says nothing
    expected = Decimal(total) - (Decimal(0) if record.tax_given else Decimal(tax))
    return abs(record.total - expected) < minor_unit(currency)

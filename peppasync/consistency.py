"""Did the engine leave the three systems consistent? The sandbox's scorecard plus our side.

The sandbox's scorecard judges the simulators' final state (every valid order
in the ERP and WMS once, shipments fulfilled with their tracking). What only
the engine can answer is added here: each malformed order sits in quarantine,
no valid order does, and every ERP sales order carries the order's lines and
quantities. The demo, the end-to-end tests and the benchmarks ask these
questions here and nowhere else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from peppasync.sandbox import Sandbox, Scorecard
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

    @property
    def consistent(self) -> bool:
        return self.scorecard.consistent and not (
            self.malformed_not_quarantined or self.valid_quarantined or self.wrong_lines
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
    placed = sandbox.placed
    malformed = [p for p in placed if not p.valid]
    wrong = []
    for p in placed:
        record = sales.get(str(p.id))
        if p.valid and record is not None:
            erp_lines = Counter(record.lines)
            if erp_lines != _lines(now.get(p.id, p.payload["line_items"])):
                wrong.append(p.id)
    return Consistency(
        scorecard=card,
        quarantined_expected=len(malformed),
        quarantined_found=sum(1 for p in malformed if str(p.id) in quarantined),
        malformed_not_quarantined=tuple(p.id for p in malformed if str(p.id) not in quarantined),
        valid_quarantined=tuple(p.id for p in placed if p.valid and str(p.id) in quarantined),
        wrong_lines=tuple(wrong),
    )

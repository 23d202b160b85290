"""Heal time: how long an order whose ``orders/create`` webhook Shopify dropped took to be consistent.

Nothing tells the engine of such an order but the reconciler, so its heal time is
the reconciler's promise made visible: a lost order should be no later in any
system than two reconcile intervals (one until the sweep that finds it begins, one
for that sweep) beyond what the system's own capacity makes every order wait. The
capacity of each system is read from its ledger as a drain time: the ERP's R*L/C
(``ErpFigures.physical_limit``), and the WMS's calls over its request window (the
calls it admitted times the window's seconds over its limit).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from peppasync.sandbox import LedgerEntry, PlacedOrder, Sandbox

from .figures import erp_figures, percentile

__all__ = ["HealFigures", "cancelled_orders", "heal_figures", "ships", "wms_calls_since", "wms_drain"]


@dataclass(frozen=True)
class HealFigures:
    """Heal times of the valid, uncancelled orders whose create webhook was lost, in seconds.

    ``to_erp`` runs from an order being placed to its sales order existing in the
    ERP; ``to_consistent`` to it also being in the WMS (when it ships). Orders that
    got neither far are ``unhealed``. The targets: every lost order in the ERP
    within ``erp_target`` (2 x interval + the ERP's drain) and consistent within
    ``target`` (2 x interval + the slower of the ERP's and the WMS's drains).
    """

    interval: float
    lost: int
    to_erp: tuple[float, ...]
    to_consistent: tuple[float, ...]
    unhealed: int
    erp_drain: float
    wms_drain: float

    @property
    def erp_target(self) -> float:
        return 2 * self.interval + self.erp_drain

    @property
    def target(self) -> float:
        return 2 * self.interval + max(self.erp_drain, self.wms_drain)

    @property
    def met(self) -> bool | None:
        """Whether every lost order healed within the targets; None when no webhook was lost."""
        if not self.lost:
            return None
        return (not self.unhealed and max(self.to_erp) <= self.erp_target
                and max(self.to_consistent) <= self.target)

    def as_dict(self) -> dict[str, Any]:
        """p50, p99 and max of both heal times, the targets and the verdict (JSON-ready)."""
        def spread(values: tuple[float, ...]) -> dict[str, float | None]:
            if not values:
                return {"p50": None, "p99": None, "max": None}
            return {"p50": round(percentile(values, 50), 3), "p99": round(percentile(values, 99), 3),
                    "max": round(max(values), 3)}

        return {
            "lost": self.lost, "unhealed": self.unhealed, "interval_seconds": self.interval,
            "to_erp_seconds": spread(self.to_erp), "to_consistent_seconds": spread(self.to_consistent),
            "erp_drain_seconds": round(self.erp_drain, 3), "wms_drain_seconds": round(self.wms_drain, 3),
            "erp_target_seconds": round(self.erp_target, 3), "target_seconds": round(self.target, 3),
            "met": self.met,
        }


def wms_calls_since(entries: Iterable[LedgerEntry], *, since: float = -math.inf) -> int:
    """The calls the WMS's V1 request window admitted since ``since``.

    ShipStation V2's inventory API (``/v2/``) has a window of its own and is left out,
    as are calls refused with 429 or 401 (they took no request of the window).
    """
    return sum(1 for e in entries if e.started >= since and not e.path.startswith("/v2/")
               and e.outcome not in ("throttled", "unauthorized"))


def wms_drain(entries: Iterable[LedgerEntry], limit: int, seconds: float, *, since: float = -math.inf) -> float:
    """Seconds the V1 request window needs for the calls it admitted since ``since``: calls x seconds / limit."""
    if limit < 1 or seconds <= 0:
        raise ValueError(f"a request window needs limit >= 1 and seconds > 0, got {limit}, {seconds}")
    return wms_calls_since(entries, since=since) * seconds / limit


def cancelled_orders(sandbox: Sandbox) -> set[int]:
    """The ids of the orders cancelled in the sandbox's Shopify: none of them is due in the WMS."""
    shop = sandbox.shopify.shop
    with shop.lock:
        return {oid for oid, order in shop.orders.items() if order.get("cancelled_at")}


def ships(order: PlacedOrder) -> bool:
    """Whether a placed order has a line to ship (else it is consistent once in the ERP)."""
    return any(line.get("requires_shipping") for line in order.payload["line_items"])


def heal_figures(sandbox: Sandbox, interval: float, *, since: float = -math.inf) -> HealFigures:
    """The heal times of the orders the sandbox placed whose ``orders/create`` webhook it dropped.

    ``interval`` is the engine's ``reconcile_interval``; ``since`` is when the run
    began (by the sandbox's clock), so that the drains count this run's calls only.
    """
    cancelled = cancelled_orders(sandbox)
    lost = [p for p in sandbox.placed if p.valid and p.id not in cancelled
            and sandbox.webhooks.plan("orders/create", str(p.id)).dropped]
    sales = sandbox.erp.booked()
    wms_entries = sandbox.wms.ledger.entries()
    in_wms: dict[str, float] = {}
    for entry in wms_entries:
        if entry.path == "/orders/createorder" and entry.outcome == "ok" and entry.key not in in_wms:
            in_wms[entry.key] = entry.started + entry.duration
    to_erp: list[float] = []
    to_consistent: list[float] = []
    for order in lost:
        placed = sandbox.placed_at[order.id]
        record = sales.get(str(order.id))
        if record is None:
            continue
        erp_at = record.created
        to_erp.append(erp_at - placed)
        if not ships(order):
            to_consistent.append(erp_at - placed)
        elif str(order.id) in in_wms:
            to_consistent.append(max(erp_at, in_wms[str(order.id)]) - placed)
    erp = erp_figures(sandbox.erp.ledger.entries(), sandbox.erp.concurrency_limit, since=since)
    window = sandbox.wms.window
    return HealFigures(
        interval=interval, lost=len(lost), to_erp=tuple(to_erp), to_consistent=tuple(to_consistent),
        unhealed=len(lost) - len(to_consistent), erp_drain=erp.physical_limit,
        wms_drain=wms_drain(wms_entries, window.limit, window.seconds, since=since),
    )

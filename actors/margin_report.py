"""Reading margins back: one order's (``margin show``) and a report over many (``margin report``).

Both read the margin actors' saved state, so they show what the engine has committed;
neither calls a vendor. A report adds up orders in the shop's currency (orders in
another shop currency are reported on their own rows), and leaves cancelled orders out
(counted, so a reader knows they were there).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from peppasync.clock import parse_timestamp
from peppasync.errors import NotFoundError, ValidationError
from peppasync.store import Store, ops

__all__ = ["GROUPINGS", "margin_lags", "margin_of", "margin_report", "recost", "since_epoch"]

GROUPINGS = ("day", "sku", "order")
Grouping = Literal["day", "sku", "order"]
_ZERO = Decimal(0)


def since_epoch(text: Any) -> float | None:
    """A report's or a recost's "since" as epoch seconds (None when not given: ``None``).

    Raises ``ValueError`` saying what form is expected; the caller names its own parameter.
    """
    if text is None:
        return None
    moment = parse_timestamp(text)
    if moment is None:
        raise ValueError(f"must be a date or time such as 2026-11-27 or 2026-11-27T00:00:00Z, got {text!r}")
    return moment.timestamp()


def margin_of(store: Store, order_id: str) -> dict[str, Any]:
    """One order's margin as last computed, with its components, costs and labels."""
    found = store.get_state("margin", str(order_id))
    if found is not None and "margin" not in found[0] and found[0].get("refused"):
        raise ValidationError(f"order {order_id} has no margin: the order was refused ({found[0]['refused']})",
                              field="order")
    if found is None or "margin" not in found[0]:
        raise NotFoundError("margin for the order", order_id)
    state = found[0]
    sale = state["sale"]
    return {
        "order_id": str(order_id),
        "name": sale.get("name"),
        "sold_at": sale.get("created_at"),
        "cancelled": bool(sale.get("cancelled_at")),
        **state["margin"],
        "unit_costs": state.get("costs", {}),
        # Some unit cost is being read, or was taken from a lesser source while a better one failed.
        "cost_reads_pending": bool(state.get("recost_due")),
        "labels": state.get("labels", {}),
        "changed_at": state.get("changed_at"),
    }


def margin_report(store: Store, *, since: float | None = None, by: Grouping = "day",
                  worst: int = 10) -> dict[str, Any]:
    """Margins of orders sold at or after ``since`` (epoch seconds), added up ``by`` day, SKU or order.

    ``rows`` are sorted by the grouping (days in order, SKUs and orders worst margin first);
    ``worst_orders`` and ``worst_skus`` name the ``worst`` lowest by margin.
    """
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}, got {by!r}")
    orders = list(_orders(store, since))
    cancelled = sum(1 for o in orders if o["cancelled"])
    live = [o for o in orders if not o["cancelled"]]
    listed = _rows(live, by)
    skus = _rows(live, "sku") if by != "sku" and worst else listed
    return {
        "by": by,
        "since": since,
        "orders": len(live),
        "cancelled_orders": cancelled,
        "incomplete_orders": sum(1 for o in live if not o["complete"]),
        "rows": listed,
        "worst_orders": [
            {"order_id": o["order_id"], "name": o["name"], "currency": o["currency"], "margin": str(o["margin"]),
             "percent": o["percent"], "complete": o["complete"]}
            for o in sorted(live, key=lambda o: (o["margin"], o["order_id"]))[:worst]
        ],
        "worst_skus": skus[:worst],
    }


def _rows(live: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """The orders added up by day, SKU or order; days in order, the rest worst margin first."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for order in live:
        if by == "sku":
            for sku, part in order["skus"].items():
                row = rows.setdefault((sku, order["currency"]), _row(sku or "(no SKU)", order["currency"]))
                row["orders"] += 1
                row["units"] += part["units"]
                row["revenue"] += Decimal(part["revenue"])
                row["cogs"] += Decimal(part["cogs"])
        else:
            group = order["day"] if by == "day" else order["order_id"]
            row = rows.setdefault((group, order["currency"]), _row(group, order["currency"]))
            row["orders"] += 1
            row["incomplete"] += 0 if order["complete"] else 1
            row["revenue"] += order["revenue"]
            for name, amount in order["costs"].items():
                row["costs"][name] = row["costs"].get(name, _ZERO) + amount
    listed = [_finish(row, by) for row in rows.values()]
    if by == "day":
        listed.sort(key=lambda r: (r["group"], r["currency"]))
    else:
        listed.sort(key=lambda r: (Decimal(r["margin"]), r["group"]))
    return listed


def _orders(store: Store, since: float | None) -> Iterable[dict[str, Any]]:
    for key, state in store.states("margin"):
        record = state.get("margin")
        sale = state.get("sale") or {}
        if record is None:
            continue  # labels or a refund heard of before the order itself
        sold = parse_timestamp(sale.get("created_at"))
        if since is not None and (sold is None or sold.timestamp() < since):
            continue
        costs: dict[str, Decimal] = {}
        for part in record["costs"]:
            costs[part["name"]] = costs.get(part["name"], _ZERO) + Decimal(part["amount"])
        yield {
            "order_id": key,
            "name": sale.get("name"),
            "day": (sold or datetime.fromtimestamp(0, UTC)).astimezone(UTC).date().isoformat(),
            "cancelled": bool(sale.get("cancelled_at")),
            "currency": record["currency"],
            "revenue": Decimal(record["revenue"]["amount"]),
            "costs": costs,
            "margin": Decimal(record["margin"]),
            "percent": record["percent"],
            "complete": bool(record["complete"]),
            "skus": record.get("skus", {}),
        }


def _row(group: str, currency: str) -> dict[str, Any]:
    return {"group": group, "currency": currency, "orders": 0, "units": 0, "incomplete": 0,
            "revenue": _ZERO, "cogs": _ZERO, "costs": {}}


def _finish(row: Mapping[str, Any], by: str) -> dict[str, Any]:
    revenue: Decimal = row["revenue"]
    if by == "sku":
        costs = {"cogs": row["cogs"]}
        out = {"group": row["group"], "currency": row["currency"], "orders": row["orders"], "units": row["units"]}
    else:
        costs = dict(row["costs"])
        out = {"group": row["group"], "currency": row["currency"], "orders": row["orders"],
               "incomplete": row["incomplete"]}
    margin = revenue - sum(costs.values(), _ZERO)
    out.update(
        revenue=str(revenue),
        costs={name: str(amount) for name, amount in sorted(costs.items())},
        margin=str(margin),
        percent=str((margin * 100 / revenue).quantize(Decimal("0.01"))) if revenue else None,
    )
    return out


def margin_lags(store: Store) -> list[tuple[str, float]]:
    """Each margin-changing event (``sale``, ``label``, ``payments``...) and the seconds from its
    arrival to its margin, as kept by the orders (the last few each; ``event`` for those that
    earlier versions kept without their event)."""
    return [(str(lag[0]), float(lag[1])) if isinstance(lag, list) else ("event", float(lag))
            for _, state in store.states("margin") for lag in state.get("lags", ())]


def recost(store: Store, *, order_id: str | None = None, sku: str | None = None, since: float | None = None,
           now: float) -> list[str]:
    """Ask orders to read their unit costs again: one order, or every order that sold ``sku``
    at or after ``since`` (a landed cost or a freight bill booked after the sale). Returns the
    orders asked, in one write; an actor in another process finds its message on its sweep.
    """
    if (order_id is None) == (sku is None):
        raise ValueError("name one order, or a SKU")
    if order_id is not None:
        margin_of(store, order_id)  # not found: say so, rather than ask an order that has no margin
        keys = [str(order_id)]
    else:
        keys = []
        for key, state in store.states("margin"):
            sale = state.get("sale") or {}
            sold = parse_timestamp(sale.get("created_at"))
            if since is not None and (sold is None or sold.timestamp() < since):
                continue
            if any(line.get("sku") == sku for line in sale.get("line_items") or ()):
                keys.append(key)
    if keys:
        store.write([ops.Insert("margin", key, {"type": "recost", "received_at": now}) for key in keys])
    return keys

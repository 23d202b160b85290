"""A storefront refund read from its ``refunds/create`` body (the REST refund resource).

Amounts are read in the shop's currency, tax excluded, each beside its tax: a refunded
line's ``subtotal`` (less its tax in a shop whose prices include tax), shipping from
``shipping_refund`` adjustments, anything else from ``refund_discrepancy`` ones. What
went back to the buyer is the refund's successful refund transactions; a refund without
any (a restock only) gave back nothing but what its lines and adjustments say.
Contract: ``RefundWebhook`` in peppasync/contracts/shopify.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from peppasync.errors import ValidationError

from actors.domain import Refund, RefundLine

__all__ = ["read_refund"]

# Units that went back on the shelf: returned, or cancelled before they shipped.
# https://shopify.dev/docs/api/admin-rest/latest/resources/refund#resource-object (restock_type)
_RESTOCKED = frozenset({"return", "cancel", "legacy_restock"})


def read_refund(body: Any, order: Mapping[str, Any]) -> Refund:
    """The refund ``body`` states, for the order whose record (``normalise_order``'s) is ``order``."""
    if not isinstance(body, dict) or body.get("id") in (None, "") or isinstance(body.get("id"), (bool, dict, list)):
        raise ValidationError("refund body has no id", field="id")
    taxes_included = bool(order.get("taxes_included"))
    lines = []
    for n, given in enumerate(body.get("refund_line_items") or [], 1):
        if not isinstance(given, dict):
            raise ValidationError(f"refund line {n} is not an object", field="refund_line_items")
        quantity = given.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            raise ValidationError(f"refund line {n} has quantity {quantity!r}; expected a whole number >= 0",
                                  field="refund_line_items.quantity")
        given_item = given.get("line_item")
        item: Mapping[str, Any] = given_item if isinstance(given_item, dict) else {}
        sku = str(item.get("sku") or "").strip()
        gift_card = bool(item.get("gift_card"))
        tax = _money(given.get("total_tax"), f"refund line {n} total_tax")
        amount = _money(given.get("subtotal"), f"refund line {n} subtotal")
        lines.append(RefundLine(
            sku=sku, title=str(item.get("title") or item.get("name") or sku or "refunded line"), quantity=quantity,
            amount=amount - tax if taxes_included else amount, tax=tax,
            restocked=given.get("restock_type") in _RESTOCKED and quantity > 0,
            gift_card=gift_card, non_sku=not sku and not gift_card))
    shipping = shipping_tax = other = Decimal(0)
    for adjustment in body.get("order_adjustments") or []:
        if not isinstance(adjustment, dict):
            continue
        # Adjustments are negative for money given back.
        given_back = -_money(adjustment.get("amount"), "order_adjustments.amount")
        tax_back = -_money(adjustment.get("tax_amount"), "order_adjustments.tax_amount")
        if adjustment.get("kind") == "shipping_refund":
            shipping += given_back
            shipping_tax += tax_back
        else:
            other += given_back + tax_back
    paid_back = [_money(t.get("amount"), "transactions.amount") for t in body.get("transactions") or []
                 if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status", "success") == "success"]
    stated = sum((line.amount + line.tax for line in lines), Decimal(0)) + shipping + shipping_tax + other
    return Refund(
        id=str(body["id"]), order_id=str(body.get("order_id") or order.get("id") or ""),
        currency=str(order.get("currency") or ""), created_at=str(body.get("created_at") or ""),
        lines=tuple(lines), shipping=shipping, shipping_tax=shipping_tax, other=other,
        total=sum(paid_back, Decimal(0)) if paid_back else stated, note=str(body.get("note") or ""))


def _money(value: Any, where: str) -> Decimal:
    if value in (None, ""):
        return Decimal(0)
    if isinstance(value, (bool, dict, list)):
        raise ValidationError(f"{where} is not an amount: {value!r}", field=where)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError(f"{where} is not an amount: {value!r}", field=where) from None
    if not amount.is_finite():
        raise ValidationError(f"{where} is not a finite amount: {value!r}", field=where)
    return amount

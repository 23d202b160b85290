"""Order validation: what must hold before anyone else is called about an order.

Real Shopify payloads are messy. Each rule either accepts the order (possibly
normalised: prices as Decimal strings, SKUs stripped) or raises a
``ValidationError`` whose message an operator can act on.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping

from peppasync.errors import ValidationError

__all__ = ["MAX_LINES", "normalise_order"]

MAX_LINES = 500
_CENT = Decimal("0.01")


def _money(value: Any, where: str) -> Decimal:
    try:
        amount = Decimal(str(value if value not in (None, "") else "0"))
    except InvalidOperation:
        raise ValidationError(f"{where} is not an amount: {value!r}", field=where) from None
    if not amount.is_finite():
        raise ValidationError(f"{where} is not a finite amount: {value!r}", field=where)
    return amount


def _shipping_total(order: Mapping[str, Any]) -> Decimal:
    lines = order.get("shipping_lines") or []
    if isinstance(lines, list) and lines:
        return sum((_money(s.get("price"), "shipping_lines.price") for s in lines if isinstance(s, dict)), Decimal(0))
    shop = ((order.get("total_shipping_price_set") or {}).get("shop_money") or {}).get("amount")
    return _money(shop, "total_shipping_price_set") if shop is not None else Decimal(0)


def normalise_order(order: Any, known_sku: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """Check an order body (Shopify's REST JSON shape) and return the fields the flow uses."""
    if not isinstance(order, dict):
        raise ValidationError("order body is not a JSON object")
    order_id = order.get("id")
    if order_id in (None, "") or isinstance(order_id, bool):
        raise ValidationError("order has no id", field="id")
    items = order.get("line_items")
    if not isinstance(items, list) or not items:
        raise ValidationError("order has no line items", field="line_items")
    if len(items) > MAX_LINES:
        raise ValidationError(f"order has {len(items)} line items; at most {MAX_LINES} are supported", field="line_items")
    currency = str(order.get("currency") or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ValidationError(f"order currency {order.get('currency')!r} is not an ISO 4217 code", field="currency")
    lines = []
    needs_shipping = False
    line_total = Decimal(0)
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise ValidationError(f"line {n} is not an object", field="line_items")
        gift_card = bool(item.get("gift_card"))
        sku = str(item.get("sku") or "").strip()
        if not sku and not gift_card:
            title = item.get("title") or item.get("name") or "untitled"
            raise ValidationError(f"line {n} ({title}) has no SKU, so the ERP and the warehouse cannot know it", field="sku")
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ValidationError(f"line {n} ({sku or 'gift card'}) has quantity {quantity!r}; expected a positive whole number", field="quantity")
        price = _money(item.get("price"), f"line {n} price")
        if price < 0:
            raise ValidationError(f"line {n} ({sku}) has a negative price {price}", field="price")
        if sku and not gift_card and known_sku is not None and not known_sku(sku):
            raise ValidationError(f"line {n} has SKU {sku!r}, which is not in the catalogue", field="sku")
        requires_shipping = bool(item.get("requires_shipping", not gift_card))
        needs_shipping = needs_shipping or requires_shipping
        line_total += price * quantity
        lines.append({
            "sku": sku,
            "title": str(item.get("title") or item.get("name") or sku),
            "quantity": quantity,
            "price": str(price),
            "gift_card": gift_card,
            "requires_shipping": requires_shipping,
        })
    address = order.get("shipping_address")
    if needs_shipping:
        if not isinstance(address, dict):
            raise ValidationError("order needs shipping but has no shipping address", field="shipping_address")
        missing = [f for f in ("address1", "city", "zip") if not str(address.get(f) or "").strip()]
        if not str(address.get("country_code") or address.get("country") or "").strip():
            missing.append("country_code")
        if missing:
            raise ValidationError(f"shipping address lacks {', '.join(missing)}", field="shipping_address")
    discounts = _money(order.get("total_discounts"), "total_discounts")
    tax = _money(order.get("total_tax"), "total_tax")
    total = _money(order.get("total_price"), "total_price")
    subtotal = _money(order.get("subtotal_price", line_total - discounts), "subtotal_price")
    tolerance = _CENT * max(1, len(lines))
    if abs(subtotal - (line_total - discounts)) > tolerance:
        raise ValidationError(
            f"subtotal {subtotal} does not match the lines ({line_total}) less discounts ({discounts})",
            field="subtotal_price",
        )
    expected_total = subtotal + tax + _shipping_total(order)
    if bool(order.get("taxes_included")):
        expected_total -= tax
    if abs(total - expected_total) > tolerance or total < 0:
        raise ValidationError(
            f"total {total} does not add up: subtotal {subtotal} + tax {tax} + shipping = {expected_total}",
            field="total_price",
        )
    customer = order.get("customer") if isinstance(order.get("customer"), dict) else {}
    return {
        "id": str(order_id),
        "name": str(order.get("name") or f"#{order_id}"),
        "email": str(order.get("email") or customer.get("email") or ""),
        "currency": currency,
        "created_at": str(order.get("created_at") or ""),
        "updated_at": str(order.get("updated_at") or ""),
        "test": bool(order.get("test")),
        "cancelled": bool(order.get("cancelled_at")),
        "customer_id": str(customer.get("id") or "") or None,
        "customer": {k: customer.get(k) for k in ("email", "first_name", "last_name") if customer.get(k)},
        "lines": lines,
        "needs_shipping": needs_shipping,
        "shipping_address": address if isinstance(address, dict) else None,
        "billing_address": order["billing_address"] if isinstance(order.get("billing_address"), dict) else None,
        "subtotal": str(subtotal),
        "discounts": str(discounts),
        "tax": str(tax),
        "total": str(total),
    }

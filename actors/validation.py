"""Order validation: what must hold before anyone else is called about an order.

Real Shopify payloads are messy. Each rule either accepts the order (possibly
normalised: prices as Decimal strings, SKUs stripped) or raises a
``ValidationError`` whose message an operator can act on.

The order is read as it is now, not as it was placed: after an edit or a refund
a line's ``quantity`` still counts removed and refunded units while
``current_quantity`` is the live figure, and the ``current_*`` totals replace the
original ones (https://shopify.dev/docs/api/admin-rest/latest/resources/order;
the Admin schema's ``LineItem.currentQuantity``: "The number of units ordered,
excluding refunded and removed units"). Amounts are checked to the currency's
minor unit (ISO 4217), one unit of rounding allowed per line, because Shopify
rounds each line's tax and discount on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from peppasync.errors import ValidationError

__all__ = ["MAX_LINES", "minor_unit", "normalise_order"]

MAX_LINES = 500
# ISO 4217 currencies whose minor unit is not the cent (the list's "Minor unit" column,
# https://www.six-group.com/en/products-services/financial-information/data-standards.html).
_EXPONENTS = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
                     "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
# A REST amount is a decimal string; nothing Shopify sends is longer than this.
_MAX_AMOUNT_CHARS = 40


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of a currency: 0.01 for most, 1 for JPY, 0.001 for KWD."""
    return Decimal(1).scaleb(-_EXPONENTS.get(currency.upper(), 2))


def _money(value: Any, where: str) -> Decimal:
    text = str(value if value not in (None, "") else "0")
    if isinstance(value, (dict, list, bool)) or len(text) > _MAX_AMOUNT_CHARS:
        raise ValidationError(f"{where} is not an amount: {text[:_MAX_AMOUNT_CHARS]!r}", field=where)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValidationError(f"{where} is not an amount: {value!r}", field=where) from None
    if not amount.is_finite() or abs(amount.adjusted()) > 15:
        raise ValidationError(f"{where} is not a finite amount of sane size: {value!r}", field=where)
    return amount


def _current(order: Mapping[str, Any], name: str) -> Decimal:
    """``current_<name>`` when Shopify sent it (it does on every order since 2023), else ``<name>``."""
    key = f"current_{name}" if order.get(f"current_{name}") not in (None, "") else name
    return _money(order.get(key), key)


def _shipping_total(order: Mapping[str, Any]) -> Decimal:
    lines = order.get("shipping_lines") or []
    if isinstance(lines, list) and lines:
        return sum((_money(s.get("price"), "shipping_lines.price") for s in lines if isinstance(s, dict)), Decimal(0))
    shop = _dig(order, "total_shipping_price_set", "shop_money", "amount")
    return _money(shop, "total_shipping_price_set") if shop is not None else Decimal(0)


def _refund_adjustments(order: Mapping[str, Any]) -> Decimal:
    """What refunds took off the total besides lines: refunded shipping and discrepancies (negative amounts)."""
    total = Decimal(0)
    for refund in order.get("refunds") or []:
        for adjustment in (refund.get("order_adjustments") or []) if isinstance(refund, dict) else []:
            if isinstance(adjustment, dict):
                total += _money(adjustment.get("amount"), "refunds.order_adjustments.amount")
    return total


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _quantity(item: Mapping[str, Any], n: int, label: str) -> int:
    """The live quantity of a line: ``current_quantity`` (0 once removed) when sent, else ``quantity``."""
    ordered = item.get("quantity")
    if isinstance(ordered, bool) or not isinstance(ordered, int) or ordered <= 0:
        raise ValidationError(f"line {n} ({label}) has quantity {ordered!r}; expected a positive whole number",
                              field="quantity")
    current = item.get("current_quantity", ordered)
    if isinstance(current, bool) or not isinstance(current, int) or not current >= 0:
        raise ValidationError(f"line {n} ({label}) has current_quantity {current!r}; expected a whole number >= 0",
                              field="current_quantity")
    return current


def normalise_order(order: Any, known_sku: Callable[[str], bool] | None = None, *,
                    non_sku_lines: bool = False) -> dict[str, Any]:
    """Check an order body (Shopify's REST JSON shape) and return the fields the flow uses.

    ``non_sku_lines``: lines without a SKU (engraving, services, custom items) are kept,
    marked ``non_sku``, for the ERP's configured catch-all item; otherwise they are refused.
    """
    if not isinstance(order, dict):
        raise ValidationError("order body is not a JSON object")
    order_id = order.get("id")
    if order_id in (None, "") or isinstance(order_id, (bool, dict, list)):
        raise ValidationError("order has no id", field="id")
    items = order.get("line_items")
    if not isinstance(items, list) or not items:
        raise ValidationError("order has no line items", field="line_items")
    if len(items) > MAX_LINES:
        raise ValidationError(f"order has {len(items)} line items; at most {MAX_LINES} are supported",
                              field="line_items")
    currency = str(order.get("currency") or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ValidationError(f"order currency {order.get('currency')!r} is not an ISO 4217 code", field="currency")
    lines = []
    presentment_lines: list[dict[str, str]] = []
    needs_shipping = False
    line_total = Decimal(0)
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise ValidationError(f"line {n} is not an object", field="line_items")
        gift_card = bool(item.get("gift_card"))
        raw_sku = item.get("sku")
        if raw_sku is not None and not isinstance(raw_sku, str):
            raise ValidationError(f"line {n} has SKU {raw_sku!r}; expected text", field="sku")
        sku = (raw_sku or "").strip()
        title = str(item.get("title") or item.get("name") or sku or "untitled")
        non_sku = not sku and not gift_card
        if non_sku and not non_sku_lines:
            raise ValidationError(f"line {n} ({title}) has no SKU, so the ERP and the warehouse cannot know it; "
                                  "set [netsuite] non_sku_item to book such lines on one ERP item", field="sku")
        if non_sku and item.get("variant_id") and item.get("requires_shipping", True):
            # A catalogue product the warehouse must pick, whose variant lost its SKU: a data error, not a
            # custom item or a service.
            raise ValidationError(f"line {n} ({title}) is a shipped product variant without a SKU, so the "
                                  "warehouse cannot pick it; give the variant its SKU in Shopify", field="sku")
        quantity = _quantity(item, n, sku or title)
        price = _money(item.get("price"), f"line {n} price")
        if price < 0:
            raise ValidationError(f"line {n} ({sku or title}) has a negative price {price}", field="price")
        if quantity == 0:
            continue  # removed by an edit, or refunded: no longer part of the order
        if sku and not gift_card and known_sku is not None and not known_sku(sku):
            raise ValidationError(f"line {n} has SKU {sku!r}, which is not in the catalogue", field="sku")
        # The warehouse can pick only what has a SKU; a line without one is booked in the ERP alone.
        requires_shipping = bool(item.get("requires_shipping", not gift_card)) and not non_sku
        needs_shipping = needs_shipping or requires_shipping
        line_total += price * quantity
        share = Fraction(quantity, int(item["quantity"]))
        line_discount = _allocated(item.get("discount_allocations"), "amount", share, n, "discount_allocations")
        line_tax = _allocated(item.get("tax_lines"), "price", share, n, "tax_lines")
        lines.append({
            "sku": sku,
            "title": title,
            "quantity": quantity,
            "price": str(price),
            "gift_card": gift_card,
            "non_sku": non_sku,
            "requires_shipping": requires_shipping,
            "discount": str(line_discount.shop),
            "tax": str(line_tax.shop),
        })
        presentment_lines.append({"price": str(_bag(item.get("price_set"), price).presentment),
                                  "discount": str(line_discount.presentment), "tax": str(line_tax.presentment)})
    if not lines:
        raise ValidationError("every line of the order has been removed or refunded", field="line_items")
    address = order.get("shipping_address")
    if needs_shipping:
        if not isinstance(address, dict):
            raise ValidationError("order needs shipping but has no shipping address", field="shipping_address")
        missing = [f for f in ("address1", "city", "zip") if not str(address.get(f) or "").strip()]
        country = str(address.get("country_code") or address.get("country") or "").strip()
        if not country:
            missing.append("country_code")
        if missing:
            raise ValidationError(f"shipping address lacks {', '.join(missing)}", field="shipping_address")
        if len(country) != 2 or not country.isalpha():
            # Checked here, before the ERP is called: the warehouse takes ISO 3166 codes only.
            raise ValidationError(f"the shipping address has no two-letter country code ({country!r}); "
                                  "the warehouse takes ISO 3166 codes only", field="shipping_address")
    unit = minor_unit(currency)
    tolerance = unit * (len(lines) + 1)
    discounts = _current(order, "total_discounts")
    tax = _current(order, "total_tax")
    total = _current(order, "total_price")
    sent = any(order.get(k) not in (None, "") for k in ("current_subtotal_price", "subtotal_price"))
    subtotal = _current(order, "subtotal_price") if sent else line_total - discounts
    if abs(subtotal - (line_total - discounts)) > tolerance:
        raise ValidationError(
            f"subtotal {subtotal} {currency} does not match the lines ({line_total}) less discounts ({discounts})",
            field="subtotal_price",
        )
    expected_total = subtotal + tax + _shipping_total(order) + _refund_adjustments(order)
    if bool(order.get("taxes_included")):
        expected_total -= tax
    if abs(total - expected_total) > tolerance or total < 0:
        raise ValidationError(
            f"total {total} {currency} does not add up: subtotal {subtotal} + tax {tax} + shipping"
            f"{' - refunded adjustments' if order.get('refunds') else ''} = {expected_total}",
            field="total_price",
        )
    given = order.get("customer")
    customer: Mapping[str, Any] = given if isinstance(given, dict) else {}
    customer_id = customer.get("id")
    # Shopify's ids are whole numbers; anything else could not key the ERP's customer record.
    if customer_id is not None and (isinstance(customer_id, bool) or not isinstance(customer_id, (int, str))
                                    or not str(customer_id).isdigit() or len(str(customer_id)) > 20):
        raise ValidationError(f"customer id {str(customer_id)[:40]!r} is not a Shopify id (a whole number)",
                              field="customer.id")
    billing = order.get("billing_address")
    shipping = _shipping_lines(order)
    presentment_currency = str(order.get("presentment_currency") or currency).strip().upper()
    placed_total = _money(order.get("total_price"), "total_price") if order.get("total_price") else total
    total_bag = _bag(order.get("total_price_set"), placed_total)
    exchange_rate = None
    if presentment_currency != currency and total_bag.presentment > 0 and total_bag.shop > 0:
        exchange_rate = (total_bag.shop / total_bag.presentment).quantize(Decimal("0.0000000001"))
    p_discounts = sum((Decimal(p["discount"]) for p in presentment_lines), Decimal(0))
    p_line_total = sum((Decimal(p["price"]) * int(str(line["quantity"]))
                        for p, line in zip(presentment_lines, lines)), Decimal(0))
    p_tax = (sum((Decimal(p["tax"]) for p in presentment_lines), Decimal(0))
             + sum((Decimal(s["presentment"]["tax"]) for s in shipping), Decimal(0)))
    p_shipping = sum((Decimal(s["presentment"]["amount"]) for s in shipping), Decimal(0))
    taxes_included = bool(order.get("taxes_included"))
    return {
        "id": str(order_id),
        "name": str(order.get("name") or f"#{order_id}"),
        "email": str(order.get("email") or customer.get("email") or ""),
        "currency": currency,
        "created_at": str(order.get("created_at") or ""),
        "updated_at": str(order.get("updated_at") or ""),
        "test": bool(order.get("test")),
        "cancelled": bool(order.get("cancelled_at")),
        "customer_id": str(customer_id or "") or None,
        "customer": {k: customer.get(k) for k in ("email", "first_name", "last_name") if customer.get(k)},
        "lines": lines,
        "needs_shipping": needs_shipping,
        "shipping_address": address if isinstance(address, dict) else None,
        "billing_address": billing if isinstance(billing, dict) else None,
        "subtotal": str(subtotal),
        "discounts": str(discounts),
        "tax": str(tax),
        "total": str(total),
        "shipping": [{k: v for k, v in s.items() if k != "presentment"} for s in shipping],
        "taxes_included": taxes_included,
        "presentment_currency": presentment_currency,
        "exchange_rate": None if exchange_rate is None else str(exchange_rate),
        "payments": _payments(order, total_bag),
        "presentment": {
            "lines": presentment_lines,
            "shipping": [s["presentment"] for s in shipping],
            "subtotal": str(p_line_total - p_discounts),
            "discounts": str(p_discounts),
            "tax": str(p_tax),
            "total": str(p_line_total - p_discounts + p_tax + p_shipping - (p_tax if taxes_included else 0)),
        },
    }


class _Bag:
    """An amount in the shop's currency and in the buyer's."""

    def __init__(self, shop: Decimal, presentment: Decimal) -> None:
        self.shop = shop
        self.presentment = presentment


def _bag(money_set: Any, fallback: Decimal) -> _Bag:
    """A REST ``*_set`` as both amounts; the plain amount twice when there is no set."""
    shop = _dig(money_set, "shop_money", "amount")
    presentment = _dig(money_set, "presentment_money", "amount")
    if shop is None:
        return _Bag(fallback, fallback)
    first = _money(shop, "shop_money.amount")
    return _Bag(first, _money(presentment, "presentment_money.amount") if presentment is not None else first)


def _allocated(entries: Any, key: str, share: Fraction, n: int, where: str) -> _Bag:
    """The sum of a line's discount allocations or tax lines, for its live share of the units ordered.

    Shopify allocates them to all the units ordered; after units were removed or refunded,
    the live units' part is taken in proportion (the order's own figures settle the cents).
    """
    shop = presentment = Decimal(0)
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            raise ValidationError(f"line {n} has a {where} entry that is not an object", field=where)
        amount = _money(entry.get(key), f"line {n} {where}.{key}")
        bag = _bag(entry.get(f"{key}_set"), amount)
        shop += bag.shop
        presentment += bag.presentment
    if share != 1:
        shop = shop * share.numerator / share.denominator
        presentment = presentment * share.numerator / share.denominator
    return _Bag(shop, presentment)


def _shipping_lines(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each shipping line: its title, code, amount net of shipping discounts and its tax, in both currencies."""
    out = []
    for s in order.get("shipping_lines") or []:
        if not isinstance(s, dict):
            continue
        price = _money(s.get("price"), "shipping_lines.price")
        amount = _bag(s.get("discounted_price_set") or s.get("price_set"), price)
        tax = _allocated(s.get("tax_lines"), "price", Fraction(1), 0, "shipping_lines.tax_lines")
        out.append({"title": str(s.get("title") or ""), "code": str(s.get("code") or ""),
                    "amount": str(amount.shop), "tax": str(tax.shop),
                    "presentment": {"amount": str(amount.presentment), "tax": str(tax.presentment)}})
    return out


def _payments(order: Mapping[str, Any], placed: _Bag) -> list[dict[str, str]]:
    """Money captured for the order: an order webhook carries no transactions, so a paid
    order counts as one payment of its total as placed (what was charged), keyed by the order id."""
    if order.get("financial_status") == "paid" and placed.shop > 0:
        return [{"id": str(order.get("id")), "amount": str(placed.shop), "presentment_amount": str(placed.presentment)}]
    return []

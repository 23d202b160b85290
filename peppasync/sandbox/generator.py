"""The order generator: realistic Shopify orders, some malformed on purpose, from a seed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .catalog import GIFT_CARD_SKU, Catalog
from .shop import iso, money_set

__all__ = ["MALFORMED_KINDS", "MESSY_KINDS", "OrderGenerator", "PlacedOrder", "allocate_lines", "price_order"]

MALFORMED_KINDS = ("unknown_sku", "missing_sku", "no_shipping_address", "negative_quantity", "bad_totals")
MESSY_KINDS = ("gift_card", "unicode_address", "many_lines", "discount", "other_currency", "test_order", "yen",
               "no_sku_line")

_FIRST = ["Ada", "Grace", "Linus", "Margaret", "Alan", "Katherine", "Dennis", "Barbara", "Ken", "Frances"]
_LAST = ["Lovelace", "Hopper", "Torvalds", "Hamilton", "Turing", "Johnson", "Ritchie", "Liskov", "Thompson"]
_CITIES = [("Portland", "Oregon", "OR", "97201"), ("Austin", "Texas", "TX", "73301"),
           ("Denver", "Colorado", "CO", "80202"), ("Boston", "Massachusetts", "MA", "02108")]
_UNICODE = [("Zoë", "Ødegård", "Straße des 17. Juni 135", "Berlin", "Berlin", "BE", "10623", "Germany", "DE"),
            ("小林", "陽子", "東京都千代田区丸の内1-9-1", "東京", "Tokyo", "13", "100-0005", "Japan", "JP"),
            ("Łukasz", "Żółć", "ul. Marszałkowska 84/92", "Warszawa", "Mazowieckie", "14", "00-514",
             "Poland", "PL")]
_CURRENCIES = ["EUR", "GBP", "CAD"]
_CENT = Decimal("0.01")
_YEN = Decimal("1")
_TAX_RATE = Decimal("0.08")
_DISCOUNT_RATE = Decimal("0.10")


@dataclass(frozen=True)
class PlacedOrder:
    """An order the sandbox placed: its REST payload and whether (and why) it is malformed."""

    id: int
    name: str
    payload: dict[str, Any]
    malformed: str | None
    messy: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return self.malformed is None

    @property
    def lines(self) -> tuple[tuple[str | None, int], ...]:
        """(sku, quantity) per line item."""
        return tuple((line.get("sku"), line.get("quantity")) for line in self.payload["line_items"])


class OrderGenerator:
    """Order k is a function of (seed, k) alone; timestamps come from the caller's clock."""

    def __init__(self, catalog: Catalog, seed: int) -> None:
        self.catalog = catalog
        self.seed = seed
        self.count = 0

    def next(self, now: float, *, malformed_ratio: float, messy_ratio: float, lines_mean: float,
             kinds: tuple[str, ...] = MALFORMED_KINDS, messy_kinds: tuple[str, ...] = MESSY_KINDS) -> PlacedOrder:
        k = self.count
        self.count += 1
        rng = random.Random(f"{self.seed}:order:{k}")
        malformed = rng.choice(kinds) if kinds and rng.random() < malformed_ratio else None
        messy: tuple[str, ...] = ()
        if malformed is None and messy_kinds and rng.random() < messy_ratio:
            messy = (rng.choice(messy_kinds),)
        return self._build(k, rng, now, malformed, messy, lines_mean)

    def _build(self, k: int, rng: random.Random, now: float, malformed: str | None, messy: tuple[str, ...],
               lines_mean: float) -> PlacedOrder:
        order_id = 5_600_000_000_000 + 1 + k + self.seed * 10_000_000
        number = 1001 + k
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        customer_id = 7_100_000_000_000 + rng.randrange(1, 50_000)
        email = f"{first}.{last}.{customer_id % 100000}@example.com".lower()
        physical = self.catalog.physical
        count = 250 if "many_lines" in messy else max(1, min(50, round(rng.expovariate(1 / max(lines_mean, 1)))))
        chosen = [rng.choice(physical) for _ in range(count)]
        lines: list[dict[str, Any]] = []
        for n, item in enumerate(chosen):
            lines.append({"id": order_id * 1000 + n, "variant_id": item.variant_id, "product_id": item.product_id,
                          "sku": item.sku, "title": item.title, "name": item.title, "quantity": rng.randint(1, 3),
                          "price": str(item.price), "grams": 300, "requires_shipping": True, "taxable": True,
                          "gift_card": False, "fulfillment_service": "manual", "total_discount": "0.00"})
        if "gift_card" in messy:
            card = self.catalog.get(GIFT_CARD_SKU)
            assert card is not None
            lines = [{**lines[0], "variant_id": card.variant_id, "product_id": card.product_id, "sku": card.sku,
                      "title": card.title, "name": card.title, "quantity": 1, "price": str(card.price),
                      "requires_shipping": False, "taxable": False, "gift_card": True}]
        city, province, code, zip_code = rng.choice(_CITIES)
        address: dict[str, Any] | None = {
            "first_name": first, "last_name": last, "name": f"{first} {last}", "company": None,
            "address1": f"{rng.randint(1, 999)} Main St", "address2": None, "city": city, "province": province,
            "province_code": code, "zip": zip_code, "country": "United States", "country_code": "US",
            "phone": None}
        if "unicode_address" in messy:
            uf, ul, street, ucity, uprov, ucode, uzip, country, ccode = rng.choice(_UNICODE)
            address = {**(address or {}), "first_name": uf, "last_name": ul, "name": f"{uf} {ul}", "address1": street,
                       "city": ucity, "province": uprov, "province_code": ucode, "zip": uzip, "country": country,
                       "country_code": ccode}
        if "gift_card" in messy:
            address = None  # nothing to ship, so checkout asked for no shipping address
        if malformed == "unknown_sku":
            lines[rng.randrange(len(lines))]["sku"] = f"GHOST-{rng.randrange(1000, 9999)}"
        elif malformed == "missing_sku":
            lines[rng.randrange(len(lines))]["sku"] = rng.choice([None, ""])
        elif malformed == "negative_quantity":
            lines[rng.randrange(len(lines))]["quantity"] = -rng.randint(1, 3)
        elif malformed == "no_shipping_address":
            address = None
        if "yen" in messy:
            # A zero-decimal currency (ISO 4217 minor unit 0): whole yen everywhere.
            for line in lines:
                line["price"] = str((Decimal(line["price"]) * 150).quantize(_YEN))
        if "no_sku_line" in messy:
            lines.append({**lines[0], "id": order_id * 1000 + len(lines), "variant_id": None, "product_id": None,
                          "sku": None, "title": "Custom engraving", "name": "Custom engraving", "quantity": 1,
                          "price": "12.00", "requires_shipping": False, "taxable": True})
        for line in lines:
            line["current_quantity"] = line["fulfillable_quantity"] = line["quantity"]
        currency = "JPY" if "yen" in messy else rng.choice(_CURRENCIES) if "other_currency" in messy else "USD"
        requires_shipping = any(line["requires_shipping"] for line in lines)
        shipping = Decimal("0.00") if not requires_shipping else Decimal("600") if "yen" in messy else Decimal("5.00")
        money = price_order(lines, currency=currency, discounted="discount" in messy, shipping=shipping)
        allocate_lines(lines, currency=currency, discount=Decimal(money["total_discounts"]),
                       tax=Decimal(money["total_tax"]))
        if malformed == "bad_totals":
            money["total_price"] = money["current_total_price"] = str(Decimal(money["total_price"])
                                                                       + rng.randint(1, 20))
        stamp = iso(now)
        payload = {
            "id": order_id, "admin_graphql_api_id": f"gid://shopify/Order/{order_id}", "name": f"#{number}",
            "number": number - 1000, "order_number": number, "email": email, "created_at": stamp,
            "updated_at": stamp, "processed_at": stamp, "closed_at": None, "cancelled_at": None,
            "cancel_reason": None, "currency": currency, "presentment_currency": currency,
            "taxes_included": False, **money,
            "total_price_set": money_set(Decimal(money["total_price"]), currency),
            "financial_status": "paid", "fulfillment_status": None, "test": "test_order" in messy,
            "confirmed": True, "source_name": "web", "tags": "",
            "discount_codes": [{"code": "SANDBOX10", "amount": money["total_discounts"], "type": "percentage"}]
            if "discount" in messy else [],
            "shipping_lines": [{"code": "Standard", "price": str(shipping), "source": "shopify",
                                "title": "Standard", "price_set": money_set(shipping, currency),
                                "discounted_price_set": money_set(shipping, currency), "tax_lines": []}]
            if requires_shipping else [],
            "refunds": [],
            "customer": {"id": customer_id, "email": email, "first_name": first, "last_name": last},
            "shipping_address": address, "billing_address": address, "line_items": lines,
        }
        return PlacedOrder(order_id, f"#{number}", payload, malformed, messy)


def price_order(lines: list[dict[str, Any]], *, currency: str, discounted: bool, shipping: Decimal) -> dict[str, str]:
    """The order's totals, original and current, as Shopify states them for these lines.

    Original figures count every unit ordered (``quantity``); current ones only the
    live units (``current_quantity``), after edits and refunds. Amounts are rounded
    to the currency's minor unit, as Shopify does.
    """
    unit = _YEN if currency == "JPY" else _CENT

    def figures(field: str) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        line_total = sum((Decimal(line["price"]) * line[field] for line in lines), Decimal(0))
        discount = (line_total * _DISCOUNT_RATE).quantize(unit) if discounted else Decimal(0).quantize(unit)
        subtotal = line_total - discount
        tax = (subtotal * _TAX_RATE).quantize(unit)
        return line_total, discount, subtotal, tax

    line_total, discount, subtotal, tax = figures("quantity")
    _, now_discount, now_subtotal, now_tax = figures("current_quantity")
    return {
        "total_line_items_price": str(line_total), "total_discounts": str(discount),
        "subtotal_price": str(subtotal), "total_tax": str(tax), "total_price": str(subtotal + tax + shipping),
        "current_total_discounts": str(now_discount), "current_subtotal_price": str(now_subtotal),
        "current_total_tax": str(now_tax), "current_total_price": str(now_subtotal + now_tax + shipping),
    }


def allocate_lines(lines: list[dict[str, Any]], *, currency: str, discount: Decimal, tax: Decimal) -> None:
    """Give each line its share of the order's discount and tax, as Shopify's line items carry them.

    Shares are in proportion to each line's value (after its discount, for tax) and rounded
    to the minor unit; the last line takes what rounding left, so the lines add up to the
    order's own figures exactly.
    """
    unit = _YEN if currency == "JPY" else _CENT
    values = [Decimal(line["price"]) * line["quantity"] for line in lines]
    whole = sum(values, Decimal(0))
    discounts = _shares(values, whole, discount, unit)
    after = [value - share for value, share in zip(values, discounts)]
    taxes = _shares(after, whole - discount, tax, unit)
    for line, line_discount, line_tax in zip(lines, discounts, taxes):
        line["price_set"] = money_set(Decimal(line["price"]), currency)
        line["discount_allocations"] = [{"amount": str(line_discount), "amount_set": money_set(line_discount, currency),
                                         "discount_application_index": 0}] if line_discount else []
        line["tax_lines"] = [{"title": "Sales Tax", "rate": float(_TAX_RATE), "price": str(line_tax),
                              "price_set": money_set(line_tax, currency)}] if line_tax else []


def _shares(values: list[Decimal], whole: Decimal, amount: Decimal, unit: Decimal) -> list[Decimal]:
    if not amount or not whole:
        return [Decimal(0).quantize(unit) for _ in values]
    shares = [(amount * value / whole).quantize(unit) for value in values]
    shares[-1] += amount - sum(shares, Decimal(0))
    return shares

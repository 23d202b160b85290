"""The order actor and the WMS: every body it sends keeps ShipStation's contract.

The bodies are checked against ``peppasync/contracts/shipstation.json``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from peppasync.contracts import check
from peppasync.errors import ValidationError
from peppasync.sandbox.catalog import GIFT_CARD_SKU, Catalog
from peppasync.sandbox.generator import OrderGenerator

from actors.order import wms_order
from actors.validation import normalise_order


def _shopify_order(*messy: str, seed: int = 3) -> dict[str, Any]:
    """A Shopify order as the sandbox's shop places it (with ``messy`` quirks)."""
    generator = OrderGenerator(Catalog(seed), seed)
    placed = generator.next(0.0, malformed_ratio=0.0, messy_ratio=1.0 if messy else 0.0, lines_mean=2.0,
                            messy_kinds=messy)
    return copy.deepcopy(placed.payload)


def _with_gift_card(body: dict[str, Any]) -> dict[str, Any]:
    """The order plus a gift card line: money the warehouse has nothing to pick for."""
    body = copy.deepcopy(body)
    body["line_items"].append({"id": 9, "sku": GIFT_CARD_SKU, "title": "Gift card", "name": "Gift card",
                               "quantity": 1, "price": "25.00", "gift_card": True, "requires_shipping": False})
    for field in ("subtotal_price", "total_price", "total_line_items_price"):
        body[field] = str(Decimal(body[field]) + Decimal("25.00"))
    return body


def _without_billing(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "billing_address": None}


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "normal": lambda: wms_order(normalise_order(_shopify_order())),
    "gift card line left out": lambda: wms_order(normalise_order(_with_gift_card(_shopify_order()))),
    "unicode address": lambda: wms_order(normalise_order(_shopify_order("unicode_address"))),
    "no billing address": lambda: wms_order(normalise_order(_without_billing(_shopify_order()))),
    "cancellation": lambda: wms_order(normalise_order(_shopify_order()), "cancelled"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_body_wms_order_builds_keeps_shipstations_create_order_contract(case: str) -> None:
    body = CASES[case]()

    assert check("shipstation", "CreateOrderRequest", body) == []
    assert body["billTo"]["name"] and body["shipTo"]["name"]


def test_a_gift_card_is_billed_but_not_sent_to_be_picked() -> None:
    body = CASES["gift card line left out"]()

    assert GIFT_CARD_SKU not in [item["sku"] for item in body["items"]]
    assert body["items"]


def test_a_cancellation_sends_the_whole_order_again() -> None:
    order = normalise_order(_shopify_order())

    cancelled = wms_order(order, "cancelled")

    assert cancelled == {**wms_order(order), "orderStatus": "cancelled"}


def test_bill_to_is_the_billing_address_then_the_shipping_address_then_the_customers_name() -> None:
    body = _shopify_order()
    body["billing_address"] = {**body["billing_address"], "name": "Accounts Payable", "address1": "9 Bank St",
                               "country_code": "GB"}
    body["customer"]["first_name"], body["customer"]["last_name"] = "Grace", "Hopper"
    no_address = {**body, "billing_address": None, "shipping_address": None}
    no_address["line_items"] = [{**line, "requires_shipping": False} for line in body["line_items"]]
    no_address["shipping_lines"] = []
    no_address["total_price"] = str(Decimal(body["total_price"]) - Decimal("5.00"))

    billed = wms_order(normalise_order(body))["billTo"]
    shipped = wms_order(normalise_order(_without_billing(body)))
    customer = wms_order(normalise_order(no_address))["billTo"]

    assert (billed["name"], billed["street1"], billed["country"]) == ("Accounts Payable", "9 Bank St", "GB")
    assert shipped["billTo"] == shipped["shipTo"]
    assert customer == {"name": "Grace Hopper"}


def test_a_shipping_address_without_a_two_letter_country_code_is_refused_before_the_wms_is_called() -> None:
    body = _shopify_order()
    body["shipping_address"] = {**body["shipping_address"], "country_code": None, "country": "United States"}

    with pytest.raises(ValidationError, match="no two-letter country code"):
        wms_order(normalise_order(body))

"""An order's money in NetSuite: the sales order's lines, discounts, shipping and tax add up to Shopify's total.

Orders go through what the order actor uses (``normalise_order``, ``Order.from_record``,
``NetsuiteErp``) to the sandbox's NetSuite, which enforces the contract and totals each
record as NetSuite does; the totals are read back over the sandbox's ledger API.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
import requests

from peppasync.backoff import Backoff
from peppasync.config import parse_config
from peppasync.money import minor_unit
from peppasync.sandbox import PROFILES, Sandbox
from peppasync.sandbox.shop import money_set

from actors.adapters import NetsuiteErp, NetsuiteRules
from actors.adapters.netsuite import sales_order_record
from actors.connectors import NetsuiteConnector, RetryPolicy
from actors.domain import Order
from actors.validation import normalise_order

QUIET = replace(PROFILES["calm"], name="quiet", erp_latency_median=0.001, erp_latency_sigma=0.0, erp_error_rate=0.0)
FAST_RETRY = RetryPolicy(max_attempts=4, deadline=5.0, backoff=Backoff(base=0.001, cap=0.005))
MESSY = ("discount", "other_currency", "yen", "gift_card", "no_sku_line", "test_order")


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(QUIET, seed=33) as sb:
        yield sb


def _erp(sb: Sandbox, **netsuite: Any) -> NetsuiteErp:
    config = parse_config({"netsuite": {**sb.config_sections()["netsuite"], **netsuite}}).netsuite
    return NetsuiteErp(NetsuiteConnector(config, retry=FAST_RETRY), rules=NetsuiteRules.from_config(config))


def _book(erp: NetsuiteErp, payload: dict[str, Any]) -> Order:
    """What the order actor does with the ERP for a new order: customer, sales order, payments."""
    order = Order.from_record(normalise_order(payload, non_sku_lines=True))
    if order.customer is not None:
        erp.upsert_customer(order.customer)
    erp.upsert_sales_order(order)
    erp.record_payments(order)
    return order


def _state(sb: Sandbox) -> dict[str, Any]:
    """The simulated NetSuite's records, as its ledger API answers them."""
    answer = requests.get(f"{sb.netsuite_url}/_sandbox/ledger", timeout=10)
    assert answer.status_code == 200
    return dict(answer.json()["state"])


@pytest.mark.parametrize("netsuite", [
    {},
    {"discounts": "net"},
    {"shipping": "item", "shipping_item": "7002"},
    {"discounts": "net", "shipping": "item", "shipping_item": "7002", "ship_methods": {}},
], ids=["discount-lines", "net-lines", "shipping-line", "net-and-shipping-line"])
def test_every_generated_sales_order_adds_up_to_shopifys_total_within_the_minor_unit(
        sandbox: Sandbox, netsuite: dict[str, Any]) -> None:
    erp = _erp(sandbox, **netsuite)
    placed = sandbox.place_orders(40, malformed_ratio=0.0, messy_ratio=0.7, messy_kinds=MESSY)

    for p in placed:
        _book(erp, p.payload)
    sales = _state(sandbox)["sales_orders"]

    off = {}
    for p in placed:
        total, unit = Decimal(p.payload["total_price"]), minor_unit(p.payload["currency"])
        booked = Decimal(str(sales[str(p.id)]["total"]))
        if abs(booked - total) >= unit:
            off[p.id] = (str(total), str(booked), p.messy)
    assert off == {}
    assert {k for p in placed for k in p.messy} >= {"discount", "yen", "gift_card", "no_sku_line"}


def test_discount_lines_carry_shopifys_discount_and_the_shipping_its_charge(sandbox: Sandbox) -> None:
    erp = _erp(sandbox)
    placed = sandbox.place_orders(12, malformed_ratio=0.0, messy_ratio=1.0, messy_kinds=("discount",))

    for p in placed:
        _book(erp, p.payload)
    sales = _state(sandbox)["sales_orders"]

    assert [(Decimal(str(-sales[str(p.id)]["discountTotal"])), Decimal(str(sales[str(p.id)]["shippingCost"])),
             Decimal(str(sales[str(p.id)]["taxTotal"]))) for p in placed] == [
        (Decimal(p.payload["total_discounts"]), Decimal("5"), Decimal(p.payload["total_tax"])) for p in placed]


# A hand-priced order: a shop in USD, a buyer paying in EUR at 1 EUR = 1.10 USD.
#   line A: 2 x 20.00 USD (18.18 EUR), discount 4.00 USD (3.64 EUR), tax 2.88 USD (2.62 EUR)
#   line B: 1 x 10.00 USD (9.09 EUR), no discount, tax 0.80 USD (0.73 EUR)
#   shipping "Express" 6.00 USD (5.45 EUR), its tax 0.48 USD (0.44 EUR)
#   subtotal 46.00 USD, tax 4.16 USD, total 56.16 USD; in EUR 36.36 - 3.64 + 9.09 + 2.62 + 0.73 + 5.45
#   + 0.44 = 51.05 EUR
def _eur(usd: str, eur: str) -> dict[str, Any]:
    return {"shop_money": {"amount": usd, "currency_code": "USD"},
            "presentment_money": {"amount": eur, "currency_code": "EUR"}}


HAND = {
    "id": 8801, "name": "#8801", "currency": "USD", "presentment_currency": "EUR", "taxes_included": False,
    "created_at": "2026-11-27T10:00:00Z", "updated_at": "2026-11-27T10:00:00Z", "financial_status": "paid",
    "customer": {"id": 9, "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
    "shipping_address": {"address1": "1 Main St", "city": "Portland", "zip": "97201", "country_code": "US"},
    "total_discounts": "4.00", "subtotal_price": "46.00", "total_tax": "4.16", "total_price": "56.16",
    "total_price_set": _eur("56.16", "51.05"),
    "line_items": [
        {"id": 1, "sku": "PS-0001", "title": "Mug", "quantity": 2, "price": "20.00",
         "price_set": _eur("20.00", "18.18"),
         "discount_allocations": [{"amount": "4.00", "amount_set": _eur("4.00", "3.64")}],
         "tax_lines": [{"price": "2.88", "price_set": _eur("2.88", "2.62")}]},
        {"id": 2, "sku": "PS-0002", "title": "Cap", "quantity": 1, "price": "10.00",
         "price_set": _eur("10.00", "9.09"), "discount_allocations": [],
         "tax_lines": [{"price": "0.80", "price_set": _eur("0.80", "0.73")}]}],
    "shipping_lines": [{"title": "Express", "code": "EXP", "price": "6.00", "price_set": _eur("6.00", "5.45"),
                        "discounted_price_set": _eur("6.00", "5.45"),
                        "tax_lines": [{"price": "0.48", "price_set": _eur("0.48", "0.44")}]}],
}


def test_a_hand_priced_order_is_booked_line_by_line_in_the_shops_currency(sandbox: Sandbox) -> None:
    erp = _erp(sandbox)

    _book(erp, copy.deepcopy(HAND))
    record = sandbox.netsuite.erp.records_of("salesOrder")["8801"]

    assert [(line["item"], line.get("quantity"), line["amount"]) for line in record["item"]["items"]] == [
        ({"externalId": "PS-0001"}, 2, 40), ({"id": "7003"}, None, -4), ({"externalId": "PS-0002"}, 1, 10)]
    assert (record["shippingCost"], record["shipMethod"], "exchangeRate" in record) == (6, {"id": "8002"}, False)
    assert [(d["taxDetailsReference"], d["taxAmount"]) for d in record["taxDetails"]["items"]] == [
        ("line-1", 2.88), ("line-2", 0.8), ("SHIPPING", 0.48)]
    assert (record["currency"], record["total"]) == ({"id": "1"}, 56.16)


def test_booked_in_the_buyers_currency_the_order_carries_shopifys_rate_and_adds_up_there(sandbox: Sandbox) -> None:
    erp = _erp(sandbox, book_currency="presentment", discounts="net")

    _book(erp, copy.deepcopy(HAND))
    record = sandbox.netsuite.erp.records_of("salesOrder")["8801"]
    deposit = sandbox.netsuite.erp.records_of("customerDeposit")["shopify-payment-8801"]

    assert (record["currency"], record["exchangeRate"]) == ({"id": "4"}, pytest.approx(56.16 / 51.05))
    assert [line["amount"] for line in record["item"]["items"]] == [32.72, 9.09]
    assert (record["shippingCost"], record["taxTotal"], record["total"]) == (5.45, 3.79, 51.05)
    assert (deposit["payment"], deposit["currency"], deposit["salesOrder"]) == (51.05, {"id": "4"},
                                                                                {"externalId": "8801"})


def test_with_prices_that_include_tax_the_lines_are_booked_net_of_it_and_still_add_up(sandbox: Sandbox) -> None:
    erp = _erp(sandbox)
    order = copy.deepcopy(HAND)
    order.update(presentment_currency="USD", taxes_included=True, total_price_set=None)
    for line in order["line_items"]:
        line.pop("price_set")
    order["shipping_lines"][0].pop("discounted_price_set")
    order["shipping_lines"][0].pop("price_set")
    # subtotal 46.00 with 3.68 tax inside it, shipping 6.00 with 0.48 inside: 52.00 paid, 4.16 of it tax
    order.update(total_price="52.00")

    _book(erp, order)
    record = sandbox.netsuite.erp.records_of("salesOrder")["8801"]

    assert [line["amount"] for line in record["item"]["items"]] == [37.12, -4, 9.2]
    assert (record["shippingCost"], record["taxTotal"], record["total"]) == (5.52, 4.16, 52)


def test_left_to_netsuites_tax_engine_the_order_sends_no_tax_and_the_rest_adds_up(sandbox: Sandbox) -> None:
    erp = _erp(sandbox, tax="erp")

    _book(erp, copy.deepcopy(HAND))
    record = sandbox.netsuite.erp.records_of("salesOrder")["8801"]

    assert ("taxDetails" in record, "taxDetailsReference" in record["item"]["items"][0]) == (False, False)
    assert record["total"] == 52


def test_a_paid_order_gets_one_customer_deposit_however_often_it_is_booked_and_none_when_turned_off(
        sandbox: Sandbox) -> None:
    erp, off = _erp(sandbox), _erp(sandbox, deposits=False)
    first, second = (p.payload for p in sandbox.place_orders(2, malformed_ratio=0.0, messy_ratio=0.0))

    for _ in range(3):
        _book(erp, first)
    _book(off, second)
    state = _state(sandbox)

    assert state["customer_deposits"] == {f"shopify-payment-{first['id']}": {
        "salesOrder": str(first["id"]), "payment": float(first["total_price"]), "currency": "1"}}
    assert state["creates"][f"customerDeposit/shopify-payment-{first['id']}"] == 1


def test_an_unpaid_order_gets_no_deposit(sandbox: Sandbox) -> None:
    erp = _erp(sandbox)
    payload = sandbox.place_orders(1, malformed_ratio=0.0)[0].payload

    _book(erp, {**payload, "financial_status": "pending"})

    assert _state(sandbox)["customer_deposits"] == {}


def test_a_money_set_in_one_currency_keeps_the_record_as_before() -> None:
    payload = copy.deepcopy(HAND)
    payload.update(presentment_currency="USD", total_price_set=money_set(Decimal("56.16"), "USD"))

    record = normalise_order(payload)

    assert (record["presentment_currency"], record["exchange_rate"]) == ("USD", None)
    assert Order.from_record(record).in_presentment().currency == "USD"


def test_an_order_record_saved_before_money_was_kept_still_books_its_lines_with_the_discount_shared() -> None:
    old = {"id": "7001", "name": "#7001", "email": "", "currency": "USD", "created_at": "2026-11-01T00:00:00Z",
           "updated_at": "2026-11-01T00:00:00Z", "test": False, "cancelled": False, "customer_id": None,
           "customer": {}, "needs_shipping": True, "shipping_address": None, "billing_address": None,
           "subtotal": "27.00", "discounts": "3.00", "tax": "0", "total": "32.00",
           "lines": [{"sku": "A", "title": "A", "quantity": 2, "price": "10.00", "gift_card": False,
                      "non_sku": False, "requires_shipping": True},
                     {"sku": "B", "title": "B", "quantity": 1, "price": "10.00", "gift_card": False,
                      "non_sku": False, "requires_shipping": True}]}

    order = Order.from_record(old)
    body = sales_order_record(order, rules=NetsuiteRules())

    assert (order.shipping, order.payments, order.presentment_currency, order.lines[0].discount) == (
        (), (), "USD", None)
    assert [line["amount"] for line in body["item"]["items"]] == [18, 9]
    assert "shippingCost" not in body and "taxDetails" not in body

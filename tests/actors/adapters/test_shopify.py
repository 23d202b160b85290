"""The money of a Shopify order webhook, read the way Shopify states it."""

from decimal import Decimal as D

import pytest

from peppasync.clock import ManualClock
from peppasync.money import MoneyBag
from peppasync.sandbox import PROFILES, Sandbox

from actors.adapters import sale_facts
from actors.margin_model import MarginRules, compute_margin


def money(shop: str, presentment: str) -> dict:
    return {"shop_money": {"amount": shop, "currency_code": "USD"},
            "presentment_money": {"amount": presentment, "currency_code": "EUR"}}


def usd_shop_eur_buyer() -> dict:
    """Two mugs with 5.00 off, shipping 8.00 less a 3.00 shipping discount; one mug returned."""
    mug = {"id": 11, "sku": "MUG", "quantity": 2, "price": "20.00", "price_set": money("20.00", "18.50"),
           "gift_card": False, "requires_shipping": True,
           "discount_allocations": [{"amount": "5.00", "amount_set": money("5.00", "4.60"),
                                     "discount_application_index": 0}],
           "tax_lines": [{"title": "State Tax", "rate": 0.06, "price": "2.10", "price_set": money("2.10", "1.94")}]}
    return {
        "id": 450789469, "currency": "USD", "presentment_currency": "EUR", "taxes_included": False,
        "total_price": "42.10", "total_price_set": money("42.10", "38.84"),
        "line_items": [mug],
        "shipping_lines": [{"price": "8.00", "price_set": money("8.00", "7.40"),
                            "discounted_price_set": money("5.00", "4.60"), "tax_lines": []}],
        "refunds": [{"id": 509562969, "refund_line_items": [
            {"line_item_id": 11, "quantity": 1, "restock_type": "return", "subtotal": "17.50",
             "subtotal_set": money("17.50", "16.20"), "total_tax": "1.05", "total_tax_set": money("1.05", "0.97")}],
            "order_adjustments": [{"kind": "shipping_refund", "amount": "-5.00", "amount_set": money("-5.00", "-4.60")},
                                  {"kind": "refund_discrepancy", "amount": "-1.00",
                                   "amount_set": money("-1.00", "-0.92")}]}],
    }


def test_an_order_in_two_currencies_reads_as_its_lines_shipping_and_refunds_in_both():
    facts = sale_facts(usd_shop_eur_buyer())

    (mug,) = facts.lines
    assert (mug.sku, mug.quantity, mug.price) == ("MUG", 2, MoneyBag.of("20.00", "18.50"))
    assert (mug.discount, mug.tax) == (MoneyBag.of("5.00", "4.60"), MoneyBag.of("2.10", "1.94"))
    assert facts.shipping == MoneyBag.of("5.00", "4.60")  # after the shipping discount
    assert facts.total == MoneyBag.of("42.10", "38.84")
    (refund,) = facts.refunds
    assert refund.lines[0].sku == "MUG" and refund.lines[0].restocked
    assert (refund.shipping, refund.other) == (MoneyBag.of("5.00", "4.60"), MoneyBag.of("1.00", "0.92"))


def test_the_revenue_of_that_order_is_what_the_buyer_kept_paying_for():
    margin = compute_margin(sale_facts(usd_shop_eur_buyer()), MarginRules())

    # USD 40.00 - 5.00 + 5.00 shipping - 17.50 mug - 5.00 shipping - 1.00 discrepancy;
    # EUR 37.00 - 4.60 + 4.60 - 16.20 - 4.60 - 0.92
    assert (margin.revenue.amount, margin.revenue.presentment) == (D("16.50"), D("15.28"))
    assert (margin.currency, margin.presentment_currency) == ("USD", "EUR")


def test_in_a_shop_whose_prices_include_tax_refunds_count_without_their_tax():
    body = usd_shop_eur_buyer() | {"taxes_included": True}

    margin = compute_margin(sale_facts(body), MarginRules())

    # 40.00 - 5.00 - 2.10 tax + 5.00 shipping - (17.50 - 1.05) - 5.00 - 1.00
    assert margin.revenue.amount == D("15.45")


def test_a_body_with_only_plain_amounts_reads_in_the_shop_currency():
    body = usd_shop_eur_buyer()
    del body["presentment_currency"], body["total_price_set"]
    for line in body["line_items"]:
        del line["price_set"]
    body["refunds"] = []

    facts = sale_facts(body)

    assert facts.presentment_currency == "USD"
    assert facts.lines[0].price == MoneyBag.of("20.00")


@pytest.fixture(scope="module")
def placed():
    sandbox = Sandbox(PROFILES["calm"], seed=11, clock=ManualClock())
    orders = sandbox.place_orders(120, malformed_ratio=0.0, messy_ratio=0.6)
    return sandbox, orders


def test_the_sandboxs_orders_add_up_line_by_line_to_their_own_totals(placed):
    _, orders = placed

    for order in orders:
        facts = sale_facts(order.payload)
        body = order.payload
        goods = sum((line.price.shop * line.quantity - line.discount.shop for line in facts.lines), D(0))
        assert goods == D(body["subtotal_price"]), order.name
        assert sum((line.tax.shop for line in facts.lines), D(0)) == D(body["total_tax"]), order.name
        assert goods + sum((line.tax.shop for line in facts.lines), D(0)) + facts.shipping.shop == facts.total.shop


def test_a_refunded_sandbox_order_keeps_no_revenue(placed):
    sandbox, orders = placed
    order = next(o for o in orders if "discount" in o.messy)

    refund = sandbox.refund_order(order.id)
    facts = sale_facts(order.payload | {"refunds": [refund]})

    assert compute_margin(facts, MarginRules()).revenue.amount == 0

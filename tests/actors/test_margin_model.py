"""True margin: figures worked out by hand, component by component, against what the model says."""

from decimal import Decimal as D

from peppasync.money import MoneyBag, minor_unit, round_money

from actors.margin_model import (
    Component,
    Label,
    MarginRules,
    Refund,
    RefundLine,
    SaleFacts,
    SoldLine,
    Transaction,
    UnitCost,
    choose_unit_cost,
    compute_margin,
)

RULES = MarginRules(fee_percent=D("2.9"), fee_fixed=D("0.30"), per_order={"packaging": D("1.25"), "handling": D("0.75")})


def usd_eur_sale(**changes: object) -> SaleFacts:
    """A USD shop selling to a buyer in EUR: three mugs (10% off), two tees, a cap, a gift card."""
    facts = {
        "order_id": "1001",
        "shop_currency": "USD",
        "presentment_currency": "EUR",
        "lines": (
            SoldLine("MUG", 3, MoneyBag.of("20.00", "18.00"), discount=MoneyBag.of("6.00", "5.40"),
                     tax=MoneyBag.of("4.32", "3.89")),
            SoldLine("TEE", 2, MoneyBag.of("25.00", "22.50")),
            SoldLine("CAP", 1, MoneyBag.of("15.00", "13.50")),
            SoldLine("GIFT-50", 1, MoneyBag.of("50.00", "45.00"), gift_card=True),
        ),
        "shipping": MoneyBag.of("10.00", "9.00"),
        "total": MoneyBag.of("184.32", "165.89"),
        # One mug came back and went on the shelf again: refunded at its discounted price.
        "refunds": (Refund("r1", lines=(RefundLine("MUG", 1, MoneyBag.of("18.00", "16.20"), restocked=True),)),),
        "labels": (Label(D("12.34"), D("1.00"), voided=True), Label(D("9.87"), D("0.50"))),
        "transactions": (Transaction(D("184.32"), fees=D("4.21")),),
        "costs": {"MUG": UnitCost(D("7.50"), "erp.average_cost"), "TEE": UnitCost(D("11.20"), "shopify.unit_cost")},
    }
    facts.update(changes)
    return SaleFacts(**facts)  # type: ignore[arg-type]


def test_a_two_currency_order_with_a_discount_a_partial_refund_a_voided_label_and_a_missing_cost():
    margin = compute_margin(usd_eur_sale(), RULES)

    # Revenue: mugs 60 - 6, tees 50, cap 15, shipping 10, less the refunded mug 18; no gift card.
    assert margin.revenue.amount == D("111.00")
    assert margin.revenue.presentment == D("99.90")  # 48.60 + 45.00 + 13.50 + 9.00 - 16.20
    assert (margin.revenue.source, margin.revenue.basis) == ("shopify.order", "actual")
    # COGS: two mugs kept at 7.50, two tees at 11.20; the cap has no cost anywhere.
    cogs = margin.component("cogs")
    assert cogs.amount == D("37.40")
    assert (cogs.source, cogs.basis) == ("erp.average_cost+shopify.unit_cost", "missing")
    # Fulfilment: the live label and its insurance; the voided one is left out.
    assert margin.component("fulfilment") == Component("fulfilment", D("10.37"), "wms.label", "actual")
    fees = margin.component("payment_fees")
    assert (fees.amount, fees.source, fees.basis) == (D("4.21"), "shopify.transaction_fees", "actual")
    assert (margin.component("packaging").amount, margin.component("packaging").basis) == (D("1.25"), "estimated")
    assert margin.component("handling").amount == D("0.75")
    assert margin.margin == D("57.02")  # 111.00 - (37.40 + 10.37 + 4.21 + 1.25 + 0.75)
    assert margin.percent == D("51.37")
    assert not margin.complete


def test_estimates_fill_what_is_missing_and_say_so():
    rules = MarginRules(cost_percent=D(40), fee_percent=D("2.9"), fee_fixed=D("0.30"), fulfilment_estimate=D("8.00"))
    facts = usd_eur_sale(labels=(Label(D("12.34"), voided=True),), transactions=(Transaction(D("120.00")),))

    margin = compute_margin(facts, rules)

    cogs = margin.component("cogs")
    assert cogs.amount == D("43.40")  # 37.40 + the cap at 40% of 15.00
    assert cogs.basis == "estimated"
    assert "config.margin.cost_percent" in cogs.source
    fulfilment = margin.component("fulfilment")
    assert (fulfilment.amount, fulfilment.source, fulfilment.basis) == (
        D("8.00"), "config.margin.fulfilment_estimate", "estimated")
    fees = margin.component("payment_fees")
    assert (fees.amount, fees.basis) == (D("3.78"), "estimated")  # 120.00 * 2.9% + 0.30
    assert margin.margin == D("111.00") - D("43.40") - D("8.00") - D("3.78")
    assert margin.complete


def test_units_refunded_but_not_returned_still_cost_what_they_cost():
    kept = usd_eur_sale(refunds=(Refund("r1", lines=(RefundLine("MUG", 1, MoneyBag.of("18.00", "16.20")),)),))

    margin = compute_margin(kept, RULES)

    assert margin.component("cogs").amount == D("44.90")  # three mugs at 7.50 and two tees at 11.20
    assert margin.revenue.amount == D("111.00")


def test_prices_that_include_tax_count_without_it():
    facts = SaleFacts(
        order_id="2002", shop_currency="EUR", presentment_currency="EUR", taxes_included=True,
        lines=(SoldLine("MUG", 2, MoneyBag.of("12.10"), tax=MoneyBag.of("4.20")),),
        shipping=MoneyBag.of("6.05"), shipping_tax=MoneyBag.of("1.05"), needs_shipping=True,
        refunds=(Refund("r9", shipping=MoneyBag.of("5.00")),),
        costs={"MUG": UnitCost(D("4.00"), "erp.landed_cost")},
        transactions=(Transaction(D("30.25"), fees=D("0.80")),), labels=(Label(D("4.10")),))

    margin = compute_margin(facts, MarginRules())

    assert margin.revenue.amount == D("20.00")  # 24.20 - 4.20 + 6.05 - 1.05 - 5.00 shipping refunded
    assert margin.margin == D("20.00") - D("8.00") - D("4.10") - D("0.80")
    assert margin.complete


def test_figures_round_to_the_currency_minor_unit():
    facts = SaleFacts(order_id="3003", shop_currency="JPY", presentment_currency="JPY",
                      lines=(SoldLine("TEA", 1, MoneyBag.of(1001)),), needs_shipping=False,
                      costs={"TEA": UnitCost(D(400), "erp.average_cost")}, transactions=(Transaction(D(1001)),))

    margin = compute_margin(facts, MarginRules(fee_percent=D("3.25")))

    assert margin.component("payment_fees").amount == D(33)  # 32.5325 yen rounds to 33
    assert margin.component("fulfilment").amount == 0  # nothing to ship
    assert margin.margin == D(568)
    assert (minor_unit("KWD"), round_money(D("1.23456"), "KWD")) == (D("0.001"), D("1.235"))


def test_an_order_without_revenue_has_no_margin_percent():
    facts = usd_eur_sale(lines=(SoldLine("GIFT-50", 1, MoneyBag.of("50.00", "45.00"), gift_card=True),),
                         shipping=MoneyBag(), refunds=(), labels=(), needs_shipping=False)

    margin = compute_margin(facts, RULES)

    assert margin.revenue.amount == 0
    assert margin.percent is None
    # A gift card sold alone is not packed: per-order costs are for orders that ship.
    assert margin.component("packaging").amount == margin.component("handling").amount == 0


def test_the_unit_cost_comes_from_the_first_configured_source_that_has_one():
    candidates = {"erp.average_cost": None, "erp.last_purchase_price": D("5.10"), "shopify.unit_cost": D("4.80")}

    assert choose_unit_cost(candidates) == UnitCost(D("5.10"), "erp.last_purchase_price")
    assert choose_unit_cost(candidates, ["shopify.unit_cost", "erp.last_purchase_price"]) == UnitCost(
        D("4.80"), "shopify.unit_cost")
    assert choose_unit_cost({"erp.average_cost": None}) is None

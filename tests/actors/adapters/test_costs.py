"""Unit costs read from the sandbox's NetSuite and Shopify over HTTP, through the cost book."""

from dataclasses import replace
from decimal import Decimal

import gevent.event
import pytest

from peppasync.clock import SystemClock
from peppasync.config import parse_config
from peppasync.errors import RejectedError
from peppasync.sandbox import PROFILES

from actors.adapters import NetsuiteItemCosts, ShopifyPayments, ShopifyUnitCosts
from actors.connectors import NetsuiteConnector, ShopifyConnector
from actors.costs import CostBook
from tests.sandboxes import sandbox_factory

QUIET = replace(PROFILES["calm"], name="quiet", erp_latency_median=0.001, erp_latency_sigma=0.0)


@pytest.fixture(scope="module")
def sandbox():
    with sandbox_factory(QUIET) as make:
        yield make()


def _readers(sb):
    config = parse_config(sb.config_sections(), environ={})
    return [NetsuiteItemCosts(NetsuiteConnector(config.netsuite)), ShopifyUnitCosts(ShopifyConnector(config.shopify))]


def _book(sb):
    return CostBook(_readers(sb), SystemClock())


def test_each_source_answers_in_the_configured_order(sandbox):
    item = sandbox.catalog.physical[0]
    book = _book(sandbox)

    erp_first = book.lookup(item.sku, ("erp.average_cost", "shopify.unit_cost"), wait=True)
    shop_first = book.lookup(item.sku, ("shopify.unit_cost", "erp.average_cost"), wait=True)

    assert (erp_first.cost.amount, erp_first.cost.source) == (item.cost, "erp.average_cost")
    assert (shop_first.cost.amount, shop_first.cost.source) == (item.cost, "shopify.unit_cost")
    assert erp_first.failed == shop_first.failed == ()


def test_a_sku_neither_system_knows_has_no_cost(sandbox):
    found = _book(sandbox).lookup("NO-SUCH-SKU", ("erp.average_cost", "shopify.unit_cost"), wait=True)

    assert (found.cost, found.failed) == (None, ())


def test_a_source_that_refuses_is_passed_over_for_the_next(sandbox):
    item = sandbox.catalog.physical[0]

    class Refusing:
        sources = ("erp.average_cost",)

        def unit_costs(self, sku):
            raise RejectedError("NetSuite refused: INVALID_LOGIN", connector="netsuite")

    book = CostBook([Refusing(), _readers(sandbox)[1]], SystemClock())
    found = book.lookup(item.sku, ("erp.average_cost", "shopify.unit_cost"), wait=True)

    assert (found.cost.amount, found.cost.source, found.failed) == (item.cost, "shopify.unit_cost",
                                                                     ("erp.average_cost",))
    assert isinstance(found.cost.amount, Decimal)


def test_without_waiting_a_cost_is_read_in_the_background_and_the_asker_told(sandbox):
    item = sandbox.catalog.physical[1]
    book = _book(sandbox)
    told = gevent.event.Event()

    first = book.lookup(item.sku, ("erp.average_cost",), wait=False, then=told.set)
    assert told.wait(10)
    after = book.lookup(item.sku, ("erp.average_cost",), wait=False)

    assert (first.cost, first.pending) == (None, True)
    assert (after.cost.amount, after.pending) == (item.cost, False)


def test_two_readers_for_one_source_are_refused(sandbox):
    with pytest.raises(ValueError, match="two readers answer for erp.average_cost"):
        CostBook([*_readers(sandbox), _readers(sandbox)[0]], SystemClock())


def test_the_fees_of_a_shopify_payments_charge_are_read_and_another_gateways_are_not(sandbox):
    placed = sandbox.place_orders(10, malformed_ratio=0.0, messy_ratio=0.0)
    config = parse_config(sandbox.config_sections(), environ={})
    payments = ShopifyPayments(ShopifyConnector(config.shopify))
    by_card = next(p for p in placed if p.id % 5)
    by_other = next((p for p in placed if p.id % 5 == 0), None)

    found = payments.charges([str(by_card.id), *([str(by_other.id)] if by_other else []), "999999999"])

    [charge] = found[str(by_card.id)]
    total = Decimal(by_card.payload["total_price"])
    assert (charge.amount, charge.fees) == (total, (total * Decimal("0.029") + Decimal("0.30")).quantize(Decimal("0.01")))
    if by_other is not None:
        assert found[str(by_other.id)][0].fees is None
    assert found["999999999"] is None

"""The SKU catalogue against the sandbox's Shopify: a burst of orders asks once per SKU."""

from __future__ import annotations

from dataclasses import replace

import gevent
import pytest

from peppasync.backoff import Backoff
from peppasync.clock import SystemClock
from peppasync.config import parse_config
from peppasync.errors import ConnectorError
from peppasync.sandbox import PROFILES, Sandbox

from actors.catalog import Catalog
from actors.connectors import RetryPolicy, ShopifyConnector

QUIET = replace(PROFILES["calm"], name="quiet", erp_latency_median=0.001, erp_latency_sigma=0.0)


@pytest.fixture
def sandbox():
    sb = Sandbox(QUIET, seed=3)
    sb.start()
    yield sb
    sb.stop()


def _shopify(sb: Sandbox, **config: str) -> ShopifyConnector:
    sections = sb.config_sections()
    sections["shopify"] = {**sections["shopify"], **config}
    return ShopifyConnector(parse_config(sections).shopify,
                            retry=RetryPolicy(max_attempts=2, deadline=1.0, backoff=Backoff(base=0.005, cap=0.01)))


def _graphql_calls(sb: Sandbox) -> int:
    return sum(1 for e in sb.shopify.ledger.entries() if "graphql" in e.path)


def test_a_burst_of_orders_naming_the_same_skus_asks_shopify_about_each_sku_once(sandbox):
    catalog = Catalog(_shopify(sandbox), SystemClock())
    skus = [item.sku for item in sandbox.catalog.items[:20]]
    before = _graphql_calls(sandbox)

    lines = [skus[n % 20] for n in range(400)] + ["NO-SUCH-SKU"] * 50
    answers = [gevent.spawn(catalog.known, sku) for sku in lines]
    gevent.joinall(answers, raise_error=True)

    assert [a.value for a in answers] == [True] * 400 + [False] * 50
    assert catalog.skus() == sorted(skus)
    assert _graphql_calls(sandbox) - before <= 2  # 21 SKUs, one call of up to 50 aliases (or two)


def test_a_failed_lookup_reaches_every_order_waiting_on_it_and_the_next_one_asks_again(sandbox):
    catalog = Catalog(_shopify(sandbox, access_token="wrong-token"), SystemClock())
    sku = sandbox.catalog.items[0].sku

    waiting = [gevent.spawn(catalog.known, sku) for _ in range(5)]
    gevent.joinall(waiting)

    assert all(isinstance(w.exception, ConnectorError) for w in waiting)
    with pytest.raises(ConnectorError):
        catalog.known(sku)  # asked again, not answered from a failure

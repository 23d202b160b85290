"""Measures what the connectors' limiters buy against the sandbox (not collected by pytest).

    .venv/bin/python tests/actors/connectors/bench_connectors.py [--orders 150]

NetSuite: sales-order upserts with the account limit configured right, too low (1,
the one-at-a-time baseline) and too high. Shopify: concurrent order pages against a
small cost bucket, with and without the client-side bucket.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import gevent

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from peppasync.backoff import Backoff
from peppasync.config import parse_config
from peppasync.sandbox import PROFILES, Sandbox

from actors.connectors import NetsuiteConnector, RetryPolicy, ShopifyConnector

RETRY = RetryPolicy(max_attempts=12, deadline=60.0, backoff=Backoff(base=0.05, cap=1.0))


def netsuite(orders: int) -> None:
    for ceiling in (1, 15, 40):
        with Sandbox(PROFILES["calm"], seed=1) as sb:
            config = replace(parse_config(sb.config_sections()).netsuite, max_concurrency=ceiling)
            erp = NetsuiteConnector(config, retry=RETRY)
            body = {"item": {"items": [{"item": {"externalId": sb.catalog.items[2].sku}, "quantity": 1}]}}
            began = time.monotonic()
            calls = [gevent.spawn(erp.upsert_sales_order, 7000 + n, body) for n in range(orders)]
            gevent.joinall(calls, raise_error=True)
            seconds = time.monotonic() - began
            outcomes = sb.netsuite.ledger.outcomes()
            print(f"netsuite ceiling {ceiling:>2} (account limit {sb.netsuite.concurrency_limit}): "
                  f"{orders} upserts in {seconds:5.1f} s = {orders / seconds:5.1f}/s, "
                  f"429s {outcomes.get('throttled', 0)}, peak in flight {sb.netsuite.ledger.max_in_flight}, "
                  f"final limit {erp.stats()['limit']}")


def _all_pages(shop: ShopifyConnector) -> list[dict[str, object]]:
    return list(shop.orders_updated_since("2000-01-01T00:00:00Z", page_size=50))


def shopify(callers: int) -> None:
    profile = replace(PROFILES["calm"], name="small-bucket", bucket_size=200.0, bucket_restore_rate=400.0)
    for bucket in (True, False):
        with Sandbox(profile, seed=16) as sb:
            shop = ShopifyConnector(parse_config(sb.config_sections()).shopify, retry=RETRY)
            if not bucket:
                shop._admit = lambda cost: None  # type: ignore[method-assign]
            sb.place_orders(3, malformed_ratio=0.0)
            next(shop.orders_updated_since("2000-01-01T00:00:00Z", page_size=50))
            began = time.monotonic()
            calls = [gevent.spawn(_all_pages, shop) for _ in range(callers)]
            gevent.joinall(calls, raise_error=True)
            seconds = time.monotonic() - began
            print(f"shopify bucket {'on ' if bucket else 'off'}: {callers} concurrent pages in {seconds:4.2f} s, "
                  f"THROTTLED {shop.stats()['throttled']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=150)
    parser.add_argument("--callers", type=int, default=40)
    args = parser.parse_args()
    netsuite(args.orders)
    shopify(args.callers)


if __name__ == "__main__":
    main()

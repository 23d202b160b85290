"""Measures the sandbox itself, so benchmarks of the engine know the simulators are not the bottleneck.

    .venv/bin/python tests/peppasync/sandbox/bench_sandbox.py [--orders 2000]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace

import gevent.pool
import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client

from peppasync.clock import ManualClock
from peppasync.sandbox import PROFILES, Sandbox

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[3]))
from tests.peppasync.sandbox.conftest import Receiver


def _rate(label: str, count: int, seconds: float) -> None:
    print(f"{label:<58} {count:>6} in {seconds:6.2f} s = {count / seconds:8.0f}/s")


def bench_generator(orders: int) -> None:
    sb = Sandbox("calm", seed=1, clock=ManualClock())
    started = time.perf_counter()
    sb.place_orders(orders, malformed_ratio=0.01)
    _rate("place_orders (generate + store, no webhook target)", orders, time.perf_counter() - started)


def bench_graphql(calls: int) -> None:
    profile = replace(PROFILES["calm"], bucket_size=10.0**9, bucket_restore_rate=10.0**9)
    with Sandbox(profile) as sb:
        sb.place_orders(100, malformed_ratio=0.0)
        session = requests.Session()
        query = "{ orders(first: 10) { nodes { id name lineItems(first: 5) { nodes { sku quantity } } } } }"
        headers = {"X-Shopify-Access-Token": sb.shopify.access_token}

        def call(_: int) -> None:
            session.post(sb.graphql_url, json={"query": query}, headers=headers).raise_for_status()

        started = time.perf_counter()
        gevent.pool.Pool(10).map(call, range(calls))
        _rate("GraphQL orders(first:10) with lines, 10 concurrent", calls, time.perf_counter() - started)


def bench_netsuite(calls: int, limit: int, latency: float) -> None:
    profile = replace(PROFILES["calm"], erp_concurrency_limit=limit, erp_latency_median=latency,
                      erp_latency_sigma=0.0, erp_load_factor=0.0)
    with Sandbox(profile) as sb:
        call = _signed_get(sb)

        started = time.perf_counter()
        statuses = gevent.pool.Pool(limit).map(call, range(calls))
        elapsed = time.perf_counter() - started
        bound = calls * latency / limit
        _rate(f"NetSuite GETs, cap {limit}, latency {latency * 1000:.0f} ms (bound {bound:.2f} s)", calls, elapsed)
        print(f"{'':<58} statuses {sorted(set(statuses))}, max in flight {sb.netsuite.ledger.max_in_flight}")


def _signed_get(sb: Sandbox) -> Callable[[int], int]:
    creds = sb.netsuite.credentials
    client = Client(creds.consumer_key, client_secret=creds.consumer_secret, resource_owner_key=creds.token_id,
                    resource_owner_secret=creds.token_secret, signature_method=SIGNATURE_HMAC_SHA256,
                    realm=creds.account_id)
    session = requests.Session()

    def call(n: int) -> int:
        url, headers, _ = client.sign(f"{sb.netsuite_url}/services/rest/record/v1/inventoryItem/eid:PS-0001?n={n}",
                                      "GET")
        return session.get(url, headers=headers).status_code

    return call


def bench_erp_load(calls: int) -> None:
    profile = replace(PROFILES["black-friday"], erp_error_rate=0.0)
    for clients in (1, 5, 10, 20):
        with Sandbox(profile, time_scale=10.0) as sb:
            statuses = gevent.pool.Pool(clients).map(_signed_get(sb), range(calls))
            served = sb.netsuite.ledger.entries("ok")
            mean = sum(e.duration for e in served) / max(1, len(served)) * sb.time_scale
            print(f"black-friday ERP, {clients:>2} concurrent clients: mean simulated latency {mean:5.2f} s, "
                  f"{statuses.count(429)} x 429, max in flight {sb.netsuite.ledger.max_in_flight}")


def bench_webhooks(events: int) -> None:
    receiver = Receiver()
    try:
        with Sandbox("calm", webhook_url=receiver.url) as sb:
            started = time.perf_counter()
            sb.place_orders(events, malformed_ratio=0.0)
            assert sb.webhooks.wait_idle(60)
            _rate("signed orders/create webhooks delivered", len(receiver.received), time.perf_counter() - started)
    finally:
        receiver.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=2000)
    args = parser.parse_args()
    bench_generator(args.orders)
    bench_graphql(args.orders // 2)
    bench_netsuite(400, limit=10, latency=0.05)
    bench_erp_load(100)
    bench_webhooks(args.orders // 2)


if __name__ == "__main__":
    main()

"""A flash sale in the sandbox, time-compressed: does Shopify's stock stay true?

Shopify sells a drop of ``skus`` SKUs with ``stock`` units each: orders come at
the ``flash-sale`` profile's rate, then ``burst_factor`` (10) times faster, while
other sales channels drain the warehouse. Checkout refuses a line Shopify shows
as sold out, as a shop that does not sell past zero does. Two strategies run
against fresh sandboxes with the same seed:

- ``engine``: the real engine (order flow and inventory actors), which pushes
  sellable = on_hand - allocated - committed - buffer, coalesced and batched;
- ``naive``: the same order flow, but stock is pushed the way the complaints
  describe: every WMS on-hand change as its own ``inventorySetQuantities`` call,
  no compare-and-set, no knowledge of committed stock.

Everything is measured by the sandbox itself (``peppasync.sandbox.scorecard``):
oversold units, the lag from a unit taken at the warehouse to Shopify's next
write after a WMS read, GraphQL points charged and THROTTLED answers during the
sale (``throttled_total`` includes the start-up). Times are reported in
simulated seconds (the sandbox's clock times ``time_scale``).
"""

from __future__ import annotations

import random
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gevent
import requests

from peppasync.config import parse_config
from peppasync.demo import start_engine
from peppasync.engine import engine_kinds
from peppasync.runtime import Runtime
from peppasync.sandbox import PROFILES, Sandbox
from peppasync.sandbox.generator import OrderGenerator
from peppasync.sandbox.scorecard import oversold_units, stock_lags

__all__ = ["STRATEGIES", "FlashSalePlan", "FlashSaleResult", "NaivePusher", "run_flash_sale"]

STRATEGIES = ("engine", "naive")
_INVENTORY_KINDS = ("inventory", "stock_flusher", "stock_feed")
_SET = """
mutation SetOnHand($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}
"""


@dataclass(frozen=True)
class FlashSalePlan:
    """One flash sale; durations and intervals are in simulated seconds."""

    skus: int = 200
    stock: int = 10
    seed: int = 7
    time_scale: float = 5.0
    warmup: float = 6.0
    burst: float = 40.0
    settle: float = 15.0
    lines_mean: float = 1.2
    buffer: int = 3
    poll_interval: float = 1.0
    flush_interval: float = 1.0

    def __post_init__(self) -> None:
        for name in ("skus", "stock"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("time_scale", "burst", "poll_interval", "flush_interval", "lines_mean"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.warmup < 0 or self.settle < 0 or self.buffer < 0:
            raise ValueError("warmup, settle and buffer must not be negative")


@dataclass(frozen=True)
class FlashSaleResult:
    """What one strategy achieved; lags in simulated seconds."""

    strategy: str
    orders: int
    refused: int
    units_sold: int
    oversold_units: int
    lag_p50: float | None
    lag_p99: float | None
    unreflected: int
    points_spent: int
    throttled: int
    throttled_total: int
    shopify_writes: int
    engine_oversells: int | None
    seconds: float


class NaivePusher:
    """Polls the WMS and pushes every SKU whose on-hand changed as its own call, unconditionally.

    It retries a THROTTLED call after one (simulated) second, as the usual client
    libraries do, and knows nothing of the cost bucket.
    """

    def __init__(self, sandbox: Sandbox, poll_interval: float) -> None:
        self._sb = sandbox
        self._poll = poll_interval
        self._http = requests.Session()
        self._seen: dict[str, int] = {}
        self._items = {i.sku: i.inventory_item_id for i in sandbox.catalog.physical}
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
        self._http.close()

    def _run(self) -> None:
        while True:
            for row in self._read():
                if self._seen.get(row["sku"]) != row["on_hand"] and row["sku"] in self._items:
                    self._seen[row["sku"]] = row["on_hand"]
                    self._push(row["sku"], max(0, int(row["on_hand"])))
            gevent.sleep(self._poll)

    def _read(self) -> list[dict[str, Any]]:
        """Every level from ShipStation V2's ``GET /v2/inventory``, page after linked page."""
        rows: list[dict[str, Any]] = []
        url: str | None = f"{self._sb.wms_url}/v2/inventory"
        while url:
            answer = self._http.get(url, headers={"API-Key": self._sb.wms.inventory.api_key})
            if answer.status_code == 429:
                gevent.sleep(float(answer.headers.get("Retry-After", "1")))
                continue
            body = answer.json()
            rows.extend(body["inventory"])
            url = body["links"]["next"].get("href")
        return rows

    def _push(self, sku: str, quantity: int) -> None:
        location = self._sb.config_sections()["shopify"]["location_id"]
        variables = {"input": {"name": "available", "reason": "correction", "quantities": [{
            "inventoryItemId": f"gid://shopify/InventoryItem/{self._items[sku]}", "locationId": location,
            "quantity": quantity, "changeFromQuantity": None}]}, "key": uuid.uuid4().hex}
        headers = {"X-Shopify-Access-Token": self._sb.shopify.access_token}
        for _ in range(10):
            body = self._http.post(self._sb.graphql_url, json={"query": _SET, "variables": variables},
                                   headers=headers).json()
            codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
            if "THROTTLED" not in codes:
                return
            gevent.sleep(1.0 / self._sb.time_scale)


class _Shopper:
    """Places the sale's orders: base rate, then the burst; sold-out checkouts are refused."""

    def __init__(self, sandbox: Sandbox, plan: FlashSalePlan) -> None:
        self._sb = sandbox
        self._plan = plan
        # Its own stream of order ids, apart from Sandbox.place_orders'.
        self._generator = OrderGenerator(sandbox.catalog, plan.seed + 5_000)
        self._rng = random.Random(f"{plan.seed}:flash")
        self.accepted = 0

    def run(self) -> None:
        profile, scale = self._sb.profile, self._plan.time_scale
        for rate, seconds in ((profile.order_rate, self._plan.warmup),
                              (profile.order_rate * profile.burst_factor, self._plan.burst)):
            elapsed = 0.0
            while elapsed < seconds:
                gap = self._rng.expovariate(rate)
                elapsed += gap
                gevent.sleep(gap / scale)
                self._checkout()

    def _checkout(self) -> None:
        order = self._generator.next(self._sb.clock.time(), malformed_ratio=0.0, messy_ratio=0.0,
                                     lines_mean=self._plan.lines_mean)
        if self._sb.shopify.shop.try_order(order.payload):
            self.accepted += 1
            self._sb.placed.append(order)
            self._sb.webhooks.send("orders/create", order.payload, key=str(order.id))


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        gevent.sleep(0.05)
    return True


def _start(plan: FlashSalePlan, strategy: str, directory: Path, port: int) -> tuple[Sandbox, Runtime]:
    profile = replace(PROFILES["flash-sale"])
    listen = f"127.0.0.1:{port}"
    sandbox = Sandbox(profile, seed=plan.seed, time_scale=plan.time_scale, catalog_size=plan.skus,
                      catalog_stock=plan.stock, webhook_url=f"http://{listen}/webhooks/shopify",
                      wms_webhook_url=f"http://{listen}/webhooks/wms")
    # Other channels start selling when the sale opens.
    sandbox.wms.warehouse.consumption_rate = 0.0
    sandbox.start()
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(f"{strategy}.db*"):
        old.unlink()
    scale = plan.time_scale
    raw: dict[str, Any] = sandbox.config_sections()
    raw["server"] = {"listen": listen, "ops_token": secrets.token_hex(16), "shutdown_timeout": 5.0}
    raw["store"] = {"url": f"sqlite:///{directory.resolve()}/{strategy}.db"}
    raw["engine"] = {"reconcile_interval": max(1.0, 60.0 / scale), "retry_min_seconds": 0.05,
                     "retry_max_seconds": 2.0}
    raw["inventory"] = {"default_buffer": plan.buffer, "poll_interval": plan.poll_interval / scale,
                        "flush_interval": plan.flush_interval / scale}
    # A flash sale is a race for stock: it is run without true margin, whose work (a margin actor per
    # order, its cost and fee reads) shares the store and the CPU with the stock pushes. `bench
    # black-friday` runs with margins and reports their lag.
    kinds = [k for k in engine_kinds() if k.kind != "margin"]
    if strategy == "naive":
        kinds = [k for k in kinds if k.kind not in _INVENTORY_KINDS]
    return sandbox, start_engine(sandbox, parse_config(raw, source="flash-sale", environ={}), kinds)


def run_flash_sale(plan: FlashSalePlan, strategy: str, directory: Path, port: int,
                   progress: Callable[[str], None] = lambda line: None) -> FlashSaleResult:
    """Run one strategy through the sale on a fresh sandbox and engine; both are stopped after."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    sandbox, runtime = _start(plan, strategy, directory, port)
    naive = NaivePusher(sandbox, plan.poll_interval / plan.time_scale) if strategy == "naive" else None
    warehouse = sandbox.wms.warehouse
    try:
        if naive is not None:
            naive.start()
        else:
            # The sale opens once Shopify shows what may be sold.
            synced = _wait(lambda: all(sandbox.shopify.shop.available(i.sku) == max(0, plan.stock - plan.buffer)
                                       for i in sandbox.catalog.physical), timeout=60)
            if not synced:
                raise RuntimeError("the engine did not set Shopify's stock within 60 s; see its log")
        warehouse.consumption_rate = sandbox.profile.channel_consumption_rate * plan.time_scale
        started = time.monotonic()
        ledger = sandbox.shopify.ledger
        # Count the sale, not the start-up (the engine's first look at the catalogue and levels).
        points_before = ledger.events().get("points_spent", 0)
        throttled_before = ledger.outcomes().get("throttled", 0)
        progress(f"{strategy}: sale open")
        shopper = _Shopper(sandbox, plan)
        shopper.run()
        progress(f"{strategy}: {shopper.accepted} orders accepted, "
                 f"{sandbox.shopify.shop.refused} checkouts refused as sold out; settling")
        gevent.sleep(plan.settle / plan.time_scale)
        seconds = time.monotonic() - started
        lags = stock_lags(sandbox)
        scale = plan.time_scale
        p50, p99 = lags.quantile(0.5), lags.quantile(0.99)
        oversells = runtime.metrics.registry.get_sample_value("peppasync_oversells_total")
        return FlashSaleResult(
            strategy=strategy,
            orders=shopper.accepted,
            refused=sandbox.shopify.shop.refused,
            units_sold=sum(sandbox.shopify.shop.sold.values()),
            oversold_units=sum(oversold_units(sandbox).values()),
            lag_p50=None if p50 is None else p50 * scale,
            lag_p99=None if p99 is None else p99 * scale,
            unreflected=lags.unreflected,
            points_spent=ledger.events().get("points_spent", 0) - points_before,
            throttled=ledger.outcomes().get("throttled", 0) - throttled_before,
            throttled_total=ledger.outcomes().get("throttled", 0),
            shopify_writes=len(sandbox.shopify.shop.inventory_sets),
            engine_oversells=None if strategy == "naive" or oversells is None else int(oversells),
            seconds=seconds,
        )
    finally:
        if naive is not None:
            naive.stop()
        runtime.stop()
        sandbox.stop()

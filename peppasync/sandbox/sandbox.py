"""The sandbox: Shopify, an ERP (NetSuite or Business Central) and WMS simulators served together on loopback."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Self

import gevent

from peppasync.clock import Clock, SystemClock

from .bc_company import GUEST_CUSTOMER, NON_SKU_ITEM
from .bucket import CostBucket
from .business_central import BcCredentials, BusinessCentralSimulator
from .catalog import Catalog
from .erp import DISCOUNT_ITEM_ID, NON_SKU_ITEM_ID, REFUND_ACCOUNT_ID, REFUND_ITEM_ID, TAX_CODE_ID
from .erp_book import ERP_KINDS, ErpSimulator, NetSuiteBook
from .generator import MALFORMED_KINDS, MESSY_KINDS, OrderGenerator, PlacedOrder, price_order
from .netsuite import NetSuiteSimulator
from .other_app import OtherApp
from .profile import SandboxProfile, resolve_profile
from .scorecard import Scorecard, score
from .server import SimulatorServer
from .shop import LOCATION_ID, gid, money_set
from .shopify import ShopifySimulator
from .signature import OAuthCredentials
from .warehouse import WarehouseState
from .webhooks import WebhookSender
from .window import RequestWindow
from .wms import WmsSimulator

__all__ = ["Sandbox"]


class Sandbox:
    """Three simulators sharing one catalogue, a seed, a profile and a time scale.

    `start()` serves them on OS-assigned ports (or `ports`); `config_sections()` gives the
    engine what it needs to talk to them; `place_orders()` drives traffic; `stop()` ends it.
    `erp` chooses the ERP: "netsuite" (`self.netsuite`) or "business_central"
    (`self.business_central`); either is `self.erp`, the face the scorecard reads.
    """

    def __init__(self, profile: str | SandboxProfile = "calm", *, seed: int = 1, time_scale: float = 1.0,
                 host: str = "127.0.0.1", webhook_url: str | None = None, wms_webhook_url: str | None = None,
                 clock: Clock | None = None, ports: tuple[int, int, int] = (0, 0, 0),
                 catalog_size: int = 40, catalog_stock: int = 500, extra_skus: Sequence[str] = (),
                 erp: str = "netsuite") -> None:
        if erp not in ERP_KINDS:
            raise ValueError(f"unknown ERP {erp!r}; the sandbox simulates {', '.join(ERP_KINDS)}")
        if not time_scale > 0:
            raise ValueError(f"time_scale must be positive, got {time_scale!r}")
        if len(ports) != 3 or any(not 0 <= p <= 65535 for p in ports):
            raise ValueError(f"ports must be three numbers within 0..65535 (0 = any), got {ports!r}")
        self.profile = resolve_profile(profile)
        self.seed = seed
        self.time_scale = time_scale
        self.host = host
        self.clock: Clock = clock or SystemClock()
        self.catalog = Catalog(seed, size=catalog_size, stock=catalog_stock, extra_skus=extra_skus)
        p, scale = self.profile, time_scale
        self.webhook_secret = f"shpss_sandbox{seed:08d}"
        self.shopify = ShopifySimulator(
            self.catalog, self.clock, access_token=f"shpat_sandbox{seed:08d}",
            bucket=CostBucket(p.bucket_size, p.bucket_restore_rate * scale, self.clock))
        # The one Admin API version the sandbox serves: the one whose schema it ships.
        self.api_version = self.shopify.api_version
        self.webhooks = WebhookSender(
            secret=self.webhook_secret, shop_domain=self.shopify.shop_domain, api_version=self.api_version,
            profile=p, seed=seed, time_scale=scale, clock=self.clock, url=webhook_url)
        self.shopify.webhook_ledger = self.webhooks.ledger
        self.shopify.shop.listeners.append(lambda order: self.webhooks.send("orders/updated", order))
        self.netsuite = NetSuiteSimulator(
            self.catalog, self.clock, profile=p, seed=seed, time_scale=scale,
            credentials=OAuthCredentials(f"{1234567 + seed}_SB1", f"ck-sandbox-{seed}", f"cs-sandbox-{seed}",
                                         f"tk-sandbox-{seed}", f"ts-sandbox-{seed}"))
        self.erp_kind = erp
        self.business_central: BusinessCentralSimulator | None = None
        self.erp: ErpSimulator = NetSuiteBook(self.netsuite)
        if erp == "business_central":
            self.business_central = BusinessCentralSimulator(
                self.catalog, self.clock, profile=p, seed=seed, time_scale=scale,
                credentials=BcCredentials(f"tenant-{seed}.onmicrosoft.com", "sandbox", f"bc-client-{seed}",
                                          f"bc-secret-{seed}"))
            self.erp = self.business_central
        warehouse = WarehouseState(self.catalog, self.clock, seed=seed, shipment_delay=p.shipment_delay / scale,
                                   consumption_rate=p.channel_consumption_rate * scale)
        self.wms = WmsSimulator(self.catalog, self.clock, api_key=f"wms-key-{seed}", api_secret=f"wms-secret-{seed}",
                                 window=RequestWindow(p.wms_window_limit, p.wms_window_seconds / scale, self.clock),
                                 warehouse=warehouse, inventory_api_key=f"wms-v2-key-{seed}",
                                 inventory_window=RequestWindow(p.inventory_window_limit, p.wms_window_seconds / scale,
                                                                self.clock),
                                 webhook_url=wms_webhook_url, webhook_token=f"wms-token-{seed}")
        # Another app that holds some orders' fulfillment orders for a while (the profile says which share).
        self.other_app = OtherApp(self.shopify.shop, self.clock, profile=p, seed=seed, time_scale=scale)
        warehouse.ship_listeners.append(self.other_app.at_shipment)
        self._changed = threading.Condition()
        for ledger in (self.shopify.ledger, self.webhooks.ledger, self.erp.ledger, self.wms.ledger,
                       self.wms.webhook_ledger):
            ledger.listeners.append(self._on_change)
        self._ports = ports
        self._servers: list[SimulatorServer] = []
        self._generator = OrderGenerator(self.catalog, seed)
        self._pace = random.Random(f"{seed}:pace")
        self.placed: list[PlacedOrder] = []
        self.refunds: list[dict[str, Any]] = []  # every refunds/create body sent
        # When each order was placed, by the sandbox's clock (payload timestamps keep whole seconds).
        self.placed_at: dict[int, float] = {}

    # Lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Serve the three simulators; their URLs are then in shopify_url, erp_url, wms_url."""
        if self._servers:
            raise RuntimeError("the sandbox is already started")
        handlers = (self.shopify.handle, self.erp.handle, self.wms.handle)
        for handler, port in zip(handlers, self._ports):
            server = SimulatorServer(handler, self.host, port)
            server.start()
            self._servers.append(server)
        self.wms.start(self.wms_url)

    def stop(self) -> None:
        """Stop serving and abandon webhook deliveries still pending."""
        self.webhooks.stop()
        self.other_app.stop()
        self.wms.stop()
        self.erp.resume()
        for server in self._servers:
            server.stop()
        self._servers.clear()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _url(self, n: int) -> str:
        if not self._servers:
            raise RuntimeError("start() the sandbox first: its URLs exist once it serves")
        return self._servers[n].url

    @property
    def shopify_url(self) -> str:
        return self._url(0)

    @property
    def erp_url(self) -> str:
        """The ERP simulator's URL (Business Central's token endpoint and API share it)."""
        return self._url(1)

    @property
    def netsuite_url(self) -> str:
        if self.erp_kind != "netsuite":
            raise RuntimeError(f"this sandbox simulates {self.erp_kind}, not NetSuite")
        return self._url(1)

    @property
    def wms_url(self) -> str:
        return self._url(2)

    @property
    def graphql_url(self) -> str:
        return f"{self.shopify_url}/admin/api/{self.api_version}/graphql.json"

    def config_sections(self) -> dict[str, dict[str, Any]]:
        """The [shopify], ERP ([netsuite], or [erp] and [business_central]) and [wms] tables for
        `peppasync.config.parse_config`."""
        ns = self.netsuite.credentials
        sections: dict[str, dict[str, Any]] = {
            "shopify": {"shop_url": self.shopify_url, "api_version": self.api_version,
                        "access_token": self.shopify.access_token, "webhook_secret": self.webhook_secret,
                        "location_id": gid("Location", LOCATION_ID)},
            "netsuite": {"base_url": self.erp_url, "account_id": ns.account_id,
                         "consumer_key": ns.consumer_key, "consumer_secret": ns.consumer_secret,
                         "token_id": ns.token_id, "token_secret": ns.token_secret,
                         "max_concurrency": self.netsuite.concurrency_limit, "non_sku_item": NON_SKU_ITEM_ID,
                         "guest_customer": self.netsuite.erp.guest_customer, "subsidiary": "1",
                         "currencies": {code: int(internal)
                                        for internal, code in self.netsuite.erp.currencies.items()},
                         # The richest booking: discount lines, Shopify's tax per line, mapped ship methods.
                         "discounts": "item", "discount_item": DISCOUNT_ITEM_ID, "tax": "lines",
                         "tax_code": TAX_CODE_ID, "ship_methods": {name: int(internal) for internal, name
                                                                   in self.netsuite.erp.ship_methods.items()},
                         "refund_item": REFUND_ITEM_ID, "refund_account": REFUND_ACCOUNT_ID},
            "wms": {"base_url": self.wms_url, "api_key": self.wms.api_key, "api_secret": self.wms.api_secret,
                    "webhook_token": self.wms.webhook_token,
                    # V2's inventory API is served on the same port; its window is compressed with
                    # the sandbox's time, so the engine may pace itself that much faster.
                    "inventory_url": self.wms_url, "inventory_api_key": self.wms.inventory.api_key,
                    "inventory_rate_limit": max(1, int(self.profile.inventory_window_limit * self.time_scale))},
        }
        if self.business_central is not None:
            bc = self.business_central.credentials
            del sections["netsuite"]
            sections["erp"] = {"kind": "business_central"}
            sections["business_central"] = {
                "base_url": self.erp_url, "login_url": self.erp_url, "tenant": bc.tenant,
                "environment": bc.environment, "company_id": self.business_central.company.id,
                "client_id": bc.client_id, "client_secret": bc.client_secret,
                "max_concurrency": self.business_central.concurrency_limit, "guest_customer": GUEST_CUSTOMER,
                "non_sku_item": NON_SKU_ITEM}
        return sections

    # Traffic ---------------------------------------------------------------------------------
    def place_orders(self, n: int, malformed_ratio: float = 0.01, lines_mean: float = 3.0, *,
                     messy_ratio: float = 0.0, malformed_kinds: tuple[str, ...] = MALFORMED_KINDS,
                     messy_kinds: tuple[str, ...] = MESSY_KINDS, paced: bool = False, tags: str = "",
                     unpaid: bool = False) -> list[PlacedOrder]:
        """Create n orders in the Shopify simulator and send their orders/create webhooks.

        Order k of a sandbox depends only on the seed and k. With `paced`, orders arrive at the
        profile's rate and burst shape (divided by the time scale); otherwise all at once.
        `tags` (comma-separated) are the orders' tags, such as a build-to-order workflow's;
        `unpaid` orders are authorized and nothing is captured yet (all of it outstanding).
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        for name, ratio in (("malformed_ratio", malformed_ratio), ("messy_ratio", messy_ratio)):
            if not 0.0 <= ratio <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {ratio!r}")
        for kind in (*malformed_kinds, *messy_kinds):
            if kind not in MALFORMED_KINDS + MESSY_KINDS:
                raise ValueError(f"unknown order kind {kind!r}; malformed kinds: {', '.join(MALFORMED_KINDS)}; "
                                 f"messy kinds: {', '.join(MESSY_KINDS)}")
        placed = []
        burst = max(1, round(self.profile.burst_factor))
        for i in range(n):
            if paced and i and i % burst == 0:
                gevent.sleep(self._pace.expovariate(self.profile.order_rate / burst) / self.time_scale)
            order = self._generator.next(self.clock.time(), malformed_ratio=malformed_ratio, messy_ratio=messy_ratio,
                                         lines_mean=lines_mean, kinds=malformed_kinds, messy_kinds=messy_kinds)
            if tags:
                order.payload["tags"] = tags
            if unpaid and order.valid:
                order.payload.update(financial_status="authorized", total_outstanding=order.payload["total_price"])
            self.shopify.shop.add_order(order.payload)
            self.other_app.at_checkout(order.id)
            self.placed_at[order.id] = self.clock.time()
            self.webhooks.send("orders/create", order.payload, key=str(order.id))
            placed.append(order)
            self.placed.append(order)  # visible as it is placed, for progress read meanwhile
        return placed

    def update_order(self, order_id: int, **changes: Any) -> dict[str, Any]:
        """Change an order in Shopify and send orders/updated."""
        order = self.shopify.shop.touch(order_id, **changes)
        self.webhooks.send("orders/updated", order)
        return order

    def edit_order(self, order_id: int, quantities: dict[str, int]) -> dict[str, Any]:
        """Edit an order's lines ({SKU: live quantity}; 0 removes, a new SKU adds a line), reprice it
        as Shopify does (the ``current_*`` totals) and send orders/updated."""
        shop = self.shopify.shop
        shop.edit_lines(order_id, quantities)
        with shop.lock:
            order = shop.orders[order_id]
            shipping = sum((Decimal(str(s.get("price") or 0)) for s in order.get("shipping_lines") or []), Decimal(0))
            money = price_order(order["line_items"], currency=order.get("currency") or "USD",
                                discounted=bool(order.get("discount_codes")), shipping=shipping)
        current = {k: v for k, v in money.items() if k.startswith("current_")}
        return self.update_order(order_id, **current, total_line_items_price=money["total_line_items_price"])

    def cancel_order(self, order_id: int, reason: str = "customer") -> dict[str, Any]:
        """Cancel an order in Shopify and send orders/cancelled (then orders/updated, as Shopify does)."""
        order = self.shopify.shop.cancel(order_id, reason)
        self.webhooks.send("orders/cancelled", order)
        self.webhooks.send("orders/updated", order)
        return order

    def refund_order(self, order_id: int, note: str = "sandbox refund", *, units: dict[str, int] | None = None,
                     restock_type: str = "no_restock") -> dict[str, Any]:
        """Refund an order and send refunds/create: every line and its shipping, or only ``units``
        ({SKU: units}, no shipping), each restocked as ``restock_type`` says.

        Each refunded line carries what was refunded for it (its price less its discounts, for
        the units refunded) and its tax, in both currencies; the shipping comes back as a
        ``shipping_refund`` adjustment, negative as Shopify states money given back; the
        refund transaction is what all of it adds up to.
        """
        shop = self.shopify.shop
        order = shop.touch(order_id, financial_status="refunded" if units is None else "partially_refunded")
        currency = order.get("currency") or "USD"
        unit = Decimal(1) if currency == "JPY" else Decimal("0.01")

        def amount(value: Any) -> Decimal:
            return Decimal(str(value or 0))

        lines = []
        given_back = Decimal(0)
        for line in order.get("line_items", []):
            quantity = line["quantity"] if units is None else min(units.get(line.get("sku") or "", 0), line["quantity"])
            if quantity <= 0:
                continue
            share = Decimal(quantity) / Decimal(line["quantity"])
            discount = sum((amount(d.get("amount")) for d in line.get("discount_allocations") or ()), Decimal(0))
            tax = sum((amount(t.get("price")) for t in line.get("tax_lines") or ()), Decimal(0))
            tax = (tax * share).quantize(unit)
            subtotal = ((amount(line["price"]) * line["quantity"] - discount) * share).quantize(unit)
            given_back += subtotal + tax
            lines.append({"id": shop.new_id(), "line_item_id": line["id"], "quantity": quantity,
                          "restock_type": restock_type, "line_item": line,
                          "subtotal": str(subtotal), "subtotal_set": money_set(subtotal, currency),
                          "total_tax": str(tax), "total_tax_set": money_set(tax, currency)})
        shipping = Decimal(0) if units is not None else sum(
            (amount(s.get("price")) for s in order.get("shipping_lines") or ()), Decimal(0))
        given_back += shipping
        refund = {
            "id": shop.new_id(), "order_id": order_id, "created_at": order["updated_at"],
            "note": note, "restock": restock_type != "no_restock", "refund_line_items": lines,
            "transactions": [{"id": shop.new_id(), "order_id": order_id, "kind": "refund",
                              "amount": str(given_back), "currency": currency,
                              "gateway": "bogus", "status": "success"}],
            "order_adjustments": [{"kind": "shipping_refund", "amount": str(-shipping),
                                   "amount_set": money_set(-shipping, currency), "tax_amount": "0.00"}]
            if shipping else [],
        }
        if restock_type in ("return", "cancel"):
            for line in lines:
                shop.restock(str(line["line_item"].get("sku") or ""), int(line["quantity"]))
        with shop.lock:
            shop.refunds.setdefault(order_id, []).append(refund)
        self.refunds.append(refund)
        self.webhooks.send("refunds/create", refund)
        return refund

    def _on_change(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def wait_until(self, predicate: Callable[[Sandbox], bool], timeout: float, interval: float = 0.05) -> bool:
        """Block until `predicate(self)` holds; False on timeout.

        It is checked after requests reach a simulator (at most every `interval` seconds, as a
        scorecard over many orders is not free) and once more at the end:
        `sb.wait_until(lambda sb: sb.scorecard().consistent, timeout=60)`.
        """
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._changed:
                self._changed.wait(remaining)
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))

    def scorecard(self) -> Scorecard:
        """The final state compared with the orders placed: what is missing, duplicated or wrong."""
        return score(self)

    def ledger(self) -> dict[str, Any]:
        """Every simulator's ledger and final state, as JSON-ready data."""
        return {
            "shopify": {"ledger": self.shopify.ledger.snapshot(), "webhooks": self.webhooks.ledger.snapshot(),
                        "state": self.shopify.shop.snapshot()},
            self.erp_kind: {"ledger": self.erp.ledger.snapshot(), "state": self.erp.snapshot()},
            "wms": {"ledger": self.wms.ledger.snapshot(), "webhooks": self.wms.webhook_ledger.snapshot(),
                    "state": self.wms.warehouse.snapshot()},
        }

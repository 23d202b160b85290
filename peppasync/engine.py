"""The product's wiring: which actor kinds the server hosts and which services they use."""

from __future__ import annotations

from typing import Any

from peppasync.clock import Clock
from peppasync.config import Config
from peppasync.metrics import SWEEPS, Metrics

from actors import (
    Catalog,
    CostBook,
    DurableActor,
    GateActor,
    GateSettings,
    GateTimerActor,
    InventoryActor,
    InventorySettings,
    MarginActor,
    MarginSettings,
    OrderActor,
    ReconcilerActor,
    ShipmentFeedActor,
    StockFeedActor,
    StockFlusherActor,
)
from actors.adapters import (
    BusinessCentralErp,
    NetsuiteErp,
    NetsuiteItemCosts,
    NetsuiteRules,
    ShipstationWms,
    ShopifyPayments,
    ShopifyStorefront,
    ShopifyUnitCosts,
)
from actors.connectors import (
    BusinessCentralConnector,
    MetricsConnectorHooks,
    NetsuiteConnector,
    ShopifyConnector,
    WmsConnector,
    WmsInventoryConnector,
)
from actors.costs import CostReader
from actors.payment_reads import PaymentReads
from actors.reconciler import Settings
from actors.storefront_holds import HoldPolicy

__all__ = ["engine_kinds", "engine_services"]


def engine_kinds(config: Config | None = None) -> list[type[DurableActor]]:
    """Every durable actor kind the server hosts (margins only when ``[margin] enabled``, gates
    only when ``[gates]`` has a workflow)."""
    kinds: list[type[DurableActor]] = [
        OrderActor, ShipmentFeedActor, ReconcilerActor, InventoryActor, StockFlusherActor, StockFeedActor,
    ]
    if config is None or config.margin.enabled:
        kinds.append(MarginActor)
    if config is None or config.gates.workflows:
        kinds.extend([GateActor, GateTimerActor])
    return kinds


def engine_services(config: Config, metrics: Metrics, clock: Clock) -> dict[str, Any]:
    """Connectors (one per external system), the order flow's ports on them (``erp``,
    ``warehouse``, ``storefront``) and the catalogue, built from configuration.

    A system whose credentials are not configured gets no connector; the
    actors that need it then fail their messages with a clear reason.
    """
    hooks = MetricsConnectorHooks(metrics)
    inventory = config.inventory
    # The stall alert compares the last successful sweep with the interval: until a
    # sweep has gone through, the process start stands for it.
    metrics.reconcile_interval_seconds.set(config.engine.reconcile_interval)
    for sweep in SWEEPS:
        metrics.reconcile_last_success_timestamp_seconds.labels(sweep=sweep).set(clock.time())
    services: dict[str, Any] = {
        "reconcile": Settings(config.engine.reconcile_interval),
        "gates": GateSettings.from_config(config.gates),
        "holds": HoldPolicy(frozenset(config.shopify.ship_despite_holds), config.shopify.hold_recheck_seconds),
        "inventory": InventorySettings(
            default_buffer=inventory.default_buffer,
            buffers=inventory.buffers,
            poll_interval=inventory.poll_interval,
            flush_interval=inventory.flush_interval,
            # Order webhooks that explain a drop in Shopify's stock arrive within a
            # few flushes; the reconciler repairs what is later than that.
            unseen_ttl=max(2 * config.engine.reconcile_interval, 10 * inventory.flush_interval),
        ),
    }
    if config.shopify.access_token:
        shopify = ShopifyConnector(config.shopify, hooks=hooks)
        services["shopify"] = shopify
        services["storefront"] = ShopifyStorefront(shopify)
        services["catalog"] = Catalog(shopify, clock)
    bc = config.business_central
    if config.erp.kind == "business_central" and bc.client_secret:
        business_central = BusinessCentralConnector(bc, hooks=hooks)
        services["business_central"] = business_central
        services["erp"] = BusinessCentralErp(business_central, guest_customer=bc.guest_customer,
                                             non_sku_item=bc.non_sku_item)
    elif config.erp.kind == "netsuite" and config.netsuite.token_id:
        netsuite = NetsuiteConnector(config.netsuite, hooks=hooks)
        services["netsuite"] = netsuite
        services["erp"] = NetsuiteErp(netsuite, rules=NetsuiteRules.from_config(config.netsuite))
    cost_readers: list[CostReader] = []
    if "netsuite" in services:
        cost_readers.append(NetsuiteItemCosts(services["netsuite"]))
    if config.shopify.access_token:
        cost_readers.append(ShopifyUnitCosts(services["shopify"]))
        services["payments"] = PaymentReads(ShopifyPayments(services["shopify"]))
    services["margin"] = MarginSettings.from_config(config.margin)
    services["costs"] = CostBook(cost_readers, clock, ttl=config.margin.cost_ttl)
    if config.wms.api_key:
        wms = WmsConnector(config.wms, hooks=hooks)
        services["wms"] = wms
        services["warehouse"] = ShipstationWms(wms)
    if config.wms.inventory_api_key:
        # Stock levels: ShipStation V2's inventory API, its own key and limit.
        services["wms_inventory"] = WmsInventoryConnector(config.wms, hooks=hooks)
    return services

"""Connectors: one per external system and account, speaking its real wire format.

    shopify = ShopifyConnector(config.shopify, hooks=MetricsConnectorHooks(metrics))
    for order in shopify.orders_updated_since("2026-11-01T00:00:00Z"):
        ...

Each connector is safe to call from many greenlets at once: a limiter decides how
many calls are in flight (adapted by AIMD, capped by ``set_limit``) and which
waiting call goes next (by ``Priority`` lane, FIFO within one), the API's own
limiter (cost bucket, request window) makes calls wait instead of being throttled,
transient failures are retried with jittered backoff, and what cannot succeed
raises ``peppasync.errors.ConnectorError`` with ``transient`` set.
"""

from peppasync.retry import RetryPolicy

from .aimd import AimdLimit
from .bucket import CostBucket
from .business_central import BusinessCentralConnector
from .calls import call
from .connector import Connector
from .failure import PermanentFailure, TransientFailure
from .hooks import OUTCOMES, ConnectorHooks, MetricsConnectorHooks
from .limiter import ConcurrencyLimiter, Priority, placed_at
from .netsuite import NetsuiteConnector
from .shopify import OrdersPage, SetResult, ShopifyConnector
from .window import RequestWindow
from .wms import ShipmentsPage, WmsConnector
from .wms_inventory import StockLevel, WmsInventoryConnector

__all__ = [
    "OUTCOMES",
    "AimdLimit",
    "BusinessCentralConnector",
    "ConcurrencyLimiter",
    "Connector",
    "ConnectorHooks",
    "CostBucket",
    "MetricsConnectorHooks",
    "NetsuiteConnector",
    "OrdersPage",
    "PermanentFailure",
    "Priority",
    "RequestWindow",
    "RetryPolicy",
    "SetResult",
    "ShipmentsPage",
    "ShopifyConnector",
    "StockLevel",
    "TransientFailure",
    "WmsConnector",
    "WmsInventoryConnector",
    "call",
    "placed_at",
]

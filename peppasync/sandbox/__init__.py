"""The sandbox: loopback simulators of Shopify, NetSuite and a WMS that keep the external contracts.

    from peppasync.sandbox import Sandbox
    with Sandbox("black-friday", seed=7, time_scale=20, webhook_url="http://127.0.0.1:8470/webhooks/shopify") as sb:
        config = parse_config(sb.config_sections())
        placed = sb.place_orders(500, malformed_ratio=0.02)
        ...
        sb.ledger()["netsuite"]["state"]["sales_orders"]
"""

from .catalog import GIFT_CARD_SKU, Catalog, CatalogItem
from .generator import MALFORMED_KINDS, MESSY_KINDS, PlacedOrder
from .ledger import Ledger, LedgerEntry
from .profile import PROFILES, SandboxProfile
from .sandbox import Sandbox
from .scorecard import Scorecard
from .webhooks import WebhookPlan, sign

__all__ = [
    "GIFT_CARD_SKU",
    "MALFORMED_KINDS",
    "MESSY_KINDS",
    "PROFILES",
    "Catalog",
    "CatalogItem",
    "Ledger",
    "LedgerEntry",
    "PlacedOrder",
    "Sandbox",
    "SandboxProfile",
    "Scorecard",
    "WebhookPlan",
    "sign",
]

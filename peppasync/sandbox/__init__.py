"""The sandbox: loopback simulators of Shopify, an ERP (NetSuite or Business Central) and a WMS that keep the
external contracts.

    from peppasync.sandbox import Sandbox
    with Sandbox("black-friday", seed=7, time_scale=20,
                 webhook_url="http://127.0.0.1:8470/webhooks/shopify",
                 wms_webhook_url="http://127.0.0.1:8470/webhooks/wms") as sb:
        config = parse_config({**sb.config_sections(), "store": {...}})
        placed = sb.place_orders(500, malformed_ratio=0.02)    # orders/create webhooks go out
        ...                                                     # run the engine against config
        sb.wait_until(lambda sb: sb.scorecard().consistent, timeout=120)
        sb.scorecard().as_dict()          # missing, duplicated, unshipped, mistracked, stock drift
        sb.ledger()                       # every request per simulator, outcomes, concurrency, state

Each simulator also serves its ledger at `GET /_sandbox/ledger` (`?detail=0` for counts only).
The same seed gives the same catalogue, orders, credentials and fault schedule; the time scale
divides every delay and window. The simulators run on gevent: patch it first, as the server does.
"""

from .catalog import GIFT_CARD_SKU, Catalog, CatalogItem
from .erp_book import ERP_KINDS, BookedOrder, ErpSimulator
from .generator import MALFORMED_KINDS, MESSY_KINDS, PlacedOrder
from .ledger import Ledger, LedgerEntry
from .profile import PROFILES, SandboxProfile
from .sandbox import Sandbox
from .scorecard import Scorecard
from .webhooks import WebhookPlan, sign

__all__ = [
    "ERP_KINDS",
    "GIFT_CARD_SKU",
    "MALFORMED_KINDS",
    "MESSY_KINDS",
    "PROFILES",
    "BookedOrder",
    "Catalog",
    "CatalogItem",
    "ErpSimulator",
    "Ledger",
    "LedgerEntry",
    "PlacedOrder",
    "Sandbox",
    "SandboxProfile",
    "Scorecard",
    "WebhookPlan",
    "sign",
]

"""Adapters: each implements a port of ``actors.ports`` for one vendor, through its connector.

An adapter owns the vendor's side of a port: the mapping from the values of
``actors.domain`` to the vendor's records, the wire format (its connector's), and
the classification of failures into ``TransientError`` and ``RejectedError``.

    erp = NetsuiteErp(NetsuiteConnector(config.netsuite), non_sku_item="7001")
    erp.upsert_sales_order(Order.from_record(record), priority=Priority.NORMAL)
"""

from .business_central import BusinessCentralErp
from .netsuite import NetsuiteErp
from .netsuite_costs import NetsuiteItemCosts
from .netsuite_records import NetsuiteRules
from .shipstation import ShipstationWms
from .shopify import ShopifyPayments, ShopifyStorefront, ShopifyUnitCosts, sale_facts

__all__ = [
    "BusinessCentralErp",
    "NetsuiteErp",
    "NetsuiteItemCosts",
    "NetsuiteRules",
    "ShipstationWms",
    "ShopifyPayments",
    "ShopifyStorefront",
    "ShopifyUnitCosts",
    "sale_facts",
]

"""NetsuiteItemCosts: unit costs from NetSuite's item records, for the cost book.

NetSuite keeps an item's average cost (the default costing method) and its last
purchase price on the item record
(https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_N2191818.html).
Landed cost is allocated on item receipts and vendor bills, not kept on the item
(https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_N2418831.html), so
this reader does not answer for ``erp.landed_cost``: it arrives in an order's costs only
through an average cost that has absorbed it, read again by a recost.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from actors.connectors import NetsuiteConnector, call

__all__ = ["NetsuiteItemCosts"]

_FIELDS = {"erp.average_cost": "averageCost", "erp.last_purchase_price": "lastPurchasePrice"}


class NetsuiteItemCosts:
    """The ``CostReader`` on one NetSuite account's inventory items (by external id = SKU)."""

    sources: tuple[str, ...] = tuple(_FIELDS)

    def __init__(self, connector: NetsuiteConnector) -> None:
        self.connector = connector

    def unit_costs(self, sku: str) -> Mapping[str, Decimal]:
        try:
            record = call(self.connector.name, self.connector.item_costs, sku)
        except ValueError:
            return {}  # not a SKU NetSuite could hold as an external id: it has no cost there
        if not record:
            return {}
        return {source: Decimal(str(record[field])) for source, field in _FIELDS.items() if field in record}

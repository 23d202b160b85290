"""ShopifyStorefront: the ``Storefront`` port on Shopify's Admin GraphQL API."""

from __future__ import annotations

from actors.connectors import ShopifyConnector, call
from actors.domain import Shipment

__all__ = ["ShopifyStorefront"]


class ShopifyStorefront:
    """The ``Storefront`` port on one shop."""

    def __init__(self, connector: ShopifyConnector) -> None:
        self.connector = connector
        self.name = connector.name

    def fulfill(self, order_id: str, shipment: Shipment) -> None:
        call(self.name, self.connector.fulfill, order_id, shipment.tracking_number, shipment.carrier,
             shipment.tracking_url)

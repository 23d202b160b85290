"""NetsuiteErp: the ``Erp`` port on NetSuite's REST record API (contracts: peppasync/contracts/netsuite.json).

A sales order is upserted by external id (the storefront's order id) with all its
lines, shipping, discounts and tax in one record, a customer by
``shopify-customer-{id}``, a captured payment as a customer deposit by
``shopify-payment-{id}``, a refund as a credit memo or cash refund by
``shopify-refund-{id}`` and a return after a late cancellation as a return
authorization by ``shopify-return-{order id}``. The records' shapes are in
``actors.adapters.netsuite_records``.
"""

from __future__ import annotations

from typing import Any

from actors.connectors import NetsuiteConnector, Priority, call
from actors.domain import Customer, Order, Refund

from .netsuite_records import (
    GIFT_CARD_ITEM,
    NetsuiteRules,
    deposit_external_id,
    deposit_record,
    net_amounts,
    refund_external_id,
    refund_record,
    return_external_id,
    return_record,
    sales_order_record,
)

__all__ = ["GIFT_CARD_ITEM", "NetsuiteErp", "NetsuiteRules", "customer_record", "net_amounts",
           "sales_order_record"]


def customer_record(customer: Customer) -> dict[str, Any]:
    """The NetSuite customer upsert body (contract: CustomerUpsert).

    A customer with a first and a last name is a person; NetSuite requires both names of a
    person and a company name otherwise, so one without both is entered as a company under
    the name it has, else its email. Empty fields are left out (null is not a string). In a
    OneWorld account the connector adds the subsidiary (``NetsuiteAccount``).
    """
    body: dict[str, Any] = {"externalId": f"shopify-customer-{customer.id}"}
    if customer.first_name and customer.last_name:
        body.update(isPerson=True, firstName=customer.first_name, lastName=customer.last_name)
    else:
        body.update(isPerson=False, companyName=customer.first_name or customer.last_name or customer.email
                    or f"Shopify customer {customer.id}")
    if customer.email:
        body["email"] = customer.email
    return body


class NetsuiteErp:
    """The ``Erp`` port on one NetSuite account, booking money by ``rules``."""

    def __init__(self, connector: NetsuiteConnector, *, non_sku_item: str = "",
                 rules: NetsuiteRules | None = None) -> None:
        self.connector = connector
        self.name = connector.name
        self.rules = rules or NetsuiteRules(non_sku_item=non_sku_item)
        self.non_sku_item = non_sku_item or self.rules.non_sku_item
        self.books_non_sku_lines = bool(self.non_sku_item)

    def upsert_customer(self, customer: Customer, *, priority: int = Priority.NORMAL) -> None:
        call(self.name, self.connector.upsert_customer, customer.id, customer_record(customer), priority=priority)

    def upsert_sales_order(self, order: Order, *, priority: int = Priority.NORMAL,
                           pending_approval: bool | None = None) -> None:
        def send() -> None:
            record = sales_order_record(order, self.non_sku_item, rules=self.rules)
            if pending_approval is not None:
                # A Pending Approval, B Pending Fulfillment (approved); approval cannot be taken back
                # once the order is partly fulfilled, and is never asked to be here
                # (https://docs.oracle.com/en/cloud/saas/netsuite/ns-online-help/section_159795516182.html).
                record["orderStatus"] = {"id": "A" if pending_approval else "B"}
            self.connector.upsert_sales_order(order.id, record, priority=priority)

        call(self.name, send)

    def cancel_sales_order(self, order: Order) -> None:
        call(self.name, self.connector.cancel_sales_order, order.id)

    def record_payments(self, order: Order, *, priority: int = Priority.NORMAL) -> None:
        if not self.rules.deposits:
            return
        for payment in order.payments:
            def send(payment: Any = payment) -> None:
                self.connector.upsert_transaction("customerDeposit", deposit_external_id(payment),
                                                  deposit_record(order, payment, self.rules), priority=priority)

            call(self.name, send)

    def upsert_refund(self, order: Order, refund: Refund, *, priority: int = Priority.NORMAL) -> None:
        kind = "cashRefund" if self.rules.refunds == "cash_refund" else "creditMemo"

        def send() -> None:
            self.connector.upsert_transaction(kind, refund_external_id(refund),
                                              refund_record(order, refund, self.rules), priority=priority)

        call(self.name, send)

    def open_return(self, order: Order, *, priority: int = Priority.NORMAL) -> None:
        def send() -> None:
            self.connector.upsert_transaction("returnAuthorization", return_external_id(order),
                                              return_record(order, self.rules), priority=priority)

        call(self.name, send)

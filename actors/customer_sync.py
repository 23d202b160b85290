"""The ERP's copy of a Shopify customer: what was last sent, so an unchanged one is not sent again.

Each order carries a snapshot of its customer. The order actor keeps, per customer
id, a small durable record of the last customer body it upserted into the ERP (a
fingerprint) and the ``updated_at`` of the order that carried it. A customer is
sent again only when its body differs from that record *and* the record does not
come from a newer order (an older order synced late must not put back the name
the customer has since changed). A record without a fingerprint (written before
fingerprints were kept) counts as unknown: the customer is sent once more, which
an upsert by external id makes harmless.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from peppasync.clock import parse_timestamp

__all__ = ["CUSTOMER_KIND", "already_synced", "customer_version", "erp_customer", "synced_record"]

# The store's kind for the per-customer records (keyed by the Shopify customer id).
CUSTOMER_KIND = "customer"


def erp_customer(order: Mapping[str, Any]) -> dict[str, Any]:
    """The NetSuite customer upsert body for a normalised order's customer (contract: CustomerUpsert).

    A customer with a first and a last name is a person; NetSuite requires both names of a
    person and a company name otherwise, so one without both is entered as a company under
    the name it has, else its email. Empty fields are left out (null is not a string). In a
    OneWorld account the connector adds the subsidiary (``NetsuiteAccount``).
    """
    customer_id = order.get("customer_id")
    if not customer_id:
        raise ValueError("this order has no customer id: there is no customer to send to the ERP")
    details = order.get("customer") or {}
    first, last = str(details.get("first_name") or "").strip(), str(details.get("last_name") or "").strip()
    email = str(order.get("email") or details.get("email") or "").strip()
    body: dict[str, Any] = {"externalId": f"shopify-customer-{customer_id}"}
    if first and last:
        body.update(isPerson=True, firstName=first, lastName=last)
    else:
        body.update(isPerson=False, companyName=first or last or email or f"Shopify customer {customer_id}")
    if email:
        body["email"] = email
    return body


def customer_version(body: Mapping[str, Any]) -> str:
    """A fingerprint of what the ERP would hold after this body is upserted."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def synced_record(version: str, as_of: str) -> dict[str, Any]:
    """The record to keep once ``version`` (from an order updated at ``as_of``) is in the ERP."""
    return {"synced": True, "version": version, "as_of": as_of}


def already_synced(record: Mapping[str, Any] | None, version: str, as_of: str) -> bool:
    """True when the ERP already holds ``version``, or a version carried by a newer order."""
    if record is None:
        return False
    if record.get("version") == version:
        return True
    held, given = parse_timestamp(record.get("as_of")), parse_timestamp(as_of)
    return held is not None and given is not None and held > given


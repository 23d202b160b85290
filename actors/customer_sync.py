"""The ERP's copy of a Shopify customer: what was last sent, so an unchanged one is not sent again.

Each order carries a snapshot of its customer. The order actor keeps, per customer
id, a small durable record of the last customer it upserted into the ERP (a
fingerprint of the ``Customer`` value) and the ``updated_at`` of the order that
carried it. A customer is sent again only when it differs from that record *and*
the record does not come from a newer order (an older order synced late must not
put back the name the customer has since changed). A record without a fingerprint,
or with one of another form (earlier versions hashed the ERP's body), counts as
different: the customer is sent once more, which an upsert makes harmless.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from peppasync.clock import parse_timestamp

from actors.domain import Customer

__all__ = ["CUSTOMER_KIND", "already_synced", "customer_version", "synced_record"]

# The store's kind for the per-customer records (keyed by the Shopify customer id).
CUSTOMER_KIND = "customer"


def customer_version(customer: Customer) -> str:
    """A fingerprint of the customer as the ERP would hold it after an upsert."""
    canonical = json.dumps(asdict(customer), sort_keys=True, separators=(",", ":"), default=str)
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


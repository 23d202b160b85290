"""The simulated ERP's records: sales orders, customers and items, keyed by external id."""

from __future__ import annotations

import copy
import threading
from collections import Counter
from typing import Any

from peppasync.clock import Clock

from .catalog import Catalog

__all__ = ["NON_SKU_ITEM_ID", "ErpError", "ErpState"]

# The internal id of the account's non-inventory item for lines without a SKU ("Custom line").
NON_SKU_ITEM_ID = "7001"


class ErpError(Exception):
    """A refusal in NetSuite's terms: HTTP status, `o:errorCode`, detail and JSON path."""

    def __init__(self, status: int, code: str, detail: str, path: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.path = path


class ErpState:
    """Records and a count of creates per external id, so duplicates show."""

    TYPES = ("salesOrder", "customer")

    def __init__(self, catalog: Catalog, clock: Clock) -> None:
        self.catalog = catalog
        self._clock = clock
        self.lock = threading.RLock()
        self.records: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in self.TYPES}
        self.creates: Counter[tuple[str, str]] = Counter()
        self.updates: Counter[tuple[str, str]] = Counter()
        self.duplicates: Counter[tuple[str, str]] = Counter()
        self._next_id = 10_000

    def _validate(self, kind: str, body: Any) -> None:
        if not isinstance(body, dict):
            raise ErpError(400, "INVALID_CONTENT", "The request body must be a JSON object.")
        if kind != "salesOrder":
            return
        entity = body.get("entity")
        if entity is not None:
            ref = entity.get("externalId") if isinstance(entity, dict) else None
            if ref not in self.records["customer"]:
                raise ErpError(400, "INVALID_KEY_OR_REF",
                               f"Invalid entity reference key {ref!r}: no customer has that externalId.",
                               "entity")
        sublist = body.get("item", {"items": []})
        items = sublist.get("items") if isinstance(sublist, dict) else None
        if not isinstance(items, list):
            raise ErpError(400, "INVALID_CONTENT", 'The "item" sublist must be {"items": [...]}.', "item")
        for n, line in enumerate(items):
            where = f"item.items[{n}]"
            ref = line.get("item") if isinstance(line, dict) else None
            if isinstance(ref, dict) and "id" in ref:
                if str(ref["id"]) != NON_SKU_ITEM_ID:
                    raise ErpError(400, "INVALID_KEY_OR_REF", f"Invalid item reference key {ref['id']}.",
                                   f"{where}.item")
                continue
            sku = ref.get("externalId") if isinstance(ref, dict) else None
            if not sku:
                raise ErpError(400, "INVALID_CONTENT", f"Line {n} has no item reference "
                               '({"item": {"externalId": SKU}}).', f"{where}.item")
            if sku not in self.catalog:
                raise ErpError(400, "INVALID_KEY_OR_REF", f"Invalid item reference key {sku}.", f"{where}.item")
            quantity = line.get("quantity")
            if not isinstance(quantity, (int, float)) or isinstance(quantity, bool) or quantity <= 0:
                raise ErpError(400, "INVALID_FLD_VALUE",
                               f"Line {n}: quantity must be a positive number, got {quantity!r}.",
                               f"{where}.quantity")

    def upsert(self, kind: str, external_id: str, body: Any) -> tuple[int, bool]:
        """PUT .../eid:{id}: create if absent, replace fields if present; (internal id, created)."""
        self._validate(kind, body)
        with self.lock:
            existing = self.records[kind].get(external_id)
            if existing is not None:
                existing.update(copy.deepcopy(body))
                existing["externalId"] = external_id
                existing["lastModifiedDate"] = self._clock.time()
                self.updates[(kind, external_id)] += 1
                return int(existing["id"]), False
            return self._create(kind, external_id, body), True

    def create(self, kind: str, body: Any) -> int:
        """POST .../{type}: a create; an externalId already taken is a duplicate error."""
        self._validate(kind, body)
        external_id = body.get("externalId")
        with self.lock:
            if external_id is not None and external_id in self.records[kind]:
                self.duplicates[(kind, str(external_id))] += 1
                raise ErpError(400, "DUP_RCRD", f"A {kind} record with externalId {external_id!r} "
                               "already exists.", "externalId")
            return self._create(kind, str(external_id) if external_id is not None else "", body)

    def _create(self, kind: str, external_id: str, body: dict[str, Any]) -> int:
        self._next_id += 1
        record = copy.deepcopy(body)
        record.update(id=str(self._next_id), externalId=external_id or None,
                      createdDate=self._clock.time(), lastModifiedDate=self._clock.time())
        if kind == "salesOrder":
            record.setdefault("orderStatus", {"id": "B"})
        self.records[kind][external_id or f"internal:{self._next_id}"] = record
        self.creates[(kind, external_id)] += 1
        return self._next_id

    def patch(self, kind: str, external_id: str, body: Any) -> int:
        if not isinstance(body, dict):
            raise ErpError(400, "INVALID_CONTENT", "The request body must be a JSON object.")
        with self.lock:
            record = self.records[kind].get(external_id)
            if record is None:
                raise ErpError(404, "NONEXISTENT_ID", f"No {kind} has externalId {external_id!r}.")
            status = body.get("orderStatus")
            if status is not None and (not isinstance(status, dict) or status.get("id") not in set("ABCDEFGH")):
                raise ErpError(400, "INVALID_FLD_VALUE", f"orderStatus must be {{\"id\": letter}}, got {status!r}",
                               "orderStatus")
            record.update(copy.deepcopy(body))
            record["lastModifiedDate"] = self._clock.time()
            self.updates[(kind, external_id)] += 1
            return int(record["id"])

    def get(self, kind: str, external_id: str) -> dict[str, Any]:
        if kind == "inventoryItem":
            item = self.catalog.get(external_id)
            if item is None:
                raise ErpError(404, "NONEXISTENT_ID", f"No inventoryItem has externalId {external_id!r}.")
            return {"id": str(item.inventory_item_id), "externalId": item.sku, "itemId": item.sku,
                    "displayName": item.title, "cost": float(item.cost), "averageCost": float(item.cost),
                    "basePrice": float(item.price)}
        with self.lock:
            record = self.records[kind].get(external_id)
            if record is None:
                raise ErpError(404, "NONEXISTENT_ID", f"No {kind} has externalId {external_id!r}.")
            return copy.deepcopy(record)

    def sales_orders(self) -> dict[str, dict[str, Any]]:
        """Sales orders by external id, as stored."""
        with self.lock:
            return copy.deepcopy(self.records["salesOrder"])

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "sales_orders": {eid: {"id": r["id"], "status": (r.get("orderStatus") or {}).get("id"),
                                       "lines": [{"sku": (line.get("item") or {}).get("externalId"),
                                                  "quantity": line.get("quantity")}
                                                 for line in (r.get("item") or {}).get("items", [])]}
                                 for eid, r in self.records["salesOrder"].items()},
                "customers": sorted(self.records["customer"]),
                "creates": {f"{k}/{e}": n for (k, e), n in self.creates.items()},
                "duplicates": {f"{k}/{e}": n for (k, e), n in self.duplicates.items()},
                "repeat_creates": {f"{k}/{e}": n for (k, e), n in self.creates.items() if n > 1},
            }

"""The simulated Business Central company's records: customers, items, sales orders and their lines.

Every write is checked against the Business Central contract
(``peppasync/contracts/business_central.json``) before anything else. Refusals use
Business Central's OData error codes: a body that breaks the contract is 400
``BadRequest_InvalidRequestBody`` naming the field, a reference to no record (an unknown
customer or item number) 400 ``Application_DialogException`` with the message AL's table
relation check gives, a number already taken 400 ``Internal_EntityWithSameKeyExists``,
an id that names nothing 404 ``BadRequest_NotFound``.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections import Counter
from typing import Any

from peppasync.clock import Clock
from peppasync.contracts import contract

from .catalog import Catalog

__all__ = ["BC_CURRENCIES", "GUEST_CUSTOMER", "NON_SKU_ITEM", "BcError", "Company", "contract_errors"]

#: The customer number that takes orders placed without a Shopify customer.
GUEST_CUSTOMER = "GUEST"
#: The item number that books lines sold without a SKU.
NON_SKU_ITEM = "CUSTOM"
#: Currency codes the company knows; its own (local) currency is USD.
BC_CURRENCIES = ("USD", "EUR", "GBP", "CAD", "JPY")


_INDEXED = {("customers", "number"), ("salesOrders", "number"), ("salesOrders", "externalDocumentNumber")}


class BcError(Exception):
    """A refusal in Business Central's terms: HTTP status, OData error code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def contract_errors(name: str, body: Any) -> list[str]:
    """The contract's refusals of ``body``, one message per broken rule, each naming its field."""
    messages = []
    for error in sorted(contract("business_central", name).iter_errors(body), key=lambda e: list(map(str, e.path))):
        where = "/".join(str(p) for p in error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [k for k in error.validator_value if k not in error.instance]
            messages += [f"The property '{key}' is required{' at ' + where if where else ''}." for key in missing]
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            named = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
            messages += [f"The property '{key}' does not exist on this type." for key in error.instance
                         if key not in named]
        else:
            messages.append(f"Invalid value at '{where or '(body)'}': {error.message}.")
    return messages


def _check(name: str, body: Any) -> None:
    if not isinstance(body, dict):
        raise BcError(400, "BadRequest_InvalidRequestBody", "The request body must be a JSON object.")
    problems = contract_errors(name, body)
    if problems:
        raise BcError(400, "BadRequest_InvalidRequestBody", " ".join(problems))


class Company:
    """One company: its customers (a guest among them), the catalogue's items, sales orders and lines.

    Cancelled orders are deleted, as Business Central cancels an open sales order; they are
    kept aside in ``deleted`` so that the ledger can still show them.
    """

    def __init__(self, catalog: Catalog, clock: Clock, *, seed: int) -> None:
        self.catalog = catalog
        self._clock = clock
        self._ids = uuid.UUID(int=seed * 7919 + 11).int
        self.id = self._new_id()
        self.lock = threading.RLock()
        self.customers: dict[str, dict[str, Any]] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.lines: dict[str, list[dict[str, Any]]] = {}
        self.deleted: dict[str, dict[str, Any]] = {}
        self.items = {item.sku: {"id": self._new_id(), "number": item.sku, "displayName": item.title,
                                 "unitPrice": float(item.price), "unitCost": float(item.cost)}
                      for item in catalog.items}
        self.items[NON_SKU_ITEM] = {"id": self._new_id(), "number": NON_SKU_ITEM, "displayName": "Custom line",
                                    "unitPrice": 0.0, "unitCost": 0.0}
        self.creates: Counter[str] = Counter()  # by kind and number: a number created twice shows here
        # Record ids by (collection, field, value), for the fields Peppasync filters on.
        self._index: dict[tuple[str, str, str], list[str]] = {}
        self._insert_customer({"number": GUEST_CUSTOMER, "displayName": "Shopify guest", "type": "Company"})
        self.creates.clear()

    def _new_id(self) -> str:
        self._ids += 1
        return str(uuid.UUID(int=self._ids % (1 << 128)))

    def _etag(self) -> str:
        return f'W/"{uuid.uuid4().hex}"'

    # -- customers ----------------------------------------------------------------

    def create_customer(self, body: Any) -> dict[str, Any]:
        _check("CustomerCreate", body)
        with self.lock:
            if self._index.get(("customers", "number", body["number"])):
                raise BcError(400, "Internal_EntityWithSameKeyExists", "The record in table Customer already "
                              f"exists. Identification fields and values: No.='{body['number']}'")
            return copy.deepcopy(self._insert_customer(body))

    def _insert_customer(self, body: dict[str, Any]) -> dict[str, Any]:
        record = {"type": "Company", "email": "", **copy.deepcopy(body), "id": self._new_id(),
                  "@odata.etag": self._etag()}
        self.customers[record["id"]] = record
        self._index.setdefault(("customers", "number", record["number"]), []).append(record["id"])
        self.creates[f"customer/{record['number']}"] += 1
        return record

    def update_customer(self, customer_id: str, body: Any) -> dict[str, Any]:
        _check("CustomerUpdate", body)
        with self.lock:
            record = self._get(self.customers, customer_id, "customer")
            record.update(copy.deepcopy(body), **{"@odata.etag": self._etag()})
            return copy.deepcopy(record)

    # -- sales orders -------------------------------------------------------------

    def create_order(self, body: Any) -> dict[str, Any]:
        """A deep insert: the header and its salesOrderLines in one transaction, all or nothing."""
        _check("SalesOrderCreate", body)
        with self.lock:
            if self._index.get(("salesOrders", "number", body["number"])):
                raise BcError(400, "Internal_EntityWithSameKeyExists", "The record in table Sales Header already "
                              f"exists. Identification fields and values: Document Type='Order',No.='{body['number']}'")
            customer = self._customer(body["customerNumber"])
            currency = body.get("currencyCode") or ""
            if currency and currency not in BC_CURRENCIES:
                raise BcError(400, "Application_DialogException", f"The field Currency Code of table Sales Header "
                              f"contains a value ({currency}) that cannot be found in the related table (Currency).")
            lines = [self._line(line, n) for n, line in enumerate(body["salesOrderLines"], start=1)]
            header = {k: v for k, v in copy.deepcopy(body).items() if k != "salesOrderLines"}
            record = {**header, "id": self._new_id(), "customerId": customer["id"],
                      "customerName": customer["displayName"], "status": "Draft",
                      "currencyCode": "" if currency == "USD" else currency,
                      "createdAt": self._clock.time(), "@odata.etag": self._etag()}
            for line in lines:
                line["documentId"] = record["id"]
            self.orders[record["id"]] = record
            for field in ("number", "externalDocumentNumber"):
                self._index.setdefault(("salesOrders", field, str(record.get(field, ""))), []).append(record["id"])
            self.lines[record["id"]] = lines
            self.creates[f"salesOrder/{record['number']}"] += 1
            return self._order_view(record)

    def _customer(self, number: str) -> dict[str, Any]:
        for customer in self.customers.values():
            if customer["number"] == number:
                return customer
        raise BcError(400, "Application_DialogException", f"The field Sell-to Customer No. of table Sales Header "
                      f"contains a value ({number}) that cannot be found in the related table (Customer).")

    def _line(self, body: dict[str, Any], sequence: int) -> dict[str, Any]:
        number = body["lineObjectNumber"]
        if body["lineType"] == "Item" and number not in self.items:
            raise BcError(400, "Application_DialogException", f"The field No. of table Sales Line contains a value "
                          f"({number}) that cannot be found in the related table (Item).")
        return {"discountAmount": 0, "unitPrice": 0, "description": "", **copy.deepcopy(body),
                "id": self._new_id(), "sequence": sequence * 10000, "@odata.etag": self._etag()}

    def delete_order(self, order_id: str) -> None:
        with self.lock:
            record = self._get(self.orders, order_id, "salesOrder")
            del self.orders[order_id]
            for field in ("number", "externalDocumentNumber"):
                self._index.get(("salesOrders", field, str(record.get(field, ""))), []).remove(order_id)
            self.deleted[order_id] = {**record, "lines": self.lines.pop(order_id, []),
                                      "deletedAt": self._clock.time()}

    def add_line(self, order_id: str, body: Any) -> dict[str, Any]:
        _check("SalesOrderLineCreate", body)
        with self.lock:
            lines = self.lines[self._get(self.orders, order_id, "salesOrder")["id"]]
            line = self._line(body, 0)
            line["sequence"] = max((x["sequence"] for x in lines), default=0) + 10000
            line["documentId"] = order_id
            lines.append(line)
            return copy.deepcopy(line)

    def update_line(self, order_id: str, line_id: str, body: Any) -> dict[str, Any]:
        _check("SalesOrderLineUpdate", body)
        with self.lock:
            line = self._find_line(order_id, line_id)
            line.update(copy.deepcopy(body), **{"@odata.etag": self._etag()})
            return copy.deepcopy(line)

    def delete_line(self, order_id: str, line_id: str) -> None:
        with self.lock:
            line = self._find_line(order_id, line_id)
            self.lines[order_id].remove(line)

    def _find_line(self, order_id: str, line_id: str) -> dict[str, Any]:
        self._get(self.orders, order_id, "salesOrder")
        for line in self.lines[order_id]:
            if line["id"] == line_id:
                return line
        raise BcError(404, "BadRequest_NotFound", f"The salesOrderLine {line_id} does not exist.")

    # -- reads --------------------------------------------------------------------

    def _get(self, table: dict[str, dict[str, Any]], record_id: str, kind: str) -> dict[str, Any]:
        record = table.get(record_id)
        if record is None:
            raise BcError(404, "BadRequest_NotFound", f"The {kind} {record_id} does not exist.")
        return record

    def _order_view(self, record: dict[str, Any]) -> dict[str, Any]:
        amount = sum(float(x["quantity"]) * float(x["unitPrice"]) - float(x["discountAmount"])
                     for x in self.lines.get(record["id"], []))
        return {k: v for k, v in copy.deepcopy(record).items() if k != "createdAt"} | {
            "totalAmountExcludingTax": round(amount, 2)}

    def get_order(self, order_id: str) -> dict[str, Any]:
        with self.lock:
            return self._order_view(self._get(self.orders, order_id, "salesOrder"))

    def order_lines(self, order_id: str) -> list[dict[str, Any]]:
        with self.lock:
            self._get(self.orders, order_id, "salesOrder")
            return copy.deepcopy(self.lines[order_id])

    def find(self, entity: str, field: str | None = None, value: str = "") -> list[dict[str, Any]]:
        """The records of ``customers``, ``salesOrders`` or ``items`` (those whose ``field`` is ``value``)."""
        tables: dict[str, dict[str, dict[str, Any]]] = {"customers": self.customers, "salesOrders": self.orders,
                                                        "items": self.items}
        if entity not in tables:
            raise BcError(404, "BadRequest_NotFound", f"No resource named {entity}.")
        table = tables[entity]
        with self.lock:
            if field is None:
                found = list(table.values())
            elif (entity, field, value) in self._index or (entity, field) in _INDEXED:
                found = [table[i] for i in self._index.get((entity, field, value), [])]
            elif entity == "items" and field == "number":
                found = [table[value]] if value in table else []
            else:
                found = [r for r in table.values() if str(r.get(field, "")) == value]
            if entity == "salesOrders":
                return [self._order_view(r) for r in found]
            return copy.deepcopy(found)

"""The simulated ERP's records: sales orders, customers and items, keyed by external id.

Every body is checked against the NetSuite contract (``peppasync/contracts/netsuite.json``)
before anything else, as the real API validates before it saves: a missing required field is
400 USER_ERROR, any other break of the contract 400 INVALID_CONTENT, each detail with the
JSON path of the field. References are then resolved against the account's records; one that
names nothing is 400 INVALID_CONTENT at its path, as the docs' own example shows for an
unknown item.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from peppasync.clock import Clock
from peppasync.contracts import contract

from .catalog import Catalog

__all__ = [
    "ACCOUNT_CURRENCIES",
    "CREDIT_KINDS",
    "DISCOUNT_ITEM_ID",
    "NON_SKU_ITEM_ID",
    "REFUND_ACCOUNT_ID",
    "REFUND_ITEM_ID",
    "SHIPPING_ITEM_ID",
    "SHIP_METHODS",
    "TAX_CODE_ID",
    "ErpError",
    "ErpState",
    "ErrorDetail",
]

# The account's currencies by internal id, in the order NetSuite creates them in a US account.
ACCOUNT_CURRENCIES = {"1": "USD", "2": "GBP", "3": "CAD", "4": "EUR", "5": "JPY"}
# The internal id of the account's non-inventory item for lines without a SKU ("Custom line").
NON_SKU_ITEM_ID = "7001"
# The account's other items an order's money is booked on: shipping as a line, discounts, refund amounts.
SHIPPING_ITEM_ID = "7002"
DISCOUNT_ITEM_ID = "7003"
REFUND_ITEM_ID = "7004"
# Shipping items (Ship Via) by internal id, the tax code for Shopify's tax, the account refunds come from.
SHIP_METHODS = {"8001": "Standard", "8002": "Express"}
TAX_CODE_ID = "9001"
REFUND_ACCOUNT_ID = "1100"
#: The records a refund may become: one of them, once, per refund.
CREDIT_KINDS = ("creditMemo", "cashRefund")
# Records whose item lines, shipping and tax NetSuite totals (read-only fields it answers).
_TOTALLED = ("salesOrder", "creditMemo", "cashRefund", "returnAuthorization")
_SUBSIDIARIES = {"1": "Peppa Sandbox Inc."}
_STATUS_NAMES = {"A": "Pending Approval", "B": "Pending Fulfillment", "C": "Cancelled", "D": "Partially Fulfilled",
                 "E": "Pending Billing/Partially Fulfilled", "F": "Pending Billing", "G": "Billed", "H": "Closed"}
# Which contract a write must keep: (HTTP method, record type) -> body name.
_CONTRACTS = {("PUT", "salesOrder"): "SalesOrderUpsert", ("POST", "salesOrder"): "SalesOrderUpsert",
              ("PATCH", "salesOrder"): "SalesOrderCancel",
              ("PUT", "customer"): "CustomerUpsert", ("POST", "customer"): "CustomerUpsert",
              ("PUT", "creditMemo"): "CreditMemoUpsert", ("PUT", "cashRefund"): "CashRefundUpsert",
              ("PUT", "customerDeposit"): "CustomerDepositUpsert",
              ("PUT", "returnAuthorization"): "ReturnAuthorizationUpsert"}


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of ``o:errorDetails``."""

    code: str
    detail: str
    path: str | None = None


class ErpError(Exception):
    """A refusal in NetSuite's terms: HTTP status and one or more details (code, detail, JSON path)."""

    def __init__(self, status: int, code: str, detail: str, path: str | None = None, *,
                 also: Sequence[ErrorDetail] = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.details = (ErrorDetail(code, detail, path), *also)
        self.code = code
        self.detail = detail
        self.path = path

    @classmethod
    def of(cls, status: int, details: Sequence[ErrorDetail]) -> ErpError:
        first, *rest = details
        return cls(status, first.code, first.detail, first.path, also=rest)


def json_path(parts: Iterable[str | int]) -> str:
    """NetSuite's ``o:errorPath`` form: ``item.items[0].item``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def contract_errors(name: str, body: Any) -> list[ErrorDetail]:
    """The NetSuite contract's refusals of ``body``, one detail per broken rule, in path order."""
    details = []
    for error in sorted(contract("netsuite", name).iter_errors(body), key=lambda e: json_path(e.absolute_path)):
        where = list(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            for key in error.validator_value:
                if key not in error.instance:
                    details.append(ErrorDetail(
                        "USER_ERROR", f"Error while accessing a resource. Please enter value(s) for: {key}.",
                        json_path([*where, key])))
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            named = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
            for key in error.instance:
                if key not in named:
                    details.append(ErrorDetail(
                        "INVALID_CONTENT", f"Error while accessing a resource. Invalid field: {key} is not a "
                        "field of this record.", json_path([*where, key])))
        else:
            path = json_path(where)
            details.append(ErrorDetail(
                "INVALID_CONTENT", f"Error while accessing a resource. Invalid content at {path or 'the body'}: "
                f"{error.message}.", path or None))
    return details


class ErpState:
    """Records of a OneWorld account and a count of creates per external id, so duplicates show.

    The account has one subsidiary (id 1), the currencies of ``ACCOUNT_CURRENCIES`` and a guest
    customer (``guest_customer``, an internal id) for orders placed without a Shopify customer.
    """

    TYPES = ("salesOrder", "customer", "creditMemo", "cashRefund", "customerDeposit", "returnAuthorization")

    def __init__(self, catalog: Catalog, clock: Clock) -> None:
        self.catalog = catalog
        self._clock = clock
        self.lock = threading.RLock()
        self.records: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in self.TYPES}
        self.creates: Counter[tuple[str, str]] = Counter()
        self.updates: Counter[tuple[str, str]] = Counter()
        self.duplicates: Counter[tuple[str, str]] = Counter()
        self.currencies = dict(ACCOUNT_CURRENCIES)
        self.subsidiaries = dict(_SUBSIDIARIES)
        self._next_id = 10_000
        self._items = {str(item.inventory_item_id): item.sku for item in catalog.items}
        self._items[NON_SKU_ITEM_ID] = "Custom line (non-inventory)"
        self._items[SHIPPING_ITEM_ID] = "Shipping (non-inventory)"
        self._items[DISCOUNT_ITEM_ID] = "Shopify discount (discount item)"
        self._items[REFUND_ITEM_ID] = "Refund adjustment (non-inventory)"
        self.ship_methods = dict(SHIP_METHODS)
        self.tax_codes = {TAX_CODE_ID: "Shopify tax"}
        self.accounts = {REFUND_ACCOUNT_ID: "Checking"}
        # Each record type's internal ids, as references to them are checked on every write.
        self._internal: dict[str, set[str]] = {t: set() for t in self.TYPES}
        guest = {"companyName": "Shopify Guest", "isPerson": False, "subsidiary": {"id": "1"}}
        self.guest_customer = str(self._create("customer", "", guest))
        self._seeded = {f"internal:{self.guest_customer}"}
        self.creates.clear()

    # -- validation -------------------------------------------------------------

    def _validate(self, method: str, kind: str, body: Any) -> None:
        if not isinstance(body, dict):
            raise ErpError(400, "INVALID_CONTENT", "The request body must be a JSON object.")
        name = _CONTRACTS.get((method, kind))
        if name is None:
            raise ErpError(405, "INVALID_REQUEST", f"{method} is not supported on {kind} by the sandbox.")
        details = contract_errors(name, body)
        if not details:
            details = self._unresolved(kind, body)
        if details:
            raise ErpError.of(400, details)

    def _unresolved(self, kind: str, body: dict[str, Any]) -> list[ErrorDetail]:
        """References that name no record of the account, as NetSuite reports an invalid field value."""
        # (JSON path, reference, records by internal id, records by external id)
        refs: list[tuple[str, dict[str, Any], Container[str], Container[str]]] = []
        if "subsidiary" in body:
            refs.append(("subsidiary", body["subsidiary"], self.subsidiaries, ()))
        if kind in _TOTALLED:
            if "entity" in body:
                refs.append(("entity", body["entity"], self._internal["customer"], self.records["customer"]))
            for n, line in enumerate((body.get("item") or {}).get("items", [])):
                refs.append((f"item.items[{n}].item", line["item"], self._items, self.catalog))
            if "shipMethod" in body:
                refs.append(("shipMethod", body["shipMethod"], self.ship_methods, ()))
            for n, detail in enumerate((body.get("taxDetails") or {}).get("items", [])):
                refs.append((f"taxDetails.items[{n}].taxCode", detail["taxCode"], self.tax_codes, ()))
        if kind == "customerDeposit":
            refs.append(("customer", body["customer"], self._internal["customer"], self.records["customer"]))
            if "salesOrder" in body:
                refs.append(("salesOrder", body["salesOrder"], self._internal["salesOrder"],
                             self.records["salesOrder"]))
        if kind == "returnAuthorization" and "createdFrom" in body:
            refs.append(("createdFrom", body["createdFrom"], self._internal["salesOrder"],
                         self.records["salesOrder"]))
        if "currency" in body:
            refs.append(("currency", body["currency"], self.currencies, ()))
        if "account" in body:
            refs.append(("account", body["account"], self.accounts, ()))
        details = []
        for path, ref, by_id, by_external_id in refs:
            key = str(ref["id"]) if "id" in ref else str(ref["externalId"])
            if key not in (by_id if "id" in ref else by_external_id):
                details.append(ErrorDetail(
                    "INVALID_CONTENT", "Error while accessing resource: You have entered an Invalid Field Value "
                    f"{key} for the following field: {path.rsplit('.', 1)[-1]}", path))
        return details + _tax_references(body)

    # -- writes -----------------------------------------------------------------

    def upsert(self, kind: str, external_id: str, body: Any, *, replace: Iterable[str] = ()) -> tuple[int, bool]:
        """PUT .../eid:{id}: create if absent, else update; (internal id, created).

        On an update, sublist lines are added to the record's, unless the sublist is named in
        ``replace`` (the ``replace`` query parameter), which makes the lines sent the only ones.
        """
        self._validate("PUT", kind, body)
        with self.lock:
            existing = self.records[kind].get(external_id)
            if existing is not None:
                self._update(existing, body, set(replace))
                existing["externalId"] = external_id
                if kind in _TOTALLED:
                    existing.update(totals(existing))
                self.updates[(kind, external_id)] += 1
                return int(existing["id"]), False
            return self._create(kind, external_id, body), True

    def create(self, kind: str, body: Any) -> int:
        """POST .../{type}: a create; an externalId already taken is a duplicate error."""
        self._validate("POST", kind, body)
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
            record["orderStatus"] = _status(record.get("orderStatus") or "B")
        if kind in _TOTALLED:
            record.update(totals(record))
        self.records[kind][external_id or f"internal:{self._next_id}"] = record
        self._internal[kind].add(record["id"])
        self.creates[(kind, external_id)] += 1
        return self._next_id

    def _update(self, record: dict[str, Any], body: dict[str, Any], replace: set[str]) -> None:
        for key, value in copy.deepcopy(body).items():
            if isinstance(value, dict) and "items" in value and key not in replace:
                value = {**value, "items": [*(record.get(key) or {}).get("items", []), *value["items"]]}
            record[key] = _status(value) if key == "orderStatus" else value
        record["lastModifiedDate"] = self._clock.time()

    def patch(self, kind: str, external_id: str, body: Any) -> int:
        self._validate("PATCH", kind, body)
        with self.lock:
            record = self.records[kind].get(external_id)
            if record is None:
                raise ErpError(404, "NONEXISTENT_ID", f"No {kind} has externalId {external_id!r}.")
            self._update(record, body, set())
            self.updates[(kind, external_id)] += 1
            return int(record["id"])

    # -- reads ------------------------------------------------------------------

    def get(self, kind: str, external_id: str) -> dict[str, Any]:
        if kind == "inventoryItem":
            item = self.catalog.get(external_id)
            if item is None:
                raise ErpError(404, "NONEXISTENT_ID", f"No inventoryItem has externalId {external_id!r}.")
            return {"id": str(item.inventory_item_id), "externalId": item.sku, "itemId": item.sku,
                    "displayName": item.title, "cost": float(item.cost), "averageCost": float(item.cost),
                    "lastPurchasePrice": float(item.cost), "basePrice": float(item.price)}
        with self.lock:
            record = self.records[kind].get(external_id)
            if record is None:
                raise ErpError(404, "NONEXISTENT_ID", f"No {kind} has externalId {external_id!r}.")
            return copy.deepcopy(record)

    def sales_orders(self) -> dict[str, dict[str, Any]]:
        """Sales orders by external id, as stored."""
        with self.lock:
            return copy.deepcopy(self.records["salesOrder"])

    def records_of(self, kind: str) -> dict[str, dict[str, Any]]:
        """Records of one type by external id, as stored (with the totals NetSuite computes)."""
        with self.lock:
            return copy.deepcopy(self.records[kind])

    def credit_documents(self) -> dict[str, list[str]]:
        """Per refund external id, the types of the credit documents that carry it (one each, if right)."""
        out: dict[str, list[str]] = {}
        with self.lock:
            for kind in CREDIT_KINDS:
                for eid in self.records[kind]:
                    out.setdefault(eid, []).append(kind)
                for (k, eid), n in self.creates.items():
                    if k == kind and n > 1:
                        out.setdefault(eid, []).extend([kind] * (n - 1))
        return out

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "sales_orders": {eid: {"id": r["id"], "status": (r.get("orderStatus") or {}).get("id"),
                                       "lines": [{"sku": (line.get("item") or {}).get("externalId"),
                                                  "quantity": line.get("quantity")}
                                                 for line in (r.get("item") or {}).get("items", [])],
                                       **_money_of(r)}
                                 for eid, r in self.records["salesOrder"].items()},
                "customers": sorted(k for k in self.records["customer"] if k not in self._seeded),
                "credit_memos": {eid: _money_of(r) for eid, r in self.records["creditMemo"].items()},
                "cash_refunds": {eid: _money_of(r) for eid, r in self.records["cashRefund"].items()},
                "customer_deposits": {eid: {"salesOrder": (r.get("salesOrder") or {}).get("externalId"),
                                            "payment": r.get("payment"),
                                            "currency": (r.get("currency") or {}).get("id")}
                                      for eid, r in self.records["customerDeposit"].items()},
                "return_authorizations": {eid: {"createdFrom": (r.get("createdFrom") or {}).get("externalId"),
                                                **_money_of(r)}
                                          for eid, r in self.records["returnAuthorization"].items()},
                "creates": {f"{k}/{e}": n for (k, e), n in self.creates.items()},
                "duplicates": {f"{k}/{e}": n for (k, e), n in self.duplicates.items()},
                "repeat_creates": {f"{k}/{e}": n for (k, e), n in self.creates.items() if n > 1},
            }


def totals(record: dict[str, Any]) -> dict[str, Any]:
    """The read-only totals NetSuite answers on a transaction, from its lines, shipping and tax.

    ``subtotal`` sums the item lines (a discount item's negative line included), ``discountTotal``
    the discount lines alone, ``taxTotal`` the tax details when they were set (the sandbox has no
    tax engine: without an override its tax is unknown and left out), ``total`` all of it.
    """
    lines = (record.get("item") or {}).get("items", [])
    amounts = [_decimal(line.get("amount", (line.get("rate") or 0) * (line.get("quantity") or 1))) for line in lines]
    subtotal = sum(amounts, Decimal(0))
    discount = sum((a for a in amounts if a < 0), Decimal(0))
    shipping = _decimal(record.get("shippingCost") or 0)
    out: dict[str, Any] = {"subtotal": float(subtotal), "discountTotal": float(discount)}
    total = subtotal + shipping
    if record.get("taxDetailsOverride"):
        tax = sum((_decimal(d.get("taxAmount") or 0) for d in (record.get("taxDetails") or {}).get("items", [])),
                  Decimal(0))
        out["taxTotal"] = float(tax)
        total += tax
    out["total"] = float(total)
    return out


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value))


def _money_of(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in ("subtotal", "discountTotal", "shippingCost", "taxTotal", "total", "exchangeRate")
            if k in record} | {"currency": (record.get("currency") or {}).get("id")}


def _tax_references(body: dict[str, Any]) -> list[ErrorDetail]:
    """Tax details that name no line of the record (nor its shipping), as NetSuite refuses a dangling reference."""
    known = {str(line.get("taxDetailsReference")) for line in (body.get("item") or {}).get("items", [])
             if line.get("taxDetailsReference")}
    if "shippingCost" in body:
        known.add("SHIPPING")
    details = []
    for n, detail in enumerate((body.get("taxDetails") or {}).get("items", [])):
        if str(detail.get("taxDetailsReference")) not in known:
            details.append(ErrorDetail(
                "INVALID_CONTENT", "Error while accessing a resource. The tax details reference "
                f"{detail.get('taxDetailsReference')!r} matches no line of this transaction.",
                f"taxDetails.items[{n}].taxDetailsReference"))
    return details


def _status(value: Any) -> Any:
    """An order status as NetSuite answers it: ``{"id": letter, "refName": name}``."""
    letter = value.get("id") if isinstance(value, dict) else value
    return {"id": letter, "refName": _STATUS_NAMES.get(str(letter), "")}

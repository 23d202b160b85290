"""Resolvers of the Shopify schema: read the shop's state, shape it as Admin GraphQL objects."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, TypeAlias

from graphql import (
    GraphQLError,
    GraphQLResolveInfo,
    get_directive_values,
    get_named_type,
)

from .paging import paginate, parse_search
from .shop import LOCATION_ID, OUR_APP, ShopState, gid, iso, parse_gid
from .shopify_schema import connection_item_cost

__all__ = ["ShopifyRoot"]

Info: TypeAlias = "GraphQLResolveInfo[Any]"


def _money(amount: Any, currency: str) -> dict[str, Any]:
    money = {"amount": str(amount if amount is not None else "0.00"), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": money}


def _money_set(given: Any, amount: Any, currency: str) -> dict[str, Any]:
    """A REST ``*_set`` as a GraphQL ``MoneyBag``: both currencies when the order states them."""
    if not isinstance(given, dict):
        return _money(amount, currency)
    shop, shown = given.get("shop_money") or {}, given.get("presentment_money") or {}
    return {"shopMoney": {"amount": str(shop.get("amount")), "currencyCode": shop.get("currency_code") or currency},
            "presentmentMoney": {"amount": str(shown.get("amount")),
                                 "currencyCode": shown.get("currency_code") or currency}}


def _shipping_line(line: dict[str, Any], currency: str) -> dict[str, Any]:
    return {"title": line.get("title"), "code": line.get("code"),
            "discountedPriceSet": _money_set(line.get("discounted_price_set") or line.get("price_set"),
                                             line.get("price"), currency),
            "taxLines": [_tax_line(t, currency) for t in line.get("tax_lines") or []]}


def _tax_line(line: dict[str, Any], currency: str) -> dict[str, Any]:
    return {"title": line.get("title"), "rate": line.get("rate"),
            "priceSet": _money_set(line.get("price_set"), line.get("price"), currency)}


def _address(a: dict[str, Any] | None) -> dict[str, Any] | None:
    if not a:
        return None
    return {"firstName": a.get("first_name"), "lastName": a.get("last_name"), "name": a.get("name"),
            "company": a.get("company"), "address1": a.get("address1"), "address2": a.get("address2"),
            "city": a.get("city"), "province": a.get("province"), "provinceCode": a.get("province_code"),
            "zip": a.get("zip"), "country": a.get("country"), "countryCodeV2": a.get("country_code"),
            "phone": a.get("phone")}


class ShopifyRoot:
    """The root value: one method per Query and Mutation field, called by graphql-core."""

    def __init__(self, shop: ShopState, shop_domain: str) -> None:
        self.state = shop
        self.domain = shop_domain
        self.refund = 0  # cost of page slots asked for but not filled

    def _page(self, info: Info, items: list[Any], key: Any, node: Any,
              args: dict[str, Any]) -> dict[str, Any]:
        page = paginate(items, key, first=args.get("first"), after=args.get("after"),
                        last=args.get("last"), before=args.get("before"), node=node)
        connection = get_named_type(info.return_type)
        per_item = connection_item_cost(info.field_nodes[0], connection, info.fragments,  # type: ignore[arg-type]
                                        info.variable_values.coerced)
        self.refund += page.pop("_unfilled") * per_item
        return page

    # Query fields ----------------------------------------------------------------------------
    def shop(self, info: Info) -> dict[str, Any]:
        return {"id": gid("Shop", 1), "name": "Peppasync Sandbox", "myshopifyDomain": self.domain,
                "currencyCode": "USD"}

    def order(self, info: Info, id: str) -> dict[str, Any] | None:
        number = parse_gid(id, "Order")
        with self.state.lock:
            raw = self.state.orders.get(number) if number is not None else None
            return self._order(raw) if raw else None

    def orders(self, info: Info, **args: Any) -> dict[str, Any]:
        search = parse_search(args.get("query"))
        sort = args.get("sortKey") or "ID"
        field = {"UPDATED_AT": "updated_at", "CREATED_AT": "created_at", "PROCESSED_AT": "created_at"}.get(sort)
        with self.state.lock:
            chosen = [o for o in self.state.orders.values()
                      if search.matches({"updated_at": o.get("updated_at"), "created_at": o.get("created_at"),
                                         "name": o.get("name"), "id": o.get("id")})]
            if field:
                def key(o: dict[str, Any]) -> Any:
                    return [o.get(field) or "", o["id"]]
            else:
                def key(o: dict[str, Any]) -> Any:
                    return [o["id"]]
            if args.get("reverse"):
                raise GraphQLError("reverse: true is not supported by the sandbox; page forwards")
            chosen.sort(key=key)
            return self._page(info, chosen, key, self._order, args)

    def productVariants(self, info: Info, **args: Any) -> dict[str, Any]:
        search = parse_search(args.get("query"))
        items = [i for i in self.state.catalog.items if search.matches({"sku": i.sku, "id": i.variant_id})]
        return self._page(info, items, lambda i: [i.variant_id], self._variant, args)

    def fulfillmentOrders(self, info: Info, **args: Any) -> dict[str, Any]:
        search = parse_search(args.get("query"))
        with self.state.lock:
            fos = [fo for fo in self.state.fulfillment_orders.values()
                   if (args.get("includeClosed") or fo["status"] in ("OPEN", "IN_PROGRESS", "ON_HOLD"))
                   and search.matches({"order_id": fo["order_id"], "status": fo["status"], "id": fo["id"]})]
            return self._page(info, fos, lambda fo: [fo["id"]], self._fulfillment_order, args)

    def inventoryItem(self, info: Info, id: str) -> dict[str, Any] | None:
        number = parse_gid(id, "InventoryItem")
        item = next((i for i in self.state.catalog.items if i.inventory_item_id == number), None)
        return self._inventory_item(item) if item else None

    def location(self, info: Info, id: str | None = None) -> dict[str, Any] | None:
        if id is not None and parse_gid(id, "Location") != LOCATION_ID:
            return None
        return {"id": gid("Location", LOCATION_ID), "name": "Sandbox Warehouse"}

    # Mutation fields -------------------------------------------------------------------------
    def fulfillmentCreate(self, info: Info, fulfillment: dict[str, Any],
                          message: str | None = None) -> dict[str, Any]:
        from .shopify_mutations import create_fulfillment

        return create_fulfillment(self, fulfillment)

    def fulfillmentOrderHold(self, info: Info, fulfillmentHold: dict[str, Any], id: str) -> dict[str, Any]:
        from .shopify_mutations import hold_fulfillment_order

        return hold_fulfillment_order(self, id, fulfillmentHold)

    def fulfillmentOrderReleaseHold(self, info: Info, id: str, holdIds: list[str] | None = None,
                                    externalId: str | None = None) -> dict[str, Any]:
        from .shopify_mutations import release_fulfillment_order_holds

        return release_fulfillment_order_holds(self, id, holdIds)

    def inventorySetQuantities(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        from .shopify_mutations import set_quantities

        directive = info.schema.get_directive("idempotent")
        assert directive is not None
        key = (get_directive_values(directive, info.field_nodes[0], info.variable_values) or {}).get("key")
        if key is None or not str(key).strip():
            # Mandatory since 2026-04: "calling these mutations without an idempotency directive will
            # result in an error at runtime"; the key "cannot be an empty string or whitespace only"
            # (https://shopify.dev/changelog/making-idempotency-mandatory-for-inventory-adjustments-and-refund-mutations,
            # the @idempotent directive's description). Shopify does not document the error's wording.
            raise GraphQLError("inventorySetQuantities requires an idempotency key: add "
                               '@idempotent(key: "<a UUID>") to the field, the same key on every retry')
        fingerprint = json.dumps(input, sort_keys=True, default=str)
        with self.state.lock:
            previous = self.state.idempotency.get(key)
            if previous is not None:
                if previous[0] != fingerprint:
                    return {"inventoryAdjustmentGroup": None, "userErrors": [{
                        "field": ["input"], "code": "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                        "message": f"idempotency key {key!r} was used before with different parameters"}]}
                info.context["replayed"] = True
                return previous[1]  # type: ignore[no-any-return]
            result = set_quantities(self, input)
            self.state.idempotency[key] = (fingerprint, result)
            return result

    # Shaping ---------------------------------------------------------------------------------
    def _order(self, o: dict[str, Any]) -> dict[str, Any]:
        currency = o.get("currency") or "USD"
        customer = o.get("customer") or None
        lines = o.get("line_items") or []
        order_id = o["id"]
        return {
            "id": gid("Order", order_id), "legacyResourceId": order_id, "name": o.get("name"),
            "email": o.get("email"), "test": bool(o.get("test")), "createdAt": o.get("created_at"),
            "updatedAt": o.get("updated_at"), "cancelledAt": o.get("cancelled_at"),
            "cancelReason": (o.get("cancel_reason") or "").upper() or None, "currencyCode": currency,
            "displayFinancialStatus": (o.get("financial_status") or "paid").upper(),
            "displayFulfillmentStatus": self.state.fulfillment_status(order_id),
            "totalPriceSet": _money_set(o.get("total_price_set"), o.get("total_price"), currency),
            "presentmentCurrencyCode": o.get("presentment_currency") or currency,
            "taxesIncluded": bool(o.get("taxes_included")),
            "shippingLine": _shipping_line(o["shipping_lines"][0], currency) if o.get("shipping_lines") else None,
            "refunds": lambda info, first=None: [self._refund(r, currency)
                                                  for r in self.state.refunds.get(order_id, [])][: first or None],
            "subtotalPriceSet": _money(o.get("subtotal_price"), currency),
            "totalTaxSet": _money(o.get("total_tax"), currency),
            "totalDiscountsSet": _money(o.get("total_discounts"), currency),
            "currentTotalPriceSet": _money(o.get("current_total_price", o.get("total_price")), currency),
            "currentSubtotalPriceSet": _money(o.get("current_subtotal_price", o.get("subtotal_price")), currency),
            "currentTotalTaxSet": _money(o.get("current_total_tax", o.get("total_tax")), currency),
            "currentTotalDiscountsSet": _money(o.get("current_total_discounts", o.get("total_discounts")), currency),
            "billingAddress": _address(o.get("billing_address")),
            "totalRefundedShippingSet": _money(-sum(
                (Decimal(str(a.get("amount") or 0)) for r in o.get("refunds") or [] for a in r.get("order_adjustments")
                 or [] if a.get("kind") == "shipping_refund"), Decimal(0)), currency),
            "totalShippingPriceSet": _money(
                sum(Decimal(str(line.get("price") or 0)) for line in o.get("shipping_lines") or []), currency),
            "customer": customer and {
                "id": gid("Customer", customer["id"]), "email": customer.get("email"),
                "firstName": customer.get("first_name"), "lastName": customer.get("last_name"),
                "displayName": f"{customer.get('first_name') or ''} {customer.get('last_name') or ''}".strip()},
            "shippingAddress": _address(o.get("shipping_address")),
            "requiresShipping": any(line.get("requires_shipping") for line in lines),
            "lineItems": lambda info, **a: self._page(
                info, lines, lambda x: [x["id"]], lambda x: self._line(x, currency), a),
            "transactions": lambda info, **a: self._transactions(o, self.state.refunds.get(order_id, []),
                                                                 currency)[: a.get("first") or None],
            "fulfillmentOrders": lambda info, **a: self._page(
                info, self.state.fulfillment_orders_of(order_id),
                lambda fo: [fo["id"]], self._fulfillment_order, a),
            "fulfillments": lambda info, **a: [self._fulfillment(f) for f in self.state.fulfillments_of(order_id)
                                               ][: a.get("first") or None],
        }

    def _refund(self, r: dict[str, Any], currency: str) -> dict[str, Any]:
        shipping = [a for a in r.get("order_adjustments") or [] if a.get("kind") == "shipping_refund"]
        return {
            "id": gid("Refund", r["id"]), "legacyResourceId": r["id"], "createdAt": r.get("created_at"),
            "note": r.get("note"),
            "refundLineItems": lambda info, **a: self._page(info, r.get("refund_line_items") or [], lambda x: [x["id"]],
                                                            lambda x: self._refund_line(x, currency), a),
            "transactions": lambda info, **a: self._page(
                info, r.get("transactions") or [], lambda x: [x["id"]], lambda x: {
                    "kind": str(x.get("kind") or "").upper(), "status": str(x.get("status") or "").upper(),
                    "amountSet": _money(x.get("amount"), currency)}, a),
            "refundShippingLines": lambda info, **a: self._page(
                info, shipping, lambda x: [id(x)], lambda x: {
                    "subtotalAmountSet": _money(-Decimal(str(x.get("amount") or 0)), currency),
                    "taxAmountSet": _money(-Decimal(str(x.get("tax_amount") or 0)), currency)}, a),
        }

    def _refund_line(self, x: dict[str, Any], currency: str) -> dict[str, Any]:
        return {"quantity": x["quantity"], "restockType": str(x.get("restock_type") or "no_restock").upper(),
                "lineItem": self._line(x["line_item"], currency),
                "subtotalSet": _money_set(x.get("subtotal_set"), x.get("subtotal"), currency),
                "totalTaxSet": _money_set(x.get("total_tax_set"), x.get("total_tax"), currency)}

    def _line(self, line: dict[str, Any], currency: str) -> dict[str, Any]:
        item = self.state.catalog.get(line.get("sku"))
        return {"id": gid("LineItem", line["id"]), "sku": line.get("sku"), "name": line.get("title"),
                "title": line.get("title"), "quantity": line.get("quantity"),
                "currentQuantity": line.get("current_quantity", line.get("quantity")),
                "requiresShipping": bool(line.get("requires_shipping")), "isGiftCard": bool(line.get("gift_card")),
                "originalUnitPriceSet": _money_set(line.get("price_set"), line.get("price"), currency),
                "discountAllocations": [
                    {"allocatedAmountSet": _money_set(d.get("amount_set"), d.get("amount"), currency)}
                    for d in line.get("discount_allocations") or []],
                "taxLines": lambda info, first=None: [_tax_line(t, currency)
                                                      for t in line.get("tax_lines") or []][: first or None],
                "variant": self._variant(item) if item else self._bare_variant(line),
                "product": {"id": gid("Product", line["product_id"]), "title": line.get("title"),
                            "tags": list(item.tags if item else ())} if line.get("product_id") else None}

    @staticmethod
    def _transactions(o: dict[str, Any], refunds: list[dict[str, Any]], currency: str) -> list[dict[str, Any]]:
        """The sale, and the refunds' transactions. Four orders in five are paid through Shopify
        Payments, whose transactions carry their fees (here 2.9 % + 0.30); the rest through
        another gateway, whose fees Shopify does not know
        (https://shopify.dev/docs/api/admin-graphql/latest/objects/transactionfee)."""
        order_id = o["id"]
        total = Decimal(str(o.get("total_price") or 0))
        shopify_payments = order_id % 5 != 0
        rate, flat = Decimal("0.029"), Decimal("0.30")
        fee = (total * rate + flat).quantize(Decimal("0.01"))
        sale = {
            "id": gid("OrderTransaction", order_id * 10), "kind": "SALE", "status": "SUCCESS",
            "gateway": "shopify_payments" if shopify_payments else "paypal",
            "amountSet": _money_set(o.get("total_price_set"), total, currency),
            "fees": [{"id": gid("TransactionFee", order_id * 10), "type": "payment_processing",
                      "amount": {"amount": str(fee), "currencyCode": currency},
                      "flatFee": {"amount": str(flat), "currencyCode": currency}, "rate": str(rate),
                      "taxAmount": {"amount": "0.0", "currencyCode": currency}}] if shopify_payments and total else [],
        }
        refunds = [
            {"id": gid("OrderTransaction", t.get("id") or order_id * 10 + n), "kind": "REFUND", "status": "SUCCESS",
             "gateway": sale["gateway"], "amountSet": _money(t.get("amount"), currency), "fees": []}
            for n, r in enumerate(refunds, start=1) for t in r.get("transactions") or []
        ]
        return [sale, *refunds]

    @staticmethod
    def _bare_variant(line: dict[str, Any]) -> dict[str, Any] | None:
        """A line whose SKU is gone still names its variant (a custom item has none)."""
        variant_id = line.get("variant_id")
        if not variant_id:
            return None
        return {"id": gid("ProductVariant", variant_id), "legacyResourceId": variant_id, "sku": line.get("sku"),
                "title": line.get("title"), "displayName": line.get("title"), "price": line.get("price")}

    def _variant(self, item: Any) -> dict[str, Any]:
        return {"id": gid("ProductVariant", item.variant_id), "legacyResourceId": item.variant_id,
                "sku": item.sku, "title": item.title, "displayName": item.title, "price": str(item.price),
                "inventoryQuantity": self.state.levels[item.inventory_item_id]["available"],
                "inventoryItem": self._inventory_item(item)}

    def _inventory_item(self, item: Any) -> dict[str, Any]:
        level = self.state.levels[item.inventory_item_id]

        def inventory_level(info: Info, locationId: str) -> dict[str, Any] | None:
            if parse_gid(locationId, "Location") != LOCATION_ID:
                return None
            return {"id": f"gid://shopify/InventoryLevel/{item.inventory_item_id}?inventory_item_id="
                          f"{item.inventory_item_id}",
                    "location": self.location(info),
                    "quantities": lambda info, names: [
                        {"name": n, "quantity": level.get(n, 0), "updatedAt": None} for n in names]}

        return {"id": gid("InventoryItem", item.inventory_item_id), "legacyResourceId": item.inventory_item_id,
                "sku": item.sku, "tracked": not item.gift_card, "inventoryLevel": inventory_level,
                "unitCost": {"amount": str(item.cost), "currencyCode": "USD"} if not item.gift_card else None}

    def _fulfillment_order(self, fo: dict[str, Any]) -> dict[str, Any]:
        order = self.state.orders[fo["order_id"]]
        currency = order.get("currency") or "USD"
        by_id = {line["id"]: line for line in order.get("line_items", [])}
        return {
            "id": gid("FulfillmentOrder", fo["id"]), "status": fo["status"],
            "orderId": gid("Order", fo["order_id"]), "orderName": order.get("name"),
            "createdAt": iso(fo["created_at"]), "updatedAt": iso(fo["updated_at"]),
            "assignedLocation": {"name": "Sandbox Warehouse", "location": self.location(None)},  # type: ignore[arg-type]
            "fulfillmentHolds": [self.fulfillment_hold(h) for h in fo.get("holds") or []],
            "lineItems": lambda info, **a: self._page(info, fo["lines"], lambda x: [x["id"]], lambda x: {
                "id": gid("FulfillmentOrderLineItem", x["id"]), "sku": x["sku"], "totalQuantity": x["total"],
                "remainingQuantity": x["remaining"], "lineItem": self._line(by_id[x["line_item_id"]], currency),
            }, a),
        }

    @staticmethod
    def fulfillment_hold(h: dict[str, Any]) -> dict[str, Any]:
        """A hold as ``FulfillmentHold``; every API call here is made by ``OUR_APP``."""
        return {"id": gid("FulfillmentHold", h["id"]), "handle": h["handle"] or None, "reason": h["reason"],
                "reasonNotes": h["notes"], "heldByRequestingApp": h["app"] == OUR_APP,
                "displayReason": h["reason"].replace("_", " ").capitalize()}

    def _fulfillment(self, f: dict[str, Any]) -> dict[str, Any]:
        return {"id": gid("Fulfillment", f["id"]), "name": f["name"], "status": f["status"],
                "createdAt": iso(f["created_at"]),
                "trackingInfo": lambda info, **a: f["tracking"][: a.get("first") or None]}

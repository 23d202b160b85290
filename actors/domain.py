"""The values the order flow speaks in: an order, its lines, a customer, an address, a shipment.

Vendors' field names stop at the adapters (``actors/adapters/``): the order flow
reads these values and the ports (``actors/ports.py``) take them. An order is
built from the record the order actor keeps in its state, the form
``actors.validation.normalise_order`` makes of a Shopify order body; that record
stays the stored form, so state written by earlier versions still loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

__all__ = [
    "Address",
    "Customer",
    "Line",
    "Order",
    "Payment",
    "Refund",
    "RefundLine",
    "Shipment",
    "Shipping",
    "StorefrontHold",
    "WmsOrder",
    "WmsStatus",
]


@dataclass(frozen=True)
class Address:
    """A postal address; any part may be missing except where an adapter says otherwise."""

    name: str = ""
    company: str = ""
    street1: str = ""
    street2: str = ""
    city: str = ""
    region: str = ""  # the state or province code, else its name
    postal_code: str = ""
    country_code: str = ""  # ISO 3166-1 alpha-2 when the storefront gave one, else what it gave
    phone: str = ""

    @classmethod
    def from_record(cls, address: Mapping[str, Any] | None) -> Address | None:
        """The address in an order record (Shopify's address shape), or None when there is none."""
        if not isinstance(address, Mapping):
            return None

        def text(*keys: str) -> str:
            for key in keys:
                value = address.get(key)
                if value not in (None, ""):
                    return str(value).strip()
            return ""

        own = text("name") or " ".join(p for p in (text("first_name"), text("last_name")) if p)
        return cls(
            name=own,
            company=text("company"),
            street1=text("address1"),
            street2=text("address2"),
            city=text("city"),
            region=text("province_code", "province"),
            postal_code=text("zip"),
            country_code=text("country_code", "country").upper(),
            phone=text("phone"),
        )

    @property
    def is_postal(self) -> bool:
        """Whether this is an address one could send something to, not just a name."""
        return bool(self.street1 or self.name)

    @property
    def iso_country(self) -> str | None:
        """The two-letter ISO 3166 code, when the country is given as one."""
        code = self.country_code
        return code if len(code) == 2 and code.isalpha() else None


@dataclass(frozen=True)
class Customer:
    """The storefront's customer of an order: ``id`` is the storefront's (a whole number)."""

    id: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


@dataclass(frozen=True)
class Line:
    """One line of an order as it is now (removed and refunded units already taken off)."""

    sku: str
    title: str
    quantity: int
    price: Decimal
    gift_card: bool = False
    # A line sold without a SKU (a custom item): the ERP books it on a configured item.
    non_sku: bool = False
    requires_shipping: bool = True
    # The discount and tax of the whole line (all its live units), as the storefront
    # allocated them; None in records written before they were kept.
    discount: Decimal | None = None
    tax: Decimal | None = None


@dataclass(frozen=True)
class Shipping:
    """The shipping charged on an order: its method (title and code) and amount net of shipping discounts."""

    title: str
    code: str
    amount: Decimal
    tax: Decimal = Decimal(0)


@dataclass(frozen=True)
class Payment:
    """Money the storefront captured for an order; ``id`` is unique per order."""

    id: str
    amount: Decimal
    gateway: str = ""
    # The same amount in the buyer's currency, when known.
    presentment_amount: Decimal | None = None


@dataclass(frozen=True)
class Order:
    """A storefront order, keyed by the storefront's order id; amounts in ``currency``."""

    id: str
    name: str
    currency: str
    created_at: str
    updated_at: str
    lines: tuple[Line, ...]
    email: str = ""
    test: bool = False
    customer: Customer | None = None
    needs_shipping: bool = True
    shipping_address: Address | None = None
    billing_address: Address | None = None
    subtotal: Decimal = Decimal(0)
    discounts: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    shipping: tuple[Shipping, ...] = ()
    # Whether prices include tax (then line prices and shipping have their tax inside them).
    taxes_included: bool = False
    # The buyer's currency and how many units of ``currency`` one of it was worth
    # (None: the same currency, or not known).
    presentment_currency: str = ""
    exchange_rate: Decimal | None = None
    payments: tuple[Payment, ...] = ()
    # The order's amounts in the buyer's currency (``in_presentment``), when the storefront gave them.
    presentment: Mapping[str, Any] | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Order:
        """The order an order record (``normalise_order``'s result, as kept in state) describes."""
        details = record.get("customer") or {}
        customer_id = record.get("customer_id")
        customer = None
        if customer_id:
            customer = Customer(
                id=str(customer_id),
                email=str(record.get("email") or details.get("email") or "").strip(),
                first_name=str(details.get("first_name") or "").strip(),
                last_name=str(details.get("last_name") or "").strip(),
            )
        return cls(
            id=str(record["id"]),
            name=str(record["name"]),
            currency=str(record["currency"]),
            created_at=str(record.get("created_at") or ""),
            updated_at=str(record.get("updated_at") or ""),
            lines=tuple(
                Line(
                    sku=str(line.get("sku") or ""),
                    title=str(line.get("title") or ""),
                    quantity=int(line["quantity"]),
                    price=Decimal(str(line["price"])),
                    gift_card=bool(line.get("gift_card")),
                    non_sku=bool(line.get("non_sku")),
                    requires_shipping=bool(line.get("requires_shipping", True)),
                    discount=_maybe(line.get("discount")),
                    tax=_maybe(line.get("tax")),
                )
                for line in record["lines"]
            ),
            email=str(record.get("email") or ""),
            test=bool(record.get("test")),
            customer=customer,
            needs_shipping=bool(record.get("needs_shipping", True)),
            shipping_address=Address.from_record(record.get("shipping_address")),
            billing_address=Address.from_record(record.get("billing_address")),
            subtotal=Decimal(str(record.get("subtotal") or 0)),
            discounts=Decimal(str(record.get("discounts") or 0)),
            tax=Decimal(str(record.get("tax") or 0)),
            total=Decimal(str(record.get("total") or 0)),
            shipping=tuple(
                Shipping(title=str(s.get("title") or ""), code=str(s.get("code") or ""),
                         amount=Decimal(str(s.get("amount") or 0)), tax=Decimal(str(s.get("tax") or 0)))
                for s in record.get("shipping") or ()
            ),
            taxes_included=bool(record.get("taxes_included")),
            presentment_currency=str(record.get("presentment_currency") or record["currency"]),
            exchange_rate=_maybe(record.get("exchange_rate")),
            payments=tuple(
                Payment(id=str(p["id"]), amount=Decimal(str(p["amount"])), gateway=str(p.get("gateway") or ""),
                        presentment_amount=_maybe(p.get("presentment_amount")))
                for p in record.get("payments") or ()
            ),
            presentment=record.get("presentment") if isinstance(record.get("presentment"), Mapping) else None,
        )

    def in_presentment(self) -> Order:
        """This order with every amount in the buyer's currency, as the storefront stated them there.

        Itself when the buyer paid in the shop's currency, or when the record lacks the
        buyer's amounts (written before they were kept). The exchange rate stays.
        """
        given = self.presentment
        if not given or self.presentment_currency == self.currency:
            return self
        lines = given.get("lines") or []
        shipping = given.get("shipping") or []
        if len(lines) != len(self.lines) or len(shipping) != len(self.shipping):
            return self
        return replace(
            self,
            currency=self.presentment_currency,
            lines=tuple(replace(line, price=Decimal(str(p["price"])), discount=_maybe(p.get("discount")),
                                tax=_maybe(p.get("tax"))) for line, p in zip(self.lines, lines)),
            shipping=tuple(replace(s, amount=Decimal(str(p["amount"])), tax=Decimal(str(p.get("tax") or 0)))
                           for s, p in zip(self.shipping, shipping)),
            subtotal=Decimal(str(given.get("subtotal") or 0)),
            discounts=Decimal(str(given.get("discounts") or 0)),
            tax=Decimal(str(given.get("tax") or 0)),
            total=Decimal(str(given.get("total") or 0)),
            payments=tuple(replace(p, amount=p.presentment_amount) for p in self.payments
                           if p.presentment_amount is not None),
            presentment=None,
        )

    @property
    def buyer(self) -> str:
        """Who bought it, for a label: the customer's name, else an email, else the order's name."""
        if self.customer is not None and self.customer.full_name:
            return self.customer.full_name
        email = self.email or (self.customer.email if self.customer is not None else "")
        return email or f"Shopify order {self.name}"


def _maybe(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


@dataclass(frozen=True)
class RefundLine:
    """Units given back: ``amount`` is what was refunded for them, tax excluded; ``tax`` their tax."""

    sku: str
    title: str
    quantity: int
    amount: Decimal
    tax: Decimal = Decimal(0)
    # Back on the shelf: returned, or cancelled before they shipped.
    restocked: bool = False
    gift_card: bool = False
    non_sku: bool = False


@dataclass(frozen=True)
class Refund:
    """Money a storefront refund gave back for an order, in the order's (shop) currency.

    ``shipping`` and ``shipping_tax`` are the refunded shipping; ``other`` any amount
    beyond lines and shipping (a goodwill or discrepancy amount), all positive.
    ``total`` is what went back to the buyer (the refund's successful transactions).
    """

    id: str
    order_id: str
    currency: str
    created_at: str = ""
    lines: tuple[RefundLine, ...] = ()
    shipping: Decimal = Decimal(0)
    shipping_tax: Decimal = Decimal(0)
    other: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    note: str = ""

    @property
    def restocked(self) -> dict[str, int]:
        """Units per SKU that went back on the shelf."""
        back: dict[str, int] = {}
        for line in self.lines:
            if line.restocked and line.sku and not line.gift_card:
                back[line.sku] = back.get(line.sku, 0) + line.quantity
        return back


@dataclass(frozen=True)
class Shipment:
    """A parcel the warehouse sent for an order."""

    tracking_number: str
    carrier: str = ""
    tracking_url: str = ""
    shipped_at: str = ""
    label_cost: str | None = None


@dataclass(frozen=True)
class StorefrontHold:
    """A hold on an order's fulfillment in the storefront: nothing of it may be fulfilled while it stands.

    ``reason`` is the storefront's (Shopify's ``FulfillmentHoldReason``, such as
    ``HIGH_RISK_OF_FRAUD``); ``ours`` says whether this engine placed it, else another
    app or a person did, and only they lift it.
    """

    id: str
    reason: str
    handle: str = ""
    ours: bool = False
    # The held fulfillment order's id: a hold is released on it.
    fulfillment_order_id: str = ""


#: Where an order stands at the warehouse. ``open`` can still be changed; ``with_provider``
#: was passed on to a fulfilment provider; ``other`` is anything the adapter cannot place.
WmsStatus = Literal["open", "shipped", "with_provider", "cancelled", "other"]


@dataclass(frozen=True)
class WmsOrder:
    """The warehouse's copy of an order after a write: its own id and where it stands."""

    id: int | None
    status: WmsStatus
    # The status in the warehouse's own words, for messages to an operator.
    detail: str = ""

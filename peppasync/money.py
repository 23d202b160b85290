"""Amounts of money: a value in two currencies at once, and rounding to a currency's minor unit.

Shopify gives every amount as a ``MoneyBag``: the shop's currency and the currency the buyer
saw (the presentment currency), https://shopify.dev/docs/api/admin-graphql/latest/objects/MoneyBag .
Amounts stay ``Decimal`` end to end; only a figure shown or booked is rounded, to the
currency's minor unit (ISO 4217: two decimals unless listed in ``_EXPONENTS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

__all__ = ["MoneyBag", "minor_unit", "round_money"]

# ISO 4217 currencies whose minor unit is not a hundredth; the list maintained by SIX,
# https://www.six-group.com/en/products-services/financial-information/data-standards.html
_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of ``currency`` that can be booked: 0.01 for USD, 1 for JPY."""
    return Decimal(1).scaleb(-_EXPONENTS.get(currency.upper(), 2))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded to ``currency``'s minor unit, halves to even (as accountants round)."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class MoneyBag:
    """One amount in the shop's currency and in the buyer's (presentment) currency."""

    shop: Decimal = Decimal(0)
    presentment: Decimal = Decimal(0)

    @classmethod
    def of(cls, shop: Decimal | str | int, presentment: Decimal | str | int | None = None) -> MoneyBag:
        """A bag from two amounts; one amount when both currencies are the same."""
        first = Decimal(str(shop))
        return cls(first, first if presentment is None else Decimal(str(presentment)))

    def __add__(self, other: MoneyBag) -> MoneyBag:
        return MoneyBag(self.shop + other.shop, self.presentment + other.presentment)

    def __sub__(self, other: MoneyBag) -> MoneyBag:
        return MoneyBag(self.shop - other.shop, self.presentment - other.presentment)

    def times(self, factor: int | Decimal) -> MoneyBag:
        return MoneyBag(self.shop * factor, self.presentment * factor)

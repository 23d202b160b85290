"""The catalogue: SKUs with prices and stock, known to all three simulators."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["GIFT_CARD_SKU", "Catalog", "CatalogItem"]

GIFT_CARD_SKU = "GIFT-CARD-50"

_NOUNS = ["Tee", "Hoodie", "Cap", "Mug", "Sock Pack", "Tote", "Beanie", "Poster", "Sticker Set", "Jacket"]
_COLOURS = ["Black", "White", "Navy", "Olive", "Rose", "Sand", "Grey", "Teal"]


@dataclass(frozen=True)
class CatalogItem:
    """One sellable variant and its ids on each side."""

    sku: str
    title: str
    price: Decimal
    cost: Decimal
    stock: int
    variant_id: int
    product_id: int
    inventory_item_id: int
    requires_shipping: bool = True
    gift_card: bool = False
    # The product's tags in Shopify: every fifth product is made to order.
    tags: tuple[str, ...] = ()


class Catalog:
    """A seeded list of SKUs; the same seed gives the same catalogue."""

    def __init__(self, seed: int, size: int = 40, stock: int = 500, extra_skus: Sequence[str] = ()) -> None:
        if size < 1:
            raise ValueError(f"a catalogue needs at least one SKU, got size={size}")
        if stock < 0:
            raise ValueError(f"stock per SKU must be >= 0, got stock={stock}")
        rng = random.Random(f"catalog:{seed}")
        items = []
        for n in range(1, size + 1):
            price = Decimal(rng.randrange(500, 12000)) / 100
            items.append(CatalogItem(
                sku=f"PS-{n:04d}",
                title=f"{rng.choice(_COLOURS)} {rng.choice(_NOUNS)}",
                price=price,
                cost=(price * Decimal("0.45")).quantize(Decimal("0.01")),
                stock=stock,
                variant_id=40_000_000_000 + n,
                product_id=7_000_000_000 + n,
                inventory_item_id=42_000_000_000 + n,
                tags=("made-to-order",) if n % 5 == 0 else (),
            ))
        items.append(CatalogItem(
            sku=GIFT_CARD_SKU, title="Gift Card $50", price=Decimal("50.00"), cost=Decimal("0.00"),
            stock=0, variant_id=40_000_009_999, product_id=7_000_009_999,
            inventory_item_id=42_000_009_999, requires_shipping=False, gift_card=True,
        ))
        # Awkward SKUs a test asks for (quotes, spaces, backslashes...), after the seeded ones so
        # that the same seed still gives the same catalogue.
        for n, sku in enumerate(dict.fromkeys(extra_skus), start=1):
            if not sku or sku in {item.sku for item in items}:
                raise ValueError(f"an extra SKU must be new and not empty, got {sku!r}")
            items.append(CatalogItem(
                sku=sku, title=f"Extra {n}", price=Decimal("10.00"), cost=Decimal("4.50"), stock=stock,
                variant_id=49_000_000_000 + n, product_id=79_000_000_000 + n, inventory_item_id=49_200_000_000 + n,
            ))
        self.items: tuple[CatalogItem, ...] = tuple(items)
        self._by_sku = {item.sku: item for item in items}

    def get(self, sku: str | None) -> CatalogItem | None:
        return self._by_sku.get(sku or "")

    def __contains__(self, sku: object) -> bool:
        return sku in self._by_sku

    @property
    def physical(self) -> tuple[CatalogItem, ...]:
        return tuple(item for item in self.items if not item.gift_card)

"""Which holds on an order's fulfillment keep it from the warehouse, and how often a held order looks again.

Another app (a fraud filter, an address check, a deposit app) may hold an order's
fulfillment in the storefront. The order flow does not send a held order to the warehouse,
unless every hold on it has a reason the configuration lets through
(``[shopify] ship_despite_holds``); it looks again every ``recheck_seconds`` and goes on when
the holds are lifted. A shipment that meets a held fulfillment is fulfilled the same way,
once the holds are lifted: the storefront refuses to fulfil it before.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from actors.domain import StorefrontHold

__all__ = ["HoldPolicy"]


@dataclass(frozen=True)
class HoldPolicy:
    """Hold reasons that do not keep an order from the warehouse, and the seconds between looks."""

    ship_despite: frozenset[str] = field(default_factory=frozenset)
    recheck_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not self.recheck_seconds > 0:
            raise ValueError(f"recheck_seconds must be positive, got {self.recheck_seconds!r}")

    def keeping_from_warehouse(self, holds: Iterable[StorefrontHold]) -> tuple[StorefrontHold, ...]:
        """The holds that keep the order from the warehouse."""
        return tuple(h for h in holds if h.reason not in self.ship_despite)

"""What the simulated ERP holds, the same way whichever ERP the sandbox runs.

The scorecard, the consistency check, the demo and the benchmarks read the ERP through
``ErpSimulator``: its ledger and limit, its faults, and ``booked()``, the sales orders
by Shopify order id with their lines. ``NetSuiteBook`` gives the NetSuite simulator that
face; the Business Central simulator has it itself.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from .ledger import Ledger
from .netsuite import NetSuiteSimulator
from .server import Request, Response

__all__ = ["ERP_KINDS", "BookedOrder", "ErpSimulator", "NetSuiteBook"]

#: The ERPs the sandbox can simulate.
ERP_KINDS = ("netsuite", "business_central")


@dataclass(frozen=True)
class BookedOrder:
    """A sales order as the ERP holds it: when it was created, whether it is cancelled, its lines.

    ``lines`` are (SKU, quantity) per line; a line booked on the non-SKU item has SKU "".
    """

    created: float
    cancelled: bool
    lines: tuple[tuple[str, int], ...]
    # The ERP's own total of the order (lines, discounts, shipping, tax), when it keeps one, and
    # whether the tax in it was given to it (else its tax engine adds the tax later).
    total: Decimal | None = None
    tax_given: bool = False


class ErpSimulator(Protocol):
    """A simulated ERP as the rest of the sandbox sees it."""

    name: str
    ledger: Ledger
    concurrency_limit: int

    def handle(self, request: Request) -> Response: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def inject(self, fault: str, seconds: float) -> None: ...

    def booked(self) -> dict[str, BookedOrder]:
        """Every sales order the ERP holds, by Shopify order id (duplicates: the first)."""

    def booked_ids(self) -> set[str]:
        """The Shopify order ids of ``booked()``, cheaply."""

    def duplicate_creates(self) -> int:
        """Records created more than once for the same Shopify id (orders and customers)."""

    def snapshot(self) -> dict[str, Any]: ...


class NetSuiteBook:
    """The NetSuite simulator as an ``ErpSimulator``: sales orders by external id, cancelled at status C."""

    name = "netsuite"

    def __init__(self, simulator: NetSuiteSimulator) -> None:
        self.simulator = simulator
        self.ledger = simulator.ledger
        self.concurrency_limit = simulator.concurrency_limit

    def handle(self, request: Request) -> Response:
        return self.simulator.handle(request)

    def pause(self) -> None:
        self.simulator.pause()

    def resume(self) -> None:
        self.simulator.resume()

    def inject(self, fault: str, seconds: float) -> None:
        self.simulator.inject(fault, seconds)

    def booked(self) -> dict[str, BookedOrder]:
        out = {}
        for eid, record in self.simulator.erp.sales_orders().items():
            key = eid.removeprefix("shopify-")
            if key in out:
                continue
            out[key] = BookedOrder(
                created=float(record["createdDate"]),
                cancelled=(record.get("orderStatus") or {}).get("id") == "C",
                lines=tuple((str((line.get("item") or {}).get("externalId") or ""), int(line.get("quantity") or 0))
                            for line in (record.get("item") or {}).get("items", [])
                            if line.get("quantity") is not None),  # a discount line has none
                total=None if record.get("total") is None else Decimal(str(record["total"])),
                tax_given=bool(record.get("taxDetailsOverride")),
            )
        return out

    def booked_ids(self) -> set[str]:
        erp = self.simulator.erp
        with erp.lock:
            return {eid.removeprefix("shopify-") for eid in erp.records["salesOrder"]}

    def duplicate_creates(self) -> int:
        erp = self.simulator.erp
        with erp.lock:
            creates: Counter[tuple[str, str]] = Counter(erp.creates)
            return sum(erp.duplicates.values()) + sum(n - 1 for n in creates.values() if n > 1)

    def snapshot(self) -> dict[str, Any]:
        return self.simulator.erp.snapshot()

"""The cost book: a SKU's unit cost from the sources the configuration names, in its order.

Readers answer for one or more sources (``erp.average_cost``, ``shopify.unit_cost``, ...);
the book asks them in the configured order and stops at the first source that knows the
SKU, so Shopify is asked only for SKUs the ERP has no cost for. Answers are kept for
``ttl`` seconds, and margin actors asking about the same SKU at the same moment share
one read (a sale names the same few SKUs in many orders).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from gevent.event import AsyncResult

from peppasync.clock import Clock
from peppasync.errors import PeppasyncError

from actors.margin_model import UnitCost

__all__ = ["CostBook", "CostLookup", "CostReader"]


class CostReader(Protocol):
    """One system's unit costs (an adapter owns the vendor's field names)."""

    #: The cost sources this reader answers for, from ``peppasync.config.COST_SOURCES``.
    sources: tuple[str, ...]

    def unit_costs(self, sku: str) -> Mapping[str, Decimal]:
        """The SKU's unit cost per source it knows, in the shop's currency; empty when none.

        Raises ``peppasync.errors.PeppasyncError`` when the system cannot answer now.
        """


@dataclass(frozen=True)
class CostLookup:
    """The cost found (None: no source knows it) and the sources that could not answer."""

    cost: UnitCost | None
    failed: tuple[str, ...] = ()


class CostBook:
    """Unit costs by SKU, read through ``readers`` and kept for ``ttl`` seconds."""

    def __init__(self, readers: Sequence[CostReader], clock: Clock, *, ttl: float = 3600.0) -> None:
        self._readers: dict[str, CostReader] = {}
        for reader in readers:
            for source in reader.sources:
                if source in self._readers:
                    raise ValueError(f"two readers answer for {source}")
                self._readers[source] = reader
        self._clock = clock
        self._ttl = ttl
        self._kept: dict[tuple[int, str], tuple[float, Mapping[str, Decimal]]] = {}
        self._reading: dict[tuple[int, str], AsyncResult] = {}

    def unit_cost(self, sku: str, order: Sequence[str], *, fresh: bool = False) -> CostLookup:
        """The first source in ``order`` with a cost for ``sku``; ``fresh`` skips the cache.

        A source that fails is passed over (named in ``failed``) for the next in order.
        """
        failed: list[str] = []
        for source in order:
            reader = self._readers.get(source)
            if reader is None:
                continue
            try:
                amount = self._read(reader, sku, fresh).get(source)
            except PeppasyncError:
                failed.append(source)
                continue
            if amount is not None:
                return CostLookup(UnitCost(amount, source), tuple(failed))
        return CostLookup(None, tuple(failed))

    def _read(self, reader: CostReader, sku: str, fresh: bool) -> Mapping[str, Decimal]:
        key = (id(reader), sku)
        now = self._clock.monotonic()
        kept = self._kept.get(key)
        if kept is not None and not fresh and now - kept[0] < self._ttl:
            return kept[1]
        pending = self._reading.get(key)
        if pending is not None:
            answer: Mapping[str, Decimal] = pending.get()
            return answer
        pending = self._reading[key] = AsyncResult()
        try:
            answer = reader.unit_costs(sku)
        except BaseException as exc:
            pending.set_exception(exc)
            raise
        finally:
            del self._reading[key]
        self._kept[key] = (now, answer)
        pending.set(answer)
        return answer

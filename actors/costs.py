"""The cost book: a SKU's unit cost from the sources the configuration names, in its order.

Readers answer for one or more sources (``erp.average_cost``, ``shopify.unit_cost``, ...);
the book asks them in the configured order and stops at the first source that knows the
SKU, so Shopify is asked only for SKUs the ERP has no cost for. Answers are kept for
``ttl`` seconds; a reader that failed is passed over for ``retry_after`` seconds.

Two ways to ask:
- ``lookup(..., wait=False)`` answers from what is known and reads the rest in the
  background, calling back when it is known: a margin never waits in the ERP's queue
  (under a sale that queue holds thousands of sales orders), it is recomputed when the
  cost arrives.
- ``lookup(..., wait=True)`` reads what it needs now (an operator's recost).

Margin actors asking about the same SKU at the same moment share one read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import gevent
from gevent.event import AsyncResult

from peppasync.clock import Clock
from peppasync.errors import PeppasyncError

from actors.margin_model import UnitCost

__all__ = ["CostBook", "CostLookup", "CostReader"]

log = logging.getLogger("peppasync.margin")


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
    """The cost found (None: not known), the sources that could not answer, and whether a
    read is under way (the caller is called back when it ends)."""

    cost: UnitCost | None
    failed: tuple[str, ...] = ()
    pending: bool = False


class _Failed:
    """A reader's failure, remembered until it may be asked again."""

    def __init__(self, until: float) -> None:
        self.until = until


class CostBook:
    """Unit costs by SKU, read through ``readers`` and kept for ``ttl`` seconds."""

    def __init__(self, readers: Sequence[CostReader], clock: Clock, *, ttl: float = 3600.0,
                 retry_after: float = 60.0) -> None:
        self._readers: dict[str, CostReader] = {}
        for reader in readers:
            for source in reader.sources:
                if source in self._readers:
                    raise ValueError(f"two readers answer for {source}")
                self._readers[source] = reader
        self._clock = clock
        self._ttl = ttl
        self._retry_after = retry_after
        self._kept: dict[tuple[int, str], tuple[float, Mapping[str, Decimal] | _Failed]] = {}
        self._reading: dict[tuple[int, str], AsyncResult] = {}
        self._waiting: dict[str, list[Callable[[], None]]] = {}
        self._spawned: set[tuple[int, str]] = set()

    def lookup(self, sku: str, order: Sequence[str], *, wait: bool, fresh: bool = False,
               then: Callable[[], None] | None = None) -> CostLookup:
        """The first source in ``order`` with a cost for ``sku``.

        ``wait``: read what is not known now (``fresh``: past anything kept). Without it, a
        source not known yet is read in the background and the lookup stops there,
        ``pending``; ``then`` is called once that read ends (whatever its outcome).
        """
        failed: list[str] = []
        for source in order:
            reader = self._readers.get(source)
            if reader is None:
                continue
            answer = self._read(reader, sku, fresh) if wait else self._known(reader, sku)
            if answer is None:
                self._read_later(reader, sku, then)
                return CostLookup(None, tuple(failed), pending=True)
            if isinstance(answer, _Failed):
                failed.append(source)
                continue
            amount = answer.get(source)
            if amount is not None:
                return CostLookup(UnitCost(amount, source), tuple(failed))
        return CostLookup(None, tuple(failed))

    def _known(self, reader: CostReader, sku: str) -> Mapping[str, Decimal] | _Failed | None:
        kept = self._kept.get((id(reader), sku))
        if kept is None:
            return None
        at, answer = kept
        now = self._clock.monotonic()
        if isinstance(answer, _Failed):
            return answer if now < answer.until else None
        return answer if now - at < self._ttl else None

    def _read(self, reader: CostReader, sku: str, fresh: bool) -> Mapping[str, Decimal] | _Failed:
        """Read now (sharing a read under way); a failure is remembered and returned."""
        key = (id(reader), sku)
        known = None if fresh else self._known(reader, sku)
        if known is not None:
            return known
        pending = self._reading.get(key)
        if pending is not None:
            shared: Mapping[str, Decimal] | _Failed = pending.get()
            return shared
        pending = self._reading[key] = AsyncResult()
        now = self._clock.monotonic()
        answer: Mapping[str, Decimal] | _Failed
        try:
            answer = reader.unit_costs(sku)
        except PeppasyncError as exc:
            log.warning("unit cost not read: passed over for a while", extra={
                "sku": sku, "sources": list(reader.sources), "retry_after_seconds": self._retry_after,
                "error": str(exc)})
            answer = _Failed(now + self._retry_after)
        finally:
            del self._reading[key]
        self._kept[key] = (now, answer)
        pending.set(answer)
        self._tell_waiting(sku)
        return answer

    def _read_later(self, reader: CostReader, sku: str, then: Callable[[], None] | None) -> None:
        """Read in the background unless a read is under way; ``then`` runs when one ends."""
        if then is not None:
            self._waiting.setdefault(sku, []).append(then)
        key = (id(reader), sku)
        if key in self._reading or key in self._spawned:
            return
        self._spawned.add(key)

        def read() -> None:
            try:
                self._read(reader, sku, False)
            finally:
                self._spawned.discard(key)

        gevent.spawn(read)

    def _tell_waiting(self, sku: str) -> None:
        for callback in self._waiting.pop(sku, ()):
            try:
                callback()
            except Exception:
                log.exception("a margin waiting on a unit cost could not be told", extra={"sku": sku})

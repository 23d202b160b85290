"""The reconciler: the self-healing sweeps that make a morning re-sync unnecessary.

Three sweeps find what webhooks missed and repair it: Shopify's orders
(``actors.order_sweep``), the WMS's shipments (``actors.shipment_sweep``) and
Shopify's stock (``actors.stock_sweep``). Each runs in an actor of its own (keys
``orders``, ``shipments``, ``stock``), so that a sweep waiting for the WMS's
request window never holds back the repair of a lost order.

A sweep goes in steps, one page each, and every step is a durable message that
commits what it found together with where the next step starts. So the first
sweep after a start (which may cover a day) is bounded per step and resumes
after a crash where it stopped; a step that fails (a page throttled, the WMS
down) is tried again from that page after ``retry`` seconds (a refused one after
``interval``), without the poison policy's growing backoff and without starting
the sweep over. Steps follow each other at once; ``interval`` seconds separate
the end of one sweep from the start of the next. Every call a sweep makes goes in the connectors' ``RECONCILE`` lane,
which has a slot of its own: healing does not queue behind a surge.

The actor at ``main`` only starts the sweeps' schedules at each boot (and hands
them the cursors an earlier version kept in its own state).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from peppasync.errors import ConnectorError, RejectedError, TransientError
from peppasync.store import Message, Store

from actors.order_sweep import OrdersSweep
from actors.periodic import PeriodicActor
from actors.shipment_sweep import ShipmentsSweep
from actors.stock_sweep import StockSweep

__all__ = ["ReconcilerActor", "Settings", "Sweep"]

log = logging.getLogger("peppasync.reconciler")


class Settings:
    """What the reconciler reads from configuration."""

    def __init__(self, interval: float, overlap: float | None = None, lookback: float = 86_400.0,
                 max_hold: float = 900.0, repairs_per_step: int = 10, retry: float | None = None) -> None:
        if repairs_per_step < 1:
            raise ValueError(f"repairs_per_step must be at least 1, got {repairs_per_step}")
        self.interval = interval
        self.overlap = overlap if overlap is not None else max(2 * interval, 5.0)
        self.lookback = lookback
        # How long a shipment of a busy order is watched before it is let go (logged).
        self.max_hold = max_hold
        self.repairs_per_step = repairs_per_step
        # After a failed step: soon, but not at once (the connector has retried already).
        self.retry = retry if retry is not None else max(0.05, min(interval / 4, 5.0))


class Sweep(Protocol):
    """One of the reconciler's sweeps: ``begin`` fills a new sweep's progress, ``step`` does one page."""

    name: str
    needs: tuple[str, ...]

    def begin(self, progress: dict[str, Any], now: float) -> None: ...

    def step(self, progress: dict[str, Any], now: float) -> bool:
        """One step; True when the sweep is done. A ``TransientError`` or ``RejectedError`` leaves
        ``progress`` where the step can be tried again."""
        ...


_SWEEPS: dict[str, type[OrdersSweep | ShipmentsSweep | StockSweep]] = {
    s.name: s for s in (OrdersSweep, ShipmentsSweep, StockSweep)
}
# What a version with one sweep for everything kept under ``main``, by the sweep that takes it over.
_LEGACY = {"orders": {"orders_cursor": "cursor", "repaired": "repaired"},
           "shipments": {"shipments_cursor": "cursor"}, "stock": {"stock": "stock"}}


class ReconcilerActor(PeriodicActor):
    """One per node and sweep; its steps and ticks are durable messages it sends itself."""

    kind = "reconciler"
    singleton = True

    @property
    def store(self) -> Store:
        return self._ctx.store

    def has_pending(self, kind: str, key: str) -> bool:
        """Whether that actor has messages waiting (delayed ones included)."""
        return bool(self._ctx.store.pending(kind, key, limit=1, now=float("inf")))

    def handle(self, message: Message) -> None:
        legacy = message.payload.get("legacy")
        if message.payload.get("boot") and isinstance(legacy, dict):
            for field, value in legacy.items():
                self.state.setdefault(field, value)
        super().handle(message)

    def tick(self) -> float | None:
        if self.key == self.boot_key:
            self._start_sweeps()
            return None
        sweep = self._sweep()
        if sweep is None:
            return None
        settings: Settings = self.service("reconcile")
        now = self.clock.time()
        progress: dict[str, Any] | None = self.state.get("sweep")
        if progress is None:
            progress = self.state["sweep"] = {"started": now}
            sweep.begin(progress, now)
        try:
            done = sweep.step(progress, now)
        except (TransientError, RejectedError, ConnectorError) as exc:
            failures = self.state["failures"] = int(self.state.get("failures", 0)) + 1
            log.warning("reconciler sweep step failed; it resumes from that step",
                        extra={"sweep": self.key, "error": str(exc), "failures_in_a_row": failures})
            self.on_success(lambda: self.hooks.on_sweep_failed(self.key))
            if isinstance(exc, RejectedError) or (isinstance(exc, ConnectorError) and not exc.transient):
                return settings.interval  # refused: as likely to be refused again soon; the stall alert tells
            return max(settings.retry, float(getattr(exc, "retry_after", None) or 0.0))
        self.state.pop("failures", None)
        if not done:
            return 0.0
        ended = self.clock.time()
        seconds = ended - float(progress["started"])
        del self.state["sweep"]
        self.state["last_success"] = ended
        self.on_success(lambda: self.hooks.on_sweep(self.key, seconds, ended))
        return settings.interval

    def _sweep(self) -> Sweep | None:
        kind = _SWEEPS.get(self.key)
        if kind is None:
            log.error("no reconciler sweep of this name; its schedule ends", extra={"sweep": self.key})
            return None
        sweep: Sweep = kind(self, self.service("reconcile"))
        return sweep

    def _start_sweeps(self) -> None:
        """Start (or take over) each sweep's schedule, for the sweeps whose services the host has."""
        legacy = {field: self.state.pop(field) for field in ("orders_cursor", "shipments_cursor", "repaired", "stock",
                                                              "last_run") if field in self.state}
        services = self._ctx.services
        for name, kind in _SWEEPS.items():
            if not all(needed in services for needed in kind.needs):
                continue
            if name == "stock" and "inventory" not in self._ctx.system.kinds:
                continue
            payload: dict[str, Any] = {"type": "tick", "chain": self.state.get("chain"), "boot": True}
            handed = {new: legacy[old] for old, new in _LEGACY[name].items() if old in legacy}
            if handed:
                payload["legacy"] = handed
            self.send(self.kind, name, payload)

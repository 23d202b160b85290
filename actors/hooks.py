"""Actor events for subscribers (metrics, logs): actors never call prometheus_client.

Restarts and escalations are supervision's events: ``supervisors.SupervisorHooks``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from peppasync.exits import Exit
from peppasync.metrics import MARGIN_COMPONENTS, Metrics

__all__ = ["ActorHooks", "MetricsActorHooks"]


class ActorHooks:
    """No-op base: override what you need. Calls are synchronous and must not block."""

    def on_message(self, kind: str, outcome: str, seconds: float) -> None:
        """A message was handled: outcome is ok, retry or quarantined."""

    def on_activated(self, kind: str) -> None:
        """An actor of this kind started (first message, or after passivation)."""

    def on_deactivated(self, kind: str, exit: Exit) -> None:
        """An actor of this kind ended (passivated, shut down or crashed)."""

    def on_flow(self, flow: str, seconds: float) -> None:
        """A change reached the system it was bound for, ``seconds`` after it began."""

    def on_state(self, kind: str, old: str | None, new: str) -> None:
        """An entity (an order) moved from one state to another."""

    def on_repair(self, kind: str) -> None:
        """The reconciler repaired something webhooks or calls had missed."""

    def on_sweep(self, sweep: str, seconds: float, at: float) -> None:
        """A reconciler sweep went through every page: it took ``seconds`` and ended at ``at`` (epoch)."""

    def on_sweep_failed(self, sweep: str) -> None:
        """A step of a reconciler sweep failed; the sweep resumes from that step."""

    def on_oversell(self, kind: str, units: int) -> None:
        """An order was accepted for ``units`` more than the stock there was."""

    def on_margin(self, currency: str, changes: Mapping[str, Decimal], first_percent: Decimal | None,
                  fell_below_floor: bool) -> None:
        """An order's margin changed by ``changes`` (component -> amount, shop currency).

        ``first_percent``: the margin percent when this is the order's first margin;
        ``fell_below_floor``: it just went under ``[margin] floor_percent``.
        """


    def on_gate(self, gate: str, old: str | None, new: str, *, breached: bool, seconds: float | None) -> None:
        """A build-to-order gate moved from ``old`` to ``new`` (open, held, passed, rejected);
        ``breached``: past its due time; ``seconds``: how long it was open, once it is decided."""

    def on_gate_breach(self, gate: str) -> None:
        """A gate went past its due time (once per gate and order)."""


class MetricsActorHooks(ActorHooks):
    """Keeps the message and activation metrics of DESIGN.md up to date."""

    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def on_message(self, kind: str, outcome: str, seconds: float) -> None:
        self._m.messages_total.labels(actor=kind, outcome=outcome).inc()
        self._m.message_duration_seconds.labels(actor=kind).observe(seconds)

    def on_activated(self, kind: str) -> None:
        self._m.actors_active.labels(actor=kind).inc()

    def on_deactivated(self, kind: str, exit: Exit) -> None:
        self._m.actors_active.labels(actor=kind).dec()

    def on_flow(self, flow: str, seconds: float) -> None:
        self._m.sync_lag_seconds.labels(flow=flow).observe(max(0.0, seconds))

    def on_state(self, kind: str, old: str | None, new: str) -> None:
        if kind != "order":
            return
        if old is not None:
            self._m.orders.labels(state=old).dec()
        self._m.orders.labels(state=new).inc()

    def on_repair(self, kind: str) -> None:
        self._m.reconcile_repairs_total.labels(kind=kind).inc()

    def on_sweep(self, sweep: str, seconds: float, at: float) -> None:
        self._m.reconcile_sweep_duration_seconds.labels(sweep=sweep).observe(max(0.0, seconds))
        self._m.reconcile_last_success_timestamp_seconds.labels(sweep=sweep).set(at)

    def on_sweep_failed(self, sweep: str) -> None:
        self._m.reconcile_sweep_failures_total.labels(sweep=sweep).inc()

    def on_oversell(self, kind: str, units: int) -> None:
        self._m.oversells_total.inc()

    def on_margin(self, currency: str, changes: Mapping[str, Decimal], first_percent: Decimal | None,
                  fell_below_floor: bool) -> None:
        for name, change in changes.items():
            component = name if name in MARGIN_COMPONENTS else "other"
            if change > 0:
                self._m.margin_amount_total.labels(component=component, currency=currency).inc(float(change))
            elif change < 0:
                self._m.margin_amount_reversed_total.labels(component=component, currency=currency).inc(float(-change))
        if first_percent is not None:
            self._m.margin_percent.observe(float(first_percent))
        if fell_below_floor:
            self._m.margin_below_floor_total.inc()

    def on_gate(self, gate: str, old: str | None, new: str, *, breached: bool, seconds: float | None) -> None:
        if old in _OPEN_GATE:
            self._m.gates.labels(gate=gate, state=old).dec()
            if breached and new not in _OPEN_GATE:
                self._m.gates_overdue.labels(gate=gate).dec()
        if new in _OPEN_GATE:
            self._m.gates.labels(gate=gate, state=new).inc()
        elif seconds is not None:
            self._m.gate_seconds.labels(gate=gate, outcome=new).observe(max(0.0, seconds))

    def on_gate_breach(self, gate: str) -> None:
        self._m.gate_sla_breaches_total.labels(gate=gate).inc()
        self._m.gates_overdue.labels(gate=gate).inc()


_OPEN_GATE = ("open", "held")

"""Backlog gauges: depth, oldest age and drain ETA per actor kind, as /metrics shows them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from peppasync.backlog import BacklogGauges
from peppasync.clock import ManualClock
from peppasync.metrics import Metrics
from peppasync.store import open_store


def test_the_drain_eta_is_the_depth_over_the_rate_handled_since_the_last_look(tmp_path: Path) -> None:
    clock = ManualClock()
    store = open_store(f"sqlite:///{tmp_path}/store.db", clock=clock)
    store.migrate()
    metrics = Metrics(CollectorRegistry(), process=False)
    gauges = BacklogGauges(store, metrics, ["order", "margin"])
    for n in range(10):
        store.enqueue("order", f"o{n}", {"n": n})
    clock.advance(4.0)

    def gauge(name: str, kind: str) -> float | None:
        return metrics.registry.get_sample_value(f"peppasync_{name}", {"actor": kind})

    try:
        gauges.refresh(clock.time())
        assert (gauge("mailbox_depth", "order"), gauge("mailbox_oldest_age_seconds", "order")) == (10, 4.0)
        assert gauge("mailbox_depth", "margin") == 0 and gauge("backlog_drain_seconds", "margin") == 0

        # 4 done and 1 quarantined in 2 s; retries and other kinds' messages are not drained ones.
        metrics.messages_total.labels(actor="order", outcome="ok").inc(4)
        metrics.messages_total.labels(actor="order", outcome="quarantined").inc(1)
        metrics.messages_total.labels(actor="order", outcome="retry").inc(7)
        metrics.messages_total.labels(actor="margin", outcome="ok").inc(50)
        clock.advance(2.0)
        gauges.refresh(clock.time())
        assert gauge("backlog_drain_seconds", "order") == pytest.approx(10 / (5 / 2.0))

        clock.advance(2.0)
        metrics.messages_total.labels(actor="order", outcome="retry").inc(3)
        gauges.refresh(clock.time())
        assert math.isinf(gauge("backlog_drain_seconds", "order") or 0.0)  # nothing drained: it never ends
    finally:
        store.close()

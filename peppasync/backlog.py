"""Backlog gauges: depth, oldest age and drain ETA per actor kind, read from the store.

The store is the mailbox of record, so the backlog is measured there, not in
memory. The drain ETA divides the depth by the handling rate seen since the
last reading.
"""

from __future__ import annotations

from peppasync.metrics import Metrics
from peppasync.store import Store

__all__ = ["BacklogGauges"]


class BacklogGauges:
    """Refreshes the mailbox and quarantine gauges; call ``refresh()`` periodically."""

    def __init__(self, store: Store, metrics: Metrics, kinds: list[str]) -> None:
        self._store = store
        self._metrics = metrics
        self._kinds = list(kinds)
        self._last: dict[str, tuple[float, float]] = {}
        self._known_quarantine: set[tuple[str, str]] = set()

    def _handled(self) -> dict[str, float]:
        """Messages handled (done or quarantined) so far, by kind.

        From the counter's own series in one pass: the registry's ``get_sample_value``
        collects every metric of the process for each value it finds, which held the hub
        for tens of milliseconds at every refresh under a surge.
        """
        handled: dict[str, float] = {}
        for family in self._metrics.messages_total.collect():
            for sample in family.samples:
                if sample.name == "peppasync_messages_total" and sample.labels["outcome"] in ("ok", "quarantined"):
                    kind = sample.labels["actor"]
                    handled[kind] = handled.get(kind, 0.0) + sample.value
        return handled

    def refresh(self, now: float) -> None:
        m = self._metrics
        stats = self._store.mailbox_stats(now=now)
        handled_by_kind = self._handled()
        for kind in sorted(set(self._kinds) | set(stats)):
            s = stats.get(kind)
            depth = s.depth if s else 0
            age = s.oldest_age_seconds if s else 0.0
            m.mailbox_depth.labels(actor=kind).set(depth)
            m.mailbox_oldest_age_seconds.labels(actor=kind).set(age)
            handled = handled_by_kind.get(kind, 0.0)
            before = self._last.get(kind)
            self._last[kind] = (now, handled)
            if depth == 0:
                m.backlog_drain_seconds.labels(actor=kind).set(0)
            elif before is not None and now > before[0] and handled > before[1]:
                rate = (handled - before[1]) / (now - before[0])
                m.backlog_drain_seconds.labels(actor=kind).set(depth / rate)
            elif before is not None:
                # Nothing drained since the last look: the backlog does not drain at all.
                m.backlog_drain_seconds.labels(actor=kind).set(float("inf"))
        counts = self._store.quarantine_counts()
        for kind, reason in self._known_quarantine - set(counts):
            m.quarantined_messages.labels(actor=kind, reason=reason).set(0)
        for (kind, reason), count in counts.items():
            m.quarantined_messages.labels(actor=kind, reason=reason).set(count)
        self._known_quarantine |= set(counts)
        m.store_up.set(1 if self._store.ping() else 0)

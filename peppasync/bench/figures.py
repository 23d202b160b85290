"""The figures a benchmark reports, computed from the simulators' ledgers and state."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from peppasync.sandbox import LedgerEntry

__all__ = ["NOT_CALLS", "EngineCalls", "ErpFigures", "erp_figures", "percentile", "slots_in_use"]

#: Outcomes that held no slot of the ERP (or are not calls of the ERP's API).
NOT_CALLS = ("throttled", "unauthorized", "token")


@dataclass(frozen=True)
class ErpFigures:
    """What the ERP's ledger says about a run: R calls of mean latency L under a cap of C.

    ``calls`` counts the requests the ERP admitted (they held one of its C slots: writes,
    5xx and resets alike); refused ones (429) are ``throttled`` and held no slot. No
    middleware can do those calls sooner than ``physical_limit`` = R * L / C.
    """

    calls: int
    mean_latency: float
    concurrency: int
    throttled: int
    errors: int
    resets: int

    @property
    def physical_limit(self) -> float:
        return self.calls * self.mean_latency / self.concurrency

    @property
    def throttled_share(self) -> float:
        total = self.calls + self.throttled
        return self.throttled / total if total else 0.0

    def efficiency(self, measured: float) -> float:
        """The physical limit over the measured time: 1.0 means the ERP's slots were never idle."""
        return self.physical_limit / measured if measured > 0 else 0.0


@dataclass(frozen=True)
class EngineCalls:
    """What the engines' own metrics say of their calls to one connector and of their hubs.

    A call's time (``peppasync_connector_request_duration_seconds``) runs from the moment it
    is sent, its slot held, to the moment its answer is judged: the ERP's own time, and
    the way there and back (both processes' sockets, the sandbox's and the engine's wait
    for their hubs). ``peppasync_hub_lag_seconds`` is how late the engine's hub wakes a
    timer: what each of those waits costs. ``peppasync_gc_pause_seconds``: the pauses of
    its garbage collector, every greenlet stopped for each.
    """

    calls: int
    seconds: float
    hub_lag_samples: int
    hub_lag_seconds: float
    gc_pauses: int = 0
    gc_pause_seconds: float = 0.0
    gc_full_collections: int = 0

    @classmethod
    def from_metrics(cls, texts: Iterable[str], connector: str) -> EngineCalls:
        """Summed over the Prometheus expositions of every node."""
        # (sample, label, its value or None for any): the field it adds to
        wanted = {("peppasync_connector_request_duration_seconds_count", "connector", connector): "calls",
                  ("peppasync_connector_request_duration_seconds_sum", "connector", connector): "seconds",
                  ("peppasync_hub_lag_seconds_count", None, None): "hub_lag_samples",
                  ("peppasync_hub_lag_seconds_sum", None, None): "hub_lag_seconds",
                  ("peppasync_gc_pause_seconds_count", None, None): "gc_pauses",
                  ("peppasync_gc_pause_seconds_sum", None, None): "gc_pause_seconds",
                  ("peppasync_gc_pause_seconds_count", "generation", "2"): "gc_full_collections"}
        found = dict.fromkeys(wanted.values(), 0.0)
        for text in texts:
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    for (name, label, value), field in wanted.items():
                        if sample.name == name and (label is None or sample.labels.get(label) == value):
                            found[field] += sample.value
        return cls(calls=int(found["calls"]), seconds=found["seconds"],
                   hub_lag_samples=int(found["hub_lag_samples"]), hub_lag_seconds=found["hub_lag_seconds"],
                   gc_pauses=int(found["gc_pauses"]), gc_pause_seconds=found["gc_pause_seconds"],
                   gc_full_collections=int(found["gc_full_collections"]))

    @property
    def mean_seconds(self) -> float:
        return self.seconds / self.calls if self.calls else 0.0

    @property
    def hub_lag_mean(self) -> float:
        return self.hub_lag_seconds / self.hub_lag_samples if self.hub_lag_samples else 0.0


def erp_figures(entries: Iterable[LedgerEntry], concurrency: int, *, since: float = -math.inf,
                until: float = math.inf) -> ErpFigures:
    """R, L and C from the ERP ledger's entries that started within [since, until]."""
    if concurrency < 1:
        raise ValueError(f"the concurrency limit must be at least 1, got {concurrency}")
    admitted: list[LedgerEntry] = []
    throttled = 0
    for entry in entries:
        if not since <= entry.started <= until:
            continue
        if entry.outcome == "throttled":
            throttled += 1
        elif entry.outcome != "unauthorized":
            admitted.append(entry)
    mean = sum(e.duration for e in admitted) / len(admitted) if admitted else 0.0
    return ErpFigures(
        calls=len(admitted), mean_latency=mean, concurrency=concurrency, throttled=throttled,
        errors=sum(1 for e in admitted if e.outcome == "error"),
        resets=sum(1 for e in admitted if e.outcome == "reset"),
    )


def slots_in_use(entries: Iterable[LedgerEntry], since: float, until: float) -> float:
    """How many of the ERP's slots its calls held on average within [since, until]."""
    if until <= since:
        raise ValueError(f"an empty span: from {since} to {until}")
    held = sum(max(0.0, min(e.started + e.duration, until) - max(e.started, since))
               for e in entries if e.outcome not in NOT_CALLS)
    return held / (until - since)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100); a ValueError when there are no values."""
    if not values:
        raise ValueError("a percentile of no values")
    if not 0 < q <= 100:
        raise ValueError(f"q must be within (0, 100], got {q!r}")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]

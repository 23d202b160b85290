"""The benchmark's figures: the physical limit R*L/C, efficiency, the 429 share, percentiles."""

from __future__ import annotations

import pytest

from peppasync.bench import erp_figures, percentile
from peppasync.sandbox import LedgerEntry


def _entry(started: float, duration: float, outcome: str = "created") -> LedgerEntry:
    return LedgerEntry("netsuite", "PUT", "/x", started, duration, 204, outcome)


def test_the_physical_limit_is_calls_times_mean_latency_over_the_concurrency_cap():
    entries = [_entry(n, 2.0) for n in range(10)] + [_entry(n, 4.0, "error") for n in range(10)]

    figures = erp_figures(entries, concurrency=5)

    assert (figures.calls, figures.mean_latency, figures.errors) == (20, 3.0, 10)
    assert figures.physical_limit == pytest.approx(12.0)
    assert figures.efficiency(15.0) == pytest.approx(0.8)


def test_throttled_calls_held_no_slot_and_count_only_in_the_429_share():
    entries = [_entry(0, 1.0)] * 49 + [_entry(0, 0.0, "throttled")]

    figures = erp_figures(entries, concurrency=1)

    assert figures.calls == 49 and figures.throttled == 1
    assert figures.throttled_share == pytest.approx(0.02)
    assert figures.physical_limit == pytest.approx(49.0)


def test_only_calls_that_started_within_the_window_count():
    entries = [_entry(0.5, 1.0), _entry(5.0, 1.0), _entry(20.0, 1.0)]

    assert erp_figures(entries, concurrency=1, since=1.0, until=10.0).calls == 1


def test_percentiles_are_nearest_rank_and_need_values():
    values = [float(n) for n in range(1, 101)]

    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="concurrency limit"):
        erp_figures([], concurrency=0)

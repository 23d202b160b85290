"""The benchmark's figures: the physical limit R*L/C, efficiency, the 429 share, percentiles, heal times."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from peppasync.bench import HealFigures, erp_figures, percentile, wms_drain
from peppasync.bench.client_ceiling import client_occupancy
from peppasync.bench.figures import EngineCalls, slots_in_use
from peppasync.metrics import Metrics
from peppasync.sandbox import LedgerEntry

from actors.connectors.hooks import MetricsConnectorHooks


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


def _wms(path: str, outcome: str = "ok", started: float = 0.0) -> LedgerEntry:
    return LedgerEntry("wms", "POST", path, started, 0.1, 200, outcome)


def test_the_wms_drains_its_calls_at_its_windows_rate_and_refused_or_v2_calls_take_none_of_it():
    entries = ([_wms("/orders/createorder")] * 70 + [_wms("/shipments")] * 10
               + [_wms("/orders/createorder", "throttled")] + [_wms("/v2/inventory")] * 5
               + [_wms("/shipments", started=-5.0)])

    assert wms_drain(entries, limit=40, seconds=60.0, since=0.0) == pytest.approx(120.0)


def test_lost_orders_heal_in_time_only_when_each_system_has_them_within_two_intervals_of_its_own_drain():
    def heal(to_erp: tuple[float, ...], to_consistent: tuple[float, ...], unhealed: int = 0) -> HealFigures:
        return HealFigures(interval=5.0, lost=len(to_erp) + unhealed, to_erp=to_erp, to_consistent=to_consistent,
                           unhealed=unhealed, erp_drain=30.0, wms_drain=46.0)

    assert (heal((), ()).erp_target, heal((), ()).target) == (40.0, 56.0)
    assert heal((12.0, 40.0), (30.0, 56.0)).met is True
    assert heal((12.0, 41.0), (30.0, 50.0)).met is False  # late in the ERP, though the WMS hid it
    assert heal((12.0,), (57.0,)).met is False
    assert heal((12.0,), (30.0,), unhealed=1).met is False
    assert heal((), ()).met is None
    assert heal((10.0, 20.0, 30.0), (10.0, 20.0, 30.0)).as_dict()["to_consistent_seconds"] == {
        "p50": 20.0, "p99": 30.0, "max": 30.0}


def test_the_client_ceiling_is_the_share_of_the_slots_held_from_when_all_were_in_use():
    # Two slots. Slot one: calls of 1 s with 0.25 s between them; slot two starts 0.5 s late
    # and leaves 0.75 s between its calls. A throttled answer and a call before the probe held nothing.
    one = [_entry(1.25 * n, 1.0) for n in range(8)]
    two = [_entry(0.5 + 1.75 * n, 1.0) for n in range(6)]
    noise = [_entry(3.0, 0.0, "throttled"), _entry(-5.0, 1.0)]

    ceiling = client_occupancy(one + two + noise, concurrency=2, since=0.0, until=8.25)

    # From 0.5 s (both in use) to 8.25 s: slot one holds the last 0.5 s of its first call, five
    # whole calls and 0.75 s of the one under way at the end; slot two four calls and 0.75 s.
    assert ceiling.seconds == pytest.approx(7.75)
    assert ceiling.occupancy == pytest.approx((6.25 + 4.75) / 15.5)
    assert ceiling.calls == 12 and ceiling.mean_latency == pytest.approx(1.0)
    assert ceiling.gap == pytest.approx(15.5 / 11.0 - 1.0)


def test_slots_in_use_count_the_part_of_each_call_within_the_span_and_nothing_refused():
    # From 1 s to 3 s: half of the first call, all of the second, a quarter of the third;
    # a 429 held no slot, and a call after the span none of it.
    entries = [_entry(0.0, 2.0), _entry(1.5, 1.0), _entry(2.5, 2.0), _entry(1.0, 2.0, "throttled"), _entry(3.0, 1.0)]

    assert slots_in_use(entries, 1.0, 3.0) == pytest.approx((1.0 + 1.0 + 0.5) / 2.0)
    with pytest.raises(ValueError, match="an empty span"):
        slots_in_use(entries, 3.0, 3.0)


def test_a_probe_that_never_filled_every_slot_is_refused_with_what_it_made():
    with pytest.raises(ValueError, match="the probe made 1 calls, fewer than the ERP's 2 slots"):
        client_occupancy([_entry(0.0, 1.0)], concurrency=2, since=0.0, until=1.0)
    with pytest.raises(ValueError, match="ended 0.500 s before all 2 slots were in use"):
        client_occupancy([_entry(0.0, 1.0), _entry(1.0, 1.0)], concurrency=2, since=0.0, until=0.5)


def _exposition(calls: dict[str, list[float]], lags: list[float],
                pauses: tuple[tuple[str, float], ...] = ()) -> str:
    metrics = Metrics(CollectorRegistry(), process=False)
    hooks = MetricsConnectorHooks(metrics)
    for connector, durations in calls.items():
        for seconds in durations:
            hooks.on_request(connector, "ok", seconds)
    for lag in lags:
        metrics.hub_lag_seconds.observe(lag)
    for generation, seconds in pauses:
        metrics.gc_pause_seconds.labels(generation=generation).observe(seconds)
    return generate_latest(metrics.registry).decode()


def test_the_engines_calls_to_one_connector_their_hub_lag_and_gc_pauses_are_summed_over_every_node():
    one = _exposition({"netsuite": [0.1, 0.2], "shopify": [5.0]}, [0.002, 0.004], (("0", 0.01), ("2", 0.2)))
    two = _exposition({"netsuite": [0.3]}, [0.006], (("1", 0.05),))

    calls = EngineCalls.from_metrics([one, two, ""], "netsuite")  # "": a node that did not answer

    assert calls.calls == 3 and calls.mean_seconds == pytest.approx(0.2)
    assert calls.hub_lag_samples == 3 and calls.hub_lag_mean == pytest.approx(0.004)
    assert (calls.gc_pauses, calls.gc_full_collections) == (3, 1)
    assert calls.gc_pause_seconds == pytest.approx(0.26)
    assert EngineCalls.from_metrics([one], "business_central").mean_seconds == 0.0

"""The client-side cost bucket: waits instead of THROTTLED, and serves those who wait in turn."""

from __future__ import annotations

import gevent
import gevent.event
import pytest

from peppasync.clock import ManualClock

from actors.connectors import CostBucket

from .conftest import FakeTime


class SteppedTime:
    """A manual clock whose ``sleep`` parks the caller until ``tick`` has moved the clock that far."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self._moved = gevent.event.Event()

    def sleep(self, seconds: float) -> None:
        until = self.clock.monotonic() + seconds
        while self.clock.monotonic() < until:
            self._moved.wait()

    def run(self, greenlets: list[gevent.Greenlet], step: float = 0.1, limit: float = 60.0) -> None:
        """Move time on by ``step`` (letting every greenlet run between steps) until they are all done."""
        while not all(g.dead for g in greenlets) and self.clock.monotonic() < limit:
            gevent.idle()
            self.clock.advance(step)
            self._moved.set()
            self._moved = gevent.event.Event()
        gevent.joinall(greenlets, raise_error=True)


def _bucket(fake_time: FakeTime, available: float, maximum: float = 1000.0, rate: float = 50.0) -> CostBucket:
    bucket = CostBucket(fake_time.clock, fake_time.sleep)
    bucket.observe({"maximumAvailable": maximum, "currentlyAvailable": available, "restoreRate": rate})
    return bucket


def test_a_call_the_points_cover_is_not_held_up(fake_time: FakeTime) -> None:
    bucket = _bucket(fake_time, available=500.0)

    bucket.reserve(426.0)

    assert fake_time.slept == []
    assert bucket.available() == pytest.approx(74.0)


def test_a_big_read_waiting_for_points_is_not_passed_over_by_small_writes_that_come_after_it() -> None:
    time = SteppedTime()
    bucket = CostBucket(time.clock, time.sleep)
    bucket.observe({"maximumAvailable": 1000.0, "currentlyAvailable": 0.0, "restoreRate": 50.0})
    done: list[tuple[str, float]] = []

    def call(name: str, cost: float) -> None:
        bucket.reserve(cost)
        done.append((name, time.clock.monotonic()))

    greenlets = [gevent.spawn(call, "order read", 426.0)]
    gevent.idle()
    greenlets += [gevent.spawn(call, f"stock push {n}", 10.0) for n in range(20)]
    gevent.idle()
    waiting = bucket.waiting
    time.run(greenlets)

    assert waiting == 21
    assert [name for name, _ in done] == ["order read", *(f"stock push {n}" for n in range(20))]
    assert done[0][1] == pytest.approx(426.0 / 50.0, abs=0.1)
    assert done[-1][1] == pytest.approx((426.0 + 20 * 10.0) / 50.0, abs=0.2)
    assert bucket.waiting == 0


def test_a_caller_killed_while_waiting_hands_its_turn_on_and_spends_nothing() -> None:
    time = SteppedTime()
    bucket = CostBucket(time.clock, time.sleep)
    bucket.observe({"maximumAvailable": 1000.0, "currentlyAvailable": 0.0, "restoreRate": 10.0})
    first = gevent.spawn(bucket.reserve, 1000.0)
    gevent.idle()
    second = gevent.spawn(bucket.reserve, 5.0)
    gevent.idle()

    first.kill()
    time.run([second])

    assert bucket.waiting == 0
    assert time.clock.monotonic() == pytest.approx(0.5, abs=0.1)


def test_a_node_of_a_cluster_believes_only_its_part_of_the_shops_bucket(fake_time: FakeTime) -> None:
    bucket = _bucket(fake_time, available=900.0, maximum=1000.0, rate=60.0)

    bucket.set_share(1 / 3)
    after_share = (bucket.available(), bucket.maximum, bucket.restore_rate)
    bucket.observe({"maximumAvailable": 1000.0, "currentlyAvailable": 600.0, "restoreRate": 60.0})
    reported = bucket.available()
    bucket.reserve(250.0)

    assert after_share == pytest.approx((300.0, 1000 / 3, 20.0))
    assert reported == pytest.approx(200.0)
    assert fake_time.slept == [pytest.approx(2.5)]  # 50 points short at 20 points a second


def test_a_share_outside_zero_to_one_is_refused(fake_time: FakeTime) -> None:
    with pytest.raises(ValueError, match=r"within \(0, 1\], got 0"):
        _bucket(fake_time, available=10.0).set_share(0)

"""HubLag: how late the hub wakes a timer, sampled by a greenlet of its own."""

import time

import gevent
import pytest

from peppasync.hub_lag import HubLag


def test_a_hub_held_by_work_that_does_not_yield_shows_in_the_samples_and_stopping_ends_them():
    told: list[float] = []
    lag = HubLag(0.02, observe=told.append)
    lag.start()
    gevent.sleep(0.1)  # a free hub
    end = time.perf_counter() + 0.2
    while time.perf_counter() < end:
        pass  # holds the hub
    gevent.sleep(0.05)
    lag.stop()
    seen = lag.figures()
    gevent.sleep(0.1)

    assert lag.figures() == seen  # stopped
    assert seen["samples"] == len(told) >= 4
    assert max(told) >= 0.15  # the sample due while the hub was held
    assert min(told) < 0.01
    assert seen["mean_seconds"] == pytest.approx(sum(told) / len(told))


def test_no_sample_yet_gives_no_mean_and_an_interval_must_be_positive():
    assert HubLag().figures() == {"samples": 0, "mean_seconds": None}
    with pytest.raises(ValueError, match="the interval must be positive, got 0"):
        HubLag(0)

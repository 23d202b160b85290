"""The request window's model on a node of a cluster: only its part of the account's window."""

from __future__ import annotations

import pytest

from actors.connectors.window import RequestWindow

from .conftest import FakeTime


def _headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {"X-Rate-Limit-Limit": str(limit), "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Reset": str(reset)}


def test_a_node_with_a_third_of_the_window_spends_a_third_then_waits_for_the_reset(fake_time: FakeTime) -> None:
    window = RequestWindow(fake_time.clock, fake_time.sleep)
    window.set_share(1 / 3)
    window.observe(_headers(40, 40, 60))

    for _ in range(13):
        window.admit()
    waited_before = list(fake_time.slept)
    window.admit()

    assert (window.limit, waited_before) == (13, [])
    assert fake_time.slept == [pytest.approx(60.0)]


def test_a_share_given_later_scales_what_the_window_believes(fake_time: FakeTime) -> None:
    window = RequestWindow(fake_time.clock, fake_time.sleep)
    window.observe(_headers(40, 30, 60))

    window.set_share(0.5)

    assert (window.limit, window.remaining) == (20, 15)

"""The request window's model on a node of a cluster: only its part of the account's window."""

from __future__ import annotations

import gevent
import gevent.event
import pytest

from peppasync.clock import SystemClock

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


def test_the_window_ends_at_the_earliest_end_its_answers_bound_not_the_latest(fake_time: FakeTime) -> None:
    # Resets come in whole seconds, rounded up: an answer at 0.0 saying 3 puts the end at 3.0 at
    # the latest; one at 0.9 saying 3 only at 3.9 at the latest.
    window = RequestWindow(fake_time.clock, fake_time.sleep)
    began = fake_time.clock.monotonic()
    window.admit()
    window.observe(_headers(3, 2, 3))
    window.admit()
    fake_time.clock.advance(0.9)
    window.observe(_headers(3, 1, 3))
    window.admit()
    window.observe(_headers(3, 0, 3))

    window.admit()

    assert fake_time.clock.monotonic() - began == pytest.approx(3.0)
    assert window.remaining == 2


def test_an_answer_counted_in_the_window_before_says_nothing_of_the_new_one(fake_time: FakeTime) -> None:
    window = RequestWindow(fake_time.clock, fake_time.sleep)
    window.observe(_headers(2, 2, 3))
    sent = gevent.event.Event()
    answered = gevent.event.Event()

    def slow_call() -> None:  # admitted in the first window, answered after it reset
        window.admit()
        sent.set()
        answered.wait()
        window.observe(_headers(2, 0, 1))

    slow = gevent.spawn(slow_call)
    sent.wait()
    window.admit()
    window.observe(_headers(2, 0, 3))
    window.admit()  # waits out the window: a new one, with two requests
    answered.set()
    slow.join()
    left = window.remaining
    window.admit()

    assert (left, window.remaining, fake_time.slept) == (1, 0, [pytest.approx(3.0)])


def test_what_other_nodes_spent_does_not_shrink_this_nodes_part_of_the_window(fake_time: FakeTime) -> None:
    window = RequestWindow(fake_time.clock, fake_time.sleep)
    window.set_share(1 / 3)
    window.observe(_headers(40, 40, 3))
    window.admit()
    # The other two nodes spent 14 of the window meanwhile: 25 left of the account's 40.
    window.observe(_headers(40, 25, 3))

    for _ in range(12):
        window.admit()  # this node's part is 13: all of it without a wait
    waited_before = list(fake_time.slept)
    window.observe(_headers(40, 1, 3))
    window.admit()

    assert (window.limit, waited_before) == (13, [])
    assert fake_time.slept == [pytest.approx(3.0)]


def test_a_window_spent_by_the_other_nodes_stops_this_one_before_its_part_is_spent(fake_time: FakeTime) -> None:
    window = RequestWindow(fake_time.clock, fake_time.sleep)
    window.set_share(1 / 3)
    window.observe(_headers(40, 2, 3))  # the others took all but two (their parts had just grown)

    window.admit()
    window.admit()
    waited_before = list(fake_time.slept)
    window.admit()

    assert (waited_before, fake_time.slept) == ([], [pytest.approx(3.0)])


def test_a_part_that_wavers_with_demand_keeps_its_requests(fake_time: FakeTime) -> None:
    window = RequestWindow(fake_time.clock, fake_time.sleep)
    window.set_share(0.333)
    window.observe(_headers(40, 40, 3))
    before = (window.limit, window.remaining)

    for _ in range(6):  # the nodes' demand moves a little every round: six rounds of one window
        window.set_share(0.34)
        window.set_share(0.333)

    assert before == (13, 13)
    assert (window.limit, window.remaining) == (13, 13)


def _admit_in_turn(window: RequestWindow, log: list[str], name: str) -> None:
    window.admit()
    log.append(name)


def test_until_a_report_one_call_at_a_time_goes_and_an_answer_without_headers_lets_the_next_go_at_once() -> None:
    window = RequestWindow(SystemClock(), gevent.sleep, probe_timeout=1.0)
    log: list[str] = []
    window.admit()  # the first call: it goes, and its answer is to tell the window
    calls = [gevent.spawn(_admit_in_turn, window, log, name) for name in ("second", "third")]
    gevent.sleep(0.05)
    assert log == []  # both wait for that answer

    window.observe({"Content-Type": "application/json"})  # a 500 in an outage: no window in it
    window.settled()
    gevent.sleep(0.05)
    assert log == ["second"]  # at once, not a probe_timeout later; it tries to learn the window in turn

    calls[0].join()  # the second call's greenlet has ended: its turn with it only once it settles
    assert log == ["second"]
    gevent.joinall(calls, timeout=3)
    assert log == ["second", "third"]  # the second never settled: the third went after probe_timeout


def test_an_answer_with_the_window_lets_every_waiting_call_go() -> None:
    window = RequestWindow(SystemClock(), gevent.sleep, probe_timeout=5.0)
    log: list[str] = []
    window.admit()
    calls = [gevent.spawn(_admit_in_turn, window, log, name) for name in ("second", "third")]
    gevent.sleep(0.05)

    window.observe(_headers(40, 39, 60))
    window.settled()
    gevent.joinall(calls, timeout=1, raise_error=True)

    assert log == ["second", "third"] and window.remaining == 37

import gevent.event
import pytest

from supervisors import GeventScheduler


def test_a_manual_scheduler_runs_nothing_until_the_clock_reaches_it(scheduler):
    ran: list[str] = []
    scheduler.call_later(5.0, lambda: ran.append("five"))

    early = scheduler.advance(4.9)
    on_time = scheduler.advance(0.1)

    assert (early, on_time, ran) == (0, 1, ["five"])


def test_a_manual_scheduler_runs_due_callbacks_in_due_order(scheduler):
    ran: list[str] = []
    scheduler.call_later(3.0, lambda: ran.append("three"))
    scheduler.call_later(1.0, lambda: ran.append("one"))
    scheduler.call_later(2.0, lambda: ran.append("two"))

    scheduler.advance(10.0)

    assert ran == ["one", "two", "three"]


def test_a_cancelled_callback_never_runs(scheduler):
    ran: list[str] = []
    call = scheduler.call_later(1.0, lambda: ran.append("cancelled"))

    call.cancel()
    scheduler.advance(2.0)

    assert ran == [] and scheduler.pending() == []


def test_pending_shows_how_long_until_each_callback(scheduler):
    scheduler.call_later(2.0, lambda: None)
    scheduler.call_later(7.0, lambda: None)

    scheduler.advance(1.0)

    assert scheduler.pending() == [1.0, 6.0]


def test_a_failing_callback_does_not_stop_the_others(scheduler):
    ran: list[str] = []
    scheduler.call_later(1.0, lambda: 1 / 0)
    scheduler.call_later(1.0, lambda: ran.append("after"))

    scheduler.advance(1.0)

    assert ran == ["after"]


def test_the_gevent_scheduler_runs_the_callback_on_a_timer():
    done = gevent.event.Event()

    GeventScheduler().call_later(0.001, done.set)

    assert done.wait(5.0)


def test_a_cancelled_gevent_callback_never_runs():
    ran: list[str] = []
    later = gevent.event.Event()
    call = GeventScheduler().call_later(0.001, lambda: ran.append("cancelled"))
    call.cancel()
    GeventScheduler().call_later(0.002, later.set)

    later.wait(5.0)

    assert ran == []


@pytest.mark.parametrize("make", [lambda s: s, lambda s: GeventScheduler()])
def test_a_negative_delay_is_refused(scheduler, make):
    with pytest.raises(ValueError, match="a delay cannot be negative, got -1"):
        make(scheduler).call_later(-1, lambda: None)

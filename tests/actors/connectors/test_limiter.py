"""The concurrency limiter: FIFO, a limit that can change at once, pause and resume."""

from __future__ import annotations

import gevent
import gevent.event
import pytest

from actors.connectors import ConcurrencyLimiter


def _hold(limiter: ConcurrencyLimiter, release: gevent.event.Event, log: list[int], n: int) -> None:
    with limiter.slot():
        log.append(n)
        release.wait()


def test_the_limiter_never_exceeds_its_limit_under_200_concurrent_greenlets() -> None:
    limiter = ConcurrencyLimiter(7)
    peak = 0
    done = []

    def work(n: int) -> None:
        nonlocal peak
        with limiter.slot():
            peak = max(peak, limiter.inflight)
            gevent.sleep(0)
            done.append(n)

    gevent.joinall([gevent.spawn(work, n) for n in range(200)], raise_error=True)

    assert peak == 7
    assert sorted(done) == list(range(200))
    assert limiter.inflight == 0 and limiter.waiting == 0


def test_waiters_are_admitted_in_the_order_they_arrived() -> None:
    limiter = ConcurrencyLimiter(1)
    release = gevent.event.Event()
    order: list[int] = []
    first = gevent.spawn(_hold, limiter, release, order, 0)
    gevent.sleep(0)
    passed = gevent.event.Event()
    passed.set()
    rest = []
    for n in range(1, 6):
        rest.append(gevent.spawn(_hold, limiter, passed, order, n))
        gevent.sleep(0)

    release.set()
    gevent.joinall([first, *rest], raise_error=True)

    assert order == [0, 1, 2, 3, 4, 5]


def test_raising_the_limit_admits_waiters_at_once() -> None:
    limiter = ConcurrencyLimiter(2)
    release = gevent.event.Event()
    log: list[int] = []
    greenlets = [gevent.spawn(_hold, limiter, release, log, n) for n in range(10)]
    gevent.sleep(0)
    assert (limiter.inflight, limiter.waiting) == (2, 8)

    limiter.set_limit(6)

    assert (limiter.inflight, limiter.waiting) == (6, 4)
    release.set()
    gevent.joinall(greenlets, raise_error=True)
    assert len(log) == 10


def test_cutting_the_limit_lets_calls_in_flight_finish_and_admits_no_one_until_below_it() -> None:
    limiter = ConcurrencyLimiter(4)
    releases = [gevent.event.Event() for _ in range(6)]
    log: list[int] = []
    greenlets = [gevent.spawn(_hold, limiter, releases[n], log, n) for n in range(6)]
    gevent.sleep(0)

    limiter.set_limit(2)
    releases[0].set()
    releases[1].set()
    gevent.joinall(greenlets[:2])
    gevent.sleep(0)

    assert limiter.inflight == 2 and limiter.waiting == 2
    assert sorted(log) == [0, 1, 2, 3]
    for r in releases:
        r.set()
    gevent.joinall(greenlets, raise_error=True)
    assert sorted(log) == list(range(6))


def test_pause_holds_every_caller_and_resume_lets_all_of_them_through() -> None:
    limiter = ConcurrencyLimiter(5)
    done: list[int] = []

    def work(n: int) -> None:
        with limiter.slot():
            done.append(n)

    limiter.pause()
    greenlets = [gevent.spawn(work, n) for n in range(50)]
    gevent.sleep(0)
    assert done == [] and limiter.waiting == 50

    limiter.resume()
    gevent.joinall(greenlets, raise_error=True)

    assert done == list(range(50))


def test_a_waiter_killed_in_the_queue_leaves_no_slot_behind() -> None:
    limiter = ConcurrencyLimiter(1)
    release = gevent.event.Event()
    log: list[int] = []
    holder = gevent.spawn(_hold, limiter, release, log, 0)
    gevent.sleep(0)
    victim = gevent.spawn(_hold, limiter, release, log, 1)
    gevent.sleep(0)

    victim.kill()
    release.set()
    holder.join()

    assert (limiter.inflight, limiter.waiting) == (0, 0)
    assert log == [0]


def test_a_limit_below_one_is_refused_with_the_value_given() -> None:
    with pytest.raises(ValueError, match="at least 1, got 0"):
        ConcurrencyLimiter(0)
    with pytest.raises(ValueError, match="got -3"):
        ConcurrencyLimiter(2).set_limit(-3)

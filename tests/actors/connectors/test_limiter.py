"""The concurrency limiter: priority lanes, a line within each (arrival or placement), reserved slots, a limit that
moves, pause and resume."""

from __future__ import annotations

import gevent
import gevent.event
import greenlet
import pytest

from actors.connectors import ConcurrencyLimiter, Priority, placed_at
from actors.connectors.limiter import MAX_HEAD_START


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


def _two_calls_and_other_work(limiter: ConcurrencyLimiter) -> list[str]:
    """Two calls through a limiter of one slot; other work gets ready as the first one's answer comes."""
    order: list[str] = []

    def call(name: str, others: int) -> None:
        with limiter.slot():
            order.append(f"{name} sends")
            gevent.sleep(0.01)  # on the wire
            for n in range(others):  # ready to run as the answer comes (other actors' work)
                gevent.spawn(order.append, f"ready {n}")
        order.append(f"{name} goes on")

    gevent.joinall([gevent.spawn(call, "first", 3), gevent.spawn(call, "second", 0)], raise_error=True)
    return order


def test_a_slot_given_back_goes_to_the_next_waiter_before_the_ready_greenlets_queued_earlier() -> None:
    limiter = ConcurrencyLimiter(1)

    order = _two_calls_and_other_work(limiter)

    # The slot holds the next call at once; the caller that gave it back goes on after what was ready before it.
    assert order[:2] == ["first sends", "second sends"]
    assert order.index("first goes on") > order.index("ready 2")
    assert (limiter.inflight, limiter.waiting) == (0, 0)


def test_a_waiter_killed_once_its_slot_was_handed_over_gives_it_back_and_slots_are_still_handed_over() -> None:
    limiter = ConcurrencyLimiter(1)
    release = gevent.event.Event()
    log: list[int] = []
    holder = gevent.spawn(_hold, limiter, release, log, 0)
    gevent.sleep(0)
    victims = [gevent.spawn(_hold, limiter, release, log, n) for n in (1, 2)]
    gevent.sleep(0)
    limiter.set_limit(3)  # both admitted through the hub's queue, neither has gone on yet

    gevent.get_hub().loop.run_callback(gevent.getcurrent().switch)  # to come back here after
    greenlet.greenlet.throw(victims[0], gevent.GreenletExit())  # killed before it could go on
    release.set()
    gevent.joinall([holder, *victims])
    limiter.set_limit(1)

    assert log == [0, 2]
    assert (limiter.inflight, limiter.waiting) == (0, 0)
    assert _two_calls_and_other_work(limiter)[:2] == ["first sends", "second sends"]


def test_a_limit_below_one_is_refused_with_the_value_given() -> None:
    with pytest.raises(ValueError, match="at least 1, got 0"):
        ConcurrencyLimiter(0)
    with pytest.raises(ValueError, match="got -3"):
        ConcurrencyLimiter(2).set_limit(-3)


# -- priority lanes ---------------------------------------------------------------

def _queue(limiter: ConcurrencyLimiter, callers: list[tuple[str, int]] | list[tuple[str, int, float | None]],
           log: list[str]) -> list[gevent.Greenlet]:
    """Start one greenlet per (name, priority[, placed at]), in order, each parked in the limiter before the
    next starts."""

    def call(name: str, priority: int, placed: float | None = None) -> None:
        with placed_at(placed), limiter.slot(priority):
            log.append(name)

    greenlets = []
    for caller in callers:
        greenlets.append(gevent.spawn(call, *caller))
        gevent.idle()  # runs it up to its wait: arrival order is the order of this list
    return greenlets


def test_waiters_of_a_higher_priority_are_admitted_first_and_in_arrival_order_within_each_lane() -> None:
    limiter = ConcurrencyLimiter(1, oldest_every=100)
    limiter.acquire()
    log: list[str] = []
    greenlets = _queue(limiter, [("create-1", Priority.NORMAL), ("ship-1", Priority.HIGH),
                                 ("create-2", Priority.NORMAL), ("ship-2", Priority.HIGH),
                                 ("create-3", Priority.NORMAL)], log)
    waiting = limiter.waiting_by_priority()

    limiter.release()
    gevent.joinall(greenlets, raise_error=True)

    assert waiting == {Priority.HIGH: 2, Priority.NORMAL: 3}
    assert log == ["ship-1", "ship-2", "create-1", "create-2", "create-3"]
    assert (limiter.inflight, limiter.waiting) == (0, 0)


def test_a_single_lane_is_plain_fifo_whatever_its_priority() -> None:
    limiter = ConcurrencyLimiter(1)
    limiter.acquire()
    log: list[str] = []
    greenlets = _queue(limiter, [(f"ship-{n}", Priority.HIGH) for n in range(8)], log)

    limiter.release()
    gevent.joinall(greenlets, raise_error=True)

    assert log == [f"ship-{n}" for n in range(8)]


def test_a_lower_lane_keeps_one_admission_in_four_under_a_flood_of_higher_calls() -> None:
    limiter = ConcurrencyLimiter(1, oldest_every=4)
    limiter.acquire()
    log: list[str] = []
    greenlets = _queue(limiter, [(f"create-{n}", Priority.NORMAL) for n in range(5)]
                       + [(f"ship-{n}", Priority.HIGH) for n in range(30)], log)

    limiter.release()
    gevent.joinall(greenlets, raise_error=True)

    # Every fourth admission goes to the oldest waiter: a create, until none is left.
    assert [n for n, name in enumerate(log, 1) if name.startswith("create")] == [4, 8, 12, 16, 20]
    assert [name for name in log if name.startswith("create")] == [f"create-{n}" for n in range(5)]
    assert [name for name in log if name.startswith("ship")] == [f"ship-{n}" for n in range(30)]


def test_higher_calls_arriving_while_lower_ones_wait_never_hold_them_back_for_ever() -> None:
    limiter = ConcurrencyLimiter(1, oldest_every=3)
    limiter.acquire()
    log: list[str] = []
    greenlets: list[gevent.Greenlet] = []

    def create() -> None:
        with limiter.slot(Priority.NORMAL):
            log.append("create")

    def ship(n: int) -> None:
        with limiter.slot(Priority.HIGH):
            log.append(f"ship-{n}")
            if n < 50:  # each admitted call brings two more: the higher lane never runs dry
                greenlets.extend(gevent.spawn(ship, 2 * n + k) for k in (1, 2))
                gevent.idle()  # both wait in the limiter before this slot is given back

    greenlets.append(gevent.spawn(create))
    gevent.idle()
    greenlets.append(gevent.spawn(ship, 0))
    gevent.idle()

    limiter.release()
    while not all(g.dead for g in greenlets):
        gevent.joinall(list(greenlets), raise_error=True)

    assert log.index("create") == 2
    assert len(log) == 102 and limiter.waiting == 0


def test_a_waiter_killed_in_a_lane_leaves_the_other_lanes_in_order() -> None:
    limiter = ConcurrencyLimiter(1, oldest_every=100)
    limiter.acquire()
    log: list[str] = []
    greenlets = _queue(limiter, [("create-1", Priority.NORMAL), ("ship-1", Priority.HIGH),
                                 ("ship-2", Priority.HIGH), ("create-2", Priority.NORMAL)], log)

    greenlets[1].kill()
    limiter.release()
    gevent.joinall(greenlets, raise_error=True)

    assert log == ["ship-2", "create-1", "create-2"]
    assert (limiter.inflight, limiter.waiting, limiter.waiting_by_priority()) == (0, 0, {})


def test_a_pause_holds_every_lane_and_resume_admits_by_priority() -> None:
    limiter = ConcurrencyLimiter(2, oldest_every=100)
    limiter.pause()
    log: list[str] = []
    greenlets = _queue(limiter, [("create-1", Priority.NORMAL), ("ship-1", Priority.HIGH), ("urgent", 5)], log)
    held = list(log)

    limiter.resume()
    gevent.joinall(greenlets, raise_error=True)

    assert held == []
    assert log == ["urgent", "ship-1", "create-1"]


def test_a_priority_that_is_not_an_int_and_a_share_below_one_are_refused() -> None:
    limiter = ConcurrencyLimiter(1)

    with pytest.raises(TypeError, match="priority is an int"):
        limiter.acquire("high")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="oldest_every must be at least 1"):
        ConcurrencyLimiter(1, oldest_every=0)


# -- reserved slots ---------------------------------------------------------------

def test_a_lane_with_a_reserved_slot_goes_at_once_while_every_shared_slot_is_held_and_others_wait() -> None:
    limiter = ConcurrencyLimiter(2, reserved={Priority.RECONCILE: 1})
    release = gevent.event.Event()
    log: list[str] = []
    held = [gevent.spawn(_hold, limiter, release, [], n) for n in range(2)]
    gevent.idle()
    greenlets = _queue(limiter, [("create-1", Priority.NORMAL), ("create-2", Priority.NORMAL),
                                 ("ship-1", Priority.HIGH), ("create-3", Priority.NORMAL)], [])

    with limiter.slot(Priority.RECONCILE):
        log.append("sweep")
        inflight, waiting = limiter.inflight, limiter.waiting

    release.set()
    gevent.joinall([*held, *greenlets], raise_error=True)
    assert log == ["sweep"]
    assert (inflight, waiting) == (3, 4)  # one beyond the limit of 2: the reserved slot
    assert (limiter.inflight, limiter.waiting) == (0, 0)


def test_a_second_call_of_a_reserved_lane_waits_for_a_shared_slot_like_any_other() -> None:
    limiter = ConcurrencyLimiter(1, reserved={Priority.RECONCILE: 1})
    release = gevent.event.Event()
    log: list[int] = []
    first = gevent.spawn(_hold, limiter, release, log, 0)  # the shared slot
    gevent.idle()
    sweep_release = gevent.event.Event()

    def sweep(n: int) -> None:
        with limiter.slot(Priority.RECONCILE):
            log.append(n)
            sweep_release.wait()

    sweeps = [gevent.spawn(sweep, n) for n in (1, 2)]
    gevent.idle()
    during = list(log)

    release.set()
    sweep_release.set()
    gevent.joinall([first, *sweeps], raise_error=True)
    assert during == [0, 1]
    assert sorted(log) == [0, 1, 2] and limiter.inflight == 0


def test_a_paused_limiter_holds_the_reserved_lane_too() -> None:
    limiter = ConcurrencyLimiter(1, reserved={Priority.RECONCILE: 1})
    limiter.pause()
    log: list[str] = []
    greenlets = _queue(limiter, [("sweep", Priority.RECONCILE)], log)
    before = list(log)

    limiter.resume()
    gevent.joinall(greenlets, raise_error=True)

    assert (before, log) == ([], ["sweep"])


def test_a_reservation_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="reserved slots must be 0 or more"):
        ConcurrencyLimiter(1, reserved={Priority.RECONCILE: -1})


def test_an_order_placed_earlier_goes_ahead_of_those_that_arrived_before_it_in_its_lane_only() -> None:
    now = 10_000.0
    limiter = ConcurrencyLimiter(1, oldest_every=100, now=lambda: now)
    limiter.acquire()
    log: list[str] = []
    greenlets = _queue(limiter, [
        ("placed-at-9990", Priority.NORMAL, 9990.0),
        ("no-placement", Priority.NORMAL, None),  # in line as it arrives: at 10000
        ("placed-at-9995", Priority.NORMAL, 9995.0),
        ("repaired, placed at 9900", Priority.NORMAL, 9900.0),
        ("shipment news", Priority.HIGH, None),
        ("placed in the future", Priority.NORMAL, 10_500.0),  # a storefront clock ahead of ours: as it arrives
    ], log)

    limiter.release()
    gevent.joinall(greenlets, raise_error=True)

    assert log == ["shipment news", "repaired, placed at 9900", "placed-at-9990", "placed-at-9995",
                   "no-placement", "placed in the future"]


def test_a_placement_older_than_the_head_start_goes_ahead_of_that_much_of_the_line_and_no_more() -> None:
    now = 100_000.0
    limiter = ConcurrencyLimiter(1, now=lambda: now)
    limiter.acquire()
    log: list[str] = []
    greenlets = _queue(limiter, [
        ("placed a head start and a minute ago", Priority.NORMAL, now - MAX_HEAD_START - 60),
        ("an update of an order placed a year ago", Priority.NORMAL, now - 365 * 86_400),
        ("placed just inside the head start", Priority.NORMAL, now - MAX_HEAD_START + 1),
    ], log)

    limiter.release()
    gevent.joinall(greenlets, raise_error=True)

    # Both older ones wait as if placed a head start ago, in the order they arrived.
    assert log == ["placed a head start and a minute ago", "an update of an order placed a year ago",
                   "placed just inside the head start"]


def test_a_placed_waiter_killed_in_line_gives_its_place_up_and_the_count_by_lane_stays_right() -> None:
    limiter = ConcurrencyLimiter(1, now=lambda: 500.0)
    limiter.acquire()
    log: list[str] = []
    greenlets = _queue(limiter, [("late", Priority.NORMAL, None), ("early", Priority.NORMAL, 100.0),
                                 ("earlier", Priority.NORMAL, 50.0)], log)

    greenlets[2].kill()  # first in line, killed while waiting
    waiting = limiter.waiting_by_priority()
    limiter.release()
    gevent.joinall(greenlets, raise_error=True)

    assert waiting == {Priority.NORMAL: 2}
    assert log == ["early", "late"]
    assert (limiter.inflight, limiter.waiting, limiter.waiting_by_priority()) == (0, 0, {})

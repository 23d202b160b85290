"""Actors with work run on worker greenlets; actors that wait hold none, and one that blocks holds only its own."""

import contextvars
import gc
import statistics
import time
import tracemalloc

import gevent
import gevent.event
import greenlet

from peppasync.store import ops

from actors.dispatch import dispatcher
from actors.durable import DurableActor
from tests.actors.conftest import CountingHooks

GATE = gevent.event.Event()
SEEN: list[tuple[str, str, str | None]] = []
_TAG: contextvars.ContextVar[str | None] = contextvars.ContextVar("test_dispatch_tag", default=None)


class Slow(DurableActor):
    """Blocks on a vendor (here: an event) until the test lets it go."""

    kind = "slow"

    def handle(self, message):
        GATE.wait(timeout=10)
        SEEN.append(("slow", self.key, None))


class Quick(DurableActor):
    """Remembers what it set in a context variable, as a handler that tags its calls would."""

    kind = "quick"

    def handle(self, message):
        SEEN.append(("quick", self.key, _TAG.get()))
        _TAG.set(self.key)


class Waits(DurableActor):
    """Handles its one message and waits for the next, as most of a sale's orders do."""

    kind = "waits"

    def handle(self, message):
        pass


class Busy(DurableActor):
    """Works a little, then waits, as a new order does until an ERP slot is free."""

    kind = "busy"

    def handle(self, message):
        end = time.perf_counter() + 0.0005
        while time.perf_counter() < end:
            pass
        GATE.wait(timeout=30)


def setup_function():
    GATE.clear()
    SEEN.clear()


def _parked_greenlets() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, greenlet.greenlet) and o and not o.dead)


def test_an_actor_blocked_on_a_vendor_does_not_hold_up_the_others(make_system, store):
    hooks = CountingHooks()
    system = make_system(Slow, Quick, hooks=hooks)
    system.start()

    # One commit: the blocked actor is first on the run queue, the 200 others right behind it.
    store.write([ops.Insert("slow", "stuck", {}), *(ops.Insert("quick", f"q{n}", {}) for n in range(200))])
    hooks.wait_finished(200, timeout=10)  # while "stuck" still waits on its vendor

    assert [s for s in SEEN if s[0] == "slow"] == []
    assert len([s for s in SEEN if s[0] == "quick"]) == 200
    GATE.set()
    hooks.wait_finished(201, timeout=10)
    assert SEEN[-1] == ("slow", "stuck", None)


def test_what_an_actor_sets_in_a_context_variable_stays_its_own(make_system):
    hooks = CountingHooks()
    system = make_system(Quick, hooks=hooks)
    system.start()

    for round_ in range(3):
        for key in ("a", "b", "c"):
            system.tell("quick", key, {"round": round_})
        hooks.wait_finished(3 * (round_ + 1))

    seen = {key: [tag for kind, k, tag in SEEN if k == key] for key in ("a", "b", "c")}
    # Each actor sees only what it set itself, though one worker ran all three one after another.
    assert seen == {"a": [None, "a", "a"], "b": [None, "b", "b"], "c": [None, "c", "c"]}


def test_thousands_of_active_actors_waiting_for_work_hold_no_greenlet(make_system):
    hooks = CountingHooks()
    system = make_system(Quick, hooks=hooks, idle_seconds=600)
    system.start()
    before = _parked_greenlets()

    for n in range(2000):
        system.tell("quick", f"k{n}", {})
    hooks.wait_finished(2000)
    gevent.sleep(0.1)  # the workers end once the run queue is empty

    assert system.active("quick") == 2000
    assert dispatcher.workers == 0
    assert _parked_greenlets() - before < 20  # the system's own timers, not one per actor


def test_an_active_actor_that_waits_for_work_holds_little_memory(make_system, store):
    """100,000 of them must fit in 1 GiB with the rest of the engine: one holds its own few
    small objects, not an empty deque's block of slots, a reference nobody asked for or a UUID."""
    hooks = CountingHooks()
    system = make_system(Waits, hooks=hooks, idle_seconds=600)
    system.start()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        store.write([ops.Insert("waits", f"k{n}", {}) for n in range(2000)])
        hooks.wait_finished(2000)
        store.write([ops.Dedup("test", "barrier")])  # the actors' completions are committed too
        gevent.sleep(0.1)
        gc.collect()
        per_actor = (tracemalloc.get_traced_memory()[0] - before) / 2000
    finally:
        tracemalloc.stop()

    assert system.active("waits") == 2000
    assert dispatcher.workers == 0
    assert per_actor < 1600, f"{per_actor:.0f} bytes of Python objects for each waiting actor"


def test_a_burst_of_actors_that_each_wait_leaves_the_hub_polling_its_sockets(make_system, store):
    """Each actor that waits leaves the run queue to a spare worker. Hundreds in a row must not
    keep the hub from its sockets and timers: an answer from the ERP waits as long as they do."""
    hooks = CountingHooks()
    system = make_system(Busy, hooks=hooks)
    system.start()
    lags: list[float] = []

    def tick():  # how late the hub wakes a 1 ms timer: what an answer on a socket waits too
        while True:
            asked = time.perf_counter()
            gevent.sleep(0.001)
            lags.append(time.perf_counter() - asked - 0.001)

    ticker = gevent.spawn(tick)
    try:
        store.write([ops.Insert("busy", f"b{n}", {}) for n in range(600)])  # 0.3 s of work
        deadline = time.monotonic() + 20
        while dispatcher.workers < 600 and time.monotonic() < deadline:
            gevent.sleep(0.01)
        assert dispatcher.workers >= 600, "every actor began and waits on its own worker"
    finally:
        ticker.kill()
        GATE.set()
    hooks.wait_finished(600)

    assert lags
    assert statistics.median(lags) < 0.004, f"a timer woken {len(lags)} times, the median {statistics.median(lags) * 1000:.1f} ms late"

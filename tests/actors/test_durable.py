import collections

import gevent

from peppasync.errors import TransientError, ValidationError
from peppasync.store import open_store

from actors.durable import DurableActor
from tests.actors.conftest import CountingHooks, small_policy

handled: collections.Counter = collections.Counter()
order_seen: dict[str, list[int]] = collections.defaultdict(list)


class Recorder(DurableActor):
    kind = "recorder"

    def handle(self, message):
        n = message.payload["n"]
        if message.payload.get("poison"):
            raise ValidationError(f"message {n} is malformed", field="n")
        handled[(self.key, n)] += 1
        order_seen[self.key].append(n)


class Flaky(DurableActor):
    """Fails transiently on the first two attempts of every message."""

    kind = "flaky"

    def handle(self, message):
        if message.attempts < 3:
            raise TransientError("the ERP is busy", retry_after=0.01)
        self.state["done"] = self.state.get("done", 0) + 1
        self.save_state()


def setup_function():
    handled.clear()
    order_seen.clear()


def test_poison_is_quarantined_and_every_good_message_is_handled_exactly_once(make_system, store):
    hooks = CountingHooks()
    system = make_system(Recorder, hooks=hooks)
    system.start()
    sent = []
    for n in range(10_000):
        key = f"order-{n % 100}"
        poison = n % 100 == 37 and n % 200 < 100  # 1% poison, spread over 50 of the actors
        sent.append((key, n, poison))
        system.tell("recorder", key, {"n": n, "poison": poison})

    hooks.wait_finished(len(sent))
    system.stop()  # returns once every actor committed what it finished

    good = {(k, n) for k, n, p in sent if not p}
    poison = [n for _, n, p in sent if p]
    assert set(handled) == good
    assert set(handled.values()) == {1}
    quarantined = store.quarantine_list(limit=1000)
    assert sorted(e.payload["n"] for e in quarantined) == sorted(poison)
    assert {e.reason for e in quarantined} == {"validation"}
    poisoned_key = "order-37"
    assert order_seen[poisoned_key] == sorted(n for k, n, p in sent if k == poisoned_key and not p)


def test_messages_for_one_key_are_handled_in_the_order_they_were_sent(make_system):
    hooks = CountingHooks()
    system = make_system(Recorder, hooks=hooks, prefetch=4)
    system.start()

    for n in range(200):
        system.tell("recorder", "one", {"n": n})
    hooks.wait_finished(200)

    assert order_seen["one"] == list(range(200))


def test_a_transient_failure_is_retried_and_its_state_saved_once_it_succeeds(make_system, store):
    hooks = CountingHooks()
    system = make_system(Flaky, hooks=hooks)
    system.start()

    system.tell("flaky", "a", {})
    system.tell("flaky", "a", {})
    hooks.wait_finished(2)
    system.stop()

    assert hooks.outcomes["retry"] == 4
    assert store.get_state("flaky", "a")[0] == {"done": 2}
    assert store.quarantine_list() == []


def test_a_message_failing_past_max_attempts_is_quarantined_and_the_next_flows(make_system, store):
    hooks = CountingHooks()
    system = make_system(Flaky, hooks=hooks, policy=small_policy(max_attempts=2))
    system.start()

    system.tell("flaky", "b", {"first": True})
    hooks.wait_finished(1)
    system.stop()

    [entry] = store.quarantine_list()
    assert entry.reason == "max_attempts"
    assert entry.payload == {"first": True}
    assert entry.error_class == "TransientError"
    assert "the ERP is busy" in entry.traceback


def test_an_idle_actor_is_passivated_and_reactivated_by_its_next_message(make_system):
    hooks = CountingHooks()
    system = make_system(Recorder, hooks=hooks, idle_seconds=0.05)
    system.start()
    system.tell("recorder", "sleepy", {"n": 1})
    hooks.wait_finished(1)

    with gevent.Timeout(5):
        while system.is_active("recorder", "sleepy"):
            gevent.sleep(0.01)
    system.tell("recorder", "sleepy", {"n": 2})
    hooks.wait_finished(2)

    assert order_seen["sleepy"] == [1, 2]
    assert hooks.activations == 2


def test_a_retried_quarantine_entry_is_handled_with_its_edited_payload(make_system, store):
    hooks = CountingHooks()
    system = make_system(Recorder, hooks=hooks)
    system.start()
    system.tell("recorder", "fixme", {"n": 5, "poison": True})
    hooks.wait_finished(1)
    system.stop()
    [entry] = store.quarantine_list()

    store.quarantine_retry(entry.id, who="test", payload={"n": 5})
    system.start()
    hooks.wait_finished(2)
    system.stop()

    assert handled[("fixme", 5)] == 1
    assert store.quarantine_list() == []
    assert [a.action for a in store.audit_list()][:1] == ["quarantine.retry"]


def test_messages_waiting_in_the_store_are_resumed_when_the_system_starts(make_system, store):
    for n in range(50):
        store.enqueue("recorder", f"k{n % 5}", {"n": n})
    hooks = CountingHooks()
    system = make_system(Recorder, hooks=hooks)

    system.start()
    hooks.wait_finished(50)

    assert sum(handled.values()) == 50


class Countdown(DurableActor):
    """Sends itself the next step until it reaches zero: a pipeline inside one actor."""

    kind = "countdown"

    def handle(self, message):
        n = message.payload["n"]
        order_seen[self.key].append(n)
        if n > 0:
            self.send(self.kind, self.key, {"n": n - 1}, delay=0.02 if n == 2 else 0.0)


def test_messages_an_actor_sends_itself_are_handled_including_delayed_ones(make_system):
    hooks = CountingHooks()
    system = make_system(Countdown, hooks=hooks)
    system.start()

    system.tell("countdown", "c", {"n": 5})
    hooks.wait_finished(6)

    assert order_seen["c"] == [5, 4, 3, 2, 1, 0]


def test_passivate_all_frees_every_actor_and_their_next_messages_still_arrive(make_system):
    hooks = CountingHooks()
    system = make_system(Recorder, hooks=hooks)
    system.start()
    for n in range(20):
        system.tell("recorder", f"p{n}", {"n": n})
    hooks.wait_finished(20)

    system.passivate_all()
    with gevent.Timeout(5):
        while system.active():
            gevent.sleep(0.01)
    system.tell("recorder", "p3", {"n": 99})
    hooks.wait_finished(21)

    assert order_seen["p3"] == [3, 99]


def test_messages_arriving_while_their_actors_are_being_activated_are_not_lost(make_system, store):
    from peppasync.store import ops

    hooks = CountingHooks()
    system = make_system(Recorder, hooks=hooks, sweep_interval=3600)
    system.start()

    for start in (0, 1000):
        store.write([ops.Insert("recorder", f"r{n % 1000}", {"n": n}) for n in range(start, start + 1000)])
        for k in range(1000):
            system.wake("recorder", f"r{k}")
    hooks.wait_finished(2000, timeout=60)

    assert sum(handled.values()) == 2000


def test_many_senders_to_one_busy_actor_each_get_their_messages_handled_once_in_order(make_system, store):
    hooks = CountingHooks()
    system = make_system(Recorder, hooks=hooks, prefetch=4, sweep_interval=3600)
    system.start()
    system.tell("recorder", "hot", {"n": -1})
    hooks.wait_finished(1)
    ids: list[int] = []

    def sender(first: int) -> None:
        for n in range(first, first + 40):
            ids.append(system.tell("recorder", "hot", {"n": n}))

    gevent.joinall([gevent.spawn(sender, s * 1000) for s in range(25)])
    hooks.wait_finished(1001)
    system.stop()

    assert sum(handled.values()) == 1001 and set(handled.values()) == {1}
    by_id = {i: n for i, n in zip(ids, [n for s in range(25) for n in range(s * 1000, s * 1000 + 40)])}
    assert sorted(order_seen["hot"][1:]) == sorted(by_id.values())
    for s in range(25):  # each sender's own messages in the order it sent them
        mine = [n for n in order_seen["hot"] if s * 1000 <= n < s * 1000 + 40]
        assert mine == list(range(s * 1000, s * 1000 + 40))
    assert store.pending("recorder", "hot", limit=10) == []


def test_a_quarantine_entry_retried_while_its_actor_is_active_is_handled(make_system, store):
    hooks = CountingHooks()
    system = make_system(Recorder, hooks=hooks)
    system.start()
    system.tell("recorder", "live", {"n": 1, "poison": True})
    hooks.wait_finished(1)
    store.write([])  # the writer is FIFO: the quarantine the actor sent is in
    [entry] = store.quarantine_list()
    assert system.is_active("recorder", "live")

    store.quarantine_retry(entry.id, who="test", payload={"n": 1})
    system.wake("recorder", "live", reread=True)
    hooks.wait_finished(2)
    store.write([])

    assert handled[("live", 1)] == 1
    assert store.pending("recorder", "live", limit=10) == []


def test_a_message_another_process_stores_for_an_idle_active_actor_is_handled_by_the_next_sweep(
    make_system, store, tmp_path
):
    hooks = CountingHooks()
    # Passivation (which would also pick the message up) is an hour away.
    system = make_system(Recorder, hooks=hooks, idle_seconds=3600, sweep_interval=0.05)
    system.start()
    system.tell("recorder", "live", {"n": 1})
    hooks.wait_finished(1)
    assert system.is_active("recorder", "live")
    other = open_store(f"sqlite:///{tmp_path}/engine.db")  # what `peppasync quarantine retry` opens
    try:
        other.enqueue("recorder", "live", {"n": 2})
    finally:
        other.close()

    hooks.wait_finished(2, timeout=10)

    assert order_seen["live"] == [1, 2]
    assert system.is_active("recorder", "live")  # handled by the same activation


def test_a_poison_message_handed_to_an_active_actor_counts_one_attempt(make_system, store):
    hooks = CountingHooks()
    system = make_system(Recorder, hooks=hooks)
    system.start()
    system.tell("recorder", "warm", {"n": 1})
    hooks.wait_finished(1)

    system.tell("recorder", "warm", {"n": 2, "poison": True})
    system.tell("recorder", "warm", {"n": 3})
    hooks.wait_finished(3)
    store.write([])

    [entry] = store.quarantine_list()
    assert (entry.payload["n"], entry.attempts, entry.reason) == (2, 1, "validation")
    assert order_seen["warm"] == [1, 3]


class HalfWay(DurableActor):
    """Changes its nested state, then fails on the first attempt of every message."""

    kind = "halfway"

    def handle(self, message):
        seen = self.state.setdefault("seen", {"list": []})
        seen["list"].append(message.payload["n"])
        self.save_state()
        if message.attempts < 2:
            raise TransientError("the WMS hung up", retry_after=0.01)


def test_a_failed_handler_leaves_no_trace_of_its_changes_in_the_state(make_system, store):
    hooks = CountingHooks()
    system = make_system(HalfWay, hooks=hooks)
    system.start()

    for n in (1, 2, 3):
        system.tell("halfway", "h", {"n": n})
    hooks.wait_finished(3)
    system.stop()

    assert store.get_state("halfway", "h")[0] == {"seen": {"list": [1, 2, 3]}}
    assert hooks.outcomes["retry"] == 3


class SlowForwarder(DurableActor):
    """Takes a while per message (a vendor call), then tells a recorder."""

    kind = "forwarder"

    def handle(self, message):
        gevent.sleep(0.2)
        self.send("recorder", "out", {"n": message.payload["n"]})


def test_what_a_slow_handler_sends_reaches_its_actor_without_waiting_for_the_next_handler(make_system, store):
    hooks = CountingHooks()
    system = make_system(SlowForwarder, Recorder, hooks=hooks, prefetch=16)
    system.start()
    system.tell("forwarder", "f", {"n": 0})
    gevent.sleep(0.1)
    for n in range(1, 6):  # handed to the busy forwarder at once, its first attempts counted as they commit
        system.tell("forwarder", "f", {"n": n})
    with gevent.Timeout(0.5):
        while not order_seen["out"]:
            gevent.sleep(0.01)

    # Each message takes 0.2 s; what the second sent is handled long before the sixth is done.
    with gevent.Timeout(0.7):
        while len(order_seen["out"]) < 2:
            gevent.sleep(0.01)
    hooks.wait_finished(12)
    assert order_seen["out"] == list(range(6))

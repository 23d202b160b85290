"""The delivery rules of ``actors.delivery``: one way in, FIFO per actor, no lost wake.

Every system here sweeps once an hour: what reaches an actor reaches it through
the commit that stored it, not through a sweep.
"""

import collections
import sqlite3

import gevent
import gevent.event

from peppasync.errors import TransientError, ValidationError
from peppasync.store import ops

from actors.dispatch import dispatcher
from actors.durable import DurableActor
from tests.actors.conftest import CountingHooks

seen: dict[tuple[str, str], list[int]] = collections.defaultdict(list)


class Note(DurableActor):
    kind = "note"

    def handle(self, message):
        if message.payload.get("poison"):
            raise ValidationError("malformed", field="n")
        seen[(self.kind, self.key)].append(message.payload["n"])


class Margin(Note):
    kind = "margin"


class Stubborn(DurableActor):
    """Fails message 0 transiently on its first two attempts; records the rest as they come."""

    kind = "stubborn"

    def handle(self, message):
        n = message.payload["n"]
        if n == 0 and message.attempts < 3:
            raise TransientError("not yet", retry_after=0.05)
        seen[(self.kind, self.key)].append(n)


def setup_function():
    seen.clear()


def test_a_message_written_through_the_store_activates_its_actor_without_a_wake(make_system, store):
    hooks = CountingHooks()
    system = make_system(Note, hooks=hooks, sweep_interval=3600)
    system.start()

    store.write([ops.Insert("note", "cold", {"n": 1})])
    hooks.wait_finished(1, timeout=10)

    assert seen[("note", "cold")] == [1]


def test_a_message_written_through_the_store_reaches_an_active_actor_without_a_wake(make_system, store):
    hooks = CountingHooks()
    system = make_system(Note, hooks=hooks, sweep_interval=3600, idle_seconds=3600)
    system.start()
    store.write([ops.Insert("note", "warm", {"n": 1})])
    hooks.wait_finished(1, timeout=10)
    assert system.is_active("note", "warm")

    store.write([ops.Insert("note", "warm", {"n": 2})])
    hooks.wait_finished(2, timeout=10)

    assert seen[("note", "warm")] == [1, 2]


def test_an_event_and_the_messages_it_makes_for_other_kinds_reach_all_their_actors_without_a_wake(
    make_system, store
):
    hooks = CountingHooks()
    system = make_system(Note, Margin, hooks=hooks, sweep_interval=3600)
    system.start()

    store.write([ops.InsertOnce("shopify", "event-1", ops.Insert("note", "1001", {"n": 1}),
                                also=(ops.Insert("margin", "1001", {"n": 2}),))])
    hooks.wait_finished(2, timeout=10)

    assert seen == {("note", "1001"): [1], ("margin", "1001"): [2]}


class HoldsTheStore(DurableActor):
    """Its second message's handler takes the store's write lock for a while (another process's
    long transaction, a slow disk), so that its completion waits to commit."""

    kind = "holds"
    path = ""

    def handle(self, message):
        if message.payload["n"] == 2:
            other = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            other.execute("BEGIN IMMEDIATE")
            gevent.spawn_later(0.5, lambda: (other.execute("ROLLBACK"), other.close()))
        seen[(self.kind, self.key)].append(message.payload["n"])


def test_the_sweep_does_not_reread_a_mailbox_whose_own_completion_is_still_committing(
    make_system, store, tmp_path
):
    HoldsTheStore.path = str(tmp_path / "engine.db")
    hooks = CountingHooks()
    system = make_system(HoldsTheStore, hooks=hooks, sweep_interval=0.05)
    system.start()
    store.write([ops.Insert("holds", "h", {"n": 1})])
    hooks.wait_finished(1)
    reads: list[str] = []
    real_pending = store.pending

    def counted(kind, key, **options):
        reads.append(key)
        return real_pending(kind, key, **options)

    store.pending = counted
    store.write([ops.Insert("holds", "h", {"n": 2})])
    hooks.wait_finished(2)
    store.write([ops.Dedup("test", "barrier")])  # waits out the lock, behind the completion
    gevent.sleep(0.2)  # a few more sweeps
    store.pending = real_pending

    assert seen[("holds", "h")] == [1, 2]
    assert store.pending("holds", "h", limit=10) == []
    assert reads == []  # the sweeps saw message 2 in the store for half a second: its own, committing


def test_a_quarantine_entry_retried_through_the_store_reaches_its_active_actor_without_a_wake(make_system, store):
    hooks = CountingHooks()
    system = make_system(Note, hooks=hooks, sweep_interval=3600, idle_seconds=3600)
    system.start()
    system.tell("note", "fixme", {"n": 1, "poison": True})
    hooks.wait_finished(1, timeout=10)
    store.write([])  # the writer is FIFO: the quarantine the actor sent is in
    [entry] = store.quarantine_list()
    assert system.is_active("note", "fixme")

    store.quarantine_retry(entry.id, who="test", payload={"n": 1})
    hooks.wait_finished(2, timeout=10)

    assert seen[("note", "fixme")] == [1]


def test_a_message_committed_while_its_actor_is_being_activated_is_handled(make_system, store):
    hooks = CountingHooks()
    system = make_system(Note, hooks=hooks, sweep_interval=3600)
    real_load_many = store.load_many
    late: list[int] = []

    def load_many_then_commit(kind, keys, *, limit):
        loaded = real_load_many(kind, keys, limit=limit)
        if not late:  # between the activation's read and the actor's start
            late.extend(store.write([ops.Insert("note", "busy", {"n": 2})]))
        return loaded

    store.load_many = load_many_then_commit
    system.start()

    store.write([ops.Insert("note", "busy", {"n": 1})])
    hooks.wait_finished(2, timeout=10)

    assert late
    assert seen[("note", "busy")] == [1, 2]


def test_a_retried_message_holds_the_ones_behind_it_even_those_handed_over_meanwhile(make_system, store):
    hooks = CountingHooks()
    system = make_system(Stubborn, hooks=hooks, sweep_interval=3600, prefetch=4)
    system.start()
    for n in range(3):
        system.tell("stubborn", "s", {"n": n})

    with gevent.Timeout(10):
        while hooks.outcomes.get("retry", 0) < 1:
            gevent.sleep(0.005)
    for n in range(3, 12):  # committed while message 0 waits for its retry
        system.tell("stubborn", "s", {"n": n})
    hooks.wait_finished(12, timeout=10)
    store.write([])

    assert seen[("stubborn", "s")] == list(range(12))
    assert hooks.outcomes["retry"] == 2
    assert store.pending("stubborn", "s", limit=10) == []


release = gevent.event.Event()
entered = gevent.event.Event()


class Blocking(DurableActor):
    """Waits in its first message's handler until the test lets it go."""

    kind = "blocking"

    def handle(self, message):
        n = message.payload["n"]
        if n == 0:
            entered.set()
            release.wait(10)
        seen[(self.kind, self.key)].append(n)


def test_a_busy_actor_holds_no_more_than_one_prefetch_of_claimed_messages(make_system, store):
    release.clear()
    entered.clear()
    hooks = CountingHooks()
    system = make_system(Blocking, hooks=hooks, sweep_interval=3600, prefetch=4)
    system.start()
    system.tell("blocking", "b", {"n": 0})
    assert entered.wait(10)

    for n in range(1, 20):
        system.tell("blocking", "b", {"n": n})
    claimed = [m.id for m in store.pending("blocking", "b", limit=100) if m.attempts > 0]
    release.set()
    hooks.wait_finished(20, timeout=10)

    assert len(claimed) == 4  # what a crash now would deliver again, its attempt spent
    assert seen[("blocking", "b")] == list(range(20))


attempts_seen: dict[str, list[int]] = collections.defaultdict(list)


class Saving(Blocking):
    """Saves its state with every message, and records the attempt each arrives with."""

    kind = "saving"

    def handle(self, message):
        super().handle(message)
        attempts_seen[self.key].append(message.attempts)
        self.state["last"] = message.payload["n"]
        self.save_state()


def test_a_message_started_after_one_that_saved_the_state_arrives_with_its_own_attempt_count(make_system, store):
    """A batch read from the store can hold a message claimed at insert and, behind it, one that was
    not: the second's first attempt is counted in the commit that also saves the state the first
    left. Its handler (and the poison policy) must see one attempt, not the state's version."""
    release.clear()
    entered.clear()
    attempts_seen.clear()
    hooks = CountingHooks()
    system = make_system(Saving, hooks=hooks, sweep_interval=3600, prefetch=2)
    system.start()
    store.write([ops.Insert("saving", "s", {"n": 0})])
    assert entered.wait(10)

    # While 0 is handled: 1 is claimed at insert, 2 is handed over unclaimed, 3 does not fit
    # (the mailbox is read from the store next: 1 as claimed, 2 not).
    for n in (1, 2, 3):
        store.write([ops.Insert("saving", "s", {"n": n})])
    release.set()
    hooks.wait_finished(4, timeout=10)
    store.write([ops.Dedup("test", "barrier")])  # the last completion is committed too

    assert seen[("saving", "s")] == [0, 1, 2, 3]
    assert attempts_seen["s"] == [1, 1, 1, 1]
    assert store.get_state("saving", "s")[0] == {"last": 3}


class Counting(DurableActor):
    """Records the attempt each message arrives with."""

    kind = "counting"

    def handle(self, message):
        attempts_seen[self.key].append(message.attempts)


workers_seen: list[int] = []


class Resuming(Counting):
    """Records, as well, how many worker greenlets were running actors when a message came."""

    kind = "resuming"

    def handle(self, message):
        super().handle(message)
        workers_seen.append(dispatcher.workers)


def test_a_restart_with_thousands_of_mailboxes_to_resume_counts_their_first_attempts_together(make_system, store):
    """Messages stored while no actor was active (a restart's backlog) each count one attempt before
    their handler runs, in the activation's commits: no actor waits for a commit of its own on a
    worker greenlet, which for 100,000 mailboxes was 100,000 greenlets' stacks at once."""
    attempts_seen.clear()
    workers_seen.clear()
    store.write([ops.Insert("resuming", f"k{n}", {"n": n}) for n in range(3000)])
    hooks = CountingHooks()
    system = make_system(Resuming, hooks=hooks)
    system.start()
    hooks.wait_finished(3000)

    assert len(attempts_seen) == 3000
    assert {tuple(a) for a in attempts_seen.values()} == {(1,)}
    assert max(workers_seen) < 20


def test_a_message_gone_between_the_activation_read_and_its_first_attempt_leaves_the_others_to_count_their_own(
    make_system, store
):
    attempts_seen.clear()
    workers_seen.clear()
    store.write([ops.Insert("resuming", f"k{n}", {"n": n}) for n in range(5)])
    real_load_many = store.load_many

    def load_then_one_goes(kind, keys, *, limit):
        store.load_many = real_load_many
        loaded = real_load_many(kind, keys, limit=limit)
        store.write([ops.Done(loaded["k2"][1][0].id)])  # a duplicate webhook, removed by its receiver
        return loaded

    store.load_many = load_then_one_goes
    hooks = CountingHooks()
    system = make_system(Resuming, hooks=hooks)
    system.start()
    hooks.wait_finished(4)
    gevent.sleep(0.1)

    assert dict(attempts_seen) == {"k0": [1], "k1": [1], "k3": [1], "k4": [1]}
    assert store.pending("resuming", "k2", limit=10) == []


def test_a_message_the_activation_reads_before_its_commit_is_told_still_counts_one_attempt(make_system, store):
    attempts_seen.clear()
    hooks = CountingHooks()
    told_late, go_on = gevent.event.Event(), gevent.event.Event()

    def slow_to_tell(added):  # told before the delivery is: holds it back for the second message
        if any(op.payload.get("n") == 2 for _, op, _, _ in added):
            told_late.set()
            go_on.wait(10)

    store.listen(slow_to_tell)
    system = make_system(Counting, hooks=hooks, sweep_interval=3600)
    real_load_many = store.load_many

    def load_many_around_a_commit(kind, keys, *, limit):
        if not told_late.is_set():
            # Committed (and claimed: its actor is being activated) but not yet told to the delivery.
            store.submit([ops.Insert("counting", "cold", {"n": 2})])
            told_late.wait(10)
            # The delivery hears of it a while after this read, whatever the actor does meanwhile.
            gevent.spawn_later(0.3, go_on.set)
        return real_load_many(kind, keys, limit=limit)  # reads it

    store.load_many = load_many_around_a_commit
    system.start()

    store.write([ops.Insert("counting", "cold", {"n": 1})])
    hooks.wait_finished(2, timeout=10)

    assert attempts_seen["cold"] == [1, 1]  # each counted once, when it was stored


def test_a_message_stored_for_an_actor_about_to_be_activated_has_its_attempt_counted_already(make_system, store):
    release.clear()
    entered.clear()
    hooks = CountingHooks()
    system = make_system(Blocking, hooks=hooks, sweep_interval=3600)
    system.start()

    store.write([ops.InsertOnce("shopify", "e1", ops.Insert("blocking", "cold", {"n": 0}))])
    assert entered.wait(10)
    [message] = store.pending("blocking", "cold", limit=10)
    release.set()
    hooks.wait_finished(1, timeout=10)

    assert message.attempts == 1  # what a crash now would deliver again, its attempt spent
    assert seen[("blocking", "cold")] == [0]


handled: list[tuple[str, str]] = []


class Slow(DurableActor):
    """An order's actor: long handlers (an ERP call each)."""

    kind = "slow"

    def handle(self, message):
        handled.append((self.kind, self.key))
        gevent.sleep(0.001)


class Quick(Slow):
    """A margin's: short handlers someone is waiting to read."""

    kind = "quick"
    starts_first = True


def test_a_kind_that_starts_first_is_activated_ahead_of_the_others_of_the_same_moment(make_system, store):
    handled.clear()
    hooks = CountingHooks()
    system = make_system(Slow, Quick, hooks=hooks, sweep_interval=3600)
    system.start()

    store.write([*(ops.Insert("slow", str(n), {}) for n in range(100)), ops.Insert("quick", "99", {})])
    hooks.wait_finished(101, timeout=10)

    assert handled.index(("quick", "99")) == 0

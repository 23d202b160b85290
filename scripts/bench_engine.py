from gevent import monkey

monkey.patch_all()

"""Engine throughput and memory, in one run.

    .venv/bin/python scripts/bench_engine.py [--messages 100000] [--actors 10000] [--rss-actors 100000]
                                             [--postgres URL]

1. Durable messages/s through one hop (store -> actor, acknowledged) across
   --actors actors, and through a three-hop pipeline (each hop's handler sends
   the next hop's message in the same transaction as its own completion).
   Each actor gets --messages / --actors messages, its first one activating
   it (as an order actor gets its webhooks, replies and follow-ups); the cost
   of activation alone is printed too: one message to each of --actors
   actors that are not active yet.
   One hop again with actors that keep a state of about 1.5 KiB of JSON (an
   order's shape) and change it with every message, so that what a state costs per
   message (its copy for a failed handler, its encoding per commit) shows.
   For one hop, also the engine's thread's CPU time per message (every greenlet
   runs on it; SQLite's threads and PostgreSQL's server are not counted): read
   with the wall time per message, it tells a slower machine (more CPU per
   message) from a wait (less of the wall time on the CPU).
2. The same workloads on bare pykka actors (in memory, no durability), and
   the ratio; and one hop's store work alone (its inserts, then a Done per
   message as its own request, no actors): the ceiling of one hop on this
   machine's store, which the one-hop figure is read against.
3. RSS after activating --rss-actors actors, and after they passivate. Their messages are
   stored before the system starts (a restart's backlog), so this is also how fast the
   mailboxes of a restart resume.
4. With --postgres (default: $PEPPASYNC_TEST_POSTGRES_URL), one hop and three
   hops again on PostgreSQL, in a scratch schema dropped afterwards.
Figures come from one run on this machine; compare the ratios, not the
absolute numbers, across machines.
"""

import argparse  # noqa: E402
import copy  # noqa: E402
import ctypes  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import pykka  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from peppasync.backoff import Backoff  # noqa: E402
from peppasync.bench.scratch import scratch_schema  # noqa: E402
from peppasync.clock import SystemClock  # noqa: E402
from peppasync.heap import tune_garbage_collector  # noqa: E402
from peppasync.retry import RetryPolicy  # noqa: E402
from peppasync.store import Store, open_store, ops  # noqa: E402

from actors.durable import DurableActor  # noqa: E402
from actors.hooks import ActorHooks  # noqa: E402
from actors.system import ActorSystem  # noqa: E402
from supervisors import KeyedSupervisor, PoisonPolicy, RestartPolicy  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Counter(ActorHooks):
    def __init__(self) -> None:
        self.ok = 0
        self.target = 0
        self.done = gevent.event.Event()
        self.active = 0

    def expect(self, n: int) -> None:
        self.ok = 0
        self.target = n
        self.done.clear()

    def on_message(self, kind: str, outcome: str, seconds: float) -> None:
        if outcome == "ok":
            self.ok += 1
            if self.ok >= self.target:
                self.done.set()

    def on_activated(self, kind: str) -> None:
        self.active += 1

    def on_deactivated(self, kind: str, exit: object) -> None:
        self.active -= 1


class Hop1(DurableActor):
    kind = "hop1"

    def handle(self, message):
        if message.payload.get("pipe"):
            self.send("hop2", self.key, message.payload)


class Hop2(DurableActor):
    kind = "hop2"

    def handle(self, message):
        self.send("hop3", self.key, message.payload)


class Hop3(DurableActor):
    kind = "hop3"

    def handle(self, message):
        pass


#: About 1.5 KiB of JSON: the shape of an order's state (a record with line items, stamps).
_ORDER_LIKE = {
    "status": "in_erp",
    "order": {
        "id": 1, "name": "#1001", "currency": "USD", "total_price": "129.90",
        "customer": {"id": 7, "email": "someone@example.com"},
        "line_items": [{"id": i, "sku": f"SKU-{i:04d}", "quantity": 1 + i % 3, "price": "12.99",
                        "title": f"A product with a longer title {i}"} for i in range(12)],
    },
    "events": [],
}


class Stateful(DurableActor):
    kind = "stateful"

    def loaded(self):
        if not self.state:
            self.state = copy.deepcopy(_ORDER_LIKE)

    def handle(self, message):
        self.state["events"].append(message.payload["n"])
        del self.state["events"][:-4]
        self.save_state()


def _system(url: str, **options: float) -> tuple[Store, Counter, ActorSystem]:
    store = open_store(url)
    store.migrate()
    hooks = Counter()
    system = ActorSystem(
        store,
        PoisonPolicy(RetryPolicy(max_attempts=5, backoff=Backoff(base=0.1, cap=1.0))),
        clock=SystemClock(),
        supervision=KeyedSupervisor(RestartPolicy(backoff=Backoff(base=0.1, cap=1.0)), clock=SystemClock()),
        hooks=hooks,
        **options,  # type: ignore[arg-type]
    )
    return store, hooks, system


def _produce(store: Store, messages: int, actors: int, kind: str = "hop1", pipeline: bool = False) -> None:
    """Enqueue durably in batches of a thousand, as the webhook ingest does under a burst."""
    for start in range(0, messages, 1000):
        store.write([ops.Insert(kind, f"a{n % actors}", {"n": n, "pipe": pipeline})
                     for n in range(start, min(messages, start + 1000))])


def durable_run(url: str, messages: int, actors: int, pipeline: bool, kind: str = "hop1") -> tuple[float, float]:
    """Messages/s, and the engine's thread's CPU seconds per message over the same time.

    Every greenlet (producer, writer, delivery, actors) runs on that thread; SQLite's
    writer and readers have threads of their own, and PostgreSQL is another process.
    """
    store, hooks, system = _system(url, idle_seconds=300, max_active=max(actors * 3, 50_000))
    for actor_class in (Hop1, Hop2, Hop3, Stateful):
        system.register(actor_class)
    system.start()
    hooks.expect(messages * (3 if pipeline else 1))
    cpu = time.thread_time()
    started = time.perf_counter()
    _produce(store, messages, actors, kind, pipeline)  # the commits deliver them: no wake needed
    hooks.done.wait()
    # A batch's last completion commits while its actor moves on: count the
    # run as finished once those commits are on disk too (the writer is FIFO).
    store.write([ops.Dedup("bench", "barrier")])
    elapsed = time.perf_counter() - started
    cpu = time.thread_time() - cpu
    system.stop(timeout=30)
    store.close()
    return messages / elapsed, cpu / messages


def store_run(url: str, messages: int, actors: int) -> float:
    """One hop's work for the store alone: the same inserts, then each message's Done as its
    own request the moment the insert committed (as an actor's completion is), no actors."""
    store = open_store(url)
    store.migrate()
    left = [messages]
    failed: list[BaseException] = []
    done = gevent.event.Event()

    def acked(results: object, error: BaseException | None) -> None:
        left[0] -= 1
        if error is not None:
            failed.append(error)
        if not left[0] or failed:
            done.set()

    def committed(added: list[tuple[int, ops.Insert, float, bool]]) -> None:
        for message_id, _insert, _at, _claimed in added:
            store.post([ops.Done(message_id)], acked)

    store.listen(committed)
    started = time.perf_counter()
    _produce(store, messages, actors)
    done.wait()
    elapsed = time.perf_counter() - started
    store.close()
    if failed:
        raise failed[0]
    return messages / elapsed


class Bare(pykka.ThreadingActor):
    use_daemon_thread = True

    def __init__(self, nxt, counter) -> None:
        super().__init__()
        self.nxt = nxt
        self.counter = counter

    def on_receive(self, message):
        if self.nxt is not None:
            self.nxt.tell(message)
        else:
            self.counter.on_message("bare", "ok", 0.0)


def bare_run(messages: int, actors: int, pipeline: bool) -> float:
    counter = Counter()
    counter.expect(messages)
    refs = []
    for _ in range(actors):
        last = Bare.start(None, counter)
        chain = Bare.start(Bare.start(last, counter), counter) if pipeline else last
        refs.append((chain, last))
    started = time.perf_counter()
    for n in range(messages):
        refs[n % actors][0].tell({"n": n})
    counter.done.wait()
    elapsed = time.perf_counter() - started
    pykka.ActorRegistry.stop_all()
    return messages / elapsed


class Idle(DurableActor):
    kind = "idle"

    def handle(self, message):
        self.state["n"] = 1


def memory_run(url: str, actors: int) -> tuple[float, float, float, float]:
    store, hooks, system = _system(url, idle_seconds=3600, max_active=actors + 1)
    system.register(Idle)
    for start in range(0, actors, 2000):
        store.write([ops.Insert("idle", f"i{n}", {}) for n in range(start, min(actors, start + 2000))])
    gc.collect()
    before = rss_mib()
    hooks.expect(actors)
    started = time.perf_counter()
    system.start()  # the mailboxes of a restart's backlog: each actor's first message, stored before
    hooks.done.wait()
    resumed = time.perf_counter() - started
    # The last actors of a burst are registered just after they handle their message.
    with gevent.Timeout(30, False):
        while system.active() < actors:
            gevent.sleep(0.05)
    active = rss_mib()
    # Passivate everything (as idle_seconds would), then give freed memory back.
    with gevent.Timeout(60, False):
        while system.active():
            system.passivate_all()  # again for any actor that registered since
            gevent.sleep(0.5)
    left = system.active()
    if left:
        print(f"warning: {left} actors had not passivated after 60 s")
    gc.collect()
    _malloc_trim()
    after = rss_mib()
    system.stop()
    store.close()
    return before, active, after, resumed


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--actors", type=int, default=10_000)
    parser.add_argument("--rss-actors", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("PEPPASYNC_TEST_POSTGRES_URL") or None,
                        help="PostgreSQL URL for the PostgreSQL rows (a scratch schema is made and dropped)")
    args = parser.parse_args()
    if args.actors < 1 or args.messages < args.actors or args.rss_actors < 1:
        parser.error("need --actors >= 1, --messages >= --actors and --rss-actors >= 1")
    tune_garbage_collector()  # as the server does once it has booted
    tmp = tempfile.mkdtemp(prefix="peppasync-bench-")
    print(f"engine benchmark: {args.messages} messages over {args.actors} actors (SQLite in {tmp})")
    activation, _ = durable_run(f"sqlite:///{tmp}/activation.db", args.actors, args.actors, pipeline=False)
    one, one_cpu = durable_run(f"sqlite:///{tmp}/one.db", args.messages, args.actors, pipeline=False)
    three, _ = durable_run(f"sqlite:///{tmp}/three.db", args.messages, args.actors, pipeline=True)
    stateful, _ = durable_run(f"sqlite:///{tmp}/state.db", args.messages, args.actors, False, "stateful")
    alone = store_run(f"sqlite:///{tmp}/alone.db", args.messages, args.actors)
    bare_one = bare_run(args.messages, args.actors, pipeline=False)
    bare_three = bare_run(args.messages, args.actors, pipeline=True)
    print(f"{'':28}{'durable':>12}{'bare pykka':>14}{'ratio':>9}")
    print(f"{'one hop, messages/s':28}{one:>12,.0f}{bare_one:>14,.0f}{one / bare_one:>9.2f}")
    print(f"{'one hop, the store alone':28}{alone:>12,.0f}   (its inserts and acknowledgements, no actors; "
          f"one hop is {one / alone:.2f} of it)")
    print(f"{'one hop, engine CPU/message':28}{one_cpu * 1e6:>12.1f} µs (the engine's thread; "
          f"{1e6 / one:.1f} µs of wall time a message, {one_cpu * one:.0%} of it on the CPU)")
    print(f"{'three hops, pipelines/s':28}{three:>12,.0f}{bare_three:>14,.0f}{three / bare_three:>9.2f}")
    print(f"{'three hops, handled/s':28}{three * 3:>12,.0f}{bare_three * 3:>14,.0f}")
    print(f"{'activation, messages/s':28}{activation:>12,.0f}   (one message to each of {args.actors:,} idle actors)")
    print(f"{'one hop with state, msgs/s':28}{stateful:>12,.0f}   ({len(json.dumps(_ORDER_LIKE)):,} bytes of JSON, "
          f"changed by every message; {stateful / one:.2f} of one hop)")
    if args.postgres:
        with scratch_schema(args.postgres) as url:
            pg_one, pg_cpu = durable_run(url, args.messages, args.actors, pipeline=False)
        with scratch_schema(args.postgres) as url:
            pg_three, _ = durable_run(url, args.messages, args.actors, pipeline=True)
        with scratch_schema(args.postgres) as url:
            pg_alone = store_run(url, args.messages, args.actors)
        print(f"{'postgresql one hop, msgs/s':28}{pg_one:>12,.0f}   ({pg_one / one:.2f} of SQLite's)")
        print(f"{'postgresql one hop, CPU/msg':28}{pg_cpu * 1e6:>12.1f} µs (the engine's thread; "
              f"{pg_cpu * pg_one:.0%} of the wall time on the CPU)")
        print(f"{'postgresql, the store alone':28}{pg_alone:>12,.0f}   "
              f"(PostgreSQL's one hop is {pg_one / pg_alone:.2f} of it)")
        print(f"{'postgresql three hops, p/s':28}{pg_three:>12,.0f}   ({pg_three / three:.2f} of SQLite's)")
    else:
        print("postgresql skipped: no --postgres and PEPPASYNC_TEST_POSTGRES_URL is not set")
    before, active, after, resumed = memory_run(f"sqlite:///{tmp}/mem.db", args.rss_actors)
    per = (active - before) * 1024 / args.rss_actors
    print(f"{'resume, messages/s':28}{args.rss_actors / resumed:>12,.0f}   (one message stored for each of "
          f"{args.rss_actors:,} actors before the system started, as after a restart)")
    print(f"RSS before {before:,.0f} MiB; {args.rss_actors:,} actors active {active:,.0f} MiB "
          f"({per:.1f} KiB each); after passivation {after:,.0f} MiB "
          f"(returned {(active - after) / max(active - before, 1e-9):.0%} of the growth)")


if __name__ == "__main__":
    main()

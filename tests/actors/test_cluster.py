"""Two nodes on one PostgreSQL: each key handled by the node that owns its lease, once, in order."""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import gevent
import pytest

from peppasync.clock import SystemClock
from peppasync.store import Message, Store, lease_of, open_store
from peppasync.store.leases import LEADER, PARTITIONS
from peppasync.store.membership import Membership

from actors.durable import DurableActor
from actors.system import ActorSystem
from tests.actors.conftest import CountingHooks, roomy_supervision, small_policy
from tests.peppasync.store.conftest import postgres_schema_url  # noqa: F401 - a fixture

pytestmark = pytest.mark.postgres

HANDLED: list[tuple[str, str, str, int]] = []  # (node, kind, key, n) in the order handled


class CounterActor(DurableActor):
    kind = "counter"

    def handle(self, message: Message) -> None:
        HANDLED.append((self.service("node"), self.kind, self.key, message.payload["n"]))
        self.state["count"] = self.state.get("count", 0) + 1
        self.save_state()


class SingleActor(DurableActor):
    kind = "single"
    singleton = True

    def handle(self, message: Message) -> None:
        HANDLED.append((self.service("node"), self.kind, self.key, message.payload["n"]))


@dataclass
class Node:
    name: str
    store: Store
    membership: Membership
    system: ActorSystem
    hooks: CountingHooks

    def stop(self) -> None:
        self.system.stop()
        self.store.close()
        self.membership.stop()


def _node(url: str, name: str, wakeups: str) -> Node:
    store = open_store(url, clock=SystemClock())
    store.migrate()
    membership = Membership(url, node_id=name, ttl=3.0, interval=0.3, wakeups=wakeups)
    hooks = CountingHooks()
    system = ActorSystem(store, small_policy(), clock=SystemClock(), supervision=roomy_supervision(),
                         hooks=hooks, sweep_interval=0.2, services={"node": name}, ownership=membership)
    system.register(CounterActor)
    system.register(SingleActor)
    membership.listener = system.delivery.leases_changed
    membership.drain = system.delivery.hand_over
    membership.on_hint = system.delivery.hinted
    membership.start()
    system.start()
    return Node(name, store, membership, system, hooks)


def _until(ok: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        gevent.sleep(0.05)


@pytest.fixture(params=["notify", "poll"])
def nodes(request: pytest.FixtureRequest, postgres_schema_url: str) -> Iterator[list[Node]]:  # noqa: F811
    # "poll": no LISTEN/NOTIFY, as behind PgBouncer's transaction pooling; polling alone delivers.
    HANDLED.clear()
    started = [_node(postgres_schema_url, "node-a", request.param), _node(postgres_schema_url, "node-b", request.param)]
    yield started
    for node in started:
        node.stop()


def _partitions(node: Node) -> set[str]:
    return {name for name in node.membership.held if name != LEADER}


def test_two_nodes_share_the_partitions_and_each_key_is_handled_once_in_order_by_its_owner(nodes):
    a, b = nodes
    _until(lambda: len(_partitions(a)) == len(_partitions(b)) == PARTITIONS // 2, "an even share")
    keys = [str(k) for k in range(60)]

    for n in range(3):
        for key in keys:
            a.store.enqueue("counter", key, {"n": n})  # every message written on one node
    _until(lambda: len(HANDLED) >= 3 * len(keys), "every message handled")
    gevent.sleep(0.5)  # room for a second handling, which must not come

    owner = {key: "node-a" if lease_of("counter", key) in a.membership.held else "node-b" for key in keys}
    assert len(HANDLED) == 3 * len(keys)
    for key in keys:
        mine = [(node, n) for node, kind, k, n in HANDLED if k == key]
        assert mine == [(owner[key], 0), (owner[key], 1), (owner[key], 2)]
    assert {node for node, *_ in HANDLED} == {"node-a", "node-b"}
    assert not _partitions(a) & _partitions(b)
    assert a.store.get_state("counter", "7")[0] == {"count": 3}


def test_a_node_that_leaves_hands_its_keys_over_at_once_and_singletons_run_on_the_leader_only(nodes):
    a, b = nodes
    _until(lambda: len(_partitions(a)) == len(_partitions(b)) == PARTITIONS // 2, "an even share")
    leader, other = (a, b) if a.membership.leads else (b, a)
    for n in range(5):
        other.store.enqueue("single", "main", {"n": n})
    _until(lambda: len(HANDLED) == 5, "the singleton's messages")

    left_at = time.monotonic()
    leader.stop()
    _until(lambda: len(_partitions(other)) == PARTITIONS and other.membership.leads, "the take-over")
    took = time.monotonic() - left_at
    for key in [str(k) for k in range(20)]:
        other.store.enqueue("counter", key, {"n": 0})
    other.store.enqueue("single", "main", {"n": 5})
    _until(lambda: len(HANDLED) == 26, "the messages after the take-over")
    nodes.remove(leader)

    assert [node for node, kind, _, _ in HANDLED if kind == "single"] == [leader.name] * 5 + [other.name]
    assert {node for node, kind, _, _ in HANDLED if kind == "counter"} == {other.name}
    assert took < other.membership.ttl  # handed over, not waited out

"""A concurrency cap held by several nodes together: never exceeded, and no node starves (PostgreSQL)."""

import time
from collections.abc import Iterator

import gevent
import pytest

from peppasync.store import open_store
from peppasync.store.limits import SharedLimit, fair_shares

from actors.connectors.limiter import ConcurrencyLimiter


def test_fair_shares_fill_the_capacity_evenly_and_never_give_a_node_more_than_it_wants():
    assert fair_shares(10, {"a": 50, "b": 50, "c": 50}) == {"a": 4, "b": 3, "c": 3}
    assert fair_shares(10, {"a": 1, "b": 50, "c": 0}) == {"a": 1, "b": 9, "c": 0}
    assert fair_shares(10, {"a": 2, "b": 3}) == {"a": 2, "b": 3}
    assert fair_shares(2, {"a": 5, "b": 5, "c": 5}) == {"a": 1, "b": 1, "c": 0}


class Cluster:
    """Calls through each node's own limiter; counts what is in flight across all of them."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0
        self.done: dict[str, int] = {}

    def call(self, node: str, limiter: ConcurrencyLimiter) -> None:
        with limiter.slot():
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            gevent.sleep(0.01)  # the vendor's latency
            self.in_flight -= 1
        self.done[node] = self.done.get(node, 0) + 1


@pytest.fixture
def url(postgres_schema_url: str) -> Iterator[str]:
    store = open_store(postgres_schema_url)
    store.migrate()
    store.close()
    yield postgres_schema_url


def _node(url: str, name: str, limiter: ConcurrencyLimiter) -> SharedLimit:
    shared = SharedLimit(url, "erp:concurrency", 6, node_id=name, apply=limiter.set_share,
                         demand=lambda: (limiter.waiting + limiter.inflight_shared, limiter.inflight_shared))
    limiter.on_wait = shared.kick
    shared.start()
    return shared


@pytest.mark.postgres
def test_three_busy_nodes_share_the_cap_and_each_gets_its_turn(url):
    cluster = Cluster()
    limiters = {name: ConcurrencyLimiter(6) for name in ("node-1", "node-2", "node-3")}
    shared = [_node(url, name, limiter) for name, limiter in limiters.items()]
    try:
        deadline = time.monotonic() + 2.0
        workers = [gevent.spawn(_busy, cluster, name, limiter, deadline)
                   for name, limiter in limiters.items() for _ in range(10)]
        gevent.joinall(workers, raise_error=True)
    finally:
        for s in shared:
            s.stop()

    total = sum(cluster.done.values())
    assert cluster.peak <= 6
    assert cluster.peak >= 5  # the cap is used, not wasted
    assert all(cluster.done.get(name, 0) >= total / 6 for name in limiters), cluster.done  # nobody starves


@pytest.mark.postgres
def test_an_idle_node_leaves_its_share_to_a_busy_one(url):
    cluster = Cluster()
    busy, idle = ConcurrencyLimiter(6), ConcurrencyLimiter(6)
    shared = [_node(url, "busy", busy), _node(url, "idle", idle)]
    try:
        deadline = time.monotonic() + 1.0
        gevent.joinall([gevent.spawn(_busy, cluster, "busy", busy, deadline) for _ in range(10)], raise_error=True)
    finally:
        for s in shared:
            s.stop()

    assert cluster.peak == 6
    assert shared[1].share == 0


def _busy(cluster: Cluster, name: str, limiter: ConcurrencyLimiter, deadline: float) -> None:
    while time.monotonic() < deadline:
        cluster.call(name, limiter)

"""Leases with fencing epochs: a node whose lease moved on cannot commit (PostgreSQL)."""

from collections.abc import Iterator

import gevent
import pytest

from peppasync.clock import ManualClock
from peppasync.errors import FencedError
from peppasync.store import Store, open_store, ops
from peppasync.store.leases import LEADER, PARTITIONS, LeaseBook, lease_of
from peppasync.store.membership import Membership

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store(postgres_schema_url: str) -> Iterator[Store]:
    store = open_store(postgres_schema_url, clock=ManualClock())
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def book(postgres_schema_url: str, pg_store: Store) -> Iterator[LeaseBook]:
    leases = LeaseBook(postgres_schema_url)
    leases.ensure_partitions()
    yield leases
    leases.close()


def _expire(book: LeaseBook, node: str) -> None:
    # The owner's lease runs out: renewed with no time left, as a node that stopped beating.
    book.renew(node, ttl=-1.0)


def test_a_write_under_a_lease_that_moved_on_is_refused_and_changes_nothing(pg_store, book):
    lease = lease_of("order", "1001")
    epoch_a = book.claim("node-a", ttl=30.0, limit=PARTITIONS)[lease]
    message_id = pg_store.enqueue("order", "1001", {"n": 1})
    pg_store.write([ops.Fence(lease, epoch_a), ops.PutState("order", "1001", {"by": "a"})])
    _expire(book, "node-a")
    epoch_b = book.claim("node-b", ttl=30.0, limit=PARTITIONS)[lease]

    with pytest.raises(FencedError) as refused:
        pg_store.write([ops.Fence(lease, epoch_a), ops.Done(message_id), ops.PutState("order", "1001", {"by": "a"}),
                        ops.Insert("inventory", "SKU-1", {"from": "a"})])
    pg_store.write([ops.Fence(lease, epoch_b), ops.PutState("order", "1001", {"by": "b"})])

    assert (refused.value.lease, refused.value.epoch, refused.value.current) == (lease, epoch_a, epoch_b)
    assert epoch_b == epoch_a + 1
    assert [m.id for m in pg_store.pending("order", "1001", limit=10)] == [message_id]
    assert pg_store.pending("inventory", "SKU-1", limit=10) == []
    assert pg_store.get_state("order", "1001") == ({"by": "b"}, 2)


def test_a_fenced_request_fails_alone_in_its_group_commit(pg_store, book):
    lease = lease_of("order", "7")
    epoch = book.claim("node-a", ttl=30.0, limit=PARTITIONS)[lease]
    _expire(book, "node-a")
    book.claim("node-b", ttl=30.0, limit=PARTITIONS)

    stale = pg_store.submit([ops.Fence(lease, epoch), ops.Insert("order", "7", {"from": "a"})])
    fresh = pg_store.submit([ops.Insert("order", "8", {"from": "webhook"})])
    gevent.joinall([gevent.spawn(stale.wait), gevent.spawn(fresh.wait)])

    assert isinstance(stale.exception, FencedError)
    assert fresh.successful()
    assert [m.payload for m in pg_store.pending("order", "8", limit=10)] == [{"from": "webhook"}]
    assert pg_store.pending("order", "7", limit=10) == []


def test_partitions_are_claimed_by_one_node_each_and_a_release_moves_every_epoch_on(book):
    a = book.claim("node-a", ttl=30.0, limit=40)
    b = book.claim("node-b", ttl=30.0, limit=40)
    released = book.release("node-a")
    c = book.claim("node-c", ttl=30.0, limit=PARTITIONS)

    assert len(a) == 40 and len(b) == PARTITIONS - 40
    assert not set(a) & set(b)
    assert released == sorted(a)
    assert set(c) == set(a)
    assert all(c[name] == a[name] + 2 for name in a)  # one step for the release, one for the claim
    assert book.renew("node-a", ttl=30.0) == {}


def test_the_leader_lease_is_held_by_one_node_until_it_expires_or_resigns(book):
    first = book.lead("node-a", ttl=30.0)
    second = book.lead("node-b", ttl=30.0)
    book.release("node-a", [LEADER])
    after_resign = book.lead("node-b", ttl=30.0)
    _expire(book, "node-b")
    after_expiry = book.lead("node-c", ttl=30.0)

    assert first == 1
    assert second is None
    assert after_resign == 3
    assert after_expiry == 4
    assert [(row.owner, row.epoch) for row in book.leases() if row.name == LEADER] == [("node-c", 4)]


def test_a_bad_fence_is_refused_when_it_is_built():
    with pytest.raises(ValueError, match="Fence: epoch must be a positive integer id, got 0"):
        ops.Fence("partition/01", 0)
    with pytest.raises(TypeError, match="Fence: lease must be a non-empty string"):
        ops.Fence(None, 1)  # type: ignore[arg-type]


def test_a_node_stopped_while_a_heartbeat_query_is_cut_short_still_releases_every_lease(postgres_schema_url, book):
    node = Membership(postgres_schema_url, node_id="node-a", ttl=30.0, interval=10.0)
    node.start()
    held = len(node.held)
    round_in_flight = gevent.spawn(node._book.run, "SELECT pg_sleep(2)")  # noqa: SLF001 - a round's query
    gevent.sleep(0.2)
    round_in_flight.kill()  # as stop() kills a round mid-query: its connection is left busy

    node.stop()

    assert held == PARTITIONS + 1  # every partition, and the leader lease
    assert [row.name for row in book.leases() if row.owner is not None] == []
    assert book.nodes() == []

"""Durable mailboxes: FIFO, claims, retries, acknowledgements, actor state and dedup keys."""

from __future__ import annotations

import pytest

from peppasync.clock import ManualClock
from peppasync.errors import NotFoundError, StoreError
from peppasync.store import Store, ops

from tests.peppasync.store import raw


def test_a_mailbox_hands_out_its_messages_first_in_first_out(store: Store) -> None:
    ids = [store.enqueue("orders", "1001", {"n": n}) for n in range(5)]
    store.enqueue("orders", "other", {"n": 99})

    pending = store.pending("orders", "1001", limit=10)

    assert [m.id for m in pending] == ids
    assert [m.payload for m in pending] == [{"n": n} for n in range(5)]
    assert {m.state for m in pending} == {"pending"}


def test_pending_returns_at_most_limit_messages(store: Store) -> None:
    ids = [store.enqueue("orders", "1001", {"n": n}) for n in range(5)]

    pending = store.pending("orders", "1001", limit=2)

    assert [m.id for m in pending] == ids[:2]


def test_start_counts_each_attempt_and_marks_the_message_running(store: Store) -> None:
    message_id = store.enqueue("orders", "1001", {})

    first = store.write([ops.Start(message_id)])
    store.write([ops.Retry(message_id, 0.0, "timeout")])
    second = store.write([ops.Start(message_id)])

    (message,) = store.pending("orders", "1001", limit=1)
    assert (first, second) == ([1], [2])
    assert message.state == "running"
    assert message.attempts == 2
    assert message.last_error == "timeout"


def test_release_gives_back_a_started_message_with_that_attempt_uncounted(store: Store) -> None:
    started, untouched, gone = (store.enqueue("orders", "1001", {"n": n}) for n in range(3))
    store.write([ops.Start(started), ops.Start(gone)])
    store.write([ops.Done(gone)])

    assert store.write([ops.Release(started), ops.Release(untouched), ops.Release(gone)]) == [None, None, None]

    assert [(m.id, m.state, m.attempts) for m in store.pending("orders", "1001", limit=10)] == [
        (started, "pending", 0), (untouched, "pending", 0)]


def test_retry_keeps_a_message_out_of_its_mailbox_until_its_time(store: Store, clock: ManualClock) -> None:
    message_id = store.enqueue("orders", "1001", {})
    store.write([ops.Start(message_id)])
    retry_at = clock.time() + 30

    store.write([ops.Retry(message_id, retry_at, "ERP busy")])

    assert store.pending("orders", "1001", limit=10) == []
    assert store.pending_keys() == []
    assert store.next_available_at("orders", "1001") == retry_at
    clock.advance(30)
    (message,) = store.pending("orders", "1001", limit=10)
    assert (message.id, message.state, message.attempts) == (message_id, "pending", 1)
    assert store.pending_keys() == [("orders", "1001")]


def test_enqueue_with_a_delay_makes_the_message_available_later(store: Store, clock: ManualClock) -> None:
    store.enqueue("orders", "1001", {}, delay=5)

    early = store.pending("orders", "1001", limit=1)
    late = store.pending("orders", "1001", limit=1, now=clock.time() + 5)

    assert early == []
    assert [m.available_at for m in late] == [clock.time() + 5]


def test_done_acknowledges_a_message_for_good(store: Store) -> None:
    message_id = store.enqueue("orders", "1001", {})
    store.write([ops.Start(message_id)])

    result = store.write([ops.Done(message_id)])

    assert result == [None]
    assert store.pending("orders", "1001", limit=10, now=float("inf")) == []
    assert store.next_available_at("orders", "1001") is None


@pytest.mark.parametrize("op", [ops.Start(424242), ops.Done(424242), ops.Retry(424242, 0.0, "x")])
def test_an_op_on_a_message_that_is_gone_says_which_message(store: Store, op: ops.Op) -> None:
    with pytest.raises(NotFoundError, match="no message with id 424242") as caught:
        store.write([op])

    assert caught.value.ident == 424242


def test_a_quarantined_message_cannot_be_started_again(store: Store) -> None:
    message_id = store.enqueue("orders", "1001", {})
    store.write([ops.Quarantine(message_id, "validation", "ValidationError", "tb")])

    with pytest.raises(StoreError, match=f"message {message_id} is quarantined"):
        store.write([ops.Start(message_id)])


def test_pending_keys_lists_ready_mailboxes_oldest_first_and_filters_by_kind(store: Store) -> None:
    store.enqueue("orders", "b", {})
    store.enqueue("skus", "SKU-1", {})
    store.enqueue("orders", "a", {})
    store.enqueue("orders", "b", {})

    every = store.pending_keys()
    orders = store.pending_keys("orders")
    first = store.pending_keys(limit=1)

    assert every == [("orders", "b"), ("skus", "SKU-1"), ("orders", "a")]
    assert orders == [("orders", "b"), ("orders", "a")]
    assert first == [("orders", "b")]


def test_mailbox_stats_gives_depth_and_oldest_age_per_kind(store: Store, clock: ManualClock) -> None:
    store.enqueue("orders", "a", {})
    clock.advance(10)
    store.enqueue("orders", "b", {})
    store.enqueue("skus", "SKU-1", {})
    quarantined = store.enqueue("skus", "SKU-2", {})
    store.write([ops.Quarantine(quarantined, "validation", "ValidationError", "tb")])

    stats = store.mailbox_stats(now=clock.time() + 5)

    assert {k: (s.depth, s.oldest_age_seconds) for k, s in stats.items()} == {
        "orders": (2, 15.0),
        "skus": (1, 5.0),
    }


def test_actor_state_starts_at_version_one_and_counts_up(store: Store) -> None:
    missing = store.get_state("orders", "1001")

    first = store.write([ops.PutState("orders", "1001", {"status": "new"})])
    second = store.write([ops.PutState("orders", "1001", {"status": "sent"})])

    assert missing is None
    assert (first, second) == ([1], [2])
    assert store.get_state("orders", "1001") == ({"status": "sent"}, 2)
    assert store.get_state("orders", "1002") is None


def test_count_by_status_counts_the_saved_states_of_one_kind(store: Store) -> None:
    store.write([ops.PutState("order", "1", {"status": "fulfilled"}), ops.PutState("order", "2", {"status": "fulfilled"}),
                 ops.PutState("order", "3", {"status": "received", "order": {"id": 3}}),
                 ops.PutState("order", "4", {"events": []}), ops.PutState("inventory", "SKU", {"status": "x"})])
    store.write([ops.PutState("order", "3", {"status": "erp_synced"})])

    assert store.count_by_status("order") == {"fulfilled": 2, "erp_synced": 1}
    assert store.count_by_status("nothing") == {}


def test_a_webhook_event_is_new_once_and_seen_after_that(store: Store) -> None:
    first = store.write([ops.Dedup("shopify", "evt-1")])
    again = store.write([ops.Dedup("shopify", "evt-1")])
    other_source = store.write([ops.Dedup("wms", "evt-1")])

    assert (first, again, other_source) == ([True], [False], [True])


def test_an_event_id_sent_again_with_another_body_is_a_new_event_marked_reused(store: Store) -> None:
    first = store.write([ops.InsertOnce("shopify", "evt-1", ops.Insert("order", "7", {"copy": 1}), "digest-a")])
    same = store.write([ops.InsertOnce("shopify", "evt-1", ops.Insert("order", "7", {"copy": 2}), "digest-a")])
    other = store.write([ops.InsertOnce("shopify", "evt-1", ops.Insert("order", "8", {"copy": 3}), "digest-b")])
    other_again = store.write([ops.InsertOnce("shopify", "evt-1", ops.Insert("order", "8", {"copy": 4}), "digest-b")])

    assert first[0].message_id is not None and first[0].reused is False
    assert same[0].message_id is None
    assert other[0].message_id is not None and other[0].reused is True
    assert other_again[0].message_id is None
    assert [m.payload for m in store.pending("order", "7", limit=5)] == [{"copy": 1}]
    assert [m.payload for m in store.pending("order", "8", limit=5)] == [{"copy": 3}]


def test_an_event_recorded_without_a_digest_is_the_same_event_whatever_the_body(store: Store) -> None:
    store.write([ops.Dedup("shopify", "evt-1")])
    store.write([ops.InsertOnce("shopify", "evt-2", ops.Insert("order", "2", {}), "digest-a")])

    later = store.write([ops.InsertOnce("shopify", "evt-1", ops.Insert("order", "1", {}), "digest-a")])
    bare = store.write([ops.Dedup("shopify", "evt-2")])

    assert later[0].message_id is None
    assert bare == [False]


def test_a_stored_message_that_cannot_be_read_back_fails_alone(store: Store) -> None:
    # Written by a version that stored what it was sent: nested far deeper than any reader's stack.
    bad = store.enqueue("order", "1", {"n": 1})
    good = store.enqueue("order", "1", {"n": 2})
    raw.execute(store.url, "UPDATE messages SET payload = ? WHERE id = ?", ("[" * 5000 + "]" * 5000, bad))

    pending = store.pending("order", "1", limit=5)
    loaded = store.load_many("order", ["1"], limit=5)["1"][1]

    assert [m.id for m in pending] == [bad, good] == [m.id for m in loaded]
    assert pending[0].payload["type"] == "unreadable"
    assert pending[1].payload == {"n": 2}


def test_ops_in_one_request_commit_together_and_answer_in_order(store: Store) -> None:
    results = store.write([
        ops.Insert("orders", "1001", {"id": 1001}),
        ops.Dedup("shopify", "evt-9"),
        ops.PutState("orders", "1001", {"seen": True}),
        ops.Audit("ops", "note", "orders/1001", {"why": "test"}),
    ])

    message_id, fresh, version, audit_id = results
    assert [m.id for m in store.pending("orders", "1001", limit=5)] == [message_id]
    assert (fresh, version) == (True, 1)
    assert [(a.id, a.who, a.detail) for a in store.audit_list()] == [(audit_id, "ops", {"why": "test"})]


def test_payloads_keep_unicode_nesting_and_numbers(store: Store) -> None:
    payload = {"name": "Crème brûlée 🍮", "lines": [{"sku": "A", "qty": 2, "price": 12.5}], "note": None}

    store.enqueue("orders", "1001", payload)

    assert store.pending("orders", "1001", limit=1)[0].payload == payload


def test_pending_keys_finds_every_mailbox_behind_a_long_backlog(store: Store) -> None:
    for chunk in range(5):
        store.write([ops.Insert("orders", f"busy-{n % 3}", {"n": n}) for n in range(chunk * 5000, (chunk + 1) * 5000)])
    store.enqueue("skus", "late", {})
    store.enqueue("orders", "later", {})

    every = store.pending_keys()
    orders = store.pending_keys("orders")

    assert every == [("orders", "busy-0"), ("orders", "busy-1"), ("orders", "busy-2"),
                     ("skus", "late"), ("orders", "later")]
    assert orders == [("orders", "busy-0"), ("orders", "busy-1"), ("orders", "busy-2"), ("orders", "later")]

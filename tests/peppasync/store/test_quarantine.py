"""Quarantine: list, show, retry (optionally with an edited payload), discard, and their audit trail."""

from __future__ import annotations

import pytest

from peppasync.clock import ManualClock
from peppasync.errors import NotFoundError, StoreError
from peppasync.store import Store, ops

from tests.peppasync.store import raw


def _quarantined(store: Store, kind: str = "orders", key: str = "1001", reason: str = "validation") -> int:
    message_id = store.enqueue(kind, key, {"id": key})
    store.write([ops.Start(message_id)])
    (qid,) = store.write([ops.Quarantine(message_id, reason, "ValidationError", "Traceback: line 1")])
    return int(qid)


def _quarantined_many(store: Store, specs: list[tuple[str, str]]) -> list[int]:
    """Quarantine one message per (kind, reason), in three commits whatever their number."""
    message_ids = store.write([ops.Insert(kind, str(n), {"n": n}) for n, (kind, _) in enumerate(specs)])
    store.write([ops.Start(m) for m in message_ids])
    quarantined = store.write(
        [ops.Quarantine(m, reason, "ValidationError", "Traceback") for m, (_, reason) in zip(message_ids, specs)]
    )
    return [int(q) for q in quarantined]


def test_quarantine_moves_the_message_with_its_failure_details(store: Store, clock: ManualClock) -> None:
    message_id = store.enqueue("orders", "1001", {"id": 1001})
    store.write([ops.Start(message_id)])
    store.write([ops.Retry(message_id, clock.time(), "timeout")])
    first_failure = clock.time()
    clock.advance(60)
    store.write([ops.Start(message_id)])

    (qid,) = store.write([ops.Quarantine(message_id, "attempts_exhausted", "TransientError", "Traceback ...")])

    entry = store.quarantine_get(qid)
    assert (entry.message_id, entry.kind, entry.key, entry.payload) == (message_id, "orders", "1001", {"id": 1001})
    assert (entry.reason, entry.error_class, entry.traceback) == ("attempts_exhausted", "TransientError", "Traceback ...")
    assert (entry.attempts, entry.state, entry.resolved_at) == (2, "open", None)
    assert (entry.first_failure_at, entry.last_failure_at) == (first_failure, first_failure + 60)
    assert store.pending("orders", "1001", limit=10, now=float("inf")) == []


def test_quarantine_list_filters_by_state_kind_and_reason(store: Store) -> None:
    a = _quarantined(store, "orders", "1")
    b = _quarantined(store, "skus", "SKU-1", "netsuite_rejected")
    c = _quarantined(store, "orders", "2")
    store.quarantine_discard(c, who="alice")

    open_entries = store.quarantine_list()
    orders = store.quarantine_list(kind="orders", state=None)
    discarded = store.quarantine_list(state="discarded")
    rejected = store.quarantine_list(reason="netsuite_rejected")
    after_a = store.quarantine_list(after=a)

    assert [e.id for e in open_entries] == [a, b]
    assert [e.id for e in orders] == [a, c]
    assert [e.id for e in discarded] == [c]
    assert [e.id for e in rejected] == [b]
    assert [e.id for e in after_a] == [b]


def test_quarantine_list_without_a_limit_lists_every_entry_not_the_first_hundred(store: Store) -> None:
    ids = _quarantined_many(store, [("order", "validation")] * 250)

    listed = store.quarantine_list()

    assert [e.id for e in listed] == ids


def test_a_quarantine_page_says_how_many_match_and_where_the_next_page_starts(store: Store) -> None:
    ids = _quarantined_many(store, [("order", "validation")] * 5)

    first = store.quarantine_page(limit=2)
    second = store.quarantine_page(limit=2, after=first.next or 0)
    last = store.quarantine_page(limit=2, after=second.next or 0)

    assert ([e.id for e in first.entries], first.total, first.next) == (ids[:2], 5, ids[1])
    assert ([e.id for e in second.entries], second.total, second.next) == (ids[2:4], 5, ids[3])
    assert ([e.id for e in last.entries], last.total, last.next) == (ids[4:], 5, None)


def test_a_page_that_ends_exactly_at_the_last_entry_has_no_next(store: Store) -> None:
    _quarantined_many(store, [("order", "validation")] * 4)

    page = store.quarantine_page(limit=4)

    assert (len(page.entries), page.total, page.next) == (4, 4, None)


def test_quarantine_filters_apply_before_the_limit(store: Store) -> None:
    specs = [("order", "validation"), ("inventory", "validation"), ("order", "netsuite_rejected")] * 4
    ids = _quarantined_many(store, specs)
    store.quarantine_discard(ids[0], who="alice")
    wanted = [i for i, (kind, reason) in zip(ids, specs) if kind == "order" and reason == "validation"][1:]

    page = store.quarantine_page(kind="order", reason="validation", limit=2)
    rest = store.quarantine_page(kind="order", reason="validation", limit=2, after=page.next or 0)

    assert [e.id for e in page.entries + rest.entries] == wanted
    assert (page.total, rest.total, rest.next) == (3, 3, None)


def test_a_bad_quarantine_limit_or_cursor_is_named(store: Store) -> None:
    with pytest.raises(ValueError, match="limit must be an integer of at least 1, got 0"):
        store.quarantine_page(limit=0)
    with pytest.raises(ValueError, match="after must be an integer of at least 0, got -1"):
        store.quarantine_list(after=-1)


def test_quarantine_counts_open_entries_per_kind_and_reason(store: Store) -> None:
    _quarantined(store, "orders", "1", "validation")
    _quarantined(store, "orders", "2", "validation")
    _quarantined(store, "orders", "3", "netsuite_rejected")
    gone = _quarantined(store, "skus", "SKU-1", "validation")
    store.quarantine_discard(gone, who="alice")

    counts = store.quarantine_counts()

    assert counts == {("orders", "validation"): 2, ("orders", "netsuite_rejected"): 1}


def test_retry_puts_the_message_back_with_attempts_from_zero_and_audits_it(
    store: Store, clock: ManualClock
) -> None:
    qid = _quarantined(store)

    new_id = store.quarantine_retry(qid, who="alice")

    (message,) = store.pending("orders", "1001", limit=10)
    entry = store.quarantine_get(qid)
    (audit,) = store.audit_list()
    assert (message.id, message.payload, message.attempts, message.state) == (new_id, {"id": "1001"}, 0, "pending")
    assert (entry.state, entry.resolved_at) == ("retried", clock.time())
    assert (audit.who, audit.action, audit.target) == ("alice", "quarantine.retry", f"quarantine/{qid}")
    assert audit.detail == {"kind": "orders", "key": "1001", "message_id": new_id, "payload_edited": False}
    assert store.quarantine_counts() == {}


def test_retry_with_an_edited_payload_sends_the_edited_payload(store: Store) -> None:
    qid = _quarantined(store)

    new_id = store.quarantine_retry(qid, who="bob", payload={"id": "1001", "email": "fixed@example.com"})

    (message,) = store.pending("orders", "1001", limit=10)
    assert (message.id, message.payload) == (new_id, {"id": "1001", "email": "fixed@example.com"})
    assert store.quarantine_get(qid).payload == {"id": "1001"}
    assert store.audit_list()[0].detail["payload_edited"] is True


def test_discard_closes_the_entry_and_audits_it(store: Store) -> None:
    qid = _quarantined(store)

    store.quarantine_discard(qid, who="carol")

    (audit,) = store.audit_list()
    assert store.quarantine_get(qid).state == "discarded"
    assert (audit.who, audit.action, audit.target) == ("carol", "quarantine.discard", f"quarantine/{qid}")
    assert store.pending("orders", "1001", limit=10, now=float("inf")) == []


def test_an_entry_already_resolved_cannot_be_retried_or_discarded_again(store: Store) -> None:
    qid = _quarantined(store)
    store.quarantine_retry(qid, who="alice")

    with pytest.raises(StoreError, match=f"quarantine entry {qid} is already retried"):
        store.quarantine_retry(qid, who="bob")
    with pytest.raises(StoreError, match=f"quarantine entry {qid} is already retried"):
        store.quarantine_discard(qid, who="bob")
    assert len(store.audit_list()) == 1


def test_a_missing_quarantine_entry_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no quarantine entry with id 777"):
        store.quarantine_get(777)
    with pytest.raises(NotFoundError, match="no quarantine entry with id 777"):
        store.quarantine_retry(777, who="alice")


def test_quarantine_actions_need_someone_to_blame(store: Store) -> None:
    qid = _quarantined(store)

    with pytest.raises(ValueError, match="who must be a non-empty string"):
        store.quarantine_retry(qid, who="")


def test_a_bad_quarantine_state_filter_is_named(store: Store) -> None:
    with pytest.raises(ValueError, match="state must be one of open, retried, discarded"):
        store.quarantine_list(state="closed")


def test_the_audit_log_lists_newest_first(store: Store, clock: ManualClock) -> None:
    store.write([ops.Audit("alice", "connector.pause", "netsuite", {})])
    clock.advance(1)
    store.write([ops.Audit("bob", "connector.resume", "netsuite", {"after": 1})])

    entries = store.audit_list()
    last = store.audit_list(limit=1)

    assert [(e.who, e.action, e.at) for e in entries] == [
        ("bob", "connector.resume", clock.time()),
        ("alice", "connector.pause", clock.time() - 1),
    ]
    assert [e.who for e in last] == ["bob"]


def test_an_entry_whose_stored_payload_cannot_be_read_back_is_still_listed_and_shown(store: Store) -> None:
    # Written by a version that stored what it was sent: nested far deeper than any reader's stack.
    deep = _quarantined(store, key="deep")
    fine = _quarantined(store, key="fine")
    unreadable = '{"x": ' + "[" * 5000 + "]" * 5000 + "}"
    raw.execute(store.url, "UPDATE quarantine SET payload = ? WHERE id = ?", (unreadable, deep))

    listed = store.quarantine_list()
    page = store.quarantine_page(limit=10)
    shown = store.quarantine_get(deep)

    assert [e.id for e in listed] == [deep, fine] == [e.id for e in page.entries]
    assert shown.payload["type"] == "unreadable"
    assert "nests deeper than 256 levels" in shown.payload["error"]
    assert store.quarantine_get(fine).payload == {"id": "fine"}


def test_a_retried_entry_is_told_to_the_commit_listener_as_a_new_message_with_its_edited_payload(
    store: Store,
) -> None:
    qid = _quarantined(store, key="1003")
    told: list[tuple[int, str, str, dict[str, object], bool]] = []
    store.listen(lambda added: told.extend((i, op.kind, op.key, op.payload, c) for i, op, _, c in added))

    new_id = store.quarantine_retry(qid, who="alice", payload={"id": "1003", "fixed": True})

    assert told == [(new_id, "orders", "1003", {"id": "1003", "fixed": True}, False)]

"""The group-commit writer: batching, failure isolation, metrics, and a hub that keeps running."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import gevent
import gevent.event
import pytest

from peppasync.errors import NotFoundError, StoreError
from peppasync.metrics import Metrics
from peppasync.store import Store, open_store, ops

from tests.peppasync.store.conftest import postgres_url


def test_many_greenlets_writing_at_once_share_a_few_commits(store: Store) -> None:
    before = store.commits

    writers = [gevent.spawn(store.enqueue, "orders", f"k{n % 7}", {"n": n}) for n in range(300)]
    gevent.joinall(writers, raise_error=True)

    ids = [w.value for w in writers]
    assert len(set(ids)) == 300
    assert store.commits - before <= 5
    stored = [m for k in range(7) for m in store.pending("orders", f"k{k}", limit=100)]
    assert sorted(m.id for m in stored) == sorted(ids)


def test_each_request_in_a_batch_gets_the_ids_of_its_own_messages(store: Store) -> None:
    first = store.enqueue("orders", "x", {"n": "first"})
    requests: list[list[ops.Op]] = [
        [ops.Insert("orders", "a", {"n": 0}), ops.Insert("orders", "b", {"n": 1})],
        [ops.Insert("orders", "a", {"n": 2})],
        [ops.Dedup("shopify", "e1"), ops.Insert("orders", "b", {"n": 3})],
        [ops.Start(first), ops.Insert("orders", "c", {"n": 4}), ops.Insert("orders", "a", {"n": 5})],
    ]

    results = [store.submit(r) for r in requests]
    answers = [r.get(timeout=10) for r in results]

    by_id = {m.id: m.payload["n"] for key in "abc" for m in store.pending("orders", key, limit=10)}
    assert [[by_id[i] for i in answers[0]], [by_id[answers[1][0]]]] == [[0, 1], [2]]
    assert (answers[2][0], by_id[answers[2][1]]) == (True, 3)
    assert (answers[3][0], by_id[answers[3][1]], by_id[answers[3][2]]) == (1, 4, 5)
    assert sorted(by_id.values()) == [0, 1, 2, 3, 4, 5]


def test_a_failing_request_in_a_batch_does_not_fail_the_others(store: Store) -> None:
    good_before = [store.submit([ops.Insert("orders", "1", {"n": n})]) for n in range(3)]
    bad = store.submit([ops.Insert("orders", "1", {"n": "lost"}), ops.Done(999_999)])
    good_after = [store.submit([ops.Insert("orders", "1", {"n": n})]) for n in range(3, 6)]

    with pytest.raises(NotFoundError, match="no message with id 999999"):
        bad.get(timeout=10)
    ids = [r.get(timeout=10)[0] for r in good_before + good_after]

    pending = store.pending("orders", "1", limit=20)
    assert [m.id for m in pending] == ids
    assert [m.payload["n"] for m in pending] == [0, 1, 2, 3, 4, 5]


def test_dones_in_one_batch_each_fail_on_their_own_when_their_message_is_not_there_to_delete(
    store: Store,
) -> None:
    first, second, quarantined = (store.enqueue("orders", "1", {"n": n}) for n in range(3))
    store.write([ops.Quarantine(quarantined, "poison", "ValueError", "Traceback")])

    # Submitted together, so that one commit deletes them with one statement.
    requests = [store.submit([ops.Done(first)]), store.submit([ops.Done(quarantined)]),
                store.submit([ops.Done(999_999)]), store.submit([ops.Done(second)])]

    assert requests[0].get(timeout=10) == [None]
    with pytest.raises(StoreError, match=f"message {quarantined} is quarantined"):
        requests[1].get(timeout=10)
    with pytest.raises(NotFoundError, match="no message with id 999999"):
        requests[2].get(timeout=10)
    assert requests[3].get(timeout=10) == [None]
    assert store.pending("orders", "1", limit=10) == []
    assert [q.message_id for q in store.quarantine_list()] == [quarantined]


def test_batch_max_caps_the_requests_in_one_commit(store_url: str) -> None:
    store = open_store(store_url, batch_max=4)
    store.migrate()
    before = store.commits

    results = [store.submit([ops.Insert("orders", "1", {"n": n})]) for n in range(10)]
    ids = [r.get(timeout=10)[0] for r in results]
    commits = store.commits - before
    store.close()

    assert ids == sorted(ids)
    assert commits == 3


def test_commits_are_counted_in_the_metrics(store_url: str) -> None:
    metrics = Metrics(process=False)
    store = open_store(store_url, metrics=metrics)
    store.migrate()

    results = [store.submit([ops.Insert("orders", "1", {"n": n})]) for n in range(10)]
    for r in results:
        r.get(timeout=10)
    up = store.ping()
    commits = store.commits
    store.close()

    sample = metrics.registry.get_sample_value
    assert up is True
    assert sample("peppasync_store_commits_total") == commits
    assert sample("peppasync_store_commit_batch_size_count") == commits
    assert sample("peppasync_store_commit_batch_size_sum") == 10
    assert sample("peppasync_store_commit_duration_seconds_count") == commits
    assert sample("peppasync_store_up") == 1


def test_a_failed_ping_sets_store_up_to_zero() -> None:
    metrics = Metrics(process=False)
    store = open_store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", metrics=metrics)

    try:
        up = store.ping()
    finally:
        store.close()

    assert up is False
    assert metrics.registry.get_sample_value("peppasync_store_up") == 0


def test_a_slow_sqlite_write_does_not_freeze_other_greenlets(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/store.db")
    store.migrate()
    # Another connection holds SQLite's write lock, so the store's next write
    # waits inside sqlite3 (busy timeout) until the lock goes.
    blocker = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    ticks = 0
    ticked_enough = gevent.event.Event()

    def ticker() -> None:
        nonlocal ticks
        while True:
            gevent.sleep(0.005)
            ticks += 1
            if ticks == 20:
                ticked_enough.set()

    ticking = gevent.spawn(ticker)
    write = gevent.spawn(store.enqueue, "orders", "1", {"n": 1})

    try:
        reached = ticked_enough.wait(timeout=5)
        still_waiting = not write.ready()
        blocker.execute("ROLLBACK")
        message_id = write.get(timeout=10)
    finally:
        ticking.kill()
        blocker.close()
        store.close()

    assert reached
    assert still_waiting
    assert message_id == 1


def test_a_sqlite_read_runs_while_the_writer_is_blocked(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/store.db")
    store.migrate()
    existing = store.enqueue("orders", "1", {})
    blocker = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    write = gevent.spawn(store.enqueue, "orders", "1", {"n": 2})

    try:
        gevent.idle()
        pending = store.pending("orders", "1", limit=10)
        still_waiting = not write.ready()
        blocker.execute("ROLLBACK")
        write.get(timeout=10)
    finally:
        blocker.close()
        store.close()

    assert [m.id for m in pending] == [existing]
    assert still_waiting


def test_an_actor_state_read_does_not_queue_behind_long_sqlite_reads(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/store.db")
    store.migrate()
    store.write([ops.PutState("order", "1", {"status": "erp_synced"})])
    # Every reader thread busy with a long read (a backlog scan over millions of rows).
    scans = [gevent.spawn(store._read, lambda s: time.sleep(1.0)) for _ in range(4)]
    gevent.sleep(0.05)

    try:
        with gevent.Timeout(0.5):
            state = store.get_state("order", "1")
            pending = store.pending("order", "1", limit=10)
            loaded = store.load_many("order", ["1", "2"], limit=10)
        scanning = [not scan.ready() for scan in scans]
    finally:
        gevent.joinall(scans)
        store.close()

    assert state == ({"status": "erp_synced"}, 1)
    assert pending == []
    assert loaded == {"1": (({"status": "erp_synced"}, 1), []), "2": (None, [])}
    assert all(scanning)


def _nested(depth: int) -> list[object]:
    outer: list[object] = []
    inner = outer
    for _ in range(depth - 1):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    return outer


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ops.Insert("", "1", {}), "Insert: kind must be a non-empty string"),
        (lambda: ops.Insert("orders", "1", ["not", "a", "dict"]), "Insert: payload must be a dict"),  # type: ignore[arg-type]
        (lambda: ops.Insert("orders", "1", {"when": object()}), "Insert: payload cannot be stored as JSON"),
        (lambda: ops.Insert("orders", "1", {"x": float("nan")}), "Insert: payload cannot be stored as JSON"),
        (lambda: ops.Insert("orders", "1", {"x": "\ud800"}), r"Insert: payload .* lone surrogate \(\\ud800\)"),
        (lambda: ops.PutState("orders", "1", {"x": _nested(300)}), "PutState: state nests deeper than 256 levels"),
        (lambda: ops.Insert("orders", "1", {"x": _nested(5000)}), "Insert: payload cannot be stored as JSON"),
        (lambda: ops.Start(0), "Start: message_id must be a positive integer id"),
        (lambda: ops.Retry(1, "soon", "x"), "Retry: available_at must be an epoch time"),  # type: ignore[arg-type]
        (lambda: ops.PutState("orders", "1", None), "PutState: state must be a dict"),  # type: ignore[arg-type]
        (lambda: ops.Dedup("shopify", ""), "Dedup: event_id must be a non-empty string"),
    ],
)
def test_a_malformed_op_is_refused_when_it_is_built(build: object, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        build()  # type: ignore[operator]


def test_submit_refuses_anything_that_is_not_a_list_of_ops(store: Store) -> None:
    with pytest.raises(TypeError, match="not a store op"):
        store.submit([("orders", "1", {})])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="sequence of store ops"):
        store.submit(ops.Done(1))  # type: ignore[arg-type]


@pytest.mark.postgres
def test_the_store_reconnects_after_postgresql_drops_its_connections(postgres_schema_url: str) -> None:
    import psycopg

    name = f"peppasync-store-test-{os.getpid()}"
    store = open_store(f"{postgres_schema_url}&application_name={name}")
    store.migrate()
    before = store.enqueue("orders", "1", {"n": 1})
    store.pending("orders", "1", limit=1)
    with psycopg.connect(postgres_url(), autocommit=True) as admin:
        dropped = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchone()

    try:
        after = store.enqueue("orders", "1", {"n": 2})
        pending = store.pending("orders", "1", limit=10)
    finally:
        store.close()

    assert dropped is not None and dropped[0] >= 2
    assert [m.id for m in pending] == [before, after]


def test_a_request_of_thousands_of_inserts_gets_every_id_in_order(store: Store) -> None:
    ids = store.write([ops.Insert("orders", f"k{n % 3}", {"n": n}) for n in range(2500)])

    by_id = {m.id: m.payload["n"] for k in range(3) for m in store.pending("orders", f"k{k}", limit=5000)}
    assert [by_id[i] for i in ids] == list(range(2500))


def test_a_killed_writer_fails_its_waiting_requests_and_the_next_write_works(store: Store) -> None:
    store.enqueue("orders", "1", {"n": 0})
    writer = store._writer._greenlet  # what a stray kill at shutdown would hit
    assert writer is not None
    waiting = store.submit([ops.Insert("orders", "1", {"n": 1})])

    writer.kill()
    later = store.enqueue("orders", "1", {"n": 2})

    with pytest.raises(StoreError, match="the writer stopped"):
        waiting.get(timeout=5)
    assert store.pending("orders", "1", limit=10)[-1].id == later


def test_states_saved_together_keep_their_order_and_each_save_its_version(store: Store) -> None:
    store.write([ops.PutState("order", "a", {"n": 0})])
    before = store.commits

    together = [
        store.submit([ops.PutState("order", "a", {"n": 1})]),
        store.submit([ops.PutState("order", "b", {"n": 1}), ops.PutState("order", "a", {"n": 2})]),
        store.submit([ops.Insert("order", "a", {}), ops.PutState("order", "a", {"n": 3})]),
    ]
    answers = [r.get(timeout=10) for r in together]

    assert store.commits - before == 1  # one batch, one statement for its states
    assert [answers[0], answers[1], answers[2][1]] == [[2], [1, 3], 4]
    assert store.get_state("order", "a") == ({"n": 3}, 4)
    assert store.get_state("order", "b") == ({"n": 1}, 1)


def test_a_posted_request_is_acknowledged_in_commit_order_with_its_results_or_its_error(store: Store) -> None:
    known = store.enqueue("orders", "1", {"n": 0})
    heard: list[tuple[str, object]] = []
    done = gevent.event.Event()

    def ack(name: str):
        def told(results: list[object] | None, error: BaseException | None) -> None:
            heard.append((name, error if error is not None else results))
            if len(heard) == 3:
                done.set()
        return told

    store.post([ops.Insert("orders", "1", {"n": 1})], ack("first"))
    store.post([ops.Done(known + 10_000)], ack("bad"))  # no such message: this one alone fails
    store.post([ops.Done(known)], ack("last"))
    assert done.wait(10)

    assert [name for name, _ in heard] == ["first", "bad", "last"]
    assert isinstance(heard[1][1], NotFoundError)
    assert heard[2][1] == [None]
    assert [(m.id, m.payload) for m in store.pending("orders", "1", limit=5)] == [(heard[0][1][0], {"n": 1})]


def test_a_killed_writer_tells_a_posted_request_it_stopped(store: Store) -> None:
    store.enqueue("orders", "1", {"n": 0})
    writer = store._writer._greenlet
    assert writer is not None
    told = gevent.event.AsyncResult()
    store.post([ops.Insert("orders", "1", {"n": 1})], lambda results, error: told.set(error))

    writer.kill()

    assert isinstance(told.get(timeout=5), StoreError)
    assert "the writer stopped" in str(told.get())


@pytest.mark.postgres
def test_a_writer_killed_mid_transaction_leaves_no_half_request_behind(postgres_schema_url: str) -> None:
    import psycopg

    name = f"peppasync-store-kill-{os.getpid()}"
    store = open_store(f"{postgres_schema_url}&application_name={name}")
    store.migrate()
    store.enqueue("orders", "0", {})
    other = psycopg.connect(postgres_schema_url)
    # An open transaction holding the same dedup key makes the store's request
    # wait on the server after its Insert ran: the kill lands mid-transaction.
    other.execute("INSERT INTO webhook_dedup (source, event_id, received_at) VALUES ('shopify', 'evt', 0)")
    doomed = store.submit([ops.Insert("orders", "1", {"n": 1}), ops.Dedup("shopify", "evt")])

    try:
        with psycopg.connect(postgres_url(), autocommit=True) as watch, gevent.Timeout(10):
            while not watch.execute(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'", (name,)
            ).fetchone():
                gevent.sleep(0.01)
        assert store._writer._greenlet is not None
        store._writer._greenlet.kill()
        other.rollback()
        fresh = store.write([ops.Dedup("shopify", "evt")])
        stored = store.pending("orders", "1", limit=5)
    finally:
        other.close()
        store.close()

    with pytest.raises(StoreError, match="the writer stopped"):
        doomed.get(timeout=1)
    assert fresh == [True]
    assert stored == []


def test_an_event_seen_before_adds_no_message_even_when_both_copies_arrive_together(store: Store) -> None:
    first = store.write([ops.InsertOnce("shopify", "evt-1", ops.Insert("orders", "7", {"copy": 1}))])
    together = [store.submit([ops.InsertOnce("shopify", "evt-2", ops.Insert("orders", "8", {"copy": n}))])
                for n in range(3)]
    again = store.write([ops.InsertOnce("shopify", "evt-1", ops.Insert("orders", "7", {"copy": 2}))])

    answers = [r.get(timeout=10)[0].message_id for r in together]
    assert first[0].message_id is not None and again[0].message_id is None
    assert sum(a is not None for a in answers) == 1
    assert [m.payload for m in store.pending("orders", "7", limit=5)] == [{"copy": 1}]
    assert len(store.pending("orders", "8", limit=5)) == 1


def test_insert_once_refuses_a_message_that_is_not_an_insert() -> None:
    with pytest.raises(TypeError, match="InsertOnce: message must be an ops.Insert"):
        ops.InsertOnce("shopify", "e", ops.Done(1))  # type: ignore[arg-type]

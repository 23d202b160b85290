"""Opening, migrating, pinging and closing a store."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from peppasync.errors import StoreError
from peppasync.store import Store, open_store, ops
from peppasync.store.migrations import MIGRATIONS

from tests.peppasync.store import raw


def test_migrate_applies_every_step_once_and_then_nothing(store_url: str) -> None:
    store = open_store(store_url)

    try:
        before = store.schema_version()
        first = store.migrate()
        second = store.migrate()
        version = store.schema_version()
    finally:
        store.close()

    assert before == 0
    assert first == [1, 2, 3, 4]
    assert second == []
    assert version == 4


def test_a_reopened_store_keeps_its_schema_and_its_messages(store_url: str) -> None:
    first = open_store(store_url)
    first.migrate()
    message_id = first.enqueue("orders", "1001", {"id": 1001})
    first.close()

    again = open_store(store_url)
    try:
        applied = again.migrate()
        pending = again.pending("orders", "1001", limit=10)
    finally:
        again.close()

    assert applied == []
    assert [m.id for m in pending] == [message_id]


def test_a_store_names_its_backend_and_answers_ping(store: Store, store_url: str) -> None:
    assert store.backend == store_url.split(":", 1)[0]
    assert store.ping() is True


def test_reading_before_migrate_says_to_run_migrate(store_url: str) -> None:
    store = open_store(store_url)

    try:
        with pytest.raises(StoreError, match="peppasync migrate"):
            store.pending("orders", "1", limit=1)
    finally:
        store.close()


def test_a_closed_store_refuses_writes_and_close_can_be_repeated(store: Store) -> None:
    store.close()
    store.close()

    with pytest.raises(StoreError, match="closed"):
        store.enqueue("orders", "1", {})


def test_close_commits_writes_already_queued(store_url: str) -> None:
    store = open_store(store_url)
    store.migrate()
    queued = [store.submit([ops.Insert("orders", "1", {"n": n})]) for n in range(5)]

    store.close()

    ids = [r.get(timeout=5)[0] for r in queued]
    reopened = open_store(store_url)
    try:
        assert [m.id for m in reopened.pending("orders", "1", limit=10)] == ids
    finally:
        reopened.close()


def test_an_unknown_url_scheme_is_refused_with_the_url_but_not_its_password() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("mysql://admin:hunter2@db.example/peppasync")

    assert "mysql://admin:***@db.example/peppasync" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert caught.value.url == "mysql://admin:***@db.example/peppasync"


def test_a_postgres_url_that_cannot_connect_fails_without_showing_its_password() -> None:
    store = open_store("postgresql://peppa:hunter2@127.0.0.1:1/nowhere?connect_timeout=2")

    try:
        with pytest.raises(StoreError) as caught:
            store.migrate()
        pinged = store.ping()
    finally:
        store.close()

    assert "postgresql://peppa:***@127.0.0.1:1/nowhere" in str(caught.value)
    assert "hunter2" not in str(caught.value)
    assert pinged is False


def test_an_in_memory_sqlite_url_is_refused_because_it_cannot_be_durable() -> None:
    with pytest.raises(StoreError, match="needs a file"):
        open_store("sqlite:///:memory:")


def test_a_sqlite_url_in_a_missing_folder_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path}/missing/store.db")


def test_a_batch_max_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_max"):
        open_store(f"sqlite:///{tmp_path}/store.db", batch_max=0)


def test_a_sqlite_store_file_is_left_in_wal_mode(tmp_path: Path) -> None:
    import sqlite3

    store = open_store(f"sqlite:///{tmp_path}/store.db")
    store.migrate()
    store.close()

    with closing(sqlite3.connect(tmp_path / "store.db")) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_from_a_newer_peppasync_is_refused_with_both_versions(store: Store) -> None:
    store.write([ops.Audit("test", "noop", "", {})])
    raw_url = store.url
    store.close()
    _bump_schema_version(raw_url, 99)

    again = open_store(raw_url)
    try:
        with pytest.raises(StoreError, match=r"schema version 99, newer than this Peppasync knows \(4\)"):
            again.migrate()
    finally:
        again.close()


def _bump_schema_version(url: str, version: int) -> None:
    if url.startswith("sqlite:///"):
        import sqlite3

        with closing(sqlite3.connect(url[len("sqlite:///"):])) as raw:
            raw.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, 0)", (version,))
            raw.commit()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as raw:
        raw.execute("INSERT INTO schema_version (version, applied_at) VALUES (%s, 0)", (version,))


def test_two_stores_migrating_at_once_apply_each_step_once(store_url: str) -> None:
    import gevent

    stores = [open_store(store_url), open_store(store_url)]

    try:
        runs = [gevent.spawn(s.migrate) for s in stores]
        gevent.joinall(runs, raise_error=True)
        version = stores[0].schema_version()
    finally:
        for s in stores:
            s.close()

    # Each step in its own transaction: the two may take turns, but no step runs twice.
    assert sorted(step for r in runs for step in r.value) == [1, 2, 3, 4]
    assert version == 4


def test_a_new_sqlite_store_file_uses_8_kib_pages(tmp_path: Path) -> None:
    import sqlite3

    store = open_store(f"sqlite:///{tmp_path}/store.db")
    store.migrate()
    store.close()

    with closing(sqlite3.connect(tmp_path / "store.db")) as raw:
        assert raw.execute("PRAGMA page_size").fetchone()[0] == 8192


def test_a_password_in_the_url_query_is_hidden_too() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("mysql://db.example/peppasync?user=admin&password=hunter2&sslmode=require")

    assert "hunter2" not in str(caught.value)
    assert "password=***&sslmode=require" in str(caught.value)


def test_a_version_1_store_keeps_its_webhook_dedup_keys_and_they_match_any_body(store_url: str) -> None:
    real = "DOUBLE PRECISION" if store_url.startswith("postgresql") else "REAL"
    raw.execute(store_url, f"CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at {real} NOT NULL)")
    for ddl in MIGRATIONS[0].statements("postgresql" if store_url.startswith("postgresql") else "sqlite"):
        raw.execute(store_url, ddl)
    raw.execute(store_url, "INSERT INTO schema_version (version, applied_at) VALUES (1, 0)")
    raw.execute(store_url, "INSERT INTO webhook_dedup (source, event_id, received_at) VALUES ('shopify', 'evt-1', 5)")
    store = open_store(store_url)

    try:
        applied = store.migrate()
        [seen] = store.write([ops.InsertOnce("shopify", "evt-1", ops.Insert("order", "1", {}), "digest-a")])
        [new] = store.write([ops.InsertOnce("shopify", "evt-2", ops.Insert("order", "2", {}), "digest-a")])
    finally:
        store.close()

    assert applied == [2, 3, 4]
    assert seen.message_id is None
    assert new.message_id is not None and not new.reused

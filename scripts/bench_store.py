from gevent import monkey

monkey.patch_all()

# Durable write throughput: the group-commit writer against one transaction per message.
#
#     .venv/bin/python scripts/bench_store.py [--messages 100000] [--naive 2000] [--producers 1000]
#
# Every message counts only once its write() returned, i.e. after its commit,
# with the store's own durability settings (SQLite: WAL, synchronous=FULL) on
# both paths. Each producer greenlet writes to its own mailbox key. PostgreSQL
# runs too when PEPPASYNC_TEST_POSTGRES_URL is set (in a scratch schema).
#
# A loop that commits each message can go no faster than the disk flushes, so
# the ratio depends on the disk as much as on the writer. The run prints what
# bounds it: the fsync latency of the folder, and the same loop on the bare
# driver (sqlite3 / psycopg, no store, no thread hop) into the same table.

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable

import gevent

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from peppasync.bench.scratch import scratch_schema
from peppasync.heap import tune_garbage_collector
from peppasync.store import Store, open_store, ops
from peppasync.store.applier import INSERT_SQL
from peppasync.store.backend import SQLITE_PRAGMAS


def grouped(store: Store, messages: int, producers: int) -> float:
    """Many producer greenlets, each writing its share and awaiting each ack."""
    share = [messages // producers + (1 if i < messages % producers else 0) for i in range(producers)]

    def produce(p: int, n: int) -> None:
        for i in range(n):
            store.write([ops.Insert("bench", f"k{p}", {"producer": p, "seq": i})])

    started = time.perf_counter()
    gevent.joinall([gevent.spawn(produce, p, n) for p, n in enumerate(share)], raise_error=True)
    return messages / (time.perf_counter() - started)


def naive(store: Store, messages: int) -> float:
    """One producer, one transaction (and one fsync) per message."""
    started = time.perf_counter()
    for i in range(messages):
        store.write([ops.Insert("bench", "naive", {"seq": i})])
    return messages / (time.perf_counter() - started)


def bare_sqlite(path: str, messages: int) -> float:
    """The naive loop on the bare driver: sqlite3 on this thread, our pragmas, one commit per message."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for name, value in SQLITE_PRAGMAS:
            conn.execute(f"PRAGMA {name} = {value}")
        started = time.perf_counter()
        for i in range(messages):
            conn.execute("BEGIN")
            encoded = ops.Insert("bench", "bare", {"seq": i}).encoded
            conn.execute(INSERT_SQL, ("bench", "bare", encoded, 0, 0.0, 0.0, 0.0))
            conn.execute("COMMIT")
        return messages / (time.perf_counter() - started)
    finally:
        conn.close()


def bare_postgres(url: str, messages: int) -> float:
    """The naive loop on the bare driver: psycopg, one commit per message."""
    import psycopg

    with psycopg.connect(url) as conn:
        sql = INSERT_SQL.replace("?", "%s")
        started = time.perf_counter()
        for i in range(messages):
            conn.execute(sql, ("bench", "bare", ops.Insert("bench", "bare", {"seq": i}).encoded, 0, 0.0, 0.0, 0.0))
            conn.commit()
        return messages / (time.perf_counter() - started)


def fsync_latency(folder: str, rounds: int = 500) -> float:
    """Seconds per small append + fsync in ``folder``: the floor under every commit."""
    path = os.path.join(folder, "fsync.probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(rounds):
            os.write(fd, b"x" * 128)
            os.fsync(fd)
        return (time.perf_counter() - started) / rounds
    finally:
        os.close(fd)
        os.unlink(path)


def run(label: str, url: str, args: argparse.Namespace, bare: Callable[[int], float]) -> None:
    store = open_store(url, batch_max=args.batch_max)
    try:
        store.migrate()
        before = store.commits
        fast = grouped(store, args.messages, args.producers)
        commits = store.commits - before
        stored = store.mailbox_stats()["bench"].depth
        if stored != args.messages:
            raise SystemExit(f"{label}: {stored} messages stored, {args.messages} acknowledged")
        slow = naive(store, args.naive)
    finally:
        store.close()
    floor = bare(args.naive)
    print(f"{label:<10} group commit {fast:>9,.0f} msg/s ({args.messages:,} msgs, {args.producers} producers,"
          f" {commits:,} commits, {args.messages / max(commits, 1):.0f} msgs/commit)")
    print(f"{label:<10} naive loop   {slow:>9,.0f} msg/s ({args.naive:,} msgs through the store, one commit each)")
    print(f"{label:<10} ratio        {fast / slow:>9.1f}x")
    print(f"{label:<10} bare driver  {floor:>9,.0f} msg/s (the same loop without the store; ratio {fast / floor:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description="Durable write throughput of the store: group commit vs naive.")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--naive", type=int, default=2_000)
    parser.add_argument("--producers", type=int, default=1_000)
    parser.add_argument("--batch-max", type=int, default=2_000)
    parser.add_argument("--dir", default=None, help="folder for the SQLite file (default: a temporary one)")
    args = parser.parse_args()
    tune_garbage_collector()  # as the server does once it has booted

    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        flush = fsync_latency(folder)
        print(f"{'disk':<10} fsync        {flush * 1e6:>9,.0f} µs "
              f"(so at most {1 / flush:,.0f} commits/s one at a time)")
        run("sqlite", f"sqlite:///{folder}/bench.db", args, lambda n: bare_sqlite(f"{folder}/bench.db", n))

    pg = os.environ.get("PEPPASYNC_TEST_POSTGRES_URL")
    if not pg:
        print("postgresql skipped: PEPPASYNC_TEST_POSTGRES_URL is not set")
        return
    with scratch_schema(pg, "bench") as scoped:
        run("postgresql", scoped, args, lambda n: bare_postgres(scoped, n))

if __name__ == "__main__":
    main()

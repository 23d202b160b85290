"""Database connections and where their calls run: the only module that opens peewee databases.

SQLite blocks in C, so what may wait or take long never runs on the gevent hub:
a writer thread owns one connection, and two reader threads one each (gevent
thread pools); the writer's thread commits while the hub runs actors. WAL lets
readers see committed data while the writer holds its lock. A point read (one
row by its key, one mailbox's first messages, an activation batch's states and
first messages: rows found through an index) runs on the hub instead, on a
connection of its own: it takes microseconds of work that needs the GIL
anyway, while a hop to a reader thread under load costs milliseconds (the
thread waits for the GIL each time SQLite gives it back), and in a sale
thousands of actors reading their state queued behind two readers, with
activations behind them. A point read that would wait for a lock goes to a
reader thread too.
psycopg 3 cooperates with gevent, so PostgreSQL calls run in the calling
greenlet: the writer owns one connection, readers borrow from a small pool.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import gevent.monkey
import gevent.queue
import peewee
from gevent.threadpool import ThreadPool

from peppasync.errors import StoreError

__all__ = ["Backend", "Session", "open_backend", "redact_url"]

T = TypeVar("T")

# synchronous=FULL: a commit is on disk before its writers hear "ok", even
# across power loss. Group commit pays that one fsync per batch, not per message.
# page_size takes effect only when the file is created (it must precede WAL):
# a commit's cost grows with the pages it dirties, and a batch of messages for
# many mailboxes dirties index pages all over; 8 KiB pages halve that count and
# keep typical order payloads (a few KiB) off overflow pages.
_BUSY_TIMEOUT_MS = 10_000
SQLITE_PRAGMAS: tuple[tuple[str, object], ...] = (
    ("page_size", 8192),
    ("journal_mode", "wal"),
    ("synchronous", "full"),
    ("foreign_keys", 1),
    ("cache_size", -64000),
    ("busy_timeout", _BUSY_TIMEOUT_MS),
)

_READ_POOL_SIZE = 4
_CONNECT_TIMEOUT = 10
_SQLITE_READERS = 2


def redact_url(url: str) -> str:
    """The URL with any password (in the user part or the query) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None and "password=" not in parts.query:
        return url  # unchanged: rebuilding would turn sqlite://// into sqlite://
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username}:***@{host}")
    if "password=" in parts.query:
        parts = parts._replace(query=re.sub(r"(^|&)password=[^&]*", r"\1password=***", parts.query))
    return urlunsplit(parts)


class Session:
    """One open connection: raw cursors and explicit transactions, SQL written with ``?``."""

    def __init__(self, db: peewee.Database, backend: str) -> None:
        self._db = db
        self.backend = backend
        self._pg = backend == "postgresql"
        self._sql: dict[str, str] = {}
        self._cursor: Any = None
        #: Statements run on each new connection (PostgreSQL session settings).
        self.on_connect: list[str] = []

    def _text(self, sql: str) -> str:
        text = self._sql.get(sql)
        if text is None:
            text = self._sql[sql] = sql.replace("?", "%s") if self._pg else sql
        return text

    def execute(self, sql: str, params: Sequence[object] = ()) -> Any:
        # One cursor per connection: every caller fetches before the next statement.
        cursor = self._cursor
        cursor.execute(self._text(sql), params)
        return cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[object]], *, returning: bool = False) -> Any:
        cursor = self._cursor
        if returning:
            cursor.executemany(self._text(sql), rows, returning=True)
        else:
            cursor.executemany(self._text(sql), rows)
        return cursor

    def one(self, sql: str, params: Sequence[object] = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        return list(self.execute(sql, params).fetchall())

    def begin(self) -> None:
        # IMMEDIATE takes SQLite's write lock up front, so a transaction never
        # fails half-way with "database is locked" when it first writes.
        if not self._pg:
            if self._db.connection().in_transaction:  # type: ignore[no-untyped-call]
                self.execute("ROLLBACK")  # left open by a caller that never finished
            self.execute("BEGIN IMMEDIATE")
            return
        if self._db.connection().info.transaction_status != psycopg_idle():  # type: ignore[no-untyped-call]
            # Left mid-transaction by a writer killed while it waited on the
            # server: closing the connection rolls that back on the server.
            self.reset()
            self.ensure()
        try:
            self.execute("BEGIN")
        except Exception:
            if not self.broken():
                raise
            # The server dropped the idle connection (restart, failover). Nothing
            # of this transaction was sent yet, so one fresh connection is safe.
            self.reset()
            self.ensure()
            self.execute("BEGIN")

    def broken(self) -> bool:
        """True when the connection is gone or unusable (PostgreSQL only; SQLite files do not drop)."""
        return self._pg and (self._db.is_closed() or not self._db.is_connection_usable())

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        try:
            self.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - nothing to roll back, or the connection is gone
            self.reset()

    def savepoint(self) -> None:
        self.execute("SAVEPOINT request")

    def release(self) -> None:
        self.execute("RELEASE SAVEPOINT request")

    def rollback_to(self) -> None:
        self.execute("ROLLBACK TO SAVEPOINT request")

    def reset(self) -> None:
        """Drop the connection so the next call opens a fresh one."""
        self._cursor = None
        if not self._db.is_closed():
            with contextlib.suppress(Exception):  # closing a broken connection may fail too
                self._db.close()

    def ensure(self) -> None:
        """Open the connection if it is closed (or, for PostgreSQL, broken)."""
        if self.broken():
            self.reset()
        if self._db.is_closed():
            self._db.connect()
            self._cursor = None
            for statement in self.on_connect:
                self._db.connection().execute(statement)  # type: ignore[no-untyped-call]
        if self._cursor is None:
            self._cursor = self._db.connection().cursor()  # type: ignore[no-untyped-call]


class Backend:
    """Runs store calls on the right connection and off the hub where that matters."""

    name: str

    def write(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` on the writer's connection (one caller at a time: the writer)."""
        raise NotImplementedError

    def read(self, fn: Callable[[Session], T], *, point: bool = False) -> T:
        """Run ``fn`` on a reading connection.

        ``point``: ``fn`` reads a few rows through an index, nothing the size of a table.
        """
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SqliteBackend(Backend):
    """SQLite in WAL mode: one writer thread, and reader threads with a connection each."""

    name = "sqlite"

    def __init__(self, path: str) -> None:
        self._writer = self._session(path)
        self._write_pool = ThreadPool(1)
        self._write_pool.apply(_prepare_file, (path,))
        # Two readers, so that one long scan (backlog stats over millions of
        # rows) does not hold up an actor fetching its next messages.
        self._readers: list[Session] = [self._session(path) for _ in range(_SQLITE_READERS)]
        self._idle: gevent.queue.Queue[Session] = gevent.queue.Queue()
        for session in self._readers:
            self._idle.put(session)
        self._read_pool = ThreadPool(_SQLITE_READERS)
        # Never waits for a lock: a point read that would goes to a reader thread.
        self._point = self._session(path, timeout=0)
        self._point_lock = gevent.monkey.get_original("_thread", "allocate_lock")()

    @staticmethod
    def _session(path: str, timeout: float = 10) -> Session:
        pragmas = [(name, int(timeout * 1000) if name == "busy_timeout" else value) for name, value in SQLITE_PRAGMAS]
        db = peewee.SqliteDatabase(path, pragmas=pragmas, timeout=timeout, check_same_thread=False, thread_safe=False)
        return Session(db, "sqlite")

    def write(self, fn: Callable[[Session], T]) -> T:
        return self._write_pool.apply(_call, (self._writer, fn))  # type: ignore[no-any-return]

    def read(self, fn: Callable[[Session], T], *, point: bool = False) -> T:
        # An OS lock taken without waiting: the connection is used by one thread at a time
        # (a greenlet cannot switch inside a SQLite call, so none of the hub's can be inside it).
        if point and self._point_lock.acquire(False):
            try:
                return _call(self._point, fn)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                # It would wait on a lock (a checkpoint, a recovery): a reader thread waits instead.
            finally:
                self._point_lock.release()
        session = self._idle.get()
        task = self._read_pool.spawn(_call, session, fn)
        try:
            return task.get()  # type: ignore[no-any-return]
        finally:
            if task.ready():
                self._idle.put(session)
            else:
                # The caller was killed while its query runs on a reader thread.
                # The connection is still in use there: handing it to another
                # reader (or closing it) now would touch it from two threads at
                # once, which crashes sqlite3. It goes back when the query ends.
                task.rawlink(lambda _task: self._idle.put(session))

    def close(self) -> None:
        try:
            self._write_pool.apply(self._writer.reset)
            # Take each reader back from the idle queue, so none is reset while
            # a query still runs on it.
            for _ in self._readers:
                session = self._idle.get(timeout=30)
                self._read_pool.apply(session.reset)
            with self._point_lock:
                self._point.reset()
        finally:
            self._write_pool.kill()
            self._read_pool.kill()


def _prepare_file(path: str) -> None:
    """Create the file with its page size and switch it to WAL, waiting out another opener.

    Switching to WAL takes an exclusive lock, and SQLite refuses it at once
    (no busy wait) while another connection opens the same new file: two
    processes starting on one fresh store would otherwise fail at random.
    """
    sleep = gevent.monkey.get_original("time", "sleep")
    deadline = time.monotonic() + 10
    while True:
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=10)) as raw:
                for name, value in SQLITE_PRAGMAS[:2]:  # page_size, then journal_mode
                    raw.execute(f"PRAGMA {name} = {value}")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            sleep(0.01)


class PostgresBackend(Backend):
    """PostgreSQL through psycopg 3, which yields to other greenlets while it waits."""

    name = "postgresql"

    def __init__(self, url: str, *, idle_in_transaction: float | None = None) -> None:
        self._url = url
        self._idle_in_transaction = idle_in_transaction
        self._writer = self._session()
        self._idle: gevent.queue.Queue[Session] = gevent.queue.Queue()
        self._created = 0

    def _session(self) -> Session:
        # libpq waits for a host that drops packets as long as the kernel does
        # (minutes); a store that does not answer in 10 s is down for us. A
        # connect_timeout in the URL wins.
        timeout: dict[str, Any] = {} if "connect_timeout=" in self._url else {"connect_timeout": _CONNECT_TIMEOUT}
        db = peewee.PostgresqlDatabase(self._url, thread_safe=False, autoconnect=False, **timeout)
        session = Session(db, "postgresql")
        if self._idle_in_transaction is not None:
            # A node paused mid-commit (a VM frozen, a process stopped) holds its lease rows
            # locked and keeps every other node from taking its partitions over: the server
            # ends such a transaction once it has sat idle for a lease's TTL.
            timeout_ms = int(self._idle_in_transaction * 1000)
            session.on_connect = [f"SET idle_in_transaction_session_timeout = {timeout_ms}"]
        return session

    def write(self, fn: Callable[[Session], T]) -> T:
        return _call(self._writer, fn)

    def read(self, fn: Callable[[Session], T], *, point: bool = False) -> T:
        with self._borrow() as session:
            try:
                return _call(session, fn)
            except Exception:
                if not session.broken():
                    raise
                # Reads and migrations are safe to run again on a fresh connection.
                session.reset()
                return _call(session, fn)

    @contextlib.contextmanager
    def _borrow(self) -> Iterator[Session]:
        if self._idle.empty() and self._created < _READ_POOL_SIZE:
            self._created += 1
            session = self._session()
        else:
            session = self._idle.get()
        try:
            yield session
        finally:
            self._idle.put(session)

    def close(self) -> None:
        self._writer.reset()
        while not self._idle.empty():
            self._idle.get().reset()


def psycopg_idle() -> object:
    """psycopg's IDLE transaction status, imported only when PostgreSQL is used."""
    from psycopg.pq import TransactionStatus

    return TransactionStatus.IDLE


def _call(session: Session, fn: Callable[[Session], T]) -> T:
    session.ensure()
    return fn(session)


def open_backend(url: str, *, create: bool = True, idle_in_transaction: float | None = None) -> Backend:
    """The backend for a ``sqlite:///path`` or ``postgresql://...`` URL.

    Without ``create``, a SQLite file that does not exist is an error rather
    than a new, empty store: what operator commands want, since a mistyped
    path would otherwise answer "nothing here" from a store that never was.
    """
    if not isinstance(url, str):
        raise StoreError(f"the store URL must be a string, got {url!r}")
    safe = redact_url(url)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if not path or path == ":memory:" or path.startswith("file:"):
            raise StoreError(
                f"store URL {safe}: expected sqlite:///path/to/file.db (a durable store needs a file)",
                url=safe,
            )
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise StoreError(f"store URL {safe}: the folder {folder} does not exist", url=safe)
        if not create and not os.path.isfile(path):
            raise StoreError(
                f"store {safe}: there is no database file at {os.path.abspath(path)}; check [store] url"
                " (the server creates the store when it first starts)",
                url=safe,
            )
        return SqliteBackend(path)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresBackend("postgresql://" + url.split("://", 1)[1], idle_in_transaction=idle_in_transaction)
    raise StoreError(
        f"store URL {safe}: expected sqlite:///path or postgresql://user@host/db", url=safe
    )

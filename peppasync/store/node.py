"""One serving node per store, unless the nodes form a cluster.

Two ``peppasync serve`` processes on one store would each handle every message (each
claims what it reads, and nothing fences the other), so a second one is refused at
start with an error that names the node holding the store:

- SQLite: an exclusive ``flock`` on ``<database>.node`` beside the file, held for the
  life of the process (the kernel drops it when the process dies, SIGKILL included).
  The file says who holds it (pid, host, since), for the error.
- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection
  of its own, held for the life of the process; PostgreSQL drops it when that session
  ends. https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS

Nodes of a cluster (``[cluster] enabled``, PostgreSQL only) take the same advisory
lock *shared*: they coexist, and a single node (exclusive) and a cluster node never
serve one database together; each is refused with what to change. Who handles which
key on a cluster is decided by leases (``peppasync.store.leases``), not by this lock.

The operator's commands (``status``, ``quarantine``, ``margin``...) do not take it: they
read and write the store beside a running server, as before.

On PostgreSQL the lock is checked every ``check_interval`` seconds; a session that was
lost (PostgreSQL restarted, the connection cut) is opened again and the lock taken
again; if another node took it meanwhile, ``on_lost`` is called and this node must stop.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent

from peppasync.errors import RuntimeStartError, StoreError

__all__ = ["NODE_LOCK_KEY", "NodeLock", "StoreInUseError", "hold_store"]

log = logging.getLogger("peppasync.store")

#: The advisory lock's key: "pepp" in ASCII, one per database.
NODE_LOCK_KEY = 0x70657070


class StoreInUseError(RuntimeStartError):
    """Another node serves from this store."""


class NodeLock:
    """The store held by this process; ``release()`` lets another node start."""

    def release(self) -> None:
        raise NotImplementedError


def hold_store(
    url: str, *, on_lost: Callable[[], None] = lambda: None, check_interval: float = 30.0, cluster: bool = False,
) -> NodeLock:
    """Take the store for this node, or raise ``StoreInUseError`` naming the node that has it.

    ``cluster``: this node is one of several on one PostgreSQL (the lock is shared).
    """
    if url.startswith("sqlite:///"):
        return _FileLock(url.removeprefix("sqlite:///"))
    return _AdvisoryLock(url, on_lost, check_interval, cluster)


def _me() -> str:
    since = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"pid {os.getpid()} on {socket.gethostname()} since {since}"


class _FileLock(NodeLock):
    def __init__(self, database: str) -> None:
        self.path = Path(database + ".node")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self.path.read_text(encoding="utf-8", errors="replace").strip() or "another process"
            os.close(fd)
            raise StoreInUseError(
                f"store {database} is served by another node ({holder}); one node per SQLite store: "
                "stop that one first, or run several nodes on PostgreSQL") from None
        os.ftruncate(fd, 0)
        os.write(fd, _me().encode())
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


class _AdvisoryLock(NodeLock):
    def __init__(self, url: str, on_lost: Callable[[], None], check_interval: float, shared: bool) -> None:
        self._url = url
        self._shared = shared
        self._on_lost = on_lost
        self._conn: Any = None
        self._take()
        self._watch = gevent.spawn(self._watch_forever, check_interval)

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self._url, autocommit=True, application_name="peppasync-node", connect_timeout=10)

    def _take(self) -> None:
        try:
            conn = self._connect()
        except Exception as exc:  # psycopg's errors: the store cannot be reached
            raise StoreError(f"cannot take the store's node lock: {exc}") from exc
        take = "pg_try_advisory_lock_shared" if self._shared else "pg_try_advisory_lock"
        taken = conn.execute(f"SELECT {take}(%s)", (NODE_LOCK_KEY,)).fetchone()[0]
        if not taken:
            holder = conn.execute(
                "SELECT a.pid, a.client_addr, a.backend_start FROM pg_locks l JOIN pg_stat_activity a"
                " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                (NODE_LOCK_KEY,)).fetchone()
            conn.close()
            who = "another session"
            if holder:
                where = holder[1] or "a local socket"
                who = f"PostgreSQL backend pid {holder[0]} from {where} since {holder[2]:%Y-%m-%d %H:%M:%S}"
            if self._shared:
                raise StoreInUseError(
                    f"this PostgreSQL database is served by a single node ({who}), not a cluster: stop it,"
                    " or set [cluster] enabled = true on it too and start it again")
            raise StoreInUseError(
                f"this PostgreSQL database is served by another node ({who}): stop that one first, or run"
                " several nodes as a cluster with [cluster] enabled = true on every node")
        self._conn = conn

    def _watch_forever(self, interval: float) -> None:
        while True:
            gevent.sleep(interval)
            try:
                self._conn.execute("SELECT 1")
                continue
            except Exception as exc:  # the session, and with it the lock, is gone
                log.warning("the store's node lock was lost with its session; taking it again",
                            extra={"error": repr(exc)})
            try:
                self._take()
                log.info("the store's node lock is held again")
            except StoreInUseError as exc:
                log.critical("another node took the store while our session was lost; this node stops",
                             extra={"error": str(exc)})
                self._on_lost()
                return
            except Exception as exc:
                log.warning("the store's node lock could not be taken again; trying on",
                            extra={"error": repr(exc)})

    def release(self) -> None:
        self._watch.kill()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()  # ending the session drops the advisory lock
            self._conn = None

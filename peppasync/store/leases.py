"""Leases in PostgreSQL: which node owns which actor keys, and the leader, each with a fencing epoch.

Actor keys fall in ``PARTITIONS`` fixed partitions (a hash of kind and key); each
partition is one row of ``leases`` (``partition/NN``), owned by at most one node
until ``expires_at``. The leader is the row ``leader``. Every change of owner
moves the row's epoch on, and every write an actor makes carries the epoch it
was activated under (``ops.Fence``), checked in the writer's transaction: a node
presumed dead that comes back cannot commit.

The statements, and why each is safe:

- claim: ``FOR UPDATE SKIP LOCKED`` over free or expired partitions, then a new
  owner and ``epoch + 1`` in the same transaction. Two nodes never claim one
  row; a row a writer holds ``FOR KEY SHARE`` (its fence check) is skipped
  until that commit is over, so no write under the old epoch lands after it.
- renew: ``UPDATE ... SET expires_at WHERE owner = me``: a plain update, which
  does not wait on writers' fence checks; what it does not return was taken.
- release: locks the node's rows ``FOR UPDATE`` (in name order, like every lease
  statement), clears the owner and moves the epoch on: a stopping node hands
  its keys over at once, and any write of its still in flight is refused.
- leader: insert if absent, or take over when free or expired (River's
  elector: INSERT ... ON CONFLICT DO UPDATE ... WHERE); renewed as above, and
  released on stop (resign).

Time is the database's (``clock_timestamp()``), so nodes whose clocks drift
still agree on when a lease expired.
"""

from __future__ import annotations

import contextlib
import os
import socket
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from peppasync.errors import StoreError

__all__ = [
    "LEADER",
    "PARTITIONS",
    "LeaseBook",
    "LeaseRow",
    "NodeRow",
    "cluster_view",
    "lease_of",
    "node_name",
    "partition_lease",
    "partition_of",
]

#: Partitions of actor keys: enough to spread over a handful of nodes evenly, few
#: enough that the lease table stays one page.
PARTITIONS = 64
#: The leader lease: singletons (reconciler, feeds, the stock flusher) run on its owner.
LEADER = "leader"

_NOW = "extract(epoch from clock_timestamp())"


def partition_of(kind: str, key: str) -> int:
    """The partition an actor key falls in: the same on every node, in every version."""
    return zlib.crc32(f"{kind}\x00{key}".encode()) % PARTITIONS


def partition_lease(partition: int) -> str:
    return f"partition/{partition:02d}"


def lease_of(kind: str, key: str, singleton: bool = False) -> str:
    """The lease that owns (kind, key): the leader's for a singleton kind, else its partition's."""
    return LEADER if singleton else partition_lease(partition_of(kind, key))


@dataclass(frozen=True)
class LeaseRow:
    """One lease as the table holds it; ``expires_in`` is seconds from the database's now."""

    name: str
    owner: str | None
    epoch: int
    expires_in: float


@dataclass(frozen=True)
class NodeRow:
    """One node of the cluster and how long ago it last beat."""

    node_id: str
    host: str
    pid: int
    listen: str
    started_at: float
    heartbeat_age: float


def node_name(owner: str) -> str:
    """The node's configured name in an owner (``NAME#incarnation``)."""
    return owner.rpartition("#")[0] or owner


def default_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class LeaseBook:
    """The lease statements on one autocommit PostgreSQL connection of their own."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: Any = None

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            import psycopg

            try:
                # prepare_threshold None: no server-side prepared statements, so
                # this connection also works through PgBouncer's transaction pooling.
                self._conn = psycopg.connect(self._url, autocommit=True, application_name="peppasync-leases",
                                             connect_timeout=10, prepare_threshold=None)
            except Exception as exc:  # psycopg's errors: the store cannot be reached
                raise StoreError(f"cannot reach the store for its leases: {exc}") from exc
        return self._conn

    def run(self, sql: str, params: Iterable[object] = ()) -> list[Any]:
        """Run one statement in a transaction of its own; its rows (none for a statement without)."""
        conn = self._connection()
        try:
            with conn.transaction():
                cursor = conn.execute(sql, tuple(params))
                return list(cursor.fetchall()) if cursor.description else []
        except Exception:
            if conn.closed or conn.broken:
                with contextlib.suppress(Exception):
                    conn.close()
                self._conn = None
            raise

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    # -- the schema's rows -----------------------------------------------------

    def ensure_partitions(self) -> None:
        """Create the partition rows that do not exist yet (idempotent, safe on every start)."""
        names = [partition_lease(p) for p in range(PARTITIONS)]
        self.run("INSERT INTO leases (name) SELECT unnest(%s::text[]) ON CONFLICT (name) DO NOTHING", (names,))

    # -- nodes -----------------------------------------------------------------

    def beat(self, node_id: str, listen: str, ttl: float) -> list[NodeRow]:
        """Record this node's heartbeat; returns the nodes that beat within ``ttl`` (this one included)."""
        self.run(
            f"INSERT INTO cluster_nodes (node_id, host, pid, listen, started_at, heartbeat_at)"
            f" VALUES (%s, %s, %s, %s, {_NOW}, {_NOW}) ON CONFLICT (node_id) DO UPDATE"
            f" SET heartbeat_at = {_NOW}, listen = excluded.listen",
            (node_id, socket.gethostname(), os.getpid(), listen))
        return self.nodes(within=ttl)

    def nodes(self, within: float | None = None) -> list[NodeRow]:
        """Every node known (or only those that beat within ``within`` seconds), by id."""
        where = "" if within is None else f" WHERE heartbeat_at > {_NOW} - %s"
        rows = self.run(
            f"SELECT node_id, host, pid, listen, started_at, {_NOW} - heartbeat_at FROM cluster_nodes{where}"
            " ORDER BY node_id", () if within is None else (within,))
        return [NodeRow(r[0], r[1], int(r[2]), r[3], float(r[4]), max(0.0, float(r[5]))) for r in rows]

    def leave(self, node_id: str) -> None:
        self.run("DELETE FROM cluster_nodes WHERE node_id = %s", (node_id,))

    def forget_nodes(self, older_than: float) -> int:
        """Drop nodes silent for ``older_than`` seconds (their leases expired long ago)."""
        rows = self.run(f"DELETE FROM cluster_nodes WHERE heartbeat_at < {_NOW} - %s RETURNING node_id",
                         (older_than,))
        return len(rows)

    # -- leases ----------------------------------------------------------------

    def claim(self, node_id: str, ttl: float, limit: int) -> dict[str, int]:
        """Take up to ``limit`` free or expired partitions; returns each one taken with its new epoch."""
        if limit < 1:
            return {}
        rows = self.run(
            "WITH free AS (SELECT name FROM leases WHERE name LIKE 'partition/%%'"
            f" AND (owner IS NULL OR expires_at < {_NOW}) ORDER BY name LIMIT %s FOR UPDATE SKIP LOCKED)"
            f" UPDATE leases AS l SET owner = %s, epoch = l.epoch + 1, expires_at = {_NOW} + %s,"
            f" acquired_at = {_NOW} FROM free WHERE l.name = free.name RETURNING l.name, l.epoch",
            (limit, node_id, ttl))
        return {r[0]: int(r[1]) for r in rows}

    def renew(self, node_id: str, ttl: float) -> dict[str, int]:
        """Extend every lease this node owns; returns them with their epochs (any other was taken)."""
        rows = self.run(
            f"UPDATE leases SET expires_at = {_NOW} + %s WHERE owner = %s RETURNING name, epoch", (ttl, node_id))
        return {r[0]: int(r[1]) for r in rows}

    def release(self, node_id: str, names: Iterable[str] | None = None) -> list[str]:
        """Give up the named leases (all of this node's with None) at once; returns those released."""
        only = "" if names is None else " AND name = ANY(%s)"
        params: tuple[object, ...] = (node_id,) if names is None else (node_id, sorted(names))
        rows = self.run(
            "WITH mine AS (SELECT name FROM leases WHERE owner = %s" + only + " ORDER BY name FOR UPDATE)"
            " UPDATE leases AS l SET owner = NULL, epoch = l.epoch + 1, expires_at = 0"
            " FROM mine WHERE l.name = mine.name RETURNING l.name", params)
        return sorted(r[0] for r in rows)

    def lead(self, node_id: str, ttl: float) -> int | None:
        """Become the leader if there is none (or its lease expired); the epoch when this node leads."""
        # Looked at first without a lock: the insert below locks the row even when it changes
        # nothing, and the leader's writes check that row (FOR KEY SHARE) in every commit.
        held = self.run(f"SELECT 1 FROM leases WHERE name = %s AND owner IS NOT NULL AND expires_at >= {_NOW}",
                        (LEADER,))
        if held:
            return None
        rows = self.run(
            "INSERT INTO leases (name, owner, epoch, expires_at, acquired_at)"
            f" VALUES (%s, %s, 1, {_NOW} + %s, {_NOW}) ON CONFLICT (name) DO UPDATE"
            " SET owner = excluded.owner, epoch = leases.epoch + 1, expires_at = excluded.expires_at,"
            " acquired_at = excluded.acquired_at"
            f" WHERE leases.owner IS NULL OR leases.expires_at < {_NOW} RETURNING epoch",
            (LEADER, node_id, ttl))
        return int(rows[0][0]) if rows else None

    def leases(self) -> list[LeaseRow]:
        """Every lease, by name."""
        rows = self.run(f"SELECT name, owner, epoch, expires_at - {_NOW} FROM leases ORDER BY name")
        return [LeaseRow(r[0], r[1], int(r[2]), float(r[3])) for r in rows]

    def notify(self, channel: str, payload: str = "") -> None:
        self.run("SELECT pg_notify(%s, %s)", (channel, payload))


def cluster_view(leases: list[LeaseRow], nodes: list[NodeRow], me: str = "") -> dict[str, Any]:
    """What ``peppasync status`` shows of a cluster: its nodes, the partitions each holds, the leader."""
    held: dict[str, int] = {}
    leader = None
    unowned = 0
    for row in leases:
        live = row.owner is not None and row.expires_in > 0
        if row.name == LEADER:
            leader = row.owner if live else None
        elif live:
            held[row.owner or ""] = held.get(row.owner or "", 0) + 1
        else:
            unowned += 1
    return {
        "node": me,
        "leader": leader,
        "partitions": PARTITIONS,
        "unowned_partitions": unowned,
        "nodes": [
            {"node": n.node_id, "host": n.host, "pid": n.pid, "listen": n.listen,
             "heartbeat_age_seconds": round(n.heartbeat_age, 3), "partitions": held.get(n.node_id, 0),
             "leader": n.node_id == leader}
            for n in nodes
        ],
    }

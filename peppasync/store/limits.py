"""Vendor limits held by a cluster's nodes together, through PostgreSQL.

``SharedLimit``: a concurrency cap (the ERP's), as slots. ``SharedRate``: a rate
budget (Shopify's cost bucket, the WMS's request window), as a part of it per
node, by demand.

The cap is ``capacity`` rows of ``limit_slots``; a node may have as many calls in
flight as it holds slots, so the cluster never has more than ``capacity``. Each
node states what it wants (calls waiting and in flight, ``limit_wants``) and
every ``interval`` seconds moves towards its fair share: the capacity filled up
evenly among the nodes that want some, none given more than it wants (water
filling). So no node starves while another is busy, and a node with nothing to
do leaves its slots to the others.

A round, on a connection of its own:

1. say what this node wants, read what the live nodes want, work out the share;
2. renew the slots held (``expires_at``), claim free or expired ones up to the
   share (``FOR UPDATE SKIP LOCKED``: two nodes never claim one slot);
3. tell the local limiter how many calls it may have in flight, never more than
   the slots held; and when another node waits for its share while no slot is
   free, hold the limiter to this node's share and only then give back the
   slots that are neither in use nor in the share. A node keeps (and uses) the
   slots it holds beyond its share while nobody else needs them: each move
   leaves a slot idle for a round.

A node that dies keeps its slots until they expire (``ttl``), as its leases. The
round runs at once when a caller has to wait (``kick``; rounds stay 30 ms apart),
so a node that was idle does not wait a whole interval for its first slot.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping

import gevent
import gevent.event

from peppasync.store.leases import LeaseBook

__all__ = ["SharedLimit", "SharedRate", "fair_shares"]

log = logging.getLogger("peppasync.cluster")

_NOW = "extract(epoch from clock_timestamp())"
_KICKED_GAP = 0.03  # seconds between two rounds at least


def fair_shares(capacity: int, wants: Mapping[str, int]) -> dict[str, int]:
    """``capacity`` split among nodes by what they want: evenly, none above its want (ties by node id)."""
    alloc = {node: 0 for node in wants}
    left = capacity
    hungry = sorted(node for node, n in wants.items() if n > 0)
    while left > 0 and hungry:
        each = max(1, left // len(hungry))
        for node in list(hungry):
            give = min(each, wants[node] - alloc[node], left)
            alloc[node] += give
            left -= give
            if alloc[node] >= wants[node]:
                hungry.remove(node)
            if left == 0:
                break
    return alloc


class SharedLimit:
    """This node's part of the cluster-wide cap ``name``; ``apply`` sets the local limiter's share."""

    def __init__(
        self,
        url: str,
        name: str,
        capacity: int,
        *,
        node_id: str,
        demand: Callable[[], tuple[int, int]],
        apply: Callable[[int], None],
        ttl: float = 10.0,
        interval: float = 0.1,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"a shared limit needs a capacity of at least 1, got {capacity}")
        self.name = name
        self.capacity = capacity
        self.node_id = node_id
        self._demand = demand  # (calls wanting a slot: waiting + in flight, calls in flight)
        self._apply = apply
        self._ttl = ttl
        self._interval = interval
        self._url = url
        self._book = LeaseBook(url)
        self._kick = gevent.event.Event()
        self._loop: gevent.Greenlet | None = None
        #: Slots this node holds now, and the share its limiter was last given.
        self.held: set[int] = set()
        self.share = 0

    def start(self) -> None:
        self._book.run(
            "INSERT INTO limit_slots (name, slot) SELECT %s, generate_series(0, %s - 1) ON CONFLICT DO NOTHING",
            (self.name, self.capacity))
        self._apply(0)
        self._round()
        self._loop = gevent.spawn(self._rounds)

    def kick(self) -> None:
        """A caller waits: run a round now."""
        self._kick.set()

    def stop(self) -> None:
        self._book = _stop_rounds(self)
        with contextlib.suppress(Exception):
            self._book.run("UPDATE limit_slots SET holder = NULL, expires_at = 0 WHERE name = %s AND holder = %s",
                            (self.name, self.node_id))
            self._book.run("DELETE FROM limit_wants WHERE name = %s AND node_id = %s",
                            (self.name, self.node_id))
        self.held = set()
        self._book.close()

    def _rounds(self) -> None:
        while True:
            self._kick.wait(timeout=self._interval)
            self._kick.clear()
            try:
                self._round()
            except Exception as exc:  # noqa: BLE001 - the store is away: keep what we hold, try again
                log.warning("shared limit round failed", extra={"limit": self.name, "error": repr(exc)})
                gevent.sleep(self._interval)
            # In a surge every caller that waits kicks: rounds back to back would cost the
            # node and the database more than the slots they could move.
            gevent.sleep(_KICKED_GAP)

    def _round(self) -> None:
        run, me = self._book.run, self.node_id
        wants, _ = self._demand()
        rows = run(
            f"INSERT INTO limit_wants (name, node_id, wants, updated_at) VALUES (%s, %s, %s, {_NOW})"
            f" ON CONFLICT (name, node_id) DO UPDATE SET wants = excluded.wants, updated_at = excluded.updated_at"
            f" RETURNING (SELECT json_object_agg(node_id, wants) FROM limit_wants"
            f" WHERE name = %s AND updated_at > {_NOW} - %s)",
            (self.name, me, wants, self.name, self._ttl))
        everyone = dict(rows[0][0] or {})
        everyone[me] = wants
        alloc = fair_shares(self.capacity, everyone)
        target = alloc[me]
        held = {int(r[0]) for r in run(
            f"UPDATE limit_slots SET expires_at = {_NOW} + %s WHERE name = %s AND holder = %s RETURNING slot",
            (self._ttl, self.name, me))}
        if len(held) < target:
            held |= {int(r[0]) for r in run(
                "WITH free AS (SELECT slot FROM limit_slots WHERE name = %s"
                f" AND (holder IS NULL OR expires_at < {_NOW}) ORDER BY slot LIMIT %s FOR UPDATE SKIP LOCKED)"
                f" UPDATE limit_slots AS s SET holder = %s, expires_at = {_NOW} + %s FROM free"
                " WHERE s.name = %s AND s.slot = free.slot RETURNING s.slot",
                (self.name, target - len(held), me, self._ttl, self.name))}
        # Slots held by every live node: a node keeps what it holds beyond its share
        # (and may use it) until another node waits for its own share and no slot is free.
        # Giving slots back only then keeps them in use: each move leaves a slot idle
        # for a round or two.
        holds = {str(r[0]): int(r[1]) for r in run(
            f"SELECT holder, count(*) FROM limit_slots WHERE name = %s AND holder IS NOT NULL"
            f" AND expires_at >= {_NOW} GROUP BY holder", (self.name,))}
        holds[me] = len(held)
        free = self.capacity - sum(holds.values())
        starving = free <= 0 and any(alloc[node] > holds.get(node, 0) for node in everyone if node != me)
        self.held = held
        share = min(len(held), target) if starving else len(held)
        if share != self.share:
            self.share = share
            self._apply(share)
        if not starving:
            return
        # Only now, with the limiter held to its share, is what it has in flight an upper bound.
        _, in_use = self._demand()
        spare = len(held) - max(share, in_use)
        if spare > 0:
            give = sorted(held)[-spare:]
            run("UPDATE limit_slots SET holder = NULL, expires_at = 0 WHERE name = %s AND holder = %s"
                " AND slot = ANY(%s)", (self.name, me, give))
            self.held = held - set(give)


class SharedRate:
    """This node's part of a rate budget the cluster spends together; ``apply`` gets it (0 < part <= 1).

    Every ``interval`` seconds the node says what it wants (one, plus the calls
    waiting for the budget: a live node always has a part, so a first call never
    waits for a round) and takes the part of the total that is its own. The
    parts of the live nodes add up to one, so the nodes together believe no more
    of the vendor's budget than there is; a busy node gets more than an idle
    one, and none gets nothing. While parts move (a node joins, a surge moves)
    they may add up to a little more for a round; the vendor's answers (THROTTLED,
    429) are retried as ever.
    """

    def __init__(
        self,
        url: str,
        name: str,
        *,
        node_id: str,
        demand: Callable[[], int],
        apply: Callable[[float], None],
        ttl: float = 10.0,
        interval: float = 0.5,
    ) -> None:
        self.name = name
        self.node_id = node_id
        self._demand = demand
        self._apply = apply
        self._ttl = ttl
        self._interval = interval
        self._url = url
        self._book = LeaseBook(url)
        self._loop: gevent.Greenlet | None = None
        #: The part applied last.
        self.part = 1.0

    def start(self) -> None:
        self._round()
        self._loop = gevent.spawn(self._rounds)

    def stop(self) -> None:
        self._book = _stop_rounds(self)
        with contextlib.suppress(Exception):
            self._book.run("DELETE FROM limit_wants WHERE name = %s AND node_id = %s", (self.name, self.node_id))
        self._book.close()

    def _rounds(self) -> None:
        while True:
            gevent.sleep(self._interval)
            try:
                self._round()
            except Exception as exc:  # noqa: BLE001 - the store is away: keep the part we have
                log.warning("shared rate round failed", extra={"limit": self.name, "error": repr(exc)})

    def _round(self) -> None:
        wants = 1 + max(0, self._demand())
        rows = self._book.run(
            f"INSERT INTO limit_wants (name, node_id, wants, updated_at) VALUES (%s, %s, %s, {_NOW})"
            f" ON CONFLICT (name, node_id) DO UPDATE SET wants = excluded.wants, updated_at = excluded.updated_at"
            f" RETURNING (SELECT json_object_agg(node_id, wants) FROM limit_wants"
            f" WHERE name = %s AND updated_at > {_NOW} - %s)",
            (self.name, self.node_id, wants, self.name, self._ttl))
        everyone = {node: int(n) for node, n in dict(rows[0][0] or {}).items()}
        everyone[self.node_id] = wants
        part = round(wants / sum(everyone.values()), 3)
        if part != self.part:
            self.part = part
            self._apply(part)


def _stop_rounds(limit: SharedLimit | SharedRate) -> LeaseBook:
    """Stop a limit's rounds; returns a fresh connection to give its share back on.

    A round killed mid-query leaves its connection busy.
    """
    if limit._loop is not None:
        limit._loop.kill()
        limit._loop = None
    limit._book.close()
    return LeaseBook(limit._url)

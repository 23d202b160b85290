"""This node in a cluster on one PostgreSQL: heartbeats, its share of the partitions, the leader lease.

Every ``interval`` seconds a round runs on a connection of its own
(``peppasync.store.leases``): beat, renew what the node holds, note what it
lost (a lease it did not renew in time was taken by another node), then move
towards its fair share of the partitions, ``ceil(PARTITIONS / live nodes)``:
claim free or expired ones when below it, hand the surplus over when above it
(a node joined). No node ever takes a partition that is not free or expired,
so the share only decides how fast the cluster converges, never who may write:
that is the epoch's job (``ops.Fence``).

The listener hears every change: ``lost`` (stop the actors of those leases; their
writes are refused anyway) and ``gained`` (look at their mailboxes). A surplus is
handed over beside the rounds: ``drain`` stops its actors and waits for them,
then the leases are released; they are renewed meanwhile, and no new actor of
them starts. A node that cannot renew for a whole ``ttl`` counts every lease as
lost: others are taking them over.

Wake-ups: in ``notify`` mode a node that commits a message for a key it does
not own sends ``NOTIFY peppasync_wake`` with the (kind, key), and the owner has
that actor read its mailbox at once; it is only a hint (the sweep polls anyway). In ``poll`` mode
(behind PgBouncer's transaction pooling, where LISTEN does not work) only the
sweep finds them.

``stop`` resigns: every lease is released at once (its epoch moved on) and the
node leaves, so the others take over in their next round, not after the TTL.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import secrets
import time
from collections.abc import Callable
from typing import Any

import gevent
import gevent.event

from peppasync.store import ops
from peppasync.store.leases import LEADER, PARTITIONS, LeaseBook, LeaseRow, NodeRow, default_node_id, lease_of

__all__ = ["WAKE_CHANNEL", "LeaseListener", "Membership"]

log = logging.getLogger("peppasync.cluster")

#: The NOTIFY channel of wake-up hints; the payload is a JSON list of [kind, key].
WAKE_CHANNEL = "peppasync_wake"
_CHANGE_CHANNEL = "peppasync_members"

#: Told what this node gained and lost: ``(gained, lost)`` lease names.
LeaseListener = Callable[[set[str], set[str]], None]


class Membership:
    """One node's membership; ``fence`` and ``owns`` answer for its actors."""

    def __init__(
        self,
        url: str,
        *,
        node_id: str = "",
        listen: str = "",
        ttl: float = 10.0,
        interval: float = 2.0,
        wakeups: str = "notify",
    ) -> None:
        if not 0 < interval < ttl:
            raise ValueError(
                f"the heartbeat interval ({interval} s) must be positive and below the lease TTL ({ttl} s)")
        if wakeups not in ("notify", "poll"):
            raise ValueError(f"wakeups must be 'notify' or 'poll', got {wakeups!r}")
        # Each start of a node is an owner of its own: a node restarted under the same name
        # (SIGKILL, then systemd) never writes under the epochs of its previous life.
        self.node_id = f"{node_id or default_node_id()}#{secrets.token_hex(3)}"
        self._url = url
        self._listen = listen
        self.ttl = ttl
        self.interval = interval
        self.wakeups = wakeups
        self._book = LeaseBook(url)
        self._hints = LeaseBook(url)
        #: The leases this node holds, each with the epoch its writes carry.
        self.held: dict[str, int] = {}
        self.nodes: list[NodeRow] = []
        self.listener: LeaseListener = lambda gained, lost: None
        #: Stops the actors of leases about to be handed over, and waits for them.
        self.drain: Callable[[set[str]], None] = lambda leases: None
        self._handing: set[str] = set()
        #: Told of the (kind, key) another node committed a message for (ours or not: it checks).
        self.on_hint: Callable[[list[tuple[str, str]]], None] = lambda keys: None
        self.changes = 0  # leases gained or lost since start: the flapping alert's counter
        # Until when (monotonic) our leases are surely ours: a renewal's *start* plus the TTL.
        self._valid_until = 0.0
        self._loop: gevent.Greenlet | None = None
        self._listener_loop: gevent.Greenlet | None = None
        self._kick = gevent.event.Event()
        self._pending_hints: set[tuple[str, str]] = set()
        self._hinter: gevent.Greenlet | None = None
        self._stopped = False

    # -- what actors and delivery ask -----------------------------------------

    @property
    def leads(self) -> bool:
        return LEADER in self.held

    def fence(self, kind: str, key: str, singleton: bool = False) -> ops.Fence | None:
        """The fence for a write of (kind, key), or None when this node does not own it."""
        lease = lease_of(kind, key, singleton)
        epoch = self.held.get(lease)
        return None if epoch is None else ops.Fence(lease, epoch)

    def owns(self, kind: str, key: str, singleton: bool = False) -> bool:
        return lease_of(kind, key, singleton) in self.held

    def current(self, fence: ops.Fence) -> bool:
        """Whether a write under ``fence`` can still commit and its handler should run.

        The epoch alone refuses the write; this also says no once the last renewal is
        older than the TTL by our own clock (the process was paused, the store is away),
        so a node that may have been presumed dead calls no vendor before it knows.
        """
        return self.held.get(fence.lease) == fence.epoch and time.monotonic() < self._valid_until

    def hint(self, keys: set[tuple[str, str]]) -> None:
        """Messages were committed here for keys another node owns: tell it (a hint, never needed)."""
        if self.wakeups != "notify" or not keys:
            return
        self._pending_hints |= keys
        if self._hinter is None or self._hinter.dead:
            self._hinter = gevent.spawn(self._send_hints)

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Join: the partition rows exist, a first round has run, then rounds every ``interval``."""
        self._book.ensure_partitions()
        self._round()
        with contextlib.suppress(Exception):
            self._book.notify(_CHANGE_CHANNEL, self.node_id)  # the others hand over our share at once
        self._loop = gevent.spawn(self._rounds)
        if self.wakeups == "notify":
            self._listener_loop = gevent.spawn(self._listen_forever)

    def stop(self) -> None:
        """Resign: release every lease at once and leave (the actors were stopped before); once."""
        if self._stopped:
            return
        self._stopped = True
        for greenlet in (self._loop, self._listener_loop, self._hinter):
            if greenlet is not None:
                greenlet.kill()
        # A round killed mid-query leaves its connection busy: leave on a fresh one.
        self._book.close()
        self._book = LeaseBook(self._url)
        try:
            released = self._book.release(self.node_id)
            self._book.leave(self.node_id)
            self._book.notify(_CHANGE_CHANNEL, self.node_id)
            log.info("left the cluster; leases released", extra={"node": self.node_id, "released": len(released)})
        except Exception as exc:  # noqa: BLE001 - the leases then expire after their TTL
            log.warning("could not release the leases on leaving; they expire after the TTL",
                        extra={"node": self.node_id, "error": repr(exc)})
        self.held = {}
        self._book.close()
        self._hints.close()

    def leases(self) -> list[LeaseRow]:
        """Every lease of the cluster, as the table holds it (on a connection of its own)."""
        book = LeaseBook(self._url)
        try:
            return book.leases()
        finally:
            book.close()

    # -- rounds ----------------------------------------------------------------

    def _rounds(self) -> None:
        while True:
            self._kick.wait(timeout=self.interval)
            self._kick.clear()
            try:
                self._round()
            except Exception as exc:  # noqa: BLE001 - the store is away: try again next round
                log.warning("cluster round failed", extra={"node": self.node_id, "error": repr(exc)})
                if self.held and time.monotonic() > self._valid_until:
                    # Not renewed for a whole TTL: others take our leases over now.
                    lost, self.held = set(self.held), {}
                    self._tell(set(), lost)

    def _round(self) -> None:
        book, me = self._book, self.node_id
        self.nodes = book.beat(me, self._listen, self.ttl)
        sent = time.monotonic()
        renewed = book.renew(me, self.ttl)
        self._valid_until = sent + self.ttl
        handing = self._handing
        renewed = {name: epoch for name, epoch in renewed.items() if name not in handing}
        lost = {name for name, epoch in self.held.items() if renewed.get(name) != epoch}
        if lost:
            log.warning("leases taken over by another node", extra={"node": me, "leases": sorted(lost)})
        held = dict(renewed)
        if LEADER not in held and LEADER not in handing:
            epoch = book.lead(me, self.ttl)
            if epoch is not None:
                held[LEADER] = epoch
                log.info("this node leads the cluster", extra={"node": me, "epoch": epoch})
        if self.leads:
            book.forget_nodes(older_than=10 * self.ttl)
        live = max(1, len(self.nodes))
        share = math.ceil(PARTITIONS / live)
        mine = sorted(name for name in held if name != LEADER)
        surplus: list[str] = []
        if len(mine) + len(handing) < share:
            held.update(book.claim(me, self.ttl, share - len(mine) - len(handing)))
        elif len(mine) > share:
            surplus = mine[share:]
        gained = {name for name in held if name not in self.held or self.held[name] != held[name]}
        for name in surplus:
            del held[name]
        self.held = held
        self._tell(gained, lost)
        if surplus:
            # Hand over without holding up the rounds (the leases are renewed meanwhile):
            # their actors stop first, then the leases go (their epochs move on).
            handing.update(surplus)
            gevent.spawn(self._hand_over, surplus)

    def _hand_over(self, leases: list[str]) -> None:
        book = LeaseBook(self._url)  # the rounds' connection is theirs alone
        try:
            self.changes += len(leases)
            try:
                self.drain(set(leases))
            except Exception:
                log.exception("stopping the actors of leases handed over failed")
            book.release(self.node_id, leases)
            with contextlib.suppress(Exception):
                book.notify(_CHANGE_CHANNEL, self.node_id)  # the joining node claims them now
            log.info("partitions handed over to a joining node", extra={"node": self.node_id, "released": len(leases)})
        except Exception as exc:  # noqa: BLE001 - they expire after the TTL instead
            log.warning("handing partitions over failed; they expire after the TTL",
                        extra={"node": self.node_id, "error": repr(exc)})
        finally:
            self._handing.difference_update(leases)
            book.close()

    def _tell(self, gained: set[str], lost: set[str]) -> None:
        if not gained and not lost:
            return
        self.changes += len(gained) + len(lost)
        try:
            self.listener(gained, lost)
        except Exception:
            log.exception("lease listener failed")

    # -- hints -----------------------------------------------------------------

    def _send_hints(self) -> None:
        while self._pending_hints:
            keys, self._pending_hints = sorted(self._pending_hints), set()
            try:
                for payload in _payloads(keys):
                    self._hints.notify(WAKE_CHANNEL, payload)
            except Exception as exc:  # noqa: BLE001 - a hint lost: the owner's sweep finds the message
                log.debug("wake-up hint not sent", extra={"error": repr(exc)})
                return

    def _listen_forever(self) -> None:
        import psycopg

        while True:
            conn: Any = None
            try:
                conn = psycopg.connect(self._url, autocommit=True, application_name="peppasync-listen",
                                       connect_timeout=10)
                conn.execute(f"LISTEN {WAKE_CHANNEL}")
                conn.execute(f"LISTEN {_CHANGE_CHANNEL}")
                for note in conn.notifies():
                    if note.channel == _CHANGE_CHANNEL:
                        self._kick.set()  # a node left or joined: rebalance now
                    else:
                        self.on_hint([(str(kind), str(key)) for kind, key in json.loads(note.payload)])
            except Exception as exc:  # noqa: BLE001 - hints are optional: polling goes on
                log.debug("wake-up listener lost its connection", extra={"error": repr(exc)})
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
            gevent.sleep(self.interval)


_PAYLOAD_BYTES = 7000  # NOTIFY takes up to 8000 bytes


def _payloads(keys: list[tuple[str, str]]) -> list[str]:
    """The keys as JSON lists of [kind, key], each within a notification's size."""
    out: list[str] = []
    batch: list[tuple[str, str]] = []
    size = 2
    for kind, key in keys:
        item = len(json.dumps([kind, key]).encode()) + 1
        if item + 2 > _PAYLOAD_BYTES:
            continue  # a key this long is left to the sweep
        if batch and size + item > _PAYLOAD_BYTES:
            out.append(json.dumps(batch))
            batch, size = [], 2
        batch.append((kind, key))
        size += item
    if batch:
        out.append(json.dumps(batch))
    return out

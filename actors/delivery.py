"""Delivery: how a committed message reaches its actor, and the rules it keeps.

A message is in the store before any actor hears of it, and it reaches its
actor one way: the store's writer tells ``Delivery.committed`` of every message
a commit of this process added (``ops.Insert``, ``ops.InsertOnce`` and its
``also``, ``ops.Requeue``), in id order, before whoever wrote it hears "ok". An
active actor is handed the message (``Mailbox.offer``, no read) and told to
look (``WAKE``); an inactive one is activated, with others of the same moment,
in one read (``Delivery._activate_batch``). So nobody who writes through the
process's store calls ``wake``. What no commit of ours can tell is covered so:

- a message stored by another process (``peppasync quarantine retry``, another
  engine on the same PostgreSQL): ``Delivery.sweep``, every ``sweep_interval``,
  activates the mailboxes with a ready message and no active actor, and tells
  an active actor idle for a whole interval to read its mailbox again;
- a message that is not due yet (a delayed send, a retry): the actor's own
  timer, or the sweep once it is due.

``Delivery.wake`` stays for callers who know of such a change (``reread``).

On a cluster (several nodes on one PostgreSQL, ``peppasync.store.membership``)
a node delivers only to the keys whose lease it holds (``Ownership``): a
message committed here for a key another node owns is left to that node (its
sweep, at once with a NOTIFY hint of the key), and the sweep looks only at owned keys. An
actor is activated with the fence of its lease as it was *before* its state
and messages were read, and puts it in front of every write it makes
(``ops.Fence``): if the lease moved on meanwhile, nothing of it commits. When
a lease is lost or handed over, its actors are stopped first.

The rules, and the code that enforces each (marked with its rule below):

FIFO per actor: one message at a time, in id order; a message retried holds
the ones behind it.
  - One actor per (kind, key) in this process: ``_active``; no activation
    starts while one is active or being activated (``_wake_inactive``).
  - In id order: the writer tells commits in id order; ``Mailbox.offer`` keeps
    what it is handed only while it holds every message after its last read,
    else forgets it all and the next batch is read from the store, oldest
    first (``Mailbox.next_batch``).
  - One at a time: the actor handles a batch in order on its own greenlet and
    asks ``Mailbox.next_batch`` for more only when the batch is done
    (``DurableActor``).
  - A retried message, or one not due yet, holds the ones behind it:
    ``Mailbox.hold`` gives back their claims and forgets what was handed over;
    the actor reads the store again only when the held message is due.

At least once: a message is done only when its ``Done`` commits; a crash
re-delivers what was claimed but not done, at most one prefetch batch per actor.
  - A message leaves its mailbox only by ``ops.Done`` (or quarantine),
    committed with the state and the sends of its handler (``DurableActor``).
  - A claimed message (attempt counted by ``ops.Start``, or at insert through
    ``Delivery.claim``) stays ``running`` until then; reads take running
    messages too (``Store.load_many``, ``Store.pending``), so after a crash
    they are delivered again with the attempt already counted.
  - An actor holds at most ``prefetch`` claimed messages: it reads at most
    ``prefetch`` (``Mailbox.next_batch``, ``_activate_batch``), and a message
    is claimed at insert only while the batch in hand and what was handed over
    leave room (``Mailbox.takes``).

No lost wake: a message committed while its actor is being activated is seen.
  - ``Delivery.committed`` notes it (``_rewake``) and the activator tells the
    actor to read its mailbox again once it has started (``_activate_batch``).
  - A wake for an actor that has one queued is dropped (``_woken``) only until
    the actor starts reading (``Delivery.draining``).
  - An actor that stopped taking messages to passivate passes a wake it still
    receives back to ``Delivery.wake`` once it is forgotten (``DurableActor``):
    a new activation reads the store.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import gevent
import gevent.event
import pykka
from pykka._envelope import Envelope  # pykka 4's (setup.cfg pins it below 5)

from peppasync.store import Message, Store, lease_of, ops

if TYPE_CHECKING:
    from actors.durable import ActorContext, DurableActor

__all__ = ["WAKE", "Committed", "Delivery", "Mailbox", "Ownership", "ready_to_start"]

log = logging.getLogger("peppasync.actors")

#: What the writer tells of a message it committed: (id, the Insert, commit time, claimed).
Committed = tuple[int, ops.Insert, float, bool]
_Ident = tuple[str, str]

_ACTIVATORS = 2
_ACTIVATION_BATCH = 500
#: A hub this many seconds behind starts the kinds that do not start first ``_BEHIND_STEP`` at a time.
_BEHIND = 0.05
_BEHIND_STEP = 10
#: At most this long an activation waits for the commit under way to say what it claimed.
_SETTLE_WAIT = 5.0


@dataclass(frozen=True)
class _Wake:
    pass


class Ownership(Protocol):
    """Which keys this node may handle, on a cluster (``peppasync.store.membership.Membership``)."""

    def fence(self, kind: str, key: str, singleton: bool = False) -> ops.Fence | None:
        """The fence for writes of (kind, key); None when another node owns it."""

    def owns(self, kind: str, key: str, singleton: bool = False) -> bool: ...

    def current(self, fence: ops.Fence) -> bool:
        """Whether the lease is still ours at that epoch, renewed within its TTL."""

    def hint(self, keys: set[tuple[str, str]]) -> None:
        """Messages were committed here for (kind, key) another node owns."""


#: Told to an actor: look at your mailbox.
WAKE = _Wake()
_WAKE_ENVELOPE = Envelope(WAKE)


_NO_CLAIMS: frozenset[int] = frozenset()


class Mailbox:
    """One actor's side of delivery: what it was handed since it last read the store."""

    __slots__ = ("_claimed", "_in_hand", "_known_id", "_prefetch", "_pushed", "_stale", "closed")

    def __init__(self, prefetch: int, preloaded: bool = False, claimed: Collection[int] = ()) -> None:
        self._prefetch = prefetch
        # Messages committed after our last read, in id order, as the writer
        # told them (so a wake needs no read). Stale: the store may hold
        # messages we were not handed, so the next batch is read from it.
        self._pushed: list[Committed] = []
        self._stale = not preloaded  # a preload is a read made for us
        # Messages claimed at insert that were not handed over after all (or were
        # forgotten), to be read from the store: the read treats them as claimed, so
        # that their attempt is not counted twice.
        # Empty most of the time: one shared empty set, rather than 216 bytes for each actor.
        self._claimed: set[int] | frozenset[int] = set(claimed) if claimed else _NO_CLAIMS
        self._known_id = 0
        self._in_hand = 0  # messages of the batch being handled (claimed, not known done)
        #: The actor is passivating: it takes nothing more at insert.
        self.closed = False

    @property
    def handed(self) -> bool:
        """Whether messages were handed over that the actor has not taken yet."""
        return bool(self._pushed)

    def takes(self, promised: int) -> bool:
        """Whether a message committed now would be handed over (``promised`` more are on their way)."""
        # At least once: claimed at insert only while the batch in hand, what was
        # handed over and what is promised stay within one prefetch; a crash
        # re-delivers no more than that.
        return (not self._stale and not self.closed
                and len(self._pushed) + self._in_hand + promised < self._prefetch)

    def offer(self, message_id: int, op: ops.Insert, committed_at: float, claimed: bool) -> None:
        """A message for this mailbox has just committed (told in id order).

        A claimed one was stored with its first attempt counted: no Start needed.
        """
        if message_id <= self._known_id:
            return  # already read
        if self._stale or len(self._pushed) >= self._prefetch or op.available_at is not None:
            # FIFO: rather than skip one, forget all; the store keeps them in order
            # (and the next batch is read from it).
            self.mark_stale()
            if claimed:
                self._keep_claims((message_id,))
            return
        self._pushed.append((message_id, op, committed_at, claimed))

    def mark_stale(self) -> None:
        """The store may hold messages not handed over: read it for the next batch."""
        self._stale = True
        self._forget(self._pushed)
        self._pushed = []

    def _forget(self, pushed: Iterable[Committed]) -> None:
        self._keep_claims([m[0] for m in pushed if m[3]])

    def _keep_claims(self, ids: Collection[int]) -> None:
        if not ids:
            return
        claimed = self._claimed
        if isinstance(claimed, set):
            claimed.update(ids)
        else:
            self._claimed = set(ids)

    def next_batch(
        self, first: list[Message] | None, read: Callable[[], list[Message]]
    ) -> tuple[list[Message], set[int]]:
        """The next messages in id order (``first``, else handed over, else ``read``), and the claimed ids."""
        if first is None and not self._stale:
            pushed, self._pushed = self._pushed, []
            self._in_hand = len(pushed)
            batch: list[Message] = []
            claimed: set[int] = set()
            for m in pushed:  # one loop, not two comprehensions (each a call): once per wake
                batch.append(_pushed_message(m))
                if m[3]:
                    claimed.add(m[0])
            return batch, claimed
        if first is None:
            self._stale = False
            self._forget(self._pushed)
            self._pushed = []
            first = read()  # FIFO: oldest first, at most prefetch
        # Handed-over messages the read already holds are dropped; a full read
        # may have left more behind it in the store. (An offer that did not
        # fit while we read has marked us stale again.)
        if first:
            self._known_id = max(self._known_id, first[-1].id)
        if len(first) >= self._prefetch:
            self._stale = True
        if self._stale:
            self._forget(self._pushed)
            self._pushed = []
        else:
            self._forget(m for m in self._pushed if m[0] <= self._known_id)
            self._pushed = [m for m in self._pushed if m[0] > self._known_id]
        read_ids = {m.id for m in first}
        claimed = set(self._claimed & read_ids)
        # What this read covers is settled; what it did not reach stays claimed for the next.
        if self._claimed:
            self._claimed = {i for i in self._claimed if i > self._known_id} or _NO_CLAIMS
        self._in_hand = len(first)
        return first, claimed

    def batch_done(self) -> bool:
        """The batch in hand is handled: whether that is all (nothing handed over, nothing unread).

        When it is, the actor stops draining without asking ``next_batch`` for an empty batch.
        """
        self._in_hand = 0
        return not self._pushed and not self._stale

    def hold(self, rest: Iterable[Message], claimed: Collection[int]) -> list[ops.Op]:
        """A message waits (a retry, or not due yet), and so does ``rest``, the batch behind it.

        FIFO: returns the Releases that give back the claims in ``rest`` (those
        attempts were not used) and forgets what was handed over; the actor
        reads the store again when the waiting message is due.
        """
        self.mark_stale()
        self._in_hand = 0
        return [ops.Release(m.id) for m in rest if m.id in claimed]


class Delivery:
    """Hands every committed message to its actor, activating it when it is not active."""

    def __init__(
        self,
        context: ActorContext,
        kinds: Mapping[str, type[DurableActor]],
        *,
        max_active: int,
        sweep_interval: float,
        held: Collection[_Ident],
        ownership: Ownership | None = None,
    ) -> None:
        self._ctx = context
        self._ownership = ownership
        self._sweep_soon: gevent.Greenlet | None = None
        self._store: Store = context.store
        self._kinds = kinds
        self._max_active = max_active
        self._sweep_interval = sweep_interval
        self._held = held  # crashed, waiting out their restart delay: delivered to when they start
        self._active: dict[_Ident, DurableActor] = {}
        self._woken: set[_Ident] = set()  # told WAKE, not yet reading
        self._activating: dict[_Ident, None] = {}
        self._rewake: set[_Ident] = set()  # activating, and a message committed meanwhile
        #: Messages stored with their first attempt counted for an actor about to be activated: its
        #: first batch takes them as started (no Start to wait for, ``Delivery.claim``).
        self._claimed_ahead: dict[_Ident, set[int]] = {}
        #: Keys claimed for in the writer's commit under way, and when it is over (``_claims_settled``).
        self._claims_open: set[_Ident] = set()
        self._claims_told = gevent.event.Event()
        self._to_load: deque[_Ident] = deque()  # in _activating, not yet read
        self._to_load_first: deque[_Ident] = deque()  # the same, of kinds that start first
        self._activators: set[gevent.Greenlet] = set()
        self._first_activator: gevent.Greenlet | None = None
        self._to_wake: dict[_Ident, None] = {}  # committed, to tell or activate (``_wake_committed``)
        self._waking = False
        self._stopping = False
        #: Whether the store tells us of its commits (between ``open`` and ``close``).
        self.listening = False

    # -- lifecycle -----------------------------------------------------------

    def open(self) -> None:
        """Listen to the store's commits (and claim at insert for active actors)."""
        self._stopping = False
        self._store.listen(self.committed, claimer=self.claim, settled=self._claims_settled)
        self.listening = True

    def close(self) -> list[DurableActor]:
        """Stop delivering; returns the actors that were active (for their host to stop)."""
        self._stopping = True
        self._store.unlisten(self.committed)
        self.listening = False
        if self._first_activator is not None:
            self._first_activator.kill()
            self._first_activator = None
        for activator in list(self._activators):
            activator.kill()
        self._activators.clear()
        self._to_load.clear()
        self._to_load_first.clear()
        self._activating.clear()
        self._rewake.clear()
        self._claimed_ahead.clear()
        self._to_wake.clear()
        actors = list(self._active.values())
        self._active.clear()
        self._woken.clear()
        return actors

    # -- the way in ----------------------------------------------------------

    def committed(self, added: list[Committed]) -> None:
        """The store's commit listener: called in the writer, in id order, before any writer hears "ok".

        What must be decided at the commit is decided here; the wakes and
        activations it asks for run in a hub callback, before the writers are
        told, so that the writer greenlet goes on to its next commit at once.
        """
        active, woken, to_wake = self._active, self._woken, self._to_wake
        ownership = self._ownership
        elsewhere: set[_Ident] = set()
        for item in added:
            op = item[1]
            ident = (op.kind, op.key)
            actor = active.get(ident)
            if actor is None and ownership is not None and not self._owns(ident):
                elsewhere.add(ident)
                continue  # another node's key: its owner finds it (sooner with the hint)
            if actor is not None:
                actor.mailbox.offer(*item)
                if ident in woken:
                    continue  # a wake is queued: the actor reads what it was handed
                to_wake[ident] = None
                continue
            if item[3]:
                self._claimed_ahead.setdefault(ident, set()).add(item[0])
            if ident in self._activating:
                # No lost wake: its activation may have read the mailbox before this commit.
                self._rewake.add(ident)
                continue
            to_wake[ident] = None
        if to_wake and not self._waking:
            self._waking = True
            gevent.get_hub().loop.run_callback(self._wake_committed)
        if elsewhere and ownership is not None:
            ownership.hint(elsewhere)

    def _wake_committed(self) -> None:
        # An actor active at the commit was handed the message: tell it. One
        # that was not is activated; one activated since read after the commit.
        self._waking = False
        idents, self._to_wake = self._to_wake, {}
        try:
            for ident in idents:
                actor = self._active.get(ident)
                if actor is not None and (ident in self._woken or self._tell(ident, actor)):
                    continue
                self._wake_inactive(ident, committed=False)
        except Exception:  # noqa: BLE001 - never in the hub; the sweep finds what was left
            log.exception("waking actors after a commit failed")

    def claim(self, kind: str, key: str, promised: int) -> bool:
        """The store's claimer: whether a message for (kind, key) is stored with its first attempt counted.

        Yes for an active actor with room in its mailbox, and for one this commit activates
        (or whose activation is under way): its first batch then starts without a commit of
        its own, which under a sale waited behind every other commit. At least once holds as
        for an active actor: at most a prefetch of claims per key, so a crash re-delivers no
        more than that, each with its one attempt counted.
        """
        ident = (kind, key)
        actor = self._active.get(ident)
        if actor is not None:
            return actor.mailbox.takes(promised)
        if (self._stopping or kind not in self._kinds or ident in self._held
                or (self._ownership is not None and not self._owns(ident))):
            return False
        if ident not in self._activating and len(self._active) + len(self._activating) >= self._max_active:
            return False  # the sweep activates it later, reading it as any other message
        if len(self._claimed_ahead.get(ident, ())) + promised >= self._ctx.prefetch:
            return False
        self._claims_open.add(ident)
        return True

    def _claims_settled(self) -> None:
        # The commit's listener has run: what it claimed is in _claimed_ahead (or handed over).
        if not self._claims_open:
            return
        self._claims_open.clear()
        told, self._claims_told = self._claims_told, gevent.event.Event()
        told.set()

    def wake(self, kind: str, key: str, *, reread: bool = False) -> None:
        """Make sure (kind, key) looks at its mailbox: tell it, or activate it.

        Only for what no commit of this process told: ``reread`` says the
        mailbox changed otherwise (another process stored a message), so the
        actor must read it.
        """
        if self._stopping or kind not in self._kinds:
            return
        ident = (kind, key)
        actor = self._active.get(ident)
        if actor is not None:
            if reread:
                actor.mailbox.mark_stale()
            if ident in self._woken or self._tell(ident, actor):
                return
        self._wake_inactive(ident, committed=reread)

    def sweep(self) -> int:
        """Activate actors whose messages are ready but who are not active; returns how many.

        An active actor that has sat idle for a whole sweep interval while a
        message of its is ready is told to read its mailbox: that message was
        stored where no commit of ours could hand it over (another process).
        """
        if self._stopping:
            return 0
        room = self._max_active - len(self._active) - len(self._activating)
        idle_before = self._ctx.clock.monotonic() - self._sweep_interval
        woken = 0
        limit = max(room, 0) + len(self._active) + len(self._held)
        accept = None if self._ownership is None else self._owns_key
        for kind, key in self._store.pending_keys(now=self._ctx.clock.time(), limit=limit, accept=accept):
            ident = (kind, key)
            actor = self._active.get(ident)
            if actor is not None:
                # Not while its own completions are still committing: the store shows the messages
                # it has handled until then, and a read would first wait for them, to find nothing.
                if 0.0 < actor.idle_since <= idle_before and not actor.committing and ident not in self._woken:
                    self.wake(kind, key, reread=True)
                continue
            if ident in self._activating or ident in self._held or kind not in self._kinds:
                continue
            if len(self._active) + len(self._activating) >= self._max_active:
                continue  # no room, but the active ones further on may still need a wake
            self._activate(ident)
            woken += 1
        return woken

    # -- what actors and their host tell -------------------------------------

    def draining(self, kind: str, key: str) -> None:
        """The actor is about to read its mailbox: a later message needs a new wake."""
        self._woken.discard((kind, key))

    def forget(self, actor: DurableActor) -> None:
        """The actor passivated or exited: what comes for its key activates a new one."""
        ident = (actor.kind, actor.key)
        if self._active.get(ident) is actor:
            del self._active[ident]
            self._woken.discard(ident)

    def actors(self) -> list[DurableActor]:
        return list(self._active.values())

    def idle(self, since: float) -> list[DurableActor]:
        """Active actors idle since ``since`` (monotonic) or before, with no wake queued."""
        woken = self._woken
        return [a for ident, a in self._active.items() if 0.0 < a.idle_since <= since and ident not in woken]

    def active(self, kind: str | None = None) -> int:
        if kind is None:
            return len(self._active)
        return sum(1 for k, _ in self._active if k == kind)

    def is_active(self, kind: str, key: str) -> bool:
        return (kind, key) in self._active

    def leases_changed(self, gained: set[str], lost: set[str]) -> None:
        """The node's leases changed (``Membership``): stop the actors of those lost, look at those gained.

        A lost lease's actors stop after the message in hand (its writes are refused anyway).
        """
        if lost:
            self._stop_actors_of(lost)
            for ident in [i for i in self._claimed_ahead if lease_of(i[0], i[1], self._singleton(i[0])) in lost]:
                del self._claimed_ahead[ident]  # its new owner reads them, their attempt counted again
        if gained:
            self.sweep_soon()

    def hand_over(self, leases: set[str], timeout: float = 5.0) -> None:
        """Leases are about to be handed over: stop their actors and wait (at most ``timeout``) for them."""
        gone = self._stop_actors_of(leases)
        with gevent.Timeout(timeout, False):
            for actor in gone:
                actor.actor_stopped.wait()

    def _stop_actors_of(self, leases: set[str]) -> list[DurableActor]:
        gone = [actor for (kind, key), actor in list(self._active.items())
                if lease_of(kind, key, self._singleton(kind)) in leases]
        for actor in gone:
            self.forget(actor)
            try:
                actor.actor_ref.stop(block=False)
            except pykka.ActorDeadError:
                pass
        return gone

    def current(self, fence: ops.Fence) -> bool:
        """Whether an actor activated under ``fence`` may handle its next message (see ``Ownership``)."""
        return self._ownership is None or self._ownership.current(fence)

    def hinted(self, keys: list[tuple[str, str]]) -> None:
        """Another node committed messages for these keys: those we own read their mailboxes now."""
        for kind, key in keys:
            if kind in self._kinds and self._owns((kind, key)):
                self.wake(kind, key, reread=True)

    def sweep_soon(self) -> None:
        """Sweep now rather than at the next interval (a lease gained)."""
        if self._sweep_soon is None or self._sweep_soon.dead:
            self._sweep_soon = gevent.spawn(self._sweep_once)

    def _sweep_once(self) -> None:
        gevent.sleep(0.05)  # the leases gained in one moment share a sweep
        try:
            self.sweep()
        except Exception as exc:  # noqa: BLE001 - the periodic sweep tries again
            log.warning("mailbox sweep failed", extra={"error": repr(exc)})

    # -- internals -----------------------------------------------------------

    def _singleton(self, kind: str) -> bool:
        actor_class = self._kinds.get(kind)
        return actor_class is not None and actor_class.singleton

    def _owns(self, ident: _Ident) -> bool:
        assert self._ownership is not None
        return self._ownership.owns(ident[0], ident[1], self._singleton(ident[0]))

    def _owns_key(self, kind: str, key: str) -> bool:
        return self._owns((kind, key))

    def _tell(self, ident: _Ident, actor: DurableActor) -> bool:
        # As ``actor_ref.tell(WAKE)``, with one envelope for every wake (nobody replies to one).
        if actor.actor_stopped.is_set():
            self._active.pop(ident, None)
            return False
        actor.actor_inbox.put(_WAKE_ENVELOPE)
        self._woken.add(ident)
        return True

    def _wake_inactive(self, ident: _Ident, *, committed: bool) -> None:
        if self._stopping or ident in self._held or ident[0] not in self._kinds:
            return  # held: it reads its mailbox when its restart delay is over
        if self._ownership is not None and not self._owns(ident):
            return  # another node's key
        if ident in self._activating:
            if committed:
                # No lost wake: its activation may have read the mailbox before this change.
                self._rewake.add(ident)
            return
        if len(self._active) + len(self._activating) >= self._max_active:
            return  # the sweep activates it when there is room
        self._activate(ident)

    def _activate(self, ident: _Ident) -> None:
        # Activations asked for in the same moment share one read of their
        # state and first messages: one query for a burst, not two per actor.
        self._activating[ident] = None
        # Kinds that start first (``DurableActor.starts_first``) go ahead of the queue: in a sale
        # a margin is computed in milliseconds, an order waits on the ERP for minutes anyway.
        first = self._kinds[ident[0]].starts_first
        (self._to_load_first if first else self._to_load).append(ident)
        if self._stopping:
            return
        # Two activators: one reads the next batch (on the second reader
        # connection) while the other starts the actors of the batch before.
        if len(self._activators) < _ACTIVATORS:
            self._activators.add(gevent.spawn(self._activate_batch))
        elif first and self._first_activator is None:
            # And one for the kinds that start first alone, never behind a batch of the others.
            self._first_activator = gevent.spawn(self._activate_batch, True)

    def _activate_batch(self, first_only: bool = False) -> None:
        try:
            if first_only:
                gevent.sleep(0)  # let the wakes of this moment gather
                behind = 0.0
            else:
                behind = self._behind()  # and the wakes gather meanwhile
            while (self._to_load_first or (self._to_load and not first_only)) and not self._stopping:
                batch: list[_Ident] = []
                self._take(self._to_load_first, batch, _ACTIVATION_BATCH)
                if first_only:
                    self._start_batch(batch)
                    continue
                # While the hub is behind, the other kinds start a step at a time, each step after
                # what was queued before it: a webhook's answer, an ERP slot's next call and a
                # margin do not wait behind hundreds of orders starting at once.
                self._take(self._to_load, batch, len(batch) + _BEHIND_STEP if behind > _BEHIND else _ACTIVATION_BATCH)
                self._start_batch(batch)
                behind = self._behind()
        finally:
            if first_only:
                self._first_activator = None
            else:
                self._activators.discard(gevent.getcurrent())
                if ((self._to_load_first or self._to_load) and len(self._activators) < _ACTIVATORS
                        and not self._stopping):
                    self._activators.add(gevent.spawn(self._activate_batch))

    def _start_batch(self, batch: list[_Ident]) -> None:
        by_kind: dict[str, list[str]] = {}  # the kinds that start first, first
        for kind, key in batch:
            by_kind.setdefault(kind, []).append(key)
        for kind, keys in by_kind.items():
            self._start(kind, keys)

    def _take(self, queue: deque[_Ident], batch: list[_Ident], size: int) -> None:
        while queue and len(batch) < size:
            ident = queue.popleft()
            if ident in self._activating:
                batch.append(ident)

    def _behind(self) -> float:
        """How long the hub took to come back to us: the work queued ahead of a greenlet, in seconds."""
        clock = self._ctx.clock
        asked = clock.monotonic()
        gevent.sleep(0)
        return clock.monotonic() - asked

    def _start(self, kind: str, keys: list[str]) -> None:
        ctx = self._ctx
        fences: dict[str, ops.Fence | None] = {}
        if self._ownership is not None:
            # The fence as it is before the read: if the lease moves on after it,
            # what the actor read may be stale, and none of its writes commits.
            singleton = self._singleton(kind)
            for key in keys:
                fences[key] = self._ownership.fence(kind, key, singleton)
            for key in [k for k in keys if fences[k] is None]:
                self._activating.pop((kind, key), None)  # lost meanwhile: its new owner activates it
            keys = [k for k in keys if fences[k] is not None]
        try:
            # At least once: running messages are read too (a crash left them claimed).
            loaded = self._store.load_many(kind, keys, limit=ctx.prefetch)
        except Exception as exc:
            log.warning("activation read failed; the sweep retries", extra={"error": repr(exc)})
            loaded = {}
        if self._claims_open and not self._claims_open.isdisjoint((kind, key) for key in loaded):
            # The read may hold a message claimed in the commit under way, whose listener has not
            # told us its id yet: without it the actor would count its attempt a second time.
            self._claims_told.wait(timeout=_SETTLE_WAIT)
        keys = [key for key in keys if self._loaded(kind, key, loaded)]
        # What was claimed for an actor at insert starts without a commit. The first attempts of
        # the rest (messages stored while it was not active: a restart's backlog, a delayed
        # message) are counted for the whole batch in one commit, which this activator waits for
        # while the other reads the next batch. Counted by each actor, they were one writer
        # request and one waiting worker greenlet each: a restart with 100,000 mailboxes to
        # resume held 100,000 greenlets' stacks at once, 600 MB more than the actors themselves.
        now = ctx.clock.time()
        first = {key: ids for key in keys
                 if (ids := ready_to_start(loaded[key][1], self._claimed_ahead.get((kind, key), ()), now))}
        for key in keys:
            if key not in first:
                self._spawn(kind, key, loaded[key], fences.get(key))
        if not first:
            return
        counted = self._count_first_attempts(first, fences)
        if self._stopping:
            return  # what was counted is judged as a crash by the next activation, one attempt too many
        for key, ids in first.items():
            state, messages = loaded[key]
            if counted:
                messages = [m.started(counted[m.id]) if m.id in counted else m for m in messages]
            self._spawn(kind, key, (state, messages), fences.get(key), ids if counted else ())

    def _loaded(self, kind: str, key: str, loaded: Mapping[str, object]) -> bool:
        ident = (kind, key)
        if key in loaded and ident not in self._active:
            return True
        self._activating.pop(ident, None)
        self._claimed_ahead.pop(ident, None)  # read as any other message, its attempt counted again
        return False

    def _count_first_attempts(
        self, first: Mapping[str, list[int]], fences: Mapping[str, ops.Fence | None]
    ) -> dict[int, int]:
        """Start those messages in one commit: their new attempt counts, or nothing if it failed."""
        ids = [i for key in first for i in first[key]]
        guards = list(dict.fromkeys(f for key in first if (f := fences.get(key)) is not None))
        try:
            results = self._store.write([*guards, *(ops.Start(i) for i in ids)])
        except Exception as exc:  # noqa: BLE001 - one gone or fenced: each actor starts its own
            log.info("activation could not count first attempts together; each actor counts its own",
                     extra={"error": repr(exc)})
            return {}
        return dict(zip(ids, (int(a) for a in results[len(guards):]), strict=True))

    def _spawn(
        self, kind: str, key: str, preload: tuple[tuple[dict[str, Any], int] | None, list[Message]],
        fence: ops.Fence | None, started: Collection[int] = (),
    ) -> None:
        ident = (kind, key)
        claimed = self._claimed_ahead.pop(ident, ())
        if started:
            claimed = {*claimed, *started}
        # Starting may yield to other greenlets: the key stays in
        # _activating meanwhile, so a commit then is noted, not lost.
        self._active[ident] = self._kinds[kind].spawn(key, self._ctx, preload, fence, claimed)
        self._activating.pop(ident, None)
        # No lost wake: a commit since the read, so the actor reads once
        # it has handled what it was given.
        if ident in self._rewake:
            self._rewake.discard(ident)
            self.wake(kind, key, reread=True)


def ready_to_start(messages: Iterable[Message], claimed: Collection[int], now: float) -> list[int]:
    """The ids an actor starts together at the head of a batch: pending, due by ``now``, not claimed.

    Claimed messages (their attempt counted at insert) are passed over; the first message that is
    running (a crash to judge) or not due ends the run: those take the actor's own path.
    """
    ready: list[int] = []
    for m in messages:
        if m.id in claimed:
            continue
        if m.state != "pending" or m.available_at > now:
            break
        ready.append(m.id)
    return ready


def _pushed_message(pushed: Committed) -> Message:
    message_id, op, at, claimed = pushed
    # Decoded afresh: the sender may still hold (and change) the dict it sent.
    # A claimed one is running already, its first attempt counted.
    return Message.of(message_id, op.kind, op.key, ops.decoded(op.encoded), "running" if claimed else "pending",
                      1 if claimed else 0, at, at, at, None)

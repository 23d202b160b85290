"""The stock ledger of one SKU: what may be sold, and what Shopify is believed to show.

Sellable = max(0, on_hand - wms_allocated - committed - buffer - unseen), where

- ``on_hand`` and ``wms_allocated`` come from the WMS as of a read (``as_of``);
- ``committed`` is the quantity of open orders the WMS has not allocated yet. An
  order handed to the WMS at time ``t`` stays committed until a WMS read that
  started after ``t`` is applied, so the move is never counted twice or not at all;
- ``unseen`` estimates sales Shopify has applied that no order webhook has told us
  of yet. A compare-and-set that finds Shopify lower than believed reveals them;
  the order commits that arrive next use them up; what is left expires.

Shopify decrements its own ``available`` when it accepts an order, so a known
order moves the *belief* of what Shopify shows down by its quantity: pushing the
new sellable with ``changeFromQuantity`` = belief then succeeds without undoing
a sale made meanwhile (a snapshot write would clobber it). Whenever the belief
is wrong the compare fails, the flusher re-reads the item and retries it with
the difference taken off, never above the computed sellable.

Pushes are *wants* with a sequence number. A newer want replaces a pending one
at the flusher (latest wins); one that reaches the flusher after an older want
was flushed is dropped there, and the result of the flushed one ends every want
in flight, so the ledger then asks again with what it knows by then. The state
is a plain JSON dict, so it persists as the actor's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Pushed", "StockLedger", "Want"]


@dataclass(frozen=True)
class Want:
    """A request to set Shopify's ``available`` to ``quantity``, compared against ``change_from``."""

    sku: str
    seq: int
    acked: int
    quantity: int
    change_from: int | None

    def as_payload(self) -> dict[str, Any]:
        return {"sku": self.sku, "seq": self.seq, "acked": self.acked, "quantity": self.quantity,
                "change_from": self.change_from}


@dataclass(frozen=True)
class Pushed:
    """What the flusher did with want ``seq``: Shopify now shows ``value`` (None: nothing known).

    ``unseen`` is how far Shopify was found below the want's ``change_from``
    (sales not yet heard of); ``error`` names a refusal that no retry will cure.
    ``blind``: the want had no belief to compare with, so Shopify's number was
    read first and whatever sales it holds are in ``value`` already.
    """

    seq: int
    value: int | None
    unseen: int = 0
    error: str = ""
    blind: bool = False


def _empty() -> dict[str, Any]:
    return {
        "on_hand": None, "wms_allocated": 0, "as_of": 0.0, "orders": {},
        "shopify": None, "unseen": 0, "unseen_at": 0.0,
        "seq": 0, "acked": 0, "since": {}, "sent": None,
        "dirty_since": None, "dirty_seq": None,
    }


class StockLedger:
    """The arithmetic of one SKU over its persisted ``state`` dict.

    It sets the dict's keys, and never changes in place what they hold: an order's entry
    or a push's count is a new value in a new mapping (``_set``), so the inventory actor
    replaces its state (``DurableActor.replaces_state``) and a failed message leaves the
    state it was given as it was.
    """

    def __init__(self, sku: str, state: dict[str, Any]) -> None:
        self.sku = sku
        for key, value in _empty().items():
            state.setdefault(key, value)
        self.state = state

    def _set(self, mapping: str, changes: dict[str, Any], removed: tuple[str, ...] = ()) -> None:
        # The state's ``mapping`` (orders, since) as a new dict with ``changes`` set and ``removed`` gone.
        gone = set(removed)
        new = {k: v for k, v in self.state[mapping].items() if k not in gone} if gone \
            else dict(self.state[mapping])
        new.update(changes)
        self.state[mapping] = new

    # -- what is known ---------------------------------------------------------

    @property
    def on_hand(self) -> int | None:
        value = self.state["on_hand"]
        return None if value is None else int(value)

    @property
    def belief(self) -> int | None:
        """What Shopify is believed to show now (None until it has been read or set)."""
        value = self.state["shopify"]
        return None if value is None else int(value)

    @property
    def unseen(self) -> int:
        return int(self.state["unseen"])

    @property
    def in_flight(self) -> bool:
        """A want has gone to the flusher and its result has not come back."""
        return int(self.state["acked"]) < int(self.state["seq"])

    def committed(self) -> int:
        """Units of open orders the WMS's last applied read does not include."""
        as_of = float(self.state["as_of"])
        return sum(int(q) for q, at_wms in self.state["orders"].values() if at_wms is None or at_wms > as_of)

    def true_stock(self) -> int | None:
        """Units physically free to sell: no buffer, no estimate of unseen sales."""
        if self.on_hand is None:
            return None
        return self.on_hand - int(self.state["wms_allocated"]) - self.committed()

    def sellable(self, buffer: int) -> int | None:
        """The quantity Shopify should show; None until the WMS has been read."""
        free = self.true_stock()
        if free is None:
            return None
        return max(0, free - buffer - self.unseen)

    # -- events ----------------------------------------------------------------

    def stock(self, on_hand: int, allocated: int, as_of: float, changed_at: float | None = None) -> bool:
        """Apply a WMS read that started at ``as_of``; True when the WMS's free stock changed.

        ``changed_at`` (the row's modify time) starts the stock-to-Shopify lag clock.
        """
        if on_hand < 0 or allocated < 0:
            raise ValueError(f"{self.sku}: the WMS reported onHand={on_hand}, allocated={allocated}; "
                             "both must be non-negative")
        s = self.state
        if as_of < float(s["as_of"]):
            return False  # an older read arrived late: the newer one already holds
        before = None if s["on_hand"] is None else int(s["on_hand"]) - int(s["wms_allocated"])
        previous_read = float(s["as_of"])
        s["on_hand"], s["wms_allocated"], s["as_of"] = int(on_hand), int(allocated), float(as_of)
        counted = tuple(order_id for order_id, (_, at_wms) in s["orders"].items()
                        if at_wms is not None and at_wms <= as_of)
        if counted:
            self._set("orders", {}, counted)  # the WMS's allocated count includes them now
        changed = before != on_hand - allocated
        if changed and s["dirty_since"] is None:
            # It changed after the previous read, whatever the row's coarse modify time says.
            s["dirty_since"] = max(changed_at if changed_at is not None else as_of, previous_read)
            s["dirty_seq"] = None
        return changed

    def commit(self, order_id: str, quantity: int) -> int:
        """An open order takes ``quantity``; returns the units it was short of true stock (an oversell).

        Repeating a commit with the same quantity changes nothing; a new quantity
        replaces the old one (an edited order).
        """
        if quantity < 0:
            raise ValueError(f"{self.sku}: order {order_id} commits a negative quantity ({quantity})")
        s = self.state
        known = s["orders"].get(order_id)
        if known is not None:
            delta = quantity - int(known[0])
            self._set("orders", {order_id: [quantity, known[1]]})
            if delta > 0:
                self._shopify_sold(delta)
            return 0
        free = self.true_stock()
        short = 0 if free is None else max(0, quantity - max(0, free))
        self._set("orders", {order_id: [quantity, None]})
        self._shopify_sold(quantity)
        if s.get("blind_at") is not None:
            s["verify"] = True
        return short

    def release(self, order_id: str) -> bool:
        """A cancelled order gives its units back; True when it held any."""
        if order_id not in self.state["orders"]:
            return False
        self._set("orders", {}, (order_id,))
        return True

    def restocked(self, quantity: int) -> None:
        """A refund put ``quantity`` units back in Shopify's stock (restocked on a return or a
        cancellation): Shopify raised its own ``available`` by that much, so the belief follows.

        The warehouse's count is not moved: returned goods are sellable once the WMS has them.
        A push in flight meanwhile may answer with a number from before the restock; its
        compare then fails once and the flusher's re-read sets the belief right.
        """
        s = self.state
        if quantity > 0 and s["shopify"] is not None:
            s["shopify"] = int(s["shopify"]) + quantity

    def allocated(self, order_id: str, at: float) -> None:
        """The WMS took the order at ``at``: it leaves ``committed`` once a later read counts it."""
        s = self.state
        entry = s["orders"].get(order_id)
        if entry is None:
            return
        if at <= float(s["as_of"]):
            self._set("orders", {}, (order_id,))
        else:
            self._set("orders", {order_id: [entry[0], at]})

    def expire(self, now: float, ttl: float) -> bool:
        """Forget unseen sales no order has explained within ``ttl`` seconds; True when some were."""
        s = self.state
        if s.get("blind_at") is not None and now - float(s["blind_at"]) >= ttl:
            s["blind_at"] = None
        if int(s["unseen"]) > 0 and now - float(s["unseen_at"]) >= ttl:
            s["unseen"] = 0
            return True
        return False

    def _shopify_sold(self, quantity: int) -> None:
        # Shopify took these units itself when it accepted the order.
        s = self.state
        explained = min(int(s["unseen"]), quantity)
        s["unseen"] = int(s["unseen"]) - explained
        rest = quantity - explained
        if rest and s["shopify"] is not None:
            s["shopify"] = int(s["shopify"]) - rest
        if rest and s["since"]:
            s["since"] = {seq: int(count) + rest for seq, count in s["since"].items()}

    # -- pushes ----------------------------------------------------------------

    def want(self, buffer: int) -> Want | None:
        """The push to ask for now, or None when Shopify shows (or is being sent) the right number."""
        s = self.state
        target = self.sellable(buffer)
        if target is None:
            return None
        sent = s["sent"]
        if self.in_flight:
            if sent is not None and int(sent["quantity"]) == target:
                return None
        elif target == self.belief and not s.get("verify"):
            s["dirty_since"] = s["dirty_seq"] = None  # nothing Shopify needs to hear
            return None
        s["verify"] = False
        s["seq"] = int(s["seq"]) + 1
        seq = int(s["seq"])
        self._set("since", {str(seq): 0})
        s["sent"] = {"seq": seq, "quantity": target}
        if s["dirty_since"] is not None and s["dirty_seq"] is None:
            s["dirty_seq"] = seq
        return Want(self.sku, seq, int(s["acked"]), target, self.belief)

    def pushed(self, result: Pushed, now: float) -> float | None:
        """Take the flusher's result; returns the stock-to-Shopify lag it completes, if any."""
        s = self.state
        if result.seq <= int(s["acked"]) or result.seq > int(s["seq"]):
            return None  # a duplicate, or a want this ledger never made
        since = int(s["since"].get(str(result.seq), 0))
        if result.blind:
            # Shopify's number was read, not compared: orders heard of from now on may be
            # in it already, or not. Count them out, and have the next push compare
            # (see commit) until such orders have had time to arrive.
            s["verify"] = True
            s["blind_at"] = now
        if result.value is not None:
            found = max(0, result.unseen)
            explained = min(found, since)
            if found > explained:
                s["unseen"] = int(s["unseen"]) + found - explained
                s["unseen_at"] = now
            s["shopify"] = result.value - (since - explained)
        # Wants made after this one but before its result were dropped by the
        # flusher (it had already flushed this one): none is in flight any more.
        s["acked"] = s["seq"]
        s["since"] = {}
        s["sent"] = None
        lag = None
        if s["dirty_seq"] is not None and result.seq >= int(s["dirty_seq"]) and not result.error:
            lag = max(0.0, now - float(s["dirty_since"]))
            s["dirty_since"] = s["dirty_seq"] = None
        return lag

    def observed(self, available: int, seq: int) -> bool:
        """The reconciler read ``available`` twice while want ``seq`` was the last; True when the belief moved.

        A difference that lasts a whole sweep is not a sale on its way: the belief
        simply takes Shopify's number, and the next want sets it right. Ignored
        while a push is in flight or after a newer want, whose compare-and-set
        corrects the belief anyway.
        """
        s = self.state
        if self.in_flight or int(s["seq"]) != seq or self.belief == available:
            return False
        s["shopify"] = available
        return True

    def abandon(self, seq: int) -> bool:
        """Give up want ``seq`` if it is still the one in flight (its result was lost); True if it was."""
        s = self.state
        if not self.in_flight or int(s["seq"]) != seq:
            return False
        s["acked"] = s["seq"]
        s["since"] = {}
        s["sent"] = None
        return True

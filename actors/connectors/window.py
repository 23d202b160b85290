"""RequestWindow: a client-side model of a fixed request window (``X-Rate-Limit-*`` headers)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar

import gevent.event
import gevent.lock

from peppasync.clock import Clock

__all__ = ["RequestWindow"]

# The window (and which of its windows) the caller's last request was admitted in.
_admitted: ContextVar[tuple[RequestWindow, int] | None] = ContextVar("peppasync_window_admitted", default=None)


def _number(headers: Mapping[str, str], *names: str) -> float | None:
    for name in names:
        value = headers.get(name)
        if value is not None:
            try:
                return float(value)
            except ValueError:
                return None
    return None


class RequestWindow:
    """Waits for the window to reset instead of sending into a 429.

    Each response's ``X-Rate-Limit-Limit/Remaining/Reset`` (or the lowercase
    ``x-ratelimit-*`` variants) corrects the model; each admitted call spends one
    request locally, and requests come back only when the reset time has passed.
    The reset comes in whole seconds, rounded up when the server counted the
    request: each answer bounds the window's end from above, and the earliest
    bound of the window's answers is the one waited for. An answer to a request
    sent before the window was believed to reset says nothing of the new window,
    and is passed over. Until the first
    report only one call goes out (the others wait for its headers, at most ``probe_timeout`` seconds), so a
    burst at start-up cannot overrun a window it knows nothing about yet. An answer without the headers
    (a 500 in an outage) or no answer at all ends that call's turn (``settled``): the next call goes
    out at once, and tries again to learn the window.

    Only callers holding a connector slot wait here, and they all wake at the
    reset: while the slots (reserved ones included) are fewer than the window's
    limit, each of them gets a request of the next window. So a lane with a
    reserved slot is sure of at least one request per window, however many calls
    of other lanes wait for a slot.

    On a cluster the window is the account's: ``set_share`` makes the model
    believe only this node's part of the limit (rounded down), so the nodes
    together stay within the window (``peppasync.store.limits.SharedRate``). What
    the other nodes spent of the window does not shrink this node's part.
    """

    def __init__(self, clock: Clock, sleep: Callable[[float], None], *, probe_timeout: float = 5.0) -> None:
        self._clock = clock
        self._sleep = sleep
        self._probe_timeout = probe_timeout
        # Until the first report, held by the one call whose answer is to tell the window.
        self._probe = gevent.lock.Semaphore()
        self._prober: object | None = None
        self._known = gevent.event.Event()
        # Cleared when we assume a reset on our own; set again by the next report.
        self._reported = gevent.event.Event()
        self._reported.set()
        self.limit: int | None = None  # this node's part of the window's limit
        self._account_limit: float | None = None  # the whole window's, as the vendor reports it
        self.remaining: int | None = None
        self._reset_at = 0.0
        self._generation = 0  # how many times the window was believed to reset
        self._share = 1.0

    def set_share(self, share: float) -> None:
        """This node's part (0 < share <= 1) of a window the cluster's nodes spend together.

        The part moves with the nodes' demand every round or so: what remains of it is
        scaled to the nearest request, not down, or a part that only wavers would lose a
        request of each window at every round.
        """
        if not 0.0 < share <= 1.0:
            raise ValueError(f"a share of the window is within (0, 1], got {share}")
        scale = share / self._share
        if self._account_limit is not None:
            self.limit = max(1, int(self._account_limit * share))
        if self.remaining is not None:
            self.remaining = round(self.remaining * scale)
        self._share = share

    def observe(self, headers: Mapping[str, str]) -> None:
        """Correct the model with the headers of an answer to the caller's last admitted request."""
        limit = _number(headers, "X-Rate-Limit-Limit", "x-ratelimit-limit")
        remaining = _number(headers, "X-Rate-Limit-Remaining", "x-ratelimit-remaining")
        reset = _number(headers, "X-Rate-Limit-Reset", "x-ratelimit-reset")
        if remaining is None or reset is None:
            return
        admitted = _admitted.get()
        if admitted is not None and admitted[0] is self and admitted[1] < self._generation:
            return  # counted in the window before this one
        now = self._clock.monotonic()
        reset_at = now + max(0.0, reset)
        if limit is not None:
            self._account_limit = limit
            self.limit = max(1, int(limit * self._share))
        # Answers overtake each other, so a report may count fewer requests than we have
        # already spent: believe whichever says less is left. Only a reset (ours, once
        # the reported reset time has passed) gives requests back. On a cluster the report
        # counts every node's requests: this node keeps to its part of the window by its own
        # count, and the report only stops it when the whole window is spent.
        if self.remaining is None:
            self.remaining = int(remaining) if self.limit is None else min(int(remaining), self.limit)
        else:
            self.remaining = min(self.remaining, int(remaining))
        # The first answer of a window sets its end; the window's later ones can only bring it closer.
        self._reset_at = reset_at if now >= self._reset_at else min(self._reset_at, reset_at)
        self._known.set()
        self._reported.set()

    def reset_in(self) -> float:
        """Seconds until the window resets (0 when it already has or is unknown)."""
        return max(0.0, self._reset_at - self._clock.monotonic())

    def admit(self) -> None:
        """Wait until the window has room, then spend one request of it."""
        try:
            self._spend()
        finally:
            _admitted.set((self, self._generation))

    def settled(self) -> None:
        """The caller's request was answered or failed: if it was the call learning the window, the next goes."""
        if self._prober is gevent.getcurrent():
            self._prober = None
            self._probe.release()

    def _spend(self) -> None:
        # Until a report, one call at a time; one that waited probe_timeout in vain goes without knowing.
        if self.remaining is None and not self._known.is_set() and self._probe.acquire(timeout=self._probe_timeout):
            if self.remaining is None and not self._known.is_set():
                self._prober = gevent.getcurrent()  # this call goes; its answer tells the rest
                return
            self._probe.release()
        while self.remaining is not None and self.remaining <= 0:
            wait = self.reset_in()
            if wait > 0:
                self._sleep(wait)
            elif self._reported.is_set():
                # The window has reset: a full one until the next report says otherwise.
                self._reported.clear()
                self._generation += 1
                self.remaining = self.limit if self.limit is not None else None
            else:
                # We assumed a reset already and spent it; only a report can tell more.
                self._reported.wait(self._probe_timeout)
                if not self._reported.is_set():
                    self._reported.set()
        if self.remaining is not None:
            self.remaining -= 1

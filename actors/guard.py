"""The lease guard of the handler running in this greenlet: checked before every call to a vendor.

On a cluster an actor's writes are fenced by its lease's epoch, but a vendor
call is not a write: a node that was paused past its lease TTL would, on
waking, go on with the handler in hand and call the vendor for a key another
node has taken over. So the actor sets ``current_guard`` around its handler,
and a connector calls it just before it sends: it raises ``FencedError`` once
the lease has moved on, or may have. Outside a handler, or on a single node,
there is no guard.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

__all__ = ["check_guard", "current_guard"]

#: Raises FencedError when the running handler's lease is no longer surely its own.
current_guard: ContextVar[Callable[[], None] | None] = ContextVar("peppasync_lease_guard", default=None)


def check_guard() -> None:
    """Raise if the handler this greenlet runs may no longer act for its key (no-op without a guard)."""
    guard = current_guard.get()
    if guard is not None:
        guard()

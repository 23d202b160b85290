"""RetryPolicy: how many tries, for how long, and the backoff between them.

One policy, used in two layers that compose:

1. **In the handler** (``actors.connectors.Connector``): a connector retries a
   transient failure (timeout, reset, 429, THROTTLED, 5xx) a few times while the
   handler waits, to ride over a blip without a round trip through the store.
   The default, ``RetryPolicy()``, is 3 tries within a 30 second deadline: a wait
   that would end past the deadline (a long ``Retry-After``) is not taken, so
   retries never keep a handler past it (waiting for a connector slot or for the
   API's own limiter comes on top).
2. **Durably** (the poison policy, ``supervisors.PoisonPolicy``): when the
   connector gives up, the handler fails with a ``TransientError`` carrying the
   server's ``Retry-After``; the message goes back to the store and runs again
   after the backoff (never sooner than ``Retry-After``), up to
   ``[engine] max_attempts`` attempts (5), then it is quarantined. The attempt is
   counted in the store before the handler runs, so crashes count too.

The layers multiply: one external call of one message is sent at most
``max_tries(handler, durable)`` = 3 x 5 = 15 times with the defaults. The
connector enforces the inner factor (``Connector.exchange``), the store's attempt
counter the outer one. A handler that makes several calls has this bound for
each. Long waits belong to the outer layer, where the key waits in the store and
holds no greenlet, no connector slot and no handler.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import gevent

from peppasync.backoff import Backoff
from peppasync.clock import Clock, SystemClock

__all__ = ["RetryPolicy", "max_tries"]


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``max_attempts`` tries, none begun past ``deadline`` seconds after the first.

    After failed try n the wait is ``backoff.delay(n, retry_after)``. ``clock`` and
    ``sleep`` are what a connector reads and waits with; tests inject their own.
    """

    max_attempts: int = 3
    deadline: float = 30.0
    backoff: Backoff = field(default_factory=Backoff)
    clock: Clock = field(default_factory=SystemClock, repr=False, compare=False)
    sleep: Callable[[float], None] = field(default=gevent.sleep, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"max_attempts must be an integer of at least 1, got {self.max_attempts!r}")
        if (
            isinstance(self.deadline, bool)
            or not isinstance(self.deadline, (int, float))
            or math.isnan(self.deadline)
            or self.deadline < 0
        ):
            raise ValueError(f"deadline must be a number of seconds >= 0 (math.inf: none), got {self.deadline!r}")
        if not isinstance(self.backoff, Backoff):
            raise TypeError(f"backoff must be a peppasync.backoff.Backoff, got {self.backoff!r}")

    def next_delay(self, failures: int, elapsed: float = 0.0, retry_after: float | None = None) -> float | None:
        """The wait before another try after ``failures`` failed tries that began ``elapsed`` seconds ago.

        None when the tries are spent, or when the wait would end past the deadline.
        """
        if failures >= self.max_attempts:
            return None
        wait = self.backoff.delay(failures, retry_after)
        if elapsed + wait > self.deadline:
            return None
        return wait


def max_tries(*layers: RetryPolicy) -> int:
    """The most tries of one step through nested retry layers: the product of their attempts."""
    return math.prod(layer.max_attempts for layer in layers)

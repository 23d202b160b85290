"""The poison policy: retry a failed message later, or quarantine it.

The durable actor receives this policy by injection and calls ``decide``
after a handler failed. ``attempts`` counts the attempts made so far (the
store counts one before each run), so the first failure arrives as 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from peppasync.errors import PermanentError
from peppasync.exits import Verdict

from .backoff import BackoffStrategy

__all__ = ["PoisonPolicy"]


class PoisonPolicy:
    """Quarantine permanent failures at once and anything after ``max_attempts``; else back off.

    The retry after attempt n waits ``backoff.delay(n - 1)``, or longer when
    the error carries a ``retry_after`` (a ``TransientError``, a connector's
    429): a retry never comes sooner than the other side asked for.
    """

    def __init__(
        self,
        max_attempts: int,
        backoff: BackoffStrategy,
        permanent: Sequence[type[BaseException]] = (PermanentError,),
    ) -> None:
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"max_attempts must be an integer >= 1, got {max_attempts!r}")
        if not isinstance(backoff, BackoffStrategy):
            raise TypeError(
                f"backoff must be a BackoffStrategy (e.g. ExponentialBackoffStrategy), got {backoff!r}"
            )
        kinds = tuple(permanent)
        bad = [k for k in kinds if not (isinstance(k, type) and issubclass(k, BaseException))]
        if bad:
            raise ValueError(f"permanent must list exception classes, got {bad!r}")
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.permanent = kinds

    def decide(self, attempts: int, error: BaseException, now: float) -> Verdict:
        """What the message that failed its ``attempts``-th attempt at ``now`` deserves."""
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f"attempts counts the failed attempts from 1, got {attempts!r}")
        if isinstance(error, self.permanent):
            return Verdict.poison(_reason(error))
        if attempts >= self.max_attempts:
            return Verdict.poison("max_attempts")
        delay = self.backoff.delay(attempts - 1)
        asked = _retry_after(error)
        if asked is not None:
            delay = max(delay, asked)
        return Verdict.retry(now + delay)

    def __repr__(self) -> str:
        names = ", ".join(k.__name__ for k in self.permanent)
        return (
            f"PoisonPolicy(max_attempts={self.max_attempts}, backoff={self.backoff!r}, permanent=({names}))"
        )


def _reason(error: BaseException) -> str:
    # ``reason`` is a class attribute on our errors (validation, permanent...): a bounded label.
    reason = getattr(error, "reason", None)
    return reason if isinstance(reason, str) and reason else "permanent"


def _retry_after(error: BaseException) -> float | None:
    value = getattr(error, "retry_after", None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return max(0.0, float(value))

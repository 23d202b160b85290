"""The poison policy: retry a failed message later, or quarantine it.

The durable actor receives this policy by injection and calls ``decide``
after a handler failed. ``attempts`` counts the attempts made so far (the
store counts one before each run), so the first failure arrives as 1. The
retries are the outer layer of ``peppasync.retry``: its docstring says how
they compose with a connector's own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from peppasync.errors import PermanentError
from peppasync.exits import Verdict
from peppasync.retry import RetryPolicy

__all__ = ["PoisonPolicy"]


class PoisonPolicy:
    """Quarantine permanent failures at once, and anything the retry policy gives up on; else back off.

    The retry after attempt n waits ``retry.backoff.delay(n)``, or longer when
    the error carries a ``retry_after`` (a ``TransientError``, a connector's
    429): a retry never comes sooner than the other side asked for. The
    policy's ``deadline`` is not used here: a message has no time limit, only
    ``max_attempts``.
    """

    def __init__(
        self,
        retry: RetryPolicy,
        permanent: Sequence[type[BaseException]] = (PermanentError,),
    ) -> None:
        if not isinstance(retry, RetryPolicy):
            raise TypeError(
                f"retry must be a peppasync.retry.RetryPolicy (e.g. RetryPolicy(max_attempts=5)), got {retry!r}"
            )
        kinds = tuple(permanent)
        bad = [k for k in kinds if not (isinstance(k, type) and issubclass(k, BaseException))]
        if bad:
            raise ValueError(f"permanent must list exception classes, got {bad!r}")
        self.retry = retry
        self.permanent = kinds

    @property
    def max_attempts(self) -> int:
        """Attempts a message gets before it is quarantined."""
        return self.retry.max_attempts

    def decide(self, attempts: int, error: BaseException, now: float) -> Verdict:
        """What the message that failed its ``attempts``-th attempt at ``now`` deserves."""
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValueError(f"attempts counts the failed attempts from 1, got {attempts!r}")
        if isinstance(error, self.permanent):
            return Verdict.poison(_reason(error))
        if attempts >= self.retry.max_attempts:
            return Verdict.poison("max_attempts")
        delay = self.retry.backoff.delay(attempts, _retry_after(error))
        return Verdict.retry(now + delay)

    def __repr__(self) -> str:
        names = ", ".join(k.__name__ for k in self.permanent)
        return f"PoisonPolicy(retry={self.retry!r}, permanent=({names}))"


def _reason(error: BaseException) -> str:
    # ``reason`` is a class attribute on our errors (validation, permanent...): a bounded label.
    reason = getattr(error, "reason", None)
    return reason if isinstance(reason, str) and reason else "permanent"


def _retry_after(error: BaseException) -> float | None:
    value = getattr(error, "retry_after", None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return max(0.0, float(value))

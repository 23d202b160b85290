"""The failures supervision reports; each derives from ``PeppasyncError`` and carries its data."""

from __future__ import annotations

from peppasync.errors import PeppasyncError
from peppasync.exits import Exit

__all__ = [
    "HandlerInterruptedError",
    "RestartIntensityExceededError",
]


class RestartIntensityExceededError(PeppasyncError):
    """Raised (as an exit's error) when a supervisor restarted too often and gave up.

    ``cause`` is the child exit that would have needed one restart too many.
    """

    def __init__(self, supervisor: str, child_id: str, limit: str, cause: Exit) -> None:
        self.supervisor = supervisor
        self.child_id = child_id
        self.limit = limit
        self.cause = cause
        super().__init__(
            f"supervisor {supervisor!r} gave up: more restarts than {limit} "
            f"after child {child_id!r} ended ({cause.kind.value}: {cause.detail or 'no detail'})"
        )


class HandlerInterruptedError(PeppasyncError):
    """Raised in place of a ``gevent.Timeout`` or ``GreenletExit`` that escaped a handler.

    Those are BaseExceptions: reaching pykka's loop they would stop every actor
    in the process. As this ordinary error they stop only the actor they hit,
    which its supervisor then restarts. ``interruption`` is the original.
    """

    def __init__(self, interruption: BaseException) -> None:
        self.interruption = interruption
        super().__init__(f"handler interrupted by {type(interruption).__name__}: {interruption!r}")

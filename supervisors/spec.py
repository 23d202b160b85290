"""Child specifications: how a supervisor starts a child and when it restarts it."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka

from peppasync.exits import Exit, ExitListener

__all__ = ["ChildSpec", "RestartType", "StartFunction"]

StartFunction = Callable[[ExitListener], "pykka.ActorRef[Any]"]


class RestartType(enum.Enum):
    """When a child that ended is started again (OTP's restart types)."""

    PERMANENT = "permanent"
    """Always restarted."""
    TRANSIENT = "transient"
    """Restarted only after an abnormal exit (not after a normal end or a shutdown)."""
    TEMPORARY = "temporary"
    """Never restarted, not even when a sibling's failure made the supervisor stop it."""

    def restarts_after(self, exit: Exit) -> bool:
        """Whether a child of this type that ended with ``exit`` is started again."""
        if self is RestartType.PERMANENT:
            return True
        if self is RestartType.TRANSIENT:
            return exit.abnormal
        return False


@dataclass(frozen=True)
class ChildSpec:
    """One child of a supervisor.

    ``start(on_exit)`` starts the child synchronously and returns its ref; it
    may raise, which counts as a failure of the child. The child calls
    ``on_exit`` exactly once when it ends. ``shutdown`` is how many seconds a
    stop may take before the supervisor abandons the child (``math.inf``: wait
    as long as it takes, the OTP default for supervisors). ``kind`` is a
    bounded label for metrics, never a per-entity id.
    """

    id: str
    start: StartFunction
    restart: RestartType = RestartType.PERMANENT
    shutdown: float = 5.0
    kind: str = "worker"

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"a child spec needs a non-empty string id, got {self.id!r}")
        if not callable(self.start):
            raise TypeError(
                f"child {self.id!r}: start must be a callable taking on_exit and returning "
                f"an ActorRef, got {self.start!r}"
            )
        if not isinstance(self.restart, RestartType):
            raise TypeError(
                f"child {self.id!r}: restart must be a RestartType "
                f"(PERMANENT, TRANSIENT or TEMPORARY), got {self.restart!r}"
            )
        shutdown = self.shutdown
        number = isinstance(shutdown, (int, float)) and not isinstance(shutdown, bool)
        if not number or math.isnan(shutdown) or shutdown < 0:
            raise ValueError(
                f"child {self.id!r}: shutdown must be a number of seconds >= 0 "
                f"(math.inf to wait forever), got {shutdown!r}"
            )
        if not isinstance(self.kind, str) or not self.kind:
            raise ValueError(f"child {self.id!r}: kind must be a non-empty label, got {self.kind!r}")

    @property
    def stop_timeout(self) -> float | None:
        """The timeout to give pykka's ``stop``: None stands for infinity."""
        return None if math.isinf(self.shutdown) else float(self.shutdown)

"""How an actor ended: the fact a supervisor decides on.

It lives in the foundation so that ``actors/`` can report exits and
``supervisors/`` can read them without either importing the other.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

__all__ = ["Exit", "ExitKind", "ExitListener", "Restart", "Verdict"]


class ExitKind(enum.Enum):
    NORMAL = "normal"
    SHUTDOWN = "shutdown"
    FAILURE = "failure"


@dataclass(frozen=True)
class Exit:
    """One actor's end: its kind and, for a failure, the error and its text."""

    kind: ExitKind
    error: BaseException | None = None
    detail: str = ""

    @property
    def abnormal(self) -> bool:
        return self.kind is ExitKind.FAILURE

    @property
    def exc_info(self) -> tuple[type[BaseException], BaseException, TracebackType | None] | None:
        """The error as ``logging`` wants it (``exc_info=``), so a crash is logged with its traceback."""
        if self.error is None:
            return None
        return type(self.error), self.error, self.error.__traceback__

    @classmethod
    def normal(cls) -> Exit:
        return cls(ExitKind.NORMAL)

    @classmethod
    def shutdown(cls, detail: str = "") -> Exit:
        return cls(ExitKind.SHUTDOWN, detail=detail)

    @classmethod
    def failure(cls, error: BaseException | None, detail: str = "") -> Exit:
        return cls(ExitKind.FAILURE, error=error, detail=detail or repr(error))


ExitListener = Callable[[Exit], None]


@dataclass(frozen=True)
class Verdict:
    """What to do with a message whose handler failed: retry at a time, or quarantine.

    Poison policies (in ``supervisors/``) return it; the durable actor (in
    ``actors/``) carries it out. It lives here so neither imports the other.
    """

    quarantine: bool
    retry_at: float = 0.0
    reason: str = ""

    @classmethod
    def retry(cls, at: float) -> Verdict:
        return cls(quarantine=False, retry_at=at)

    @classmethod
    def poison(cls, reason: str) -> Verdict:
        return cls(quarantine=True, reason=reason)


@dataclass(frozen=True)
class Restart:
    """What a crashed actor's supervisor decided: start it again after ``delay`` seconds, or escalate.

    ``escalation`` is set when the supervisor gave up (its restart intensity was
    exceeded): the exit its parent is told of. Restart policies (in
    ``supervisors/``) return it; the actor system (in ``actors/``) carries it out.
    """

    delay: float = 0.0
    escalation: Exit | None = None

    @classmethod
    def after(cls, delay: float) -> Restart:
        return cls(delay=delay)

    @classmethod
    def escalate(cls, exit: Exit) -> Restart:
        return cls(escalation=exit)

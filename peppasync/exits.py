"""How an actor ended: the fact a supervisor decides on.

It lives in the foundation so that ``actors/`` can report exits and
``supervisors/`` can read them without either importing the other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Callable

__all__ = ["Exit", "ExitKind", "ExitListener"]


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

    @classmethod
    def normal(cls) -> "Exit":
        return cls(ExitKind.NORMAL)

    @classmethod
    def shutdown(cls, detail: str = "") -> "Exit":
        return cls(ExitKind.SHUTDOWN, detail=detail)

    @classmethod
    def failure(cls, error: BaseException | None, detail: str = "") -> "Exit":
        return cls(ExitKind.FAILURE, error=error, detail=detail or repr(error))


ExitListener = Callable[[Exit], None]

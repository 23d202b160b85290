"""Restart policy: when a crashed child starts again, and when its supervisor gives up instead.

A small value that reads a record and the clock's reading and returns a decision:
``decide(history, streak, now)`` records the restart against the supervisor's
restart intensity (N restarts in T seconds, counted over all its children) and,
when the intensity still allows it, returns the delay before the child starts
again. The delay is the one ``peppasync.backoff.Backoff`` over the child's
failures in a row; a child that ran ``reset_after`` seconds since its last
(re)start begins again from the smallest delay. ``None`` means escalate: the
supervisor gives up and its parent decides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from peppasync.backoff import Backoff

from .intensity import RestartHistory, RestartIntensity

__all__ = ["RestartPolicy", "Streak"]


@dataclass(frozen=True)
class Streak:
    """One child's failures in a row and when (monotonic seconds) it last started."""

    failures: int = 0
    last_start: float = 0.0

    def started(self, now: float) -> Streak:
        """The record after the child started (again) at ``now``."""
        return Streak(self.failures, now)


class RestartPolicy:
    """Restart intensity and backoff together; ``backoff=None`` restarts at once, as OTP does.

    ``reset_after`` defaults to the middle of the backoff's range, as Akka's
    typed backoff does (infinity without a backoff).
    """

    def __init__(
        self,
        intensity: RestartIntensity | None = None,
        backoff: Backoff | None = None,
        reset_after: float | None = None,
    ) -> None:
        intensity = intensity if intensity is not None else RestartIntensity()
        if not isinstance(intensity, RestartIntensity):
            raise TypeError(f"intensity must be a RestartIntensity, got {intensity!r}")
        if backoff is not None and not isinstance(backoff, Backoff):
            raise TypeError(f"backoff must be a peppasync.backoff.Backoff, got {backoff!r}")
        if reset_after is None:
            reset_after = math.inf if backoff is None else (backoff.base + backoff.cap) / 2
        if isinstance(reset_after, bool) or not isinstance(reset_after, (int, float)) or not reset_after >= 0:
            raise ValueError(f"reset_after must be a number of seconds >= 0, got {reset_after!r}")
        self.intensity = intensity
        self.backoff = backoff
        self.reset_after = float(reset_after)

    def delay(self, streak: Streak, now: float) -> tuple[float, Streak]:
        """The delay before the next start of a child that failed at ``now``, and its new record."""
        quiet = now - streak.last_start >= self.reset_after
        failures = 1 if quiet else streak.failures + 1
        delay = 0.0 if self.backoff is None else self.backoff.delay(failures)
        return delay, Streak(failures, streak.last_start)

    def decide(
        self, history: RestartHistory, streak: Streak, now: float
    ) -> tuple[float | None, RestartHistory, Streak]:
        """Record a restart at ``now``: its delay (None: the intensity is exceeded), and both new records."""
        history = self.intensity.record(history, now)
        if self.intensity.exceeded(history, now):
            return None, history, streak
        delay, streak = self.delay(streak, now)
        return delay, history, streak

    def __repr__(self) -> str:
        return (
            f"RestartPolicy(intensity={self.intensity!r}, backoff={self.backoff!r}, "
            f"reset_after={self.reset_after:g})"
        )

"""Restart intensity: how many restarts a supervisor allows in a period before it gives up.

OTP's rule: more than ``max_restarts`` restarts within ``period`` seconds and
the supervisor stops all its children and exits, so its parent decides. The
defaults (1 in 5 s) are OTP's. Limits compose with ``|``: the result gives up
as soon as any of them would.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RestartHistory", "RestartIntensity"]


@dataclass(frozen=True)
class RestartHistory:
    """The times (monotonic seconds) of a supervisor's recent restarts, oldest first."""

    restarts: tuple[float, ...] = ()


class RestartIntensity:
    """At most ``max_restarts`` restarts within any ``period`` seconds."""

    def __init__(self, max_restarts: int = 1, period: float = 5.0) -> None:
        if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
            raise ValueError(f"max_restarts must be an integer >= 0, got {max_restarts!r}")
        if isinstance(period, bool) or not isinstance(period, (int, float)) or not period > 0:
            raise ValueError(f"period must be a number of seconds > 0, got {period!r}")
        self.max_restarts = max_restarts
        self.period = float(period)

    @property
    def limits(self) -> tuple[RestartIntensity, ...]:
        """The plain limits this one is made of (itself, unless composed)."""
        return (self,)

    @property
    def horizon(self) -> float:
        """How far back a history must reach for this limit to decide."""
        return max(limit.period for limit in self.limits)

    def record(self, history: RestartHistory, now: float) -> RestartHistory:
        """The history with one more restart at ``now``, forgetting what no limit needs."""
        since = now - self.horizon
        kept = tuple(t for t in history.restarts if t > since)
        # Past the largest allowance the supervisor has already given up; never grow further.
        cap = max(limit.max_restarts for limit in self.limits) + 1
        return RestartHistory((*kept, now)[-cap:])

    def exceeded(self, history: RestartHistory, now: float) -> bool:
        """Whether the history holds more restarts than some limit allows in its period."""
        for limit in self.limits:
            since = now - limit.period
            if sum(1 for t in history.restarts if t > since) > limit.max_restarts:
                return True
        return False

    def __or__(self, other: RestartIntensity) -> RestartIntensity:
        if not isinstance(other, RestartIntensity):
            return NotImplemented
        return _AnyIntensity((*self.limits, *other.limits))

    def __repr__(self) -> str:
        return f"RestartIntensity(max_restarts={self.max_restarts}, period={self.period:g})"

    def __str__(self) -> str:
        return f"{self.max_restarts} in {self.period:g} s"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RestartIntensity) and other._key() == self._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[tuple[int, float], ...]:
        return tuple((limit.max_restarts, limit.period) for limit in self.limits)


class _AnyIntensity(RestartIntensity):
    """Several limits at once: gives up when any is exceeded."""

    def __init__(self, limits: tuple[RestartIntensity, ...]) -> None:
        self._limits = limits
        self.max_restarts = min(limit.max_restarts for limit in limits)
        self.period = max(limit.period for limit in limits)

    @property
    def limits(self) -> tuple[RestartIntensity, ...]:
        return self._limits

    def __repr__(self) -> str:
        return " | ".join(repr(limit) for limit in self._limits)

    def __str__(self) -> str:
        return " or ".join(str(limit) for limit in self._limits)

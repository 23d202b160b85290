"""AimdLimit: additive increase, multiplicative decrease of a concurrency limit."""

from __future__ import annotations

__all__ = ["AimdLimit"]


class AimdLimit:
    """The adaptive limit, after Netflix's AIMDLimit.

    A drop (429, THROTTLED, a timeout, or a success slower than ``latency_threshold``)
    multiplies the limit by ``backoff_ratio``; each success while at least half the
    limit is in use adds ``1/limit``, so a full window of successes adds one (TCP's
    congestion avoidance, gentler than Netflix's +1 per success when the far side has
    a hard ceiling). Only one decrease per *epoch*: calls that started before the
    last decrease report congestion that decrease already answered, so a burst of
    429s cuts the limit once, not once per call.
    """

    def __init__(
        self,
        initial: int,
        *,
        minimum: int = 1,
        maximum: int = 200,
        backoff_ratio: float = 0.9,
        latency_threshold: float = 10.0,
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError(f"need 1 <= minimum <= maximum, got minimum={minimum} maximum={maximum}")
        if not 0.5 <= backoff_ratio < 1.0:
            raise ValueError(f"backoff_ratio must be in [0.5, 1), got {backoff_ratio}")
        if latency_threshold <= 0:
            raise ValueError(f"latency_threshold must be positive, got {latency_threshold}")
        self.minimum = minimum
        self.maximum = maximum
        self.backoff_ratio = backoff_ratio
        self.latency_threshold = latency_threshold
        self._value = float(self._clamp(initial))
        self.epoch = 0

    @property
    def limit(self) -> int:
        return int(self._value)

    def set_ceiling(self, ceiling: int) -> None:
        """An operator's word: the limit becomes ``ceiling`` and never grows past it."""
        if ceiling < 1:
            raise ValueError(f"a concurrency limit must be at least 1, got {ceiling}")
        self.maximum = ceiling
        self.minimum = min(self.minimum, ceiling)
        self._value = float(ceiling)
        self.epoch += 1

    def on_success(self, seconds: float, inflight: int, epoch: int) -> int:
        """A call that started in ``epoch`` succeeded in ``seconds`` with ``inflight`` running."""
        if seconds > self.latency_threshold:
            return self.on_drop(epoch)
        if inflight * 2 >= self.limit:
            # Rounded so that a window of 1/limit steps lands exactly on the next integer.
            self._value = min(float(self.maximum), round(self._value + 1.0 / self.limit, 9))
        return self.limit

    def on_drop(self, epoch: int) -> int:
        """A call that started in ``epoch`` met congestion."""
        if epoch == self.epoch:
            self._value = float(self._clamp(int(self._value * self.backoff_ratio)))
            self.epoch += 1
        return self.limit

    def _clamp(self, value: int) -> int:
        return max(self.minimum, min(self.maximum, value))

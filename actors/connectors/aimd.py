"""AimdLimit: additive increase, multiplicative decrease of a concurrency limit."""

from __future__ import annotations

__all__ = ["AimdLimit"]


class AimdLimit:
    """The adaptive limit, after Netflix's AIMDLimit, tuned for APIs with a hard ceiling.

    A drop (429, THROTTLED, a timeout, or a success slower than ``latency_threshold``)
    multiplies the limit by ``backoff_ratio``; each success while at least half the
    limit is in use adds ``1/limit``, so a full window of successes adds one.

    An error answer (a 502, 503, 504 or 408, ``on_error``) is a drop only when it is not
    alone: when another came before ``limit`` calls had succeeded since. One such answer
    among successes says nothing of load: the calls beside it went through. An ERP's
    concurrency is the account's to use, and a limit cut for a lone 503 leaves a slot of it
    idle until successes grow it back (0.13 slot-seconds each in ``peppasync bench
    black-friday``, whose ERP answers 1% of calls with a 503). A server that is in trouble
    answers more than one so: the second cuts.

    Only one multiplicative cut per *epoch*: calls that started before the last cut
    report congestion that cut already answered. But an explicit throttle from that
    same epoch is a count, not a guess: each one shows the limit was one too high, so
    each takes one more off (sixteen calls against a ceiling of four: one cut, then
    eleven steps down, not eleven rounds of 429s). The concurrency that was throttled
    is remembered, and growing back towards it is ``probe_slowdown`` times slower, so
    probing a known ceiling costs a 429 now and then, not every few calls.
    """

    def __init__(
        self,
        initial: int,
        *,
        minimum: int = 1,
        maximum: int = 200,
        backoff_ratio: float = 0.9,
        latency_threshold: float = 10.0,
        probe_slowdown: float = 8.0,
    ) -> None:
        if not 1 <= minimum <= maximum:
            raise ValueError(f"need 1 <= minimum <= maximum, got minimum={minimum} maximum={maximum}")
        if not 0.5 <= backoff_ratio < 1.0:
            raise ValueError(f"backoff_ratio must be in [0.5, 1), got {backoff_ratio}")
        if latency_threshold <= 0:
            raise ValueError(f"latency_threshold must be positive, got {latency_threshold}")
        if probe_slowdown < 1:
            raise ValueError(f"probe_slowdown must be at least 1, got {probe_slowdown}")
        self.minimum = minimum
        self.maximum = maximum
        self.backoff_ratio = backoff_ratio
        self.latency_threshold = latency_threshold
        self.probe_slowdown = probe_slowdown
        self._value = float(self._clamp(initial))
        self._throttled_at: int | None = None
        # Successes left in the window of an error answer that has not cut the limit (yet).
        self._error_window = 0
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
        self._throttled_at = None
        self._error_window = 0
        self.epoch += 1

    def on_success(self, seconds: float, inflight: int, epoch: int) -> int:
        """A call that started in ``epoch`` succeeded in ``seconds`` with ``inflight`` running."""
        if seconds > self.latency_threshold:
            return self.on_drop(epoch)
        if self._error_window:
            self._error_window -= 1
        if inflight * 2 >= self.limit:
            step = 1.0 / self.limit
            if self._throttled_at is not None and self.limit + 1 >= self._throttled_at:
                step /= self.probe_slowdown
            # Rounded so that a window of 1/limit steps lands exactly on the next integer.
            self._value = min(float(self.maximum), round(self._value + step, 9))
        return self.limit

    def on_error(self, epoch: int) -> int:
        """A call that started in ``epoch`` got an error answer (a 503, say): a drop if another came
        before ``limit`` calls had succeeded since, else the start of such a window."""
        if epoch != self.epoch:
            return self.limit  # the calls of a cut epoch: the cut answered them
        if self._error_window:
            return self.on_drop(epoch)
        self._error_window = self.limit
        return self.limit

    def on_drop(self, epoch: int, *, throttled: bool = False, inflight: int | None = None) -> int:
        """A call that started in ``epoch`` (with ``inflight`` running) met congestion."""
        if epoch == self.epoch:
            self._error_window = 0
            if throttled:
                self._throttled_at = min(self.limit, inflight) if inflight else self.limit
            self._value = float(self._clamp(int(self._value * self.backoff_ratio)))
            self.epoch += 1
        elif throttled and epoch == self.epoch - 1:
            self._value = float(self._clamp(self.limit - 1))
            if self._throttled_at is not None:
                self._throttled_at = max(self.limit + 1, self._throttled_at - 1)
        return self.limit

    def _clamp(self, value: int) -> int:
        return max(self.minimum, min(self.maximum, value))

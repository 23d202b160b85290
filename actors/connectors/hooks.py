"""ConnectorHooks: what a connector reports while it works, and the Prometheus subscriber."""

from __future__ import annotations

from collections.abc import Callable

from peppasync.metrics import Metrics

__all__ = ["OUTCOMES", "ConnectorHooks", "MetricsConnectorHooks"]

# The bounded set of outcome label values.
OUTCOMES = ("ok", "throttled", "transient_error", "permanent_error")


class ConnectorHooks:
    """A no-op base: subclass and override what you want to observe.

    Hooks run on the calling greenlet; they must be quick and must not raise.
    """

    def on_request(self, connector: str, outcome: str, seconds: float) -> None:
        """One HTTP exchange ended with ``outcome`` (one of ``OUTCOMES``)."""

    def on_inflight(self, connector: str, n: int) -> None:
        """The number of calls in flight changed."""

    def watch_waiting(self, connector: str, waiting: Callable[[], int]) -> None:
        """``waiting()`` tells, whenever asked, how many calls wait for a slot."""

    def on_limit(self, connector: str, n: int) -> None:
        """The concurrency limit changed (adaptation or an operator)."""

    def on_throttled(self, connector: str) -> None:
        """The external system throttled a call (429, THROTTLED)."""

    def on_bucket(self, connector: str, available: float) -> None:
        """The API reported how much of its rate budget is left."""


class MetricsConnectorHooks(ConnectorHooks):
    """Feeds the ``peppasync_connector_*`` collectors."""

    def __init__(self, metrics: Metrics) -> None:
        self._m = metrics

    def on_request(self, connector: str, outcome: str, seconds: float) -> None:
        self._m.connector_requests_total.labels(connector, outcome).inc()
        self._m.connector_request_duration_seconds.labels(connector).observe(seconds)

    def on_inflight(self, connector: str, n: int) -> None:
        self._m.connector_inflight.labels(connector).set(n)

    def watch_waiting(self, connector: str, waiting: Callable[[], int]) -> None:
        # Read when /metrics is scraped: nothing on the path of a call.
        self._m.connector_waiting.labels(connector).set_function(waiting)

    def on_limit(self, connector: str, n: int) -> None:
        self._m.connector_concurrency_limit.labels(connector).set(n)

    def on_throttled(self, connector: str) -> None:
        self._m.connector_throttled_total.labels(connector).inc()

    def on_bucket(self, connector: str, available: float) -> None:
        self._m.connector_bucket_available.labels(connector).set(available)

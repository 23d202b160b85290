"""``/metrics``: the registry served by prometheus_client's own exposition.

prometheus_client's WSGI app negotiates the format from ``Accept`` (OpenMetrics
for a Prometheus that asks for it, else the text format 0.0.4), compresses with
gzip when ``Accept-Encoding`` allows, and honours ``?name[]=`` to select
families; this handler only adapts it to the router's request and response.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, make_wsgi_app

from peppasync.http.request import Request, Response

__all__ = ["metrics_handler"]


def metrics_handler(registry: CollectorRegistry) -> Callable[[Request], Response]:
    """A route handler that answers with the exposition of ``registry`` in the format the scraper asked for."""
    app = make_wsgi_app(registry)

    def handle(request: Request) -> Response:
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started.append((status, headers))

        body = b"".join(app(request.environ, start_response))
        ((status, headers),) = started
        # The answer depends on both headers: a cache in between must not mix them up.
        return Response(int(status.split(" ", 1)[0]), body, [*headers, ("Vary", "Accept, Accept-Encoding")])

    return handle

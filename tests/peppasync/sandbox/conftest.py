"""Fixtures for the sandbox tests: started sandboxes and a tiny webhook receiver on loopback."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from gevent.pywsgi import WSGIServer

from peppasync.sandbox import PROFILES, Sandbox

from tests.sandboxes import sandbox_factory

QUIET = replace(PROFILES["calm"], name="quiet", erp_latency_median=0.001, erp_latency_sigma=0.0,
                shipment_delay=0.05, webhook_retry_base=0.01)


@dataclass(frozen=True)
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Answers each POST with the next status in `statuses` (then 200) and remembers what came."""

    def __init__(self, statuses: list[int] | None = None, hold: int = 0) -> None:
        self.statuses = list(statuses or [])
        self.hold = hold  # the first `hold` requests wait for `release` before answering
        self.release = threading.Event()
        self.received: list[Received] = []
        self._cond = threading.Condition()
        self._server = WSGIServer(("127.0.0.1", 0), self._app, log=None, error_log=None)
        self._server.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        with self._cond:
            self.received.append(Received(environ["PATH_INFO"], environ.get("QUERY_STRING", ""), headers, body))
            status = self.statuses.pop(0) if self.statuses else 200
            held, self.hold = self.hold > 0, max(0, self.hold - 1)
            self._cond.notify_all()
        if held:
            self.release.wait(10)
        start_response(f"{status} X", [("Content-Length", "0")])
        return [b""]

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.received) >= count, timeout)

    def stop(self) -> None:
        self.release.set()
        self._server.stop(timeout=1)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    with sandbox_factory(QUIET) as make:
        yield make

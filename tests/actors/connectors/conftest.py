"""Tiny loopback servers that reproduce one behaviour each, and time that moves only when slept."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import gevent.event
import pytest
from gevent.pywsgi import WSGIServer
from gevent.server import StreamServer

from peppasync.backoff import Backoff
from peppasync.clock import ManualClock
from peppasync.retry import RetryPolicy

# One request as a handler sees it: method, path, query, headers, body.
Handler = Callable[[dict[str, Any]], tuple[int, dict[str, str], bytes]]


class StubServer:
    """A WSGI server on 127.0.0.1 (port chosen by the OS) that answers with ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[dict[str, Any]] = []
        self.client_ports: list[str | None] = []
        self.in_flight = 0
        self.peak = 0
        self._server = WSGIServer(("127.0.0.1", 0), self._app, log=None, error_log=None)
        self._server.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        request = {
            "method": environ["REQUEST_METHOD"],
            "path": environ["PATH_INFO"],
            "query": environ.get("QUERY_STRING", ""),
            "headers": {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")},
            "body": body,
        }
        self.requests.append(request)
        self.client_ports.append(environ.get("REMOTE_PORT"))  # one per connection the client opened
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            status, headers, payload = self.handler(request)
        finally:
            self.in_flight -= 1
        start_response(f"{status} X", [*headers.items(), ("Content-Length", str(len(payload)))])
        return [payload]

    def stop(self) -> None:
        self._server.stop(timeout=1)


def _read_head(sock: socket.socket) -> bool:
    """Read a request's line and headers; False when the client hung up first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return False
        data += chunk
    return True


class _RawServer:
    """A bare TCP server on 127.0.0.1 that reads each connection's request head and ``_answer``s it."""

    def __init__(self) -> None:
        self.connections = 0
        self._server = StreamServer(("127.0.0.1", 0), self._handle)
        self._server.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def _handle(self, sock: socket.socket, address: Any) -> None:
        self.connections += 1
        if _read_head(sock):
            self._answer(sock)

    def _answer(self, sock: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._server.stop(timeout=1)


class ClosingServer(_RawServer):
    """Answers each connection's one request with a kept-alive response, then hangs up on it."""

    def _answer(self, sock: socket.socket) -> None:
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        gevent.sleep(0.01)
        sock.close()


class ResettingServer(_RawServer):
    """Drops the first ``resets`` connections without a word (RST), then answers ``{}``."""

    def __init__(self, resets: int) -> None:
        self.resets = resets
        super().__init__()

    def _answer(self, sock: socket.socket) -> None:
        if self.connections <= self.resets:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.close()
            return
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                     b"Connection: close\r\n\r\n{}")
        sock.close()


class FakeTime:
    """A manual clock and a ``sleep`` that advances it (and yields, so other greenlets run)."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(max(0.0, seconds))
        gevent.sleep(0)

    def policy(self, *, random: Callable[[], float] = lambda: 0.5, **kwargs: Any) -> RetryPolicy:
        """The default retry policy on this time; its backoff draws ``random`` (0.5 unless told otherwise)."""
        kwargs.setdefault("backoff", Backoff(random=random))
        return RetryPolicy(clock=self.clock, sleep=self.sleep, **kwargs)


@pytest.fixture
def stub() -> Iterator[Callable[[Handler], StubServer]]:
    servers: list[StubServer] = []

    def make(handler: Handler) -> StubServer:
        server = StubServer(handler)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def json_body(payload: Any) -> bytes:
    import json

    return json.dumps(payload).encode()

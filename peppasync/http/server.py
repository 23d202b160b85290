"""The HTTP server: gevent's WSGI server with a pool, so shutdown can wait for in-flight requests.

A graceful stop waits for requests, not for connections: a kept-alive
connection waiting for its next request line is closed at once (as nginx and
gunicorn do), and a connection that finishes its request while the server is
stopping is closed after the answer. Otherwise any idle client that keeps its
connection open would hold every shutdown to the full timeout.

No client holds a connection for long without sending: the first byte of a
request must come within ``idle_timeout``, the rest of the request line and
the headers within ``header_timeout`` of it, the body within ``body_timeout``
of the headers (each a deadline for the whole, so a byte now and then does not
keep it alive); a late request is answered 408 and its connection closed. The
pool bounds the connections served at once; past it, new ones wait in the
listen backlog.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import gevent
from gevent.baseserver import parse_address
from gevent.greenlet import Greenlet
from gevent.pool import Pool
from gevent.pywsgi import WSGIHandler, WSGIServer

from peppasync.errors import ListenError

__all__ = ["HttpServer", "listen"]

log = logging.getLogger("peppasync.http")

T = TypeVar("T")

_TIMEOUT_RESPONSE = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class _Refused(ValueError):
    """A request refused before the application sees it; answered with ``status`` and closed."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


class _Late:
    """What ``_within`` returns for a step that missed its deadline."""


_LATE = _Late()


def _within(seconds: float, step: Callable[[], T]) -> T | _Late:
    """``step()``, or ``_LATE`` when it has not returned within ``seconds``."""
    timer = gevent.Timeout(seconds)
    timer.start()
    try:
        return step()
    except gevent.Timeout as exc:
        if exc is not timer:
            raise
        return _LATE
    finally:
        timer.close()


class _DeadlineInput:
    """The request body stream, cut off at a deadline: a body sent slowly cannot hold its connection.

    Past the deadline the reader gets ``TimeoutError`` and the connection is
    closed after the answer.
    """

    def __init__(self, inner: Any, seconds: float, handler: _QuietHandler) -> None:
        self._inner = inner
        self._seconds = seconds
        self._deadline = time.monotonic() + seconds
        self._handler = handler
        self._ended = False

    @property
    def finished(self) -> bool:
        """Whether the application read the whole body."""
        if getattr(self._inner, "chunked_input", False):
            return self._ended
        return int(getattr(self._inner, "position", 0)) >= int(getattr(self._inner, "content_length", 0) or 0)

    def _read(self, step: Callable[[], bytes], wanted: int | None) -> bytes:
        data = _within(max(0.0, self._deadline - time.monotonic()), step)
        if isinstance(data, _Late):
            self._handler.cut_off()
            log.info("request timed out", extra={"client": self._handler.client(), "phase": "body"})
            raise TimeoutError(f"the request body did not arrive within {self._seconds:g} s")
        if wanted is None or wanted < 0 or len(data) < wanted:
            self._ended = True
        return data

    def read(self, length: int | None = None) -> bytes:
        return self._read(lambda: bytes(self._inner.read(length)), length)

    def readline(self, size: int | None = None) -> bytes:
        return self._read(lambda: bytes(self._inner.readline(size)), size)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


class _QuietHandler(WSGIHandler):  # type: ignore[misc]  # gevent has no type information
    """Access lines at debug level; TCP_NODELAY so keep-alive answers are not held back; deadlines.

    pywsgi writes headers and body separately; with Nagle on, a client's delayed
    ACK holds the body back about 40 ms per request on a kept-alive connection.
    """

    server: _Server

    def __init__(self, sock: socket.socket, address: Any, server: _Server, rfile: Any = None) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # A backstop for what the deadlines do not cover, such as a client that stops reading its answer.
        sock.settimeout(server.idle_timeout)
        self._headers_due = 0.0
        super().__init__(sock, address, server, rfile)

    def log_request(self) -> None:
        log.debug(self.format_request())

    def read_requestline(self) -> str:
        server = self.server
        if server.stopping:
            return ""  # the connection closes instead of waiting for another request
        current = gevent.getcurrent()
        server.idle.add(current)
        try:
            first = _within(server.idle_timeout, lambda: self.rfile.peek(1))
        finally:
            server.idle.discard(current)
        if isinstance(first, _Late):
            return ""  # idle too long: closed quietly, as clients expect between requests
        self._headers_due = time.monotonic() + server.header_timeout
        line = _within(self._left(), super().read_requestline)
        if isinstance(line, _Late):
            self._late("request line")
            return ""
        return str(line)

    def read_request(self, raw_requestline: str) -> bool:
        parsed = _within(self._left(), lambda: super(_QuietHandler, self).read_request(raw_requestline))
        if isinstance(parsed, _Late):
            raise _Refused(408, f"the request headers did not arrive within {self.server.header_timeout:g} s")
        lengths = {value.strip() for value in self._lengths}
        if len(lengths) > 1:
            raise _Refused(400, f"conflicting Content-Length headers: {', '.join(sorted(lengths))}")
        if lengths and "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise _Refused(400, "both Content-Length and Transfer-Encoding: chunked")
        if lengths and not all(value.isdigit() for value in lengths):
            raise _Refused(400, f"Content-Length is not a number of bytes: {', '.join(lengths)}")
        return bool(parsed)

    def MessageClass(self, *args: Any) -> Any:  # noqa: N802 - pywsgi's name
        headers = super().MessageClass(*args)
        # Kept before pywsgi drops Content-Length from a chunked request.
        self._lengths: list[str] = headers.get_all("Content-Length") or []
        return headers

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        self._input = _DeadlineInput(environ["wsgi.input"], self.server.body_timeout, self)
        environ["wsgi.input"] = self._input
        return environ

    def run_application(self) -> None:
        try:
            super().run_application()
        finally:
            if not self._input.finished:
                # Answered without reading the whole body (413, 401...): close
                # rather than read the rest, however long the client takes to send it.
                self.cut_off()

    def cut_off(self) -> None:
        """Read no more of this request's body; the connection closes after the answer."""
        self.close_connection = True
        # pywsgi reads an unread body to its end before the next request; this
        # flag (set by pywsgi itself for a broken chunked body) tells it not to.
        self.wsgi_input._chunked_input_error = True

    def _handle_client_error(self, ex: Exception) -> Any:
        if not isinstance(ex, _Refused):
            return super()._handle_client_error(ex)
        log.info("request refused", extra={"client": self.client(), "status": ex.status, "error": ex.message})
        if ex.status == 408:
            return ("408", _TIMEOUT_RESPONSE)
        body = (json.dumps({"error": ex.message}) + "\n").encode()
        head = (f"HTTP/1.1 {ex.status} Bad Request\r\nConnection: close\r\n"
                f"Content-Type: application/json; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n")
        return (str(ex.status), head.encode() + body)

    def _left(self) -> float:
        return max(0.0, self._headers_due - time.monotonic())

    def _late(self, phase: str) -> None:
        log.info("request timed out", extra={"client": self.client(), "phase": phase})
        try:
            self.socket.sendall(_TIMEOUT_RESPONSE)
        except OSError:
            pass  # the client is gone: nothing to tell

    def client(self) -> str:
        """The client's address, for the log."""
        address = self.client_address
        return str(address[0]) if isinstance(address, tuple) else str(address)


class _Server(WSGIServer):  # type: ignore[misc]  # gevent has no type information
    """Knows which connection greenlets are idle between requests, and the deadlines of each request."""

    def __init__(
        self, *args: Any, idle_timeout: float, header_timeout: float, body_timeout: float, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = False
        self.idle: set[Greenlet] = set()
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening; ``ListenError`` when that address cannot be had.

    A server binds before it opens anything else, so a port already taken
    stops it at once, with nothing to undo.
    """
    try:
        family, address = parse_address((host, port))
        return WSGIServer.get_listener(address, family=family)  # type: ignore[no-any-return]
    except OSError as exc:
        # gevent appends the address to strerror; the system's own words read better.
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ListenError(host, port, reason, errno=exc.errno) from None


class HttpServer:
    """Serves a WSGI app on ``host:port`` (port 0 picks a free one), or on an already bound ``listener``.

    ``max_connections`` bounds the connections served at once; the timeouts
    are deadlines in seconds (see the module's docstring).
    """

    def __init__(
        self,
        app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
        host: str,
        port: int,
        *,
        max_connections: int = 1000,
        idle_timeout: float = 60.0,
        header_timeout: float = 10.0,
        body_timeout: float = 30.0,
        listener: socket.socket | None = None,
    ) -> None:
        limits = {"idle_timeout": idle_timeout, "header_timeout": header_timeout, "body_timeout": body_timeout}
        for name, value in limits.items():
            if not value > 0:
                raise ValueError(f"{name} must be a number of seconds above 0, got {value!r}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections!r}")
        self._pool = Pool(max_connections)
        self._server = _Server(
            listener if listener is not None else (host, port), app,
            spawn=self._pool, handler_class=_QuietHandler, log=None, error_log=log, **limits
        )

    def start(self) -> None:
        self._server.start()

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self._server.server_host}:{self.port}"

    @property
    def in_flight(self) -> int:
        return len(self._pool)

    def stop(self, timeout: float) -> None:
        """Stop accepting, let in-flight requests finish for up to ``timeout`` seconds.

        Idle kept-alive connections are closed at once; requests still running
        after ``timeout`` are killed.
        """
        self._server.stopping = True
        self._server.close()
        for greenlet in list(self._server.idle):
            greenlet.kill(block=False)
        self._pool.join(timeout=timeout)
        self._pool.kill(block=True, timeout=1)

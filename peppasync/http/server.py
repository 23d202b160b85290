"""The HTTP server: gevent's WSGI server with a pool, so shutdown can wait for in-flight requests.

A graceful stop waits for requests, not for connections: a kept-alive
connection waiting for its next request line is closed at once (as nginx and
gunicorn do), and a connection that finishes its request while the server is
stopping is closed after the answer. Otherwise any idle client that keeps its
connection open would hold every shutdown to the full timeout.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any, Callable, Iterable

import gevent
from gevent.baseserver import parse_address
from gevent.greenlet import Greenlet
from gevent.pool import Pool
from gevent.pywsgi import WSGIHandler, WSGIServer

from peppasync.errors import ListenError

__all__ = ["HttpServer", "listen"]

log = logging.getLogger("peppasync.http")


class _QuietHandler(WSGIHandler):
    """Access lines at debug level; TCP_NODELAY so keep-alive answers are not held back.

    pywsgi writes headers and body separately; with Nagle on, a client's delayed
    ACK holds the body back about 40 ms per request on a kept-alive connection.
    """

    def __init__(self, sock: socket.socket, address: Any, server: Any, rfile: Any = None) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().__init__(sock, address, server, rfile)

    def log_request(self) -> None:
        log.debug(self.format_request())

    def read_requestline(self) -> str:
        server: _Server = self.server
        if server.stopping:
            return ""  # the connection closes instead of waiting for another request
        current = gevent.getcurrent()
        server.idle.add(current)
        try:
            return str(super().read_requestline())
        finally:
            server.idle.discard(current)


class _Server(WSGIServer):
    """Knows which connection greenlets are idle between requests."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stopping = False
        self.idle: set[Greenlet] = set()


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
    """Serves a WSGI app on ``host:port`` (port 0 picks a free one), or on an already bound ``listener``."""

    def __init__(
        self,
        app: Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]],
        host: str,
        port: int,
        *,
        max_connections: int = 10_000,
        listener: socket.socket | None = None,
    ) -> None:
        self._pool = Pool(max_connections)
        self._server = _Server(
            listener if listener is not None else (host, port), app,
            spawn=self._pool, handler_class=_QuietHandler, log=None, error_log=log,
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

"""Balancer: the load balancer in front of a cluster's nodes, as a deployment would have one.

A TCP proxy on one address: each connection goes to the next node in turn, and
to the one after when a node refuses it (killed, stopping), so webhooks keep
arriving while nodes die and come back.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
from collections.abc import Sequence

import gevent
from gevent.server import StreamServer

__all__ = ["Balancer"]


class Balancer:
    """Round-robin TCP proxy from ``listen`` (HOST:PORT) to ``backends``."""

    def __init__(self, listen: str, backends: Sequence[str]) -> None:
        host, _, port = listen.rpartition(":")
        self._backends = [(h, int(p)) for h, _, p in (b.rpartition(":") for b in backends)]
        self._turn = itertools.count()
        self._server = StreamServer((host, int(port)), self._serve)

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(timeout=1)

    def _serve(self, client: socket.socket, _address: object) -> None:
        upstream = self._connect()
        if upstream is None:
            client.close()  # every node refused: the sender retries, as against a dead server
            return
        pipes = [gevent.spawn(_pipe, client, upstream), gevent.spawn(_pipe, upstream, client)]
        try:
            gevent.joinall(pipes, count=1)
        finally:
            gevent.killall(pipes)
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.close()

    def _connect(self) -> socket.socket | None:
        first = next(self._turn)
        for i in range(len(self._backends)):
            address = self._backends[(first + i) % len(self._backends)]
            try:
                return socket.create_connection(address, timeout=2)
            except OSError:
                continue
        return None


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        source.settimeout(None)
        while True:
            data = source.recv(65536)
            if not data:
                return
            sink.sendall(data)

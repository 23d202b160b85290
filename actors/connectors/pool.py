"""The connectors' HTTP adapter: urllib3's pools, with a dropped-connection check that does not wait.

Before it sends on a kept-alive connection, urllib3 asks whether the server closed it
(``HTTPConnection.is_connected``: is the socket readable, with a timeout of zero). Under gevent
that ``select.poll`` is gevent's, and a zero timeout there is still a wait: the caller gives the
hub a whole cycle (its other ready greenlets, a poll of every socket) before its request goes
out. Every call of every connector paid it, with its concurrency slot held. In a surge's
ingest, when the hub runs behind by tens of milliseconds, that was a large part of an ERP call's
way there. Here the check is the same question put to the operating system's own ``poll``,
which answers at once.
"""

from __future__ import annotations

import select
import socket
from typing import Any

import requests.adapters
import urllib3.connection
from gevent import monkey
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

__all__ = ["PooledAdapter", "readable_now"]

_poll = monkey.get_original("select", "poll")


def readable_now(sock: socket.socket) -> bool:
    """Whether ``sock`` has something to read (data, or the peer's close) right now; never waits."""
    poller = _poll()
    poller.register(sock.fileno(), select.POLLIN)
    return bool(poller.poll(0))


class _CheckedAtOnce:
    """``is_connected`` for urllib3's connection classes, asked of the operating system's poll."""

    sock: socket.socket | None

    @property
    def is_connected(self) -> bool:
        # Readable before a request is sent: the server closed it, or sent what nobody asked for.
        return self.sock is not None and not readable_now(self.sock)


class _Connection(_CheckedAtOnce, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_CheckedAtOnce, urllib3.connection.HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _Pool, "https": _HTTPSPool}


class PooledAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, whose pools check a kept-alive connection without giving up the hub."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager: PoolManager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS proxies have connections of their own
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager

"""The connectors' pools: a kept-alive connection is checked without a wait, and a dropped one is still found."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import pytest
import requests

from actors.connectors import Connector
from actors.connectors.pool import readable_now

from .conftest import ClosingServer, FakeTime, StubServer, json_body


def _json(response: requests.Response) -> Any:
    response.raise_for_status()
    return response.json()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock
    sock.close()


def test_readable_now_tells_data_and_a_close_from_quiet_and_lets_nothing_else_run() -> None:
    ours, theirs = socket.socketpair()
    ran: list[str] = []
    gevent.spawn(ran.append, "another greenlet")

    quiet = readable_now(ours)
    theirs.sendall(b"x")
    data = readable_now(ours)
    ours.recv(1)
    theirs.close()
    closed = readable_now(ours)

    assert (quiet, data, closed) == (False, True, True)
    assert ran == []  # not one turn of the hub was taken
    ours.close()


def test_a_connectors_kept_alive_connection_is_checked_without_giving_up_the_hub(listener: socket.socket) -> None:
    host, port = listener.getsockname()
    connector = Connector("stub")
    url = f"http://{host}:{port}/"
    pool = connector.session.get_adapter(url).poolmanager.connection_from_url(url)
    conn = pool.ConnectionCls(host, port)
    conn.connect()
    server_end, _ = listener.accept()
    ran: list[str] = []
    gevent.spawn(ran.append, "another greenlet")

    alive = conn.is_connected
    others_before = list(ran)
    server_end.close()
    gevent.sleep(0.01)
    dropped = not conn.is_connected

    assert (alive, dropped) == (True, True)
    # urllib3's own check polls with gevent's poll, whose zero timeout still waits a hub cycle.
    assert others_before == []
    conn.close()
    connector.close()


def test_a_connection_the_server_closed_is_replaced_before_the_next_call_not_failed(fake_time: FakeTime) -> None:
    server = ClosingServer()
    connector = Connector("stub", retry=fake_time.policy())
    try:
        first = connector.exchange("GET", server.url + "/a", _json)
        gevent.sleep(0.05)  # the server has hung up on the kept-alive connection
        second = connector.exchange("GET", server.url + "/b", _json)
    finally:
        connector.close()
        server.stop()

    assert (first, second) == ({}, {})
    assert server.connections == 2
    assert fake_time.slept == []  # no failed try, no retry


def test_calls_reuse_their_connections(stub: Callable[..., StubServer]) -> None:
    server = stub(lambda request: (200, {}, json_body({"ok": True})))
    connector = Connector("stub")

    results = [connector.exchange("GET", f"{server.url}/{n}", _json) for n in range(5)]

    assert results == [{"ok": True}] * 5
    assert len(set(server.client_ports)) == 1
    connector.close()

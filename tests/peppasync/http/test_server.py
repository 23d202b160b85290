"""Graceful stop of the HTTP server: it waits for requests, not for idle connections."""

import socket
import time

import gevent

from peppasync.http.server import HttpServer

GET = b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n"


def _app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        gevent.sleep(0.5)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def _read_response(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"ok"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_stop_closes_idle_keep_alive_connections_and_finishes_running_requests():
    server = HttpServer(_app, "127.0.0.1", 0)
    server.start()
    idle = socket.create_connection(("127.0.0.1", server.port))
    idle.sendall(GET % b"fast")
    assert _read_response(idle).startswith(b"HTTP/1.1 200")  # now kept alive, idle
    busy = socket.create_connection(("127.0.0.1", server.port))
    busy.sendall(GET % b"slow")
    gevent.sleep(0.1)  # the slow request is running

    started = time.monotonic()
    server.stop(timeout=30)
    took = time.monotonic() - started

    assert took < 10, f"stop waited {took:.1f} s for an idle connection"
    assert _read_response(busy).startswith(b"HTTP/1.1 200"), "the running request was cut off"
    assert idle.recv(4096) == b"", "the idle connection was left open"
    assert busy.recv(4096) == b"", "the connection stayed open after its answer during shutdown"
    assert server.in_flight == 0
    try:
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
        accepting = True
    except OSError:
        accepting = False
    assert not accepting
    idle.close()
    busy.close()


def test_stop_kills_requests_still_running_at_the_timeout():
    server = HttpServer(_app, "127.0.0.1", 0)
    server.start()
    conn = socket.create_connection(("127.0.0.1", server.port))
    conn.sendall(GET % b"slow")
    gevent.sleep(0.1)

    server.stop(timeout=0.1)

    assert server.in_flight == 0
    # The client is told, not left hanging: a webhook sender retries a 5xx.
    assert conn.recv(4096).startswith(b"HTTP/1.1 500")
    conn.close()

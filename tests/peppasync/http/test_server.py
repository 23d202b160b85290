"""Graceful stop of the HTTP server: it waits for requests, not for idle connections."""

import socket
import time

import gevent
import pytest

from peppasync.http import HttpError, Request, Response, json_response
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


def _body_app(environ, start_response):
    """Answers with the body it read, or with the error reading it raised (408, 413...)."""
    request = Request(environ, max_body=1000)
    try:
        response = Response(200, request.body())
    except HttpError as exc:
        response = json_response({"error": exc.message}, exc.status)
    return response(start_response)


def _answer(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (the socket's timeout fails the test)."""
    conn.settimeout(10)
    data = b""
    while chunk := conn.recv(4096):
        data += chunk
    return data


@pytest.fixture
def body_server():
    server = HttpServer(_body_app, "127.0.0.1", 0)
    server.start()
    yield server
    server.stop(timeout=1)


@pytest.fixture
def strict_server():
    server = HttpServer(_body_app, "127.0.0.1", 0, idle_timeout=0.5, header_timeout=0.5, body_timeout=0.5)
    server.start()
    yield server
    server.stop(timeout=1)


def test_a_client_that_sends_half_its_headers_gets_408_and_is_disconnected(strict_server):
    with socket.create_connection(("127.0.0.1", strict_server.port)) as conn:
        conn.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Le")

        answer = _answer(conn)

    assert answer.startswith(b"HTTP/1.1 408")


def test_headers_sent_a_byte_at_a_time_do_not_keep_a_connection_past_the_header_deadline(strict_server):
    with socket.create_connection(("127.0.0.1", strict_server.port)) as conn:
        for byte in b"GET /x HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                break  # the server has closed the connection
            gevent.sleep(0.02)

        answer = _answer(conn)

    assert answer.startswith(b"HTTP/1.1 408")


def test_a_body_sent_a_byte_at_a_time_is_cut_off_at_the_body_deadline_with_408(strict_server):
    with socket.create_connection(("127.0.0.1", strict_server.port)) as conn:
        conn.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):
            try:
                conn.sendall(b"a")
            except OSError:
                break  # the server has closed the connection
            gevent.sleep(0.02)

        answer = _answer(conn)

    assert answer.startswith(b"HTTP/1.1 408")
    assert b"did not arrive within 0.5 s" in answer
    assert b"Connection: close" in answer


def test_an_idle_kept_alive_connection_is_closed_after_the_idle_timeout(strict_server):
    with socket.create_connection(("127.0.0.1", strict_server.port)) as conn:
        conn.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")

        answer = _answer(conn)

    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok")


def test_a_body_over_the_limit_is_answered_413_without_waiting_for_it_to_arrive(body_server):
    with socket.create_connection(("127.0.0.1", body_server.port)) as conn:
        conn.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\nfirst bytes")

        answer = _answer(conn)

    assert answer.startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        (b"Content-Length: 5\r\nContent-Length: 50\r\n", b"conflicting Content-Length headers: 5, 50"),
        (b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", b"both Content-Length and Transfer-Encoding"),
        (b"Content-Length: +5\r\n", b"Content-Length is not a number of bytes"),
    ],
)
def test_a_request_whose_length_is_ambiguous_is_refused_with_400(body_server, headers, error):
    with socket.create_connection(("127.0.0.1", body_server.port)) as conn:
        conn.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\nhello")

        answer = _answer(conn)

    assert answer.startswith(b"HTTP/1.1 400")
    assert error in answer

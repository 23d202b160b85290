"""Plain WSGI plumbing shared by the simulators: requests, responses and a gevent server."""

from __future__ import annotations

import json
import logging
import socket
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from gevent.pywsgi import WSGIHandler, WSGIServer

__all__ = ["Request", "Response", "SimulatorServer", "json_response"]

_log = logging.getLogger(__name__)

_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large",
            429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}

_MAX_BODY = 20_000_000


@dataclass(frozen=True)
class Request:
    """What a simulator needs of one HTTP request."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    url: str

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.query_string, keep_blank_values=True).items()}

    @property
    def detail(self) -> bool:
        """False when the query asks for counts only (`?detail=0`), as large ledgers make large bodies."""
        return self.query.get("detail", "1").lower() not in ("0", "false", "no")

    def json(self) -> Any:
        """The body as JSON; ValueError says what was wrong."""
        try:
            return json.loads(self.body or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"the body is not valid JSON: {exc}") from None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Answer nothing: drop the connection, as a crashing proxy or server does.
    reset: bool = False


def json_response(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    body = json.dumps(payload, default=str).encode("utf-8")
    return Response(status, body, [("Content-Type", "application/json"), *headers])


Handler = Callable[[Request], Response]


class _NoDelayHandler(WSGIHandler):  # type: ignore[misc]
    """pywsgi sends headers and body in separate writes; without TCP_NODELAY the client's
    delayed ACK holds the body back ~40 ms on every keep-alive request."""

    def __init__(self, sock: socket.socket, address: Any, server: Any, rfile: Any = None) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().__init__(sock, address, server, rfile)

    def get_environ(self) -> dict[str, Any]:
        environ: dict[str, Any] = super().get_environ()
        environ["sandbox.socket"] = self.socket  # so that a handler's reset can reach it
        return environ

    def handle_error(self, *exc_info: Any) -> None:
        if getattr(self, "environ", None) and self.environ.get("sandbox.reset"):
            self.close_connection = True  # the write after a deliberate reset fails; nothing to report
            return
        super().handle_error(*exc_info)


class SimulatorServer:
    """A gevent WSGI server around one handler; port 0 lets the OS choose."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self._handler = handler
        self._server = WSGIServer((host, port), self._app, log=None, error_log=None,
                                  handler_class=_NoDelayHandler)
        self.host = host

    def start(self) -> None:
        self._server.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._server.stop(timeout=timeout)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > _MAX_BODY:
            response = json_response(413, {"error": f"body of {length} bytes exceeds {_MAX_BODY}"})
        else:
            try:
                body = environ["wsgi.input"].read(length) if length else b""
            except OSError:  # the client hung up mid-body (an engine killed mid-request)
                start_response("400 Bad Request", [("Content-Length", "0")])
                return []
            headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
            if "CONTENT_TYPE" in environ:
                headers["content-type"] = environ["CONTENT_TYPE"]
            qs = environ.get("QUERY_STRING", "")
            host = environ.get("HTTP_HOST") or f"{self.host}:{self.port}"
            path = environ.get("PATH_INFO", "/")
            url = f"http://{host}{path}" + (f"?{qs}" if qs else "")
            request = Request(environ["REQUEST_METHOD"].upper(), path, qs, headers, body, url)
            try:
                response = self._handler(request)
            except Exception as exc:  # noqa: BLE001 - a simulator bug must show as a 500, not a hung client
                _log.exception("sandbox handler failed on %s %s", request.method, path)
                response = json_response(500, {"error": f"sandbox failure: {exc!r}"})
        if response.reset:
            environ["sandbox.reset"] = True
            _reset(environ.get("sandbox.socket"))
            return []
        reason = _REASONS.get(response.status, "Unknown")
        out_headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(f"{response.status} {reason}", out_headers)
        return [response.body]


def _reset(sock: socket.socket | None) -> None:
    """End the connection with no response; SO_LINGER 0 makes the final close an RST."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass

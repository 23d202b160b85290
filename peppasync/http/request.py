"""A small request/response pair over WSGI: enough for webhooks, probes and the ops API."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from peppasync.errors import JsonInputError
from peppasync.strict_json import parse_json

__all__ = ["HttpError", "Request", "Response", "json_response"]

_REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 303: "See Other", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
    409: "Conflict", 411: "Length Required", 413: "Payload Too Large", 415: "Unsupported Media Type",
    422: "Unprocessable Entity", 500: "Internal Server Error", 503: "Service Unavailable",
}


class HttpError(Exception):
    """Stops a handler with a status and a message the client can act on."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        self.status = status
        self.message = message
        self.extra = extra
        super().__init__(message)


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def __call__(self, start_response: Callable[..., Any]) -> Iterable[bytes]:
        reason = _REASONS.get(self.status, "")
        headers = [*self.headers, ("Content-Length", str(len(self.body)))]
        if self.status == 408:
            headers.append(("Connection", "close"))  # the server closes a timed-out request's connection
        start_response(f"{self.status} {reason}", headers)
        return [self.body]


def json_response(data: Any, status: int = 200) -> Response:
    # A lone surrogate (from a store written before input was checked) is sent
    # as its JSON escape rather than failing the whole answer.
    body = json.dumps(data, default=str, ensure_ascii=False, indent=None).encode("utf-8", "backslashreplace")
    return Response(status, body + b"\n", [("Content-Type", "application/json; charset=utf-8")])


class Request:
    """The parts of a WSGI environ a handler needs; the body is read once, bounded."""

    def __init__(self, environ: dict[str, Any], max_body: int) -> None:
        self.environ = environ
        self.method: str = environ.get("REQUEST_METHOD", "GET").upper()
        self.path: str = environ.get("PATH_INFO", "/") or "/"
        self.query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        self._max_body = max_body
        self._body: bytes | None = None
        self.params: dict[str, str] = {}

    def header(self, name: str, default: str = "") -> str:
        key = "HTTP_" + name.upper().replace("-", "_")
        if name.lower() == "content-type":
            key = "CONTENT_TYPE"
        return str(self.environ.get(key, default))

    def body(self) -> bytes:
        if self._body is None:
            raw_length = self.environ.get("CONTENT_LENGTH") or ""
            try:
                length = int(raw_length) if raw_length else -1
            except ValueError:
                raise HttpError(400, f"Content-Length is not a number: {raw_length!r}", reason="bad_length") from None
            stream = self.environ["wsgi.input"]
            if length > self._max_body:
                raise HttpError(
                    413, f"body of {length} bytes is over the limit of {self._max_body}", reason="too_large"
                )
            try:
                data = stream.read(length) if length >= 0 else stream.read(self._max_body + 1)
            except TimeoutError as exc:  # the server's body deadline passed
                raise HttpError(408, str(exc), reason="timeout") from None
            except OSError as exc:  # the client hung up before its body was in
                raise HttpError(400, f"the request body ended early: {exc}", reason="cut_short") from None
            if len(data) > self._max_body:
                raise HttpError(413, f"body is over the limit of {self._max_body} bytes", reason="too_large")
            self._body = data
        return self._body

    def json(self, *, required: bool = True) -> Any:
        """The body through the one strict parse (``peppasync.strict_json``); 400 with the reason when refused."""
        raw = self.body()
        if not raw.strip():
            if required:
                raise HttpError(400, "expected a JSON body, got an empty one", reason="empty")
            return None
        try:
            return parse_json(raw)
        except JsonInputError as exc:
            raise HttpError(400, f"the body is refused: {exc}", reason=exc.problem) from None

"""The NetSuite simulator: SuiteTalk REST records with TBA auth, a concurrency cap, latency and faults."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import gevent
import gevent.event

from peppasync.clock import Clock

from .catalog import Catalog
from .erp import ErpError, ErpState, ErrorDetail
from .erp_faults import ErpFaults
from .ledger import Ledger
from .profile import SandboxProfile, chance, erp_latency
from .server import Request, Response, json_response
from .signature import OAuthCredentials, OAuthVerifier

__all__ = ["NetSuiteSimulator"]

_ROOT = "/services/rest/record/v1/"
_RECORD = re.compile(r"^(?P<kind>salesOrder|customer|inventoryItem|creditMemo|cashRefund|customerDeposit"
                     r"|returnAuthorization)(?:/eid:(?P<eid>[A-Za-z0-9_\-]+))?$")
_TITLES = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
# NetSuite's `type` is the status's section of RFC 2616 (429 is not in it: the chapter itself).
_RFC2616 = "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html"
_SECTIONS = {400: "#sec10.4.1", 401: "#sec10.4.2", 404: "#sec10.4.5", 405: "#sec10.4.6", 500: "#sec10.5.1",
             503: "#sec10.5.4"}


def error_body(status: int, code: str, detail: str, path: str | None = None, *,
               also: Sequence[ErrorDetail] = ()) -> dict[str, Any]:
    """NetSuite's RFC-7807-like error body (contract: netsuite ErrorBody), one entry per detail."""
    details = []
    for d in (ErrorDetail(code, detail, path), *also):
        item: dict[str, Any] = {"detail": d.detail, "o:errorCode": d.code}
        if d.path:
            item["o:errorPath"] = d.path
        details.append(item)
    return {"type": _RFC2616 + _SECTIONS.get(status, ""), "title": _TITLES.get(status, "Error"), "status": status,
            "o:errorDetails": details}


class NetSuiteSimulator:
    """Sales orders, customers and item costs behind an account-wide concurrency limit.

    Latency is log-normal around the profile's median and grows with the requests in flight;
    5xx faults are decided from the seed and the request's identity (method, path, attempt).
    `pause()` holds admitted requests until `resume()`, like an ERP that stopped answering;
    `inject()` makes every request fail for a while (a burst of 5xx, or dropped connections).
    """

    FAULTS = ErpFaults.KINDS

    def __init__(self, catalog: Catalog, clock: Clock, *, credentials: OAuthCredentials,
                 profile: SandboxProfile, seed: int, time_scale: float) -> None:
        self.credentials = credentials
        self.erp = ErpState(catalog, clock)
        self.ledger = Ledger("netsuite", clock)
        self.concurrency_limit = profile.erp_concurrency_limit
        self._verifier = OAuthVerifier(credentials)
        self._profile = profile
        self._seed = seed
        self._scale = time_scale
        self._active = 0
        self._lock = threading.Lock()
        self._attempts: Counter[str] = Counter()
        self._clock = clock
        self.faults = ErpFaults(clock, self.ledger)

    def pause(self) -> None:
        self.faults.pause()

    def resume(self) -> None:
        self.faults.resume()

    def inject(self, fault: str, seconds: float) -> None:
        self.faults.inject(fault, seconds)

    def handle(self, request: Request) -> Response:
        """Serve one HTTP request (the WSGI server calls this)."""
        if request.path == "/_sandbox/ledger" and request.method == "GET":
            return json_response(200, {"ledger": self.ledger.snapshot(request.detail), "state": self.erp.snapshot()})
        key = request.path.rsplit("eid:", 1)[-1] if "eid:" in request.path else ""
        problem = self._verifier.verify(request.method, request.url, request.headers.get("authorization", ""),
                                        request.body, request.headers.get("content-type", ""))
        if problem is not None:
            started = self.ledger.clock_time()
            self.ledger.end(started, request.method, request.path, 401, "unauthorized", key, problem,
                            in_flight=False)
            return json_response(401, error_body(401, "INVALID_LOGIN", f"Invalid login attempt: {problem}."))
        with self._lock:
            admitted = self._active < self.concurrency_limit
            if admitted:
                self._active += 1
                load = self._active
        if not admitted:
            started = self.ledger.clock_time()
            self.ledger.end(started, request.method, request.path, 429, "throttled", key,
                            f"over the concurrency limit of {self.concurrency_limit}", in_flight=False)
            detail = ("The request could not be processed because the account's concurrency limit "
                      f"of {self.concurrency_limit} requests was exceeded.")
            return json_response(429, error_body(429, "CONCURRENCY_LIMIT_EXCEEDED", detail))
        started = self.ledger.begin()
        try:
            response, outcome, detail = self._serve(request, load)
        finally:
            with self._lock:
                self._active -= 1
        self.ledger.end(started, request.method, request.path, response.status, outcome, key, detail)
        return response

    def _serve(self, request: Request, load: int) -> tuple[Response, str, str]:
        identity = f"{request.method} {request.path}"
        with self._lock:
            attempt = self._attempts[identity]
            self._attempts[identity] += 1
        gevent.sleep(erp_latency(self._profile, self._seed, identity, attempt, load, self.concurrency_limit)
                     / self._scale)
        self.faults.wait_open()
        fault = self.faults.current()
        if fault == "reset":
            if chance(self._seed, "reset-after", identity, attempt) < 0.5:
                try:
                    self._route(request)
                except ErpError:
                    pass
            return Response(0, reset=True), "reset", "injected connection reset"
        if fault == "5xx" or chance(self._seed, "5xx", identity, attempt) < self._profile.erp_error_rate:
            status = 503 if chance(self._seed, "5xx-kind", identity, attempt) < 0.5 else 500
            body = error_body(status, "UNEXPECTED_ERROR", "An unexpected error occurred. Error ID: "
                              f"sandbox-{int(chance(self._seed, 'error-id', identity, attempt) * 10**8):08d}")
            return json_response(status, body), "error", f"injected {'burst' if fault else 'fault'}"
        try:
            return self._route(request)
        except ErpError as exc:
            outcome = "duplicate" if exc.code == "DUP_RCRD" else "invalid"
            body = error_body(exc.status, exc.code, exc.detail, exc.path, also=exc.details[1:])
            return json_response(exc.status, body), outcome, exc.code

    def _route(self, request: Request) -> tuple[Response, str, str]:
        if not request.path.startswith(_ROOT):
            raise ErpError(404, "NONEXISTENT_ID", f"No resource at {request.path}.")
        match = _RECORD.match(request.path[len(_ROOT):])
        if match is None:
            raise ErpError(404, "NONEXISTENT_ID", f"Unknown record path {request.path[len(_ROOT):]!r}; external "
                           "ids may use letters, digits, '_' and '-'.")
        kind, eid, method = match["kind"], match["eid"], request.method
        if method == "GET" and eid:
            return json_response(200, self.erp.get(kind, eid)), "ok", ""
        if kind == "inventoryItem":
            raise ErpError(405, "INVALID_REQUEST", f"{method} is not supported on inventoryItem by the sandbox.")
        try:
            body = json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise ErpError(400, "INVALID_CONTENT", f"The request body is not valid JSON: {exc}.") from None
        host = request.url.split(_ROOT, 1)[0]
        if method == "PUT" and eid:
            replace = [name for name in request.query.get("replace", "").split(",") if name]
            internal, created = self.erp.upsert(kind, eid, body, replace=replace)
            outcome = "created" if created else "updated"
        elif method == "PATCH" and eid:
            internal, outcome = self.erp.patch(kind, eid, body), "updated"
        elif method == "POST" and not eid:
            internal, outcome = self.erp.create(kind, body), "created"
        else:
            raise ErpError(405, "INVALID_REQUEST", f"{method} {request.path[len(_ROOT):]} is not supported.")
        return Response(204, b"", [("Location", f"{host}{_ROOT}{kind}/{internal}")]), outcome, ""

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._active

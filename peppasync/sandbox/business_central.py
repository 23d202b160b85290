"""The Business Central simulator: API v2.0 of one company, an OAuth token endpoint, request limits and faults.

One server answers both hosts: the Microsoft identity platform's token endpoint
(``POST /{tenant}/oauth2/v2.0/token``, client credentials) and the API under
``/v2.0/{tenant}/{environment}/api/v2.0/companies({id})/``. A request without a valid,
unexpired bearer token is 401. Over the profile's concurrency limit, or over the request
window (6,000 requests in five minutes, divided by the time scale), it is 429; the
window's 429 carries ``Retry-After``. Latency and 5xx faults follow the profile as the
NetSuite simulator's do; ``inject`` and ``pause`` work the same way.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import gevent
import gevent.event

from peppasync.clock import Clock

from .bc_company import NON_SKU_ITEM, BcError, Company
from .catalog import Catalog
from .erp_book import BookedOrder
from .erp_faults import ErpFaults
from .ledger import Ledger
from .profile import SandboxProfile, chance, erp_latency
from .server import Request, Response, json_response
from .window import RequestWindow

__all__ = ["BcCredentials", "BusinessCentralSimulator"]

_SEGMENT = r"(?P<entity>customers|salesOrders|items)(?:\((?P<id>[0-9a-f-]+)\))?"
_LINES = r"(?:/salesOrderLines(?:\((?P<line>[0-9a-f-]+)\))?)?"
_FILTER = re.compile(r"^\s*(?P<field>[A-Za-z]+)\s+eq\s+'(?P<value>(?:[^']|'')*)'\s*$")
# Business Central's request limit: 6,000 per user or service principal in five minutes.
_WINDOW = (6000, 300.0)


@dataclass(frozen=True)
class BcCredentials:
    """What an app registration and a Business Central environment give a client."""

    tenant: str
    environment: str
    client_id: str
    client_secret: str


class BusinessCentralSimulator:
    """One company behind a token endpoint, a concurrency limit and a request window."""

    name = "business_central"
    FAULTS = ErpFaults.KINDS

    def __init__(self, catalog: Catalog, clock: Clock, *, credentials: BcCredentials, profile: SandboxProfile,
                 seed: int, time_scale: float, token_lifetime: int = 3599,
                 window: tuple[int, float] = _WINDOW) -> None:
        self.credentials = credentials
        self.company = Company(catalog, clock, seed=seed)
        self.ledger = Ledger("business_central", clock)
        self.concurrency_limit = profile.erp_concurrency_limit
        self.window = RequestWindow(window[0], window[1] / time_scale, clock)
        self.token_lifetime = token_lifetime
        self._profile = profile
        self._seed = seed
        self._scale = time_scale
        self._clock = clock
        self._lock = threading.Lock()
        self._active = 0
        self._attempts: Counter[str] = Counter()
        self._tokens: dict[str, float] = {}  # token -> expiry, by the clock's monotonic time
        self._issued = 0
        self.faults = ErpFaults(clock, self.ledger)
        self._lost_answers = 0
        self._root = (f"/v2.0/{credentials.tenant}/{credentials.environment}/api/v2.0/"
                      f"companies({self.company.id})/")
        self._route_re = re.compile("^" + _SEGMENT + _LINES + "$")

    @property
    def token_path(self) -> str:
        return f"/{self.credentials.tenant}/oauth2/v2.0/token"

    def expire_tokens(self) -> None:
        """Make every token issued so far invalid, as when they expire or are revoked."""
        with self._lock:
            self._tokens.clear()

    # -- faults: the same as every simulated ERP's (``ErpFaults``) ---------------------

    def pause(self) -> None:
        self.faults.pause()

    def resume(self) -> None:
        self.faults.resume()

    def inject(self, fault: str, seconds: float) -> None:
        self.faults.inject(fault, seconds)

    def lose_answers(self, writes: int) -> None:
        """Apply the next ``writes`` POSTs, then drop their connections unanswered: the answer is lost, not
        the change (a proxy or network failing after Business Central committed)."""
        with self._lock:
            self._lost_answers = writes

    def _lose_answer(self, request: Request) -> bool:
        with self._lock:
            if request.method != "POST" or self._lost_answers <= 0:
                return False
            self._lost_answers -= 1
            return True

    # -- HTTP ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if request.path == "/_sandbox/ledger" and request.method == "GET":
            return json_response(200, {"ledger": self.ledger.snapshot(request.detail), "state": self.snapshot()})
        if request.path == self.token_path:
            return self._token(request)
        started = self.ledger.clock_time()
        problem = self._unauthorized(request)
        if problem is not None:
            self.ledger.end(started, request.method, request.path, 401, "unauthorized", "", problem, in_flight=False)
            return _error(BcError(401, "Authentication_InvalidCredentials", f"The server has rejected the client "
                                  f"credentials: {problem}."))
        decision = self.window.admit()
        with self._lock:
            admitted = decision.allowed and self._active < self.concurrency_limit
            if admitted:
                self._active += 1
                load = self._active
        if not admitted:
            why = "over the request window" if not decision.allowed else "over the concurrency limit"
            self.ledger.end(started, request.method, request.path, 429, "throttled", "", why, in_flight=False)
            headers = [("Retry-After", str(decision.reset))] if not decision.allowed else []
            return json_response(429, BcError(429, "Application_TooManyRequests", "The request limit has been "
                                              f"exceeded ({why}); retry after a cool-off period.").body(), headers)
        started = self.ledger.begin()
        try:
            response, outcome, detail = self._serve(request, load)
        finally:
            with self._lock:
                self._active -= 1
        self.ledger.end(started, request.method, request.path, response.status, outcome, _key(request), detail)
        return response

    def _token(self, request: Request) -> Response:
        started = self.ledger.clock_time()
        form = {k: v[-1] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        c = self.credentials
        if request.method != "POST" or form.get("grant_type") != "client_credentials":
            body: dict[str, Any] = {"error": "unsupported_grant_type",
                                    "error_description": "Only the client_credentials grant is served."}
            status = 400
        elif form.get("client_id") != c.client_id or form.get("client_secret") != c.client_secret:
            body = {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}
            status = 401
        elif form.get("scope") != "https://api.businesscentral.dynamics.com/.default":
            body = {"error": "invalid_scope", "error_description": f"The scope {form.get('scope')!r} is not valid."}
            status = 400
        else:
            with self._lock:
                self._issued += 1
                token = f"bc-sandbox-{self._seed}-{self._issued}"
                self._tokens[token] = self._clock.monotonic() + self.token_lifetime / self._scale
            body = {"token_type": "Bearer", "expires_in": self.token_lifetime, "ext_expires_in": self.token_lifetime,
                    "access_token": token}
            status = 200
        self.ledger.note("tokens_issued" if status == 200 else "tokens_refused")
        self.ledger.end(started, request.method, request.path, status, "token" if status == 200 else "unauthorized",
                        "", str(body.get("error", "")), in_flight=False)
        return json_response(status, body)

    def _unauthorized(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return "no bearer token"
        with self._lock:
            expiry = self._tokens.get(header[7:])
        if expiry is None:
            return "the token is not one this tenant issued"
        if self._clock.monotonic() >= expiry:
            return "the token has expired"
        return None

    def _serve(self, request: Request, load: int) -> tuple[Response, str, str]:
        identity = f"{request.method} {request.path}?{request.query_string} {request.body[:200]!r}"
        with self._lock:
            attempt = self._attempts[identity]
            self._attempts[identity] += 1
        gevent.sleep(erp_latency(self._profile, self._seed, identity, attempt, load, self.concurrency_limit)
                     / self._scale)
        self.faults.wait_open()
        if self._lose_answer(request):
            try:
                self._route(request)
            except BcError:
                pass
            return Response(0, reset=True), "reset", "answer lost after the write"
        fault = self.faults.current()
        if fault == "reset":
            if chance(self._seed, "reset-after", identity, attempt) < 0.5:
                try:
                    self._route(request)
                except BcError:
                    pass
            return Response(0, reset=True), "reset", "injected connection reset"
        if fault == "5xx" or chance(self._seed, "5xx", identity, attempt) < self._profile.erp_error_rate:
            status = 503 if chance(self._seed, "5xx-kind", identity, attempt) < 0.5 else 500
            error = BcError(status, "Internal_ServerError" if status == 500 else "Internal_TenantUnavailable",
                            "An unexpected error occurred; try again.")
            return _error(error), "error", f"injected {'burst' if fault else 'fault'}"
        try:
            return self._route(request)
        except BcError as exc:
            outcome = "duplicate" if exc.code == "Internal_EntityWithSameKeyExists" else (
                "not_found" if exc.status == 404 else "invalid")
            return _error(exc), outcome, f"{exc.code}: {exc.message}"

    def _route(self, request: Request) -> tuple[Response, str, str]:
        if not request.path.startswith(self._root):
            raise BcError(404, "BadRequest_NotFound", f"No resource at {request.path}: the path names no company "
                          "of this environment.")
        match = self._route_re.match(request.path[len(self._root):])
        if match is None:
            raise BcError(404, "BadRequest_NotFound", f"No resource at {request.path[len(self._root):]}.")
        entity, record, line, method = match["entity"], match["id"], match["line"], request.method
        c = self.company
        lines = "/salesOrderLines" in request.path
        if method == "GET":
            if lines and record:
                return json_response(200, {"value": c.order_lines(record)}), "ok", ""
            if record and entity == "salesOrders":
                return json_response(200, c.get_order(record)), "ok", ""
            field, value = _filter(request.query.get("$filter"))
            return json_response(200, {"value": c.find(entity, field, value)}), "ok", ""
        body = _json(request) if method in ("POST", "PATCH") else None
        if entity == "salesOrders" and lines and record:
            if method == "POST" and line is None:
                return json_response(201, c.add_line(record, body)), "created", ""
            if method == "PATCH" and line:
                return json_response(200, c.update_line(record, line, body)), "updated", ""
            if method == "DELETE" and line:
                c.delete_line(record, line)
                return Response(204), "deleted", ""
        elif entity == "salesOrders" and not lines:
            if method == "POST" and record is None:
                return json_response(201, c.create_order(body)), "created", ""
            if method == "DELETE" and record:
                c.delete_order(record)
                return Response(204), "deleted", ""
        elif entity == "customers" and not lines:
            if method == "POST" and record is None:
                return json_response(201, c.create_customer(body)), "created", ""
            if method == "PATCH" and record:
                return json_response(200, c.update_customer(record, body)), "updated", ""
        raise BcError(405, "BadRequest_MethodNotAllowed", f"{method} {request.path[len(self._root):]} is not "
                      "supported.")

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._active

    # -- what the sandbox reads ------------------------------------------------------

    def booked(self) -> dict[str, BookedOrder]:
        c = self.company
        out: dict[str, BookedOrder] = {}
        with c.lock:
            for order_id, record in sorted(c.orders.items(), key=lambda kv: kv[1]["createdAt"]):
                key = str(record.get("externalDocumentNumber") or "")
                if key and key not in out:
                    out[key] = BookedOrder(record["createdAt"], False, tuple(
                        ("" if line["lineObjectNumber"] == NON_SKU_ITEM else str(line["lineObjectNumber"]),
                         int(line["quantity"])) for line in c.lines[order_id]))
        return out

    def booked_ids(self) -> set[str]:
        c = self.company
        with c.lock:
            return {str(r.get("externalDocumentNumber") or "") for r in c.orders.values()}

    def duplicate_creates(self) -> int:
        """Sales orders beyond the first for one Shopify order, and numbers created twice."""
        c = self.company
        with c.lock:
            per_order = Counter(str(r.get("externalDocumentNumber") or "") for r in c.orders.values())
            return (sum(n - 1 for n in per_order.values() if n > 1)
                    + sum(n - 1 for n in c.creates.values() if n > 1))

    def snapshot(self) -> dict[str, Any]:
        c = self.company
        with c.lock:
            return {
                "company": c.id,
                "sales_orders": {str(r.get("externalDocumentNumber")): {
                    "id": r["id"], "number": r["number"],
                    "lines": [{"sku": x["lineObjectNumber"], "quantity": x["quantity"]} for x in c.lines[i]]}
                    for i, r in c.orders.items()},
                "deleted": sorted(str(r.get("externalDocumentNumber")) for r in c.deleted.values()),
                "customers": sorted(r["number"] for r in c.customers.values()),
                "repeat_creates": {k: n for k, n in c.creates.items() if n > 1},
                "duplicates": self.duplicate_creates(),
            }


def _error(error: BcError) -> Response:
    return json_response(error.status, error.body())


def _json(request: Request) -> Any:
    try:
        return request.json()
    except ValueError as exc:
        raise BcError(400, "BadRequest_InvalidRequestBody", f"The request body is not valid JSON: {exc}.") from None


def _filter(text: str | None) -> tuple[str | None, str]:
    """The one ``field eq 'value'`` clause Peppasync sends; anything else is refused as OData syntax."""
    if not text:
        return None, ""
    found = _FILTER.match(unquote(text))
    if found is None:
        raise BcError(400, "BadRequest_InvalidFilterExpression", f"The sandbox understands $filter=FIELD eq "
                      f"'VALUE' only, got {text!r}.")
    return found["field"], found["value"].replace("''", "'")


def _key(request: Request) -> str:
    """What a request was about, for the ledger: the filter's value or the record's id."""
    found = _FILTER.match(unquote(request.query.get("$filter", "")))
    if found is not None:
        return found["value"]
    ids = re.findall(r"\(([0-9a-f-]+)\)", request.path)
    return ids[-1] if len(ids) > 1 else ""

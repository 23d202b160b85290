"""The WSGI application: probes, metrics, webhooks and the ops API under ``/api/v1/``."""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, is_dataclass
from functools import partial
from typing import Any, Protocol

from peppasync.config import ConsoleConfig
from peppasync.errors import ConnectorLimitError, NotFoundError, PeppasyncError, StoreError, ValidationError
from peppasync.http.console import Console
from peppasync.http.console import handle as console_page
from peppasync.http.exposition import metrics_handler
from peppasync.http.request import HttpError, Request, Response, json_response
from peppasync.http.webhooks import LATE_AFTER_SECONDS, WebhookIngest
from peppasync.metrics import Metrics
from peppasync.store import Store

from actors.gate_board import gate_rows, send_signal
from actors.gate_workflows import GateSettings
from actors.margin_report import GROUPINGS, margin_of, margin_report, recost, since_epoch

__all__ = ["ConnectorControl", "Engine", "make_app"]

log = logging.getLogger("peppasync.http")

Handler = Callable[[Request], Response]


class ConnectorControl(Protocol):
    """What operators may do to a connector at runtime; ``max_limit`` is its configured ceiling."""

    max_limit: int

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def set_limit(self, limit: int) -> None: ...

    def stats(self) -> Mapping[str, Any]: ...


class Engine(Protocol):
    """What the HTTP layer needs from the running engine."""

    store: Store
    metrics: Metrics

    def readiness(self) -> dict[str, bool]: ...

    def status(self) -> dict[str, Any]: ...

    def connector(self, name: str) -> ConnectorControl | None: ...

    def now(self) -> float: ...


def make_app(
    engine: Engine,
    *,
    ops_token: str,
    shopify_secret: str,
    wms_token: str,
    max_body: int,
    late_webhook_seconds: float = LATE_AFTER_SECONDS,
    margins: bool = False,
    console: ConsoleConfig | None = None,
    gates: GateSettings | None = None,
) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """Build the WSGI callable; every route answers JSON, every error says what was wrong.

    A Shopify webhook triggered more than ``late_webhook_seconds`` before it
    arrives is logged as late (and processed all the same).
    """
    ingest = WebhookIngest(
        engine.store,
        engine.metrics,
        shopify_secret=shopify_secret,
        wms_token=wms_token,
        now=engine.now,
        late_after=late_webhook_seconds,
        margins=margins,
    )
    ops_api = _OpsApi(engine)
    routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []

    def route(method: str, pattern: str, handler: Handler, *, auth: bool = False) -> None:
        routes.append((method, re.compile(f"^{pattern}$"), handler, auth))

    if console is not None and console.users:
        pages = Console(engine.store, console, engine.now, gates=gates)
        for method, path, page in pages.routes:
            route(method, path, partial(console_page, pages, page))
    route("GET", "/healthz", lambda r: json_response({"status": "alive"}))
    route("GET", "/readyz", lambda r: _readyz(engine))
    route("GET", "/metrics", metrics_handler(engine.metrics.registry))
    route("POST", "/webhooks/shopify", ingest.shopify)
    route("POST", "/webhooks/wms", ingest.wms)
    route("GET", "/api/v1/status", lambda r: json_response(engine.status()), auth=True)
    route("GET", "/api/v1/quarantine", ops_api.quarantine_list, auth=True)
    route("GET", r"/api/v1/quarantine/(?P<id>\d+)", ops_api.quarantine_show, auth=True)
    route("POST", r"/api/v1/quarantine/(?P<id>\d+)/retry", ops_api.quarantine_retry, auth=True)
    route("POST", r"/api/v1/quarantine/(?P<id>\d+)/discard", ops_api.quarantine_discard, auth=True)
    gate_api = _GatesApi(engine, gates or GateSettings())
    route("GET", "/api/v1/gates", gate_api.list, auth=True)
    route("POST", r"/api/v1/gates/(?P<order>\d{1,20})/(?P<gate>[a-z][a-z0-9_]{0,31})/(?P<action>[a-z]+)",
          gate_api.signal, auth=True)
    route("GET", "/api/v1/margin", ops_api.margin_report, auth=True)
    route("GET", r"/api/v1/margin/(?P<id>\d{1,20})", ops_api.margin_show, auth=True)
    route("POST", r"/api/v1/margin/(?P<id>\d{1,20})/recost", ops_api.margin_recost, auth=True)
    route("POST", "/api/v1/margin/recost", ops_api.margin_recost_sku, auth=True)
    route("POST", r"/api/v1/connectors/(?P<name>[a-z_]+)/pause", ops_api.connector_pause, auth=True)
    route("POST", r"/api/v1/connectors/(?P<name>[a-z_]+)/resume", ops_api.connector_resume, auth=True)
    route("PUT", r"/api/v1/connectors/(?P<name>[a-z_]+)/limit", ops_api.connector_limit, auth=True)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ, max_body)
        try:
            response = _dispatch(request, routes, ops_token)
        except HttpError as exc:
            response = json_response({"error": exc.message, **exc.extra}, exc.status)
        except NotFoundError as exc:
            response = json_response({"error": str(exc)}, 404)
        except ConnectorLimitError as exc:
            response = json_response({"error": str(exc), "low": exc.low, "high": exc.high}, 400)
        except ValidationError as exc:
            response = json_response({"error": str(exc), "field": exc.field}, 422)
        except StoreError as exc:
            # The store's message names its file or host: for the log, not for every client.
            log.warning("request failed", extra={"path": request.path, "error": str(exc)})
            response = json_response({"error": "the store is unavailable; try again later"}, 503)
        except PeppasyncError as exc:
            log.warning("request failed", extra={"path": request.path, "error": str(exc)})
            response = json_response({"error": str(exc)}, 503)
        except Exception:
            log.exception("unexpected error serving %s %s", request.method, request.path)
            response = json_response({"error": "internal error; see the server log"}, 500)
        return response(start_response)

    return app


def _dispatch(
    request: Request, routes: list[tuple[str, re.Pattern[str], Handler, bool]], ops_token: str
) -> Response:
    allowed: list[str] = []
    for method, pattern, handler, auth in routes:
        match = pattern.match(request.path)
        if not match:
            continue
        if method != request.method:
            allowed.append(method)
            continue
        if auth:
            # WSGI's place for who authenticated; what the audit log records.
            request.environ["REMOTE_USER"] = _check_token(request, ops_token)
        request.params = match.groupdict()
        return handler(request)
    if allowed:
        raise HttpError(405, f"{request.method} is not allowed on {request.path}", allowed=allowed)
    raise HttpError(404, f"no route for {request.path}")


#: The principal of a request made with ``[server] ops_token``, as the audit log names it.
OPS_TOKEN_PRINCIPAL = "api:ops_token"


def _check_token(request: Request, ops_token: str) -> str:
    """The principal the bearer token authenticates; 401/403 when there is none."""
    if not ops_token:
        raise HttpError(403, "the ops API is disabled: set [server] ops_token (or PEPPASYNC_SERVER_OPS_TOKEN)")
    given = request.header("Authorization")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), ops_token.encode()):
        raise HttpError(401, "missing or wrong bearer token in the Authorization header")
    return OPS_TOKEN_PRINCIPAL


def _since(text: Any) -> float | None:
    try:
        return since_epoch(text)
    except ValueError as exc:
        raise HttpError(400, f"since {exc}") from None


def _readyz(engine: Engine) -> Response:
    checks = engine.readiness()
    ok = all(checks.values())
    return json_response({"ready": ok, "checks": checks}, 200 if ok else 503)


#: The most quarantine entries one answer carries; ``next`` leads to the rest.
MAX_PAGE = 1000


def _whole(query: Mapping[str, str], name: str, *, default: int, low: int, high: int | None = None) -> int:
    text = query.get(name)
    if text is None:
        return default
    bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
    try:
        value = int(text)
    except ValueError:
        raise HttpError(400, f"{name} must be a whole number {bounds}, got {text!r}") from None
    if value < low or (high is not None and value > high):
        raise HttpError(400, f"{name} must be a whole number {bounds}, got {text!r}")
    return value


def _plain(value: Any) -> Any:
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


class _GatesApi:
    """``GET /api/v1/gates?gate=&overdue=1&all=1``; ``POST /api/v1/gates/{order}/{gate}/{action}``
    with ``{"by": "who decided", "note": "why"}``."""

    def __init__(self, engine: Engine, settings: GateSettings) -> None:
        self._engine = engine
        self._settings = settings

    def list(self, request: Request) -> Response:
        query = request.query
        flags = {}
        for name in ("overdue", "all"):
            value = query.get(name, "0")
            if value not in ("0", "1", "true", "false"):
                raise HttpError(400, f"{name} must be 1 or 0, got {value!r}")
            flags[name] = value in ("1", "true")
        rows = gate_rows(self._engine.store, self._settings, self._engine.now(), gate=query.get("gate") or None,
                         overdue=flags["overdue"], closed=flags["all"])
        return json_response({"gates": [_plain(r) for r in rows], "now": self._engine.now()})

    def signal(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("by"), str) or not isinstance(
                body.get("note", ""), str):
            raise HttpError(400, 'expected {"by": "the approver\'s name", "note": "why"} (note is optional)')
        params = request.params
        signal_id = send_signal(self._engine.store, self._settings, params["order"], params["gate"],
                                params["action"], who=body["by"], why=body.get("note", ""),
                                via=request.environ["REMOTE_USER"], now=self._engine.now())
        return json_response({"order": params["order"], "gate": params["gate"], "action": params["action"],
                              "signal_id": signal_id}, 202)


class _OpsApi:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def quarantine_list(self, request: Request) -> Response:
        """One page of entries that match the filters, the total that match, and the next cursor."""
        query = request.query
        if "offset" in query:
            raise HttpError(400, "offset is not supported: page with after=<next> from the previous answer")
        limit = _whole(query, "limit", default=100, low=1, high=MAX_PAGE)
        after = _whole(query, "after", default=0, low=0)
        state = query.get("state", "open")
        if state not in ("open", "retried", "discarded"):
            raise HttpError(400, f"state must be open, retried or discarded, got {state!r}")
        page = self._engine.store.quarantine_page(
            state=state, kind=query.get("kind") or None, reason=query.get("reason") or None, limit=limit, after=after
        )
        return json_response({"entries": [_plain(e) for e in page.entries], "total": page.total, "next": page.next})

    def quarantine_show(self, request: Request) -> Response:
        return json_response(_plain(self._engine.store.quarantine_get(int(request.params["id"]))))

    def quarantine_retry(self, request: Request) -> Response:
        qid = int(request.params["id"])
        body = request.json(required=False) or {}
        if not isinstance(body, dict):
            raise HttpError(400, "expected a JSON object such as {\"payload\": {...}}")
        if "who" in body:
            raise HttpError(400, "who cannot be given: the audit log records the credential that made the request"
                                 f" ({request.environ['REMOTE_USER']})")
        payload = body.get("payload")
        if payload is not None and not isinstance(payload, dict):
            raise HttpError(400, "payload must be a JSON object")
        entry = self._engine.store.quarantine_get(qid)
        if entry.state != "open":
            raise HttpError(409, f"quarantine entry {qid} is already {entry.state}")
        # The requeue's commit hands the message to its actor (``actors.delivery``).
        message_id = self._engine.store.quarantine_retry(qid, who=request.environ["REMOTE_USER"], payload=payload)
        return json_response({"retried": qid, "message_id": message_id})

    def quarantine_discard(self, request: Request) -> Response:
        qid = int(request.params["id"])
        entry = self._engine.store.quarantine_get(qid)
        if entry.state != "open":
            raise HttpError(409, f"quarantine entry {qid} is already {entry.state}")
        self._engine.store.quarantine_discard(qid, who=request.environ["REMOTE_USER"])
        return json_response({"discarded": qid})

    def margin_show(self, request: Request) -> Response:
        return json_response(margin_of(self._engine.store, request.params["id"]))

    def margin_report(self, request: Request) -> Response:
        query = request.query
        by = query.get("by", "day")
        if by not in GROUPINGS:
            raise HttpError(400, f"by must be one of {', '.join(GROUPINGS)}, got {by!r}")
        since = _since(query.get("since") or None)
        worst = _whole(query, "worst", default=10, low=0, high=MAX_PAGE)
        return json_response(margin_report(self._engine.store, since=since, by=by, worst=worst))

    def margin_recost(self, request: Request) -> Response:
        """Read the order's unit costs again (a landed cost was booked, say) and recompute its margin."""
        order_id = request.params["id"]
        recost(self._engine.store, order_id=order_id, now=self._engine.now())  # 404 for an order with no margin
        return json_response({"recost": [order_id]})

    def margin_recost_sku(self, request: Request) -> Response:
        """Recost every order that sold a SKU (since a date): ``{"sku": "MUG", "since": "2026-11-01"}``."""
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("sku"), str) or not body["sku"]:
            raise HttpError(400, 'expected {"sku": "SKU", "since": "2026-11-01"} (since is optional)')
        keys = recost(self._engine.store, sku=body["sku"], since=_since(body.get("since")), now=self._engine.now())
        return json_response({"recost": keys})

    def _connector(self, request: Request) -> ConnectorControl:
        name = request.params["name"]
        found = self._engine.connector(name)
        if found is None:
            raise HttpError(404, f"no connector named {name!r}")
        return found

    def connector_pause(self, request: Request) -> Response:
        connector = self._connector(request)
        connector.pause()
        return json_response({"connector": request.params["name"], "paused": True, **connector.stats()})

    def connector_resume(self, request: Request) -> Response:
        connector = self._connector(request)
        connector.resume()
        return json_response({"connector": request.params["name"], "paused": False, **connector.stats()})

    def connector_limit(self, request: Request) -> Response:
        connector = self._connector(request)
        body = request.json()
        limit = body.get("limit") if isinstance(body, dict) else None
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise HttpError(400, f"expected {{\"limit\": N}} with N a whole number from 1 to {connector.max_limit}")
        if not 1 <= limit <= connector.max_limit:
            raise ConnectorLimitError(request.params["name"], limit, low=1, high=connector.max_limit)
        connector.set_limit(limit)
        return json_response({"connector": request.params["name"], **connector.stats()})

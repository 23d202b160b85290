"""The Shopify simulator: Admin GraphQL over HTTP with a token, a cost bucket and a ledger."""

from __future__ import annotations

import hmac
import re
from typing import Any

from graphql import DocumentNode, GraphQLError, execute_sync, parse, validate

from peppasync.clock import Clock

from .bucket import CostBucket
from .catalog import Catalog
from .ledger import Ledger
from .server import Request, Response, json_response
from .shop import ShopState
from .shopify_resolvers import ShopifyRoot
from .shopify_schema import MAX_QUERY_COST, build_shopify_schema, query_cost

__all__ = ["ShopifySimulator"]

_PATH = re.compile(r"^/admin/api/(?P<version>\d{4}-\d{2}|unstable)/graphql\.json$")
_DOCS = "https://shopify.dev/api/usage/rate-limits"
_CACHED_DOCUMENTS = 256


class ShopifySimulator:
    """Shopify's Admin GraphQL endpoint for one shop, its data (`shop`) and its `ledger`."""

    def __init__(self, catalog: Catalog, clock: Clock, *, access_token: str, bucket: CostBucket,
                 shop_domain: str = "peppasync-sandbox.myshopify.com") -> None:
        self.access_token = access_token
        self.shop_domain = shop_domain
        self.shop = ShopState(catalog, clock)
        self.bucket = bucket
        self.ledger = Ledger("shopify", clock)
        self.webhook_ledger: Ledger | None = None  # the sender's, when a sandbox wires one in
        self._schema = build_shopify_schema()
        self._documents: dict[str, tuple[DocumentNode | None, list[GraphQLError]]] = {}
        self._clock = clock

    def handle(self, request: Request) -> Response:
        """Serve one HTTP request (the WSGI server calls this)."""
        if request.path == "/_sandbox/ledger" and request.method == "GET":
            snapshot = {"ledger": self.ledger.snapshot(request.detail), "state": self.shop.snapshot()}
            if self.webhook_ledger is not None:
                snapshot["webhooks"] = self.webhook_ledger.snapshot(request.detail)
            return json_response(200, snapshot)
        started = self.ledger.begin()
        response, outcome, detail = self._serve(request)
        self.ledger.end(started, request.method, request.path, response.status, outcome, detail=detail)
        return response

    def _serve(self, request: Request) -> tuple[Response, str, str]:
        if _PATH.match(request.path) is None:
            return json_response(404, {"errors": "Not Found"}), "not_found", request.path
        if request.method != "POST":
            return json_response(405, {"errors": "use POST for GraphQL"}), "invalid", request.method
        token = request.headers.get("x-shopify-access-token", "")
        if not hmac.compare_digest(token.encode(), self.access_token.encode()):
            body = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
            return json_response(401, body), "unauthorized", ""
        try:
            payload = request.json()
        except ValueError as exc:
            return json_response(400, {"errors": str(exc)}), "invalid", str(exc)
        problem = None
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            problem = 'the body must be a JSON object with a "query" string'
        elif not isinstance(payload.get("variables") or {}, dict):
            problem = '"variables" must be a JSON object'
        if problem:
            return json_response(400, {"errors": problem}), "invalid", problem
        variables = payload.get("variables") or {}
        operation = payload.get("operationName") or None
        document, problems = self._parse(payload["query"])
        if problems:
            return self._errors([p.formatted for p in problems], 0), "invalid", problems[0].message
        assert document is not None
        requested = query_cost(document, self._schema, variables, operation)
        if requested > MAX_QUERY_COST:
            error = {"message": f"Query cost is {requested}, which exceeds the single query max cost limit "
                                f"({MAX_QUERY_COST}).", "extensions": {"code": "MAX_COST_EXCEEDED",
                                                                       "cost": requested,
                                                                       "maxCost": MAX_QUERY_COST}}
            return self._errors([error], requested), "too_costly", str(requested)
        if not self.bucket.take(requested):
            error = {"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": _DOCS}}
            return self._errors([error], requested), "throttled", str(requested)
        root = ShopifyRoot(self.shop, self.shop_domain)
        context: dict[str, Any] = {}
        result = execute_sync(self._schema, document, root_value=root, context_value=context,
                         variable_values=variables, operation_name=operation)
        actual = max(0, requested - root.refund)
        self.bucket.refund(requested - actual)
        self.ledger.note("points_spent", actual)
        answer: dict[str, Any] = {}
        if result.errors:
            answer["errors"] = [e.formatted for e in result.errors]
        answer["data"] = result.data
        answer["extensions"] = {"cost": self._cost(requested, actual)}
        outcome = "error" if result.errors else "replayed" if context.get("replayed") else "ok"
        return json_response(200, answer), outcome, ""

    def _parse(self, text: str) -> tuple[DocumentNode | None, list[GraphQLError]]:
        # Connectors send the same few documents over and over: parse and validate each once.
        cached = self._documents.get(text)
        if cached is None:
            try:
                document: DocumentNode | None = parse(text)
            except GraphQLError as exc:
                cached = (None, [exc])
            else:
                assert document is not None
                cached = (document, validate(self._schema, document))
            if len(self._documents) >= _CACHED_DOCUMENTS:
                self._documents.pop(next(iter(self._documents)))
            self._documents[text] = cached
        return cached

    def _errors(self, errors: list[Any], requested: int) -> Response:
        return json_response(200, {"errors": errors, "extensions": {"cost": self._cost(requested, None)}})

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {"requestedQueryCost": requested, "actualQueryCost": actual,
                "throttleStatus": self.bucket.status()}

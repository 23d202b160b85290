"""The Shopify simulator: Admin GraphQL over HTTP with a token, a cost bucket and a ledger.

Every request is first checked as Shopify's Admin API 2026-10 checks it, against Shopify's own
schema (``peppasync.contracts``): a document or variables Shopify would refuse are refused here
with Shopify's error shape, before anything runs. Only then do the sandbox's resolvers run it,
on the part of the schema they simulate (``shopify_schema.SDL``); a request Shopify would accept
that uses anything else is answered ``NOT_SIMULATED``, never silently half-run.

The sandbox serves only the version whose schema it ships. Shopify serves a retired version by
falling forward to its oldest supported one (Shopify staff:
https://community.shopify.com/t/is-the-older-version-of-shopify-api-2021-10-still-working/164634/2);
the sandbox has no other version's schema to fall forward to, so any other version is a 404 that
names the one it serves, rather than an answer shaped by the wrong schema.
"""

from __future__ import annotations

import hmac
import re
from typing import Any, NamedTuple

from graphql import DocumentNode, GraphQLError, execute_sync, parse, validate

from peppasync.clock import Clock
from peppasync.contracts import SHOPIFY_API_VERSION, shopify_document_errors, shopify_variable_errors

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
NOT_SIMULATED = "NOT_SIMULATED"


class _Checked(NamedTuple):
    """A document as the sandbox keeps it: parsed, with what Shopify refuses and what is not simulated."""

    document: DocumentNode | None
    refused: list[dict[str, Any]]
    not_simulated: list[dict[str, Any]]


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
        self.api_version = SHOPIFY_API_VERSION
        self._schema = build_shopify_schema()
        self._documents: dict[str, _Checked] = {}
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
        match = _PATH.match(request.path)
        if match is None:
            return json_response(404, {"errors": "Not Found"}), "not_found", request.path
        if match["version"] != self.api_version:
            body = {"errors": f"The sandbox serves Shopify Admin API {self.api_version} only (the schema it "
                              f"ships); use /admin/api/{self.api_version}/graphql.json"}
            return json_response(404, body), "not_found", request.path
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
        checked = self._check(payload["query"])
        refused = checked.refused
        if not refused and checked.document is not None:
            # As Shopify: the variables are checked once the document is valid.
            refused = shopify_variable_errors(checked.document, variables, operation)
        if refused:
            return self._errors(refused, 0), "invalid", refused[0]["message"]
        if checked.not_simulated:
            return self._errors(checked.not_simulated, 0), "not_simulated", checked.not_simulated[0]["message"]
        document = checked.document
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

    def _check(self, text: str) -> _Checked:
        # Connectors send the same few documents over and over: parse and check each once.
        checked = self._documents.get(text)
        if checked is None:
            try:
                document = parse(text)
            except GraphQLError as exc:
                checked = _Checked(None, [dict(exc.formatted)], [])
            else:
                refused = shopify_document_errors(document)
                missing = [] if refused else [_not_simulated(e) for e in validate(self._schema, document)]
                checked = _Checked(document, refused, missing)
            if len(self._documents) >= _CACHED_DOCUMENTS:
                self._documents.pop(next(iter(self._documents)))
            self._documents[text] = checked
        return checked

    def _errors(self, errors: list[Any], requested: int) -> Response:
        return json_response(200, {"errors": errors, "extensions": {"cost": self._cost(requested, None)}})

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {"requestedQueryCost": requested, "actualQueryCost": actual,
                "throttleStatus": self.bucket.status()}


def _not_simulated(error: GraphQLError) -> dict[str, Any]:
    answer: dict[str, Any] = dict(error.formatted)
    answer["message"] = (f"Shopify {SHOPIFY_API_VERSION} accepts this, but the sandbox does not simulate it: "
                         f"{error.message}")
    answer["extensions"] = {"code": NOT_SIMULATED}
    return answer

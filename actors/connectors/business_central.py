"""BusinessCentralConnector: one company of the Business Central API v2.0, with an OAuth 2.0 app token.

Contracts: ``peppasync/contracts/business_central.json``. Every request carries a bearer
token from the Microsoft identity platform (client credentials grant), kept until shortly
before it expires and fetched again when Business Central answers 401. Failures are
classified by HTTP status and the OData error code: 429 and 5xx are transient (429 honours
``Retry-After``), any other 4xx is refused with Business Central's own message.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
import requests.auth

from peppasync.config import BusinessCentralConfig
from peppasync.retry import RetryPolicy

from .aimd import AimdLimit
from .connector import Connector
from .failure import PermanentFailure, TransientFailure, classify_status
from .hooks import ConnectorHooks
from .limiter import Priority

__all__ = ["BcErrorBody", "BusinessCentralConnector", "DUPLICATE_KEY", "parse_error_body"]

#: The OData error code of an insert whose key (a document's or customer's number) is taken.
DUPLICATE_KEY = "Internal_EntityWithSameKeyExists"
# Renew a token this many seconds before the identity platform says it expires.
_EARLY = 60.0


@dataclass(frozen=True)
class BcErrorBody:
    """An OData error answer (contract: ErrorBody): Business Central's code and message."""

    code: str
    message: str


def parse_error_body(response: requests.Response) -> BcErrorBody:
    """``{"error": {"code", "message"}}``; the body's text when it is not that shape."""
    try:
        body = response.json()
    except ValueError:
        return BcErrorBody("", response.text[:200] or response.reason or "")
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return BcErrorBody(str(error.get("code") or ""), str(error.get("message") or ""))
    if isinstance(error, str):  # the identity platform's {error, error_description}
        return BcErrorBody(error, str(body.get("error_description") or ""))
    return BcErrorBody("", str(body)[:200])


class _Token:
    """The app's current access token; fetched by the login connector when missing or about to expire."""

    def __init__(self, connector: BusinessCentralConnector) -> None:
        self._connector = connector
        self._lock = threading.Lock()
        self._value = ""
        self._expires = 0.0
        # The token was fetched because Business Central refused the one before it.
        self.renewed = False

    def current(self) -> str:
        with self._lock:  # one fetch at a time: a surge of calls must not each log in
            if not self._value or self._connector.clock.monotonic() >= self._expires - _EARLY:
                self._value, lifetime = self._connector.fetch_token()
                self._expires = self._connector.clock.monotonic() + lifetime
            return self._value

    def refused(self, value: str) -> bool:
        """Forget ``value`` after a 401; True when it had already replaced a refused token."""
        with self._lock:
            again = self.renewed and value == self._value
            if value == self._value:
                self._value = ""
                self.renewed = True
            return again

    def accepted(self) -> None:
        self.renewed = False


class _BearerAuth(requests.auth.AuthBase):
    """Puts the current token on each attempt, so a retry after a 401 carries the new one."""

    def __init__(self, token: _Token) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token.current()}"
        return request


class BusinessCentralConnector(Connector):
    """One Business Central company; ``max_concurrency`` is the ceiling of the adaptive limit.

    The token endpoint is its own connector (``{name}_login``): another host, with its own
    limit, so that fetching a token never waits for a slot of the calls that need it.
    """

    def __init__(
        self,
        config: BusinessCentralConfig,
        *,
        name: str = "business_central",
        limit: AimdLimit | None = None,
        retry: RetryPolicy | None = None,
        hooks: ConnectorHooks | None = None,
        timeout: tuple[float, float] = (3.05, 60.0),
        session: requests.Session | None = None,
    ) -> None:
        missing = [k for k in ("tenant", "environment", "company_id", "client_id", "client_secret")
                   if not getattr(config, k)]
        if missing:
            raise ValueError(f"business central settings missing: "
                             f"{', '.join('business_central.' + k for k in missing)}")
        if config.max_concurrency < 1:
            raise ValueError(f"business_central.max_concurrency must be at least 1, got {config.max_concurrency}")
        ceiling = config.max_concurrency
        super().__init__(name, limit=limit or AimdLimit(ceiling, maximum=ceiling, latency_threshold=20.0),
                         retry=retry, hooks=hooks, timeout=timeout, session=session)
        self.config = config
        self.base = (f"{config.base_url.rstrip('/')}/v2.0/{quote(config.tenant, safe='')}/"
                     f"{quote(config.environment, safe='')}/api/v2.0/companies({config.company_id})/")
        self.token_url = f"{config.login_url.rstrip('/')}/{quote(config.tenant, safe='')}/oauth2/v2.0/token"
        self.login = Connector(f"{name}_login", limit=AimdLimit(2, maximum=2), retry=retry, hooks=hooks,
                               timeout=timeout)
        self._token = _Token(self)
        self.session.auth = _BearerAuth(self._token)

    def close(self) -> None:
        self.login.close()
        super().close()

    # -- the token ---------------------------------------------------------------

    def fetch_token(self) -> tuple[str, float]:
        """A new access token and its lifetime in seconds (contract: TokenRequest, TokenResponse)."""
        c = self.config

        def classify(response: requests.Response) -> tuple[str, float]:
            if response.status_code >= 400:
                error = parse_error_body(response)
                message = f"the token endpoint refused the app's credentials: {error.code}: {error.message}"
                classify_status(response, message, error.code)
            try:
                body = response.json()
                return str(body["access_token"]), float(body["expires_in"])
            except (ValueError, KeyError, TypeError):
                raise TransientFailure(f"HTTP {response.status_code} without a token", status=response.status_code,
                                       congestion=False) from None

        form = {"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.client_secret,
                "scope": c.scope}
        return self.login.exchange("POST", self.token_url, classify, priority=Priority.HIGH, data=form,
                                   headers={"Accept": "application/json"})

    # -- requests ----------------------------------------------------------------

    def _classify(self, response: requests.Response) -> requests.Response:
        """Raise what a 4xx/5xx means, judged by status and the OData error code."""
        if response.status_code < 400:
            self._token.accepted()
            return response
        error = parse_error_body(response)
        if response.status_code == 401:
            used = str(response.request.headers.get("Authorization", "")).removeprefix("Bearer ")
            if not self._token.refused(used):
                raise TransientFailure(f"token refused, fetching a new one: {error.code}: {error.message}",
                                       status=401, code=error.code or "UNAUTHORIZED", retry_after=0.0,
                                       congestion=False)
        classify_status(response, f"{error.code}: {error.message}" if error.code else error.message, error.code)
        return response

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None, *,
              priority: int = Priority.NORMAL, accept: tuple[int, ...] = ()) -> Any:
        """Send one request; the JSON answer, or None for 204 and for a status in ``accept``."""
        def classify(response: requests.Response) -> Any:
            if response.status_code in accept:
                return None
            self._classify(response)
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise TransientFailure(f"HTTP {response.status_code} without a JSON body",
                                       status=response.status_code, congestion=False) from None

        headers = {"Accept": "application/json"}
        if method in ("PATCH", "DELETE"):
            headers["If-Match"] = "*"  # last writer wins: the adapter read the record just before
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["json"] = body
        return self.exchange(method, self.base + path, classify, priority=priority, **kwargs)

    def _find(self, entity: str, field: str, value: str, *, priority: int) -> list[dict[str, Any]]:
        found = self._call("GET", f"{entity}?$filter={field} eq '{_odata_text(value)}'", priority=priority)
        records = found.get("value") if isinstance(found, dict) else None
        if not isinstance(records, list):
            raise TransientFailure("a collection answer without value", congestion=False)
        return [r for r in records if isinstance(r, dict)]

    # -- customers ---------------------------------------------------------------

    def find_customer(self, number: str, *, priority: int = Priority.NORMAL) -> dict[str, Any] | None:
        found = self._find("customers", "number", number, priority=priority)
        return found[0] if found else None

    def create_customer(self, body: dict[str, Any], *, priority: int = Priority.NORMAL) -> dict[str, Any] | None:
        """POST customers (contract: CustomerCreate); None when the number is taken already."""
        return self._insert("customers", body, priority=priority)

    def update_customer(self, customer_id: str, body: dict[str, Any], *, priority: int = Priority.NORMAL) -> None:
        self._call("PATCH", f"customers({customer_id})", body, priority=priority)

    # -- sales orders ------------------------------------------------------------

    def find_sales_orders(self, external_document_number: str, *,
                          priority: int = Priority.NORMAL) -> list[dict[str, Any]]:
        """The sales orders whose externalDocumentNumber is this (the Shopify order id)."""
        return self._find("salesOrders", "externalDocumentNumber", external_document_number, priority=priority)

    def find_sales_order(self, number: str, *, priority: int = Priority.NORMAL) -> dict[str, Any] | None:
        found = self._find("salesOrders", "number", number, priority=priority)
        return found[0] if found else None

    def create_sales_order(self, body: dict[str, Any], *,
                           priority: int = Priority.NORMAL) -> dict[str, Any] | None:
        """POST salesOrders with its lines (contract: SalesOrderCreate); None when the number is taken.

        The number is the order's key: a create sent again (its first answer lost on the
        way) is refused with ``DUPLICATE_KEY`` instead of making a second order.
        """
        return self._insert("salesOrders", body, priority=priority)

    def sales_order_lines(self, order_id: str, *, priority: int = Priority.NORMAL) -> list[dict[str, Any]]:
        found = self._call("GET", f"salesOrders({order_id})/salesOrderLines", priority=priority)
        records = found.get("value") if isinstance(found, dict) else None
        if not isinstance(records, list):
            raise TransientFailure("a collection answer without value", congestion=False)
        return sorted((r for r in records if isinstance(r, dict)), key=lambda r: int(r.get("sequence") or 0))

    def add_sales_order_line(self, order_id: str, body: dict[str, Any], *, priority: int = Priority.NORMAL) -> None:
        self._call("POST", f"salesOrders({order_id})/salesOrderLines", body, priority=priority)

    def update_sales_order_line(self, order_id: str, line_id: str, body: dict[str, Any], *,
                                priority: int = Priority.NORMAL) -> None:
        self._call("PATCH", f"salesOrders({order_id})/salesOrderLines({line_id})", body, priority=priority)

    def delete_sales_order_line(self, order_id: str, line_id: str, *, priority: int = Priority.NORMAL) -> None:
        """Delete a line; one gone already is gone."""
        self._call("DELETE", f"salesOrders({order_id})/salesOrderLines({line_id})", priority=priority,
                   accept=(404,))

    def delete_sales_order(self, order_id: str, *, priority: int = Priority.NORMAL) -> None:
        """Delete a sales order (how an unposted order is cancelled); one gone already is gone."""
        self._call("DELETE", f"salesOrders({order_id})", priority=priority, accept=(404,))

    # -- items -------------------------------------------------------------------

    def item_cost(self, sku: str) -> float | None:
        """The item's unit cost for margins; None when Business Central has no such item."""
        found = self._find("items", "number", sku, priority=Priority.NORMAL)
        cost = found[0].get("unitCost") if found else None
        return float(cost) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None

    def _insert(self, entity: str, body: dict[str, Any], *, priority: int) -> dict[str, Any] | None:
        def classify(response: requests.Response) -> dict[str, Any] | None:
            if response.status_code in (400, 409) and parse_error_body(response).code == DUPLICATE_KEY:
                return None
            self._classify(response)
            try:
                record = response.json()
            except ValueError:
                raise PermanentFailure(f"HTTP {response.status_code} without the created record",
                                       status=response.status_code) from None
            return record if isinstance(record, dict) else None

        return self.exchange("POST", self.base + entity, classify, priority=priority,
                             headers={"Accept": "application/json"}, json=body)


def _odata_text(value: str) -> str:
    """A string literal's content in an OData $filter: quotes doubled, the rest percent-encoded."""
    return quote(value.replace("'", "''"), safe="")

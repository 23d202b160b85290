"""NetsuiteConnector: SuiteTalk REST records with token-based auth (OAuth 1.0a, HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import requests
import requests.auth

from peppasync.config import NetsuiteConfig
from peppasync.retry import RetryPolicy

from .aimd import AimdLimit
from .connector import Connector
from .failure import PermanentFailure, TransientFailure, classify_status, parse_retry_after
from .hooks import ConnectorHooks
from .limiter import Priority
from .netsuite_account import NetsuiteAccount

__all__ = ["NetsuiteConnector", "NetsuiteErrorBody", "TokenAuth", "parse_error_body"]

_ROOT = "/services/rest/record/v1/"
# Over the concurrency limit REST answers 429; RESTlets answer 400 with SSS_REQUEST_LIMIT_EXCEEDED.
_THROTTLE_CODES = {"SSS_REQUEST_LIMIT_EXCEEDED", "CONCURRENCY_LIMIT_EXCEEDED"}
# A write's answer: 204 No Content, the record's URL (and so its internal id) in Location.
# The transactions besides the sales order that an order's money becomes.
_TRANSACTIONS = ("customerDeposit", "creditMemo", "cashRefund", "returnAuthorization")
_LOCATION = re.compile(r"/services/rest/record/v1/(?P<kind>[A-Za-z]+)/(?P<id>[0-9]+)/?$")


def _escape(value: str) -> str:
    """RFC 5849 3.6: every byte of the UTF-8 but A-Z a-z 0-9 - . _ ~ as %XX (upper case)."""
    return quote(value, safe="")


def _base_uri(url: str) -> tuple[str, str]:
    """The base string URI (RFC 5849 3.4.1.2: scheme and host in lower case, the port only when
    it is not the scheme's default, no query) and the query."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path or '/'}", parts.query


class TokenAuth(requests.auth.AuthBase):
    """Signs each request (each retry gets a fresh nonce) as NetSuite TBA expects: OAuth 1.0a,
    HMAC-SHA256 (RFC 5849 3.4), the account id as the realm.

    The JSON body is not part of an OAuth 1.0a signature; the query string is. Signed here
    rather than by a general OAuth client, which builds itself anew and takes four times as long
    for every call: a surge signs thousands. The sandbox checks each signature with oauthlib's
    own base string (``peppasync.sandbox.signature``).
    """

    def __init__(self, config: NetsuiteConfig) -> None:
        self._config = config
        self._key = f"{_escape(config.consumer_secret)}&{_escape(config.token_secret)}".encode()
        self._realm = f'OAuth realm="{_escape(config.account_id)}", '

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self.authorization(str(request.method), str(request.url))
        return request

    def authorization(self, method: str, url: str, *, nonce: str | None = None,
                      timestamp: int | None = None) -> str:
        """The ``Authorization`` header for one request (a fresh nonce and the time now unless given)."""
        c = self._config
        oauth = [
            ("oauth_consumer_key", c.consumer_key),
            ("oauth_nonce", nonce or secrets.token_hex(16)),
            ("oauth_signature_method", "HMAC-SHA256"),
            ("oauth_timestamp", str(int(time.time()) if timestamp is None else timestamp)),
            ("oauth_token", c.token_id),
            ("oauth_version", "1.0"),
        ]
        uri, query = _base_uri(url)
        # 3.4.1.3: the query's pairs (form-decoded) and the oauth_ ones, each side escaped, sorted.
        pairs = sorted((_escape(k), _escape(v)) for k, v in [*oauth, *parse_qsl(query, keep_blank_values=True)])
        normalized = "&".join(f"{k}={v}" for k, v in pairs)
        base = f"{method.upper()}&{_escape(uri)}&{_escape(normalized)}"
        signature = base64.b64encode(hmac.new(self._key, base.encode(), hashlib.sha256).digest()).decode()
        return self._realm + ", ".join(f'{k}="{_escape(v)}"' for k, v in [*oauth, ("oauth_signature", signature)])


@dataclass(frozen=True)
class NetsuiteErrorBody:
    """What an error answer says (contract: netsuite ErrorBody): a message for people, codes for machines."""

    message: str
    codes: tuple[str, ...]

    @property
    def code(self) -> str:
        return self.codes[0] if self.codes else ""


def parse_error_body(response: requests.Response) -> NetsuiteErrorBody:
    """NetSuite's ``{type, title, status, o:errorDetails: [{detail, o:errorCode, o:errorPath}]}``.

    Every detail's code is kept (one answer may carry several); the message joins the
    details with their paths. Nothing downstream reads the message to decide anything.
    """
    try:
        body = response.json()
    except ValueError:
        return NetsuiteErrorBody((response.text[:200] or response.reason or ""), ())
    if not isinstance(body, dict):
        return NetsuiteErrorBody(str(body)[:200], ())
    details = [d for d in body.get("o:errorDetails") or [] if isinstance(d, dict)]
    codes = tuple(str(d["o:errorCode"]) for d in details if d.get("o:errorCode"))
    parts = []
    for d in details:
        text = str(d.get("detail", ""))
        if d.get("o:errorPath"):
            text += f" (at {d['o:errorPath']})"
        parts.append(text)
    return NetsuiteErrorBody("; ".join(p for p in parts if p) or str(body.get("title", "")), codes)


class NetsuiteConnector(Connector):
    """One NetSuite account; ``max_concurrency`` is the ceiling of the adaptive limit."""

    def __init__(
        self,
        config: NetsuiteConfig,
        *,
        name: str = "netsuite",
        limit: AimdLimit | None = None,
        retry: RetryPolicy | None = None,
        hooks: ConnectorHooks | None = None,
        timeout: tuple[float, float] = (3.05, 60.0),
        session: requests.Session | None = None,
    ) -> None:
        missing = [k for k in ("account_id", "consumer_key", "consumer_secret", "token_id", "token_secret")
                   if not getattr(config, k)]
        if missing:
            raise ValueError(f"netsuite credentials missing: {', '.join('netsuite.' + k for k in missing)}")
        if config.max_concurrency < 1:
            raise ValueError(f"netsuite.max_concurrency must be at least 1, got {config.max_concurrency}")
        ceiling = config.max_concurrency
        super().__init__(name, limit=limit or AimdLimit(ceiling, maximum=ceiling, latency_threshold=20.0),
                         retry=retry, hooks=hooks, timeout=timeout, session=session)
        self.config = config
        self.base = config.base_url.rstrip("/") + _ROOT
        self.session.auth = TokenAuth(config)
        self.account = NetsuiteAccount.from_config(config)

    def _classify(self, response: requests.Response) -> requests.Response:
        """Raise what a 4xx/5xx means, judged by status and ``o:errorCode`` alone."""
        if response.status_code < 400:
            return response
        error = parse_error_body(response)
        if _THROTTLE_CODES.intersection(error.codes):
            raise TransientFailure(f"over the account's concurrency limit: {error.message}",
                                   status=response.status_code, code=error.code, throttled=True,
                                   retry_after=parse_retry_after(response.headers.get("Retry-After")))
        classify_status(response, error.message, error.code)
        return response

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None, *,
              priority: int = Priority.NORMAL) -> requests.Response:
        kwargs: dict[str, Any] = {"headers": {"Accept": "application/json"}}
        if body is not None:
            kwargs["json"] = body
        return self.exchange(method, self.base + path, self._classify, priority=priority, **kwargs)

    def _write(self, method: str, kind: str, path: str, body: dict[str, Any], *,
               priority: int = Priority.NORMAL) -> str:
        """Send a write; the internal id of the record, read from the answer's Location."""
        def classify(response: requests.Response) -> str:
            self._classify(response)
            found = _LOCATION.search(response.headers.get("Location", ""))
            if found is None or found["kind"] != kind:
                raise PermanentFailure(
                    f"HTTP {response.status_code} with Location {response.headers.get('Location')!r}: NetSuite "
                    f"answers a {kind} write with 204 and the record's URL (.../{kind}/<internal id>)",
                    status=response.status_code)
            return found["id"]

        return self.exchange(method, self.base + path, classify, priority=priority,
                             headers={"Accept": "application/json"}, json=body)

    def upsert_customer(self, customer_id: str | int, body: dict[str, Any], *,
                        priority: int = Priority.NORMAL) -> str:
        """Create or update ``customer/eid:shopify-customer-{id}``; returns the internal id.

        In a OneWorld account the configured subsidiary is added to the body.
        """
        path = f"customer/eid:shopify-customer-{_eid(customer_id)}"
        return self._write("PUT", "customer", path, self.account.customer(body), priority=priority)

    def upsert_sales_order(self, order_id: str | int, body: dict[str, Any], *,
                           priority: int = Priority.NORMAL) -> str:
        """Create or update ``salesOrder/eid:{order_id}`` (204 + Location); returns the internal id.

        ``replace=item``: on an update the lines sent become the order's lines; without it NetSuite
        adds them to the lines it has, and a changed order would be booked twice (the same for
        the tax details, when the body sets them). The account
        fills in the guest customer and the currency's internal id (``NetsuiteAccount``).
        """
        path = f"salesOrder/eid:{_eid(order_id)}?replace={_replaced(body)}"
        return self._write("PUT", "salesOrder", path, self.account.sales_order(body), priority=priority)

    def upsert_transaction(self, kind: str, external_id: str, body: dict[str, Any], *,
                           priority: int = Priority.NORMAL) -> str:
        """Create or update ``{kind}/eid:{external_id}`` (a customerDeposit, creditMemo, cashRefund or
        returnAuthorization); returns the internal id. The account completes the customer (the
        deposit's is ``customer``, every other's ``entity``) and the currency."""
        if kind not in _TRANSACTIONS:
            raise ValueError(f"not a transaction this connector writes: {kind!r}")
        path = f"{kind}/eid:{_eid(external_id)}" + (f"?replace={_replaced(body)}" if kind != "customerDeposit" else "")
        body = self.account.transaction(body, "customer" if kind == "customerDeposit" else "entity")
        return self._write("PUT", kind, path, body, priority=priority)

    def cancel_sales_order(self, order_id: str | int) -> None:
        """Set the sales order's status to Cancelled (``C``)."""
        self._send("PATCH", f"salesOrder/eid:{_eid(order_id)}", {"orderStatus": {"id": "C"}})

    def item_cost(self, sku: str) -> float | None:
        """The item's cost for margins: average cost, else last purchase price, else purchase price.

        None when NetSuite has no such item (404 NONEXISTENT_ID); any other 404 (a wrong base
        URL, say) is an error, not a missing item.
        """
        costs = self.item_costs(sku)
        if costs is None:
            return None
        return next((costs[key] for key in ("averageCost", "lastPurchasePrice", "cost") if key in costs), None)

    def item_costs(self, sku: str, *, priority: int = Priority.HIGH) -> dict[str, float] | None:
        """The item record's cost fields that hold a number (``averageCost``, ``lastPurchasePrice``,
        ``cost``); None when NetSuite has no such item (404 NONEXISTENT_ID).

        A short read a margin is waiting for: it goes ahead of queued sales orders (``priority``)."""
        def classify(response: requests.Response) -> dict[str, Any] | None:
            if response.status_code == 404 and parse_error_body(response).code == "NONEXISTENT_ID":
                return None
            self._classify(response)
            try:
                record = response.json()
            except ValueError:
                raise TransientFailure(f"HTTP {response.status_code} without a JSON record",
                                       status=response.status_code, congestion=False) from None
            return record if isinstance(record, dict) else {}

        record = self.exchange("GET", self.base + f"inventoryItem/eid:{_eid(sku)}", classify, priority=priority,
                               headers={"Accept": "application/json"})
        if record is None:
            return None
        return {key: float(value) for key in ("averageCost", "lastPurchasePrice", "cost")
                if isinstance(value := record.get(key), (int, float)) and not isinstance(value, bool)}


def _replaced(body: dict[str, Any]) -> str:
    """The sublists an update replaces rather than adds to: the lines, and the tax details when set."""
    return "item,taxDetails" if "taxDetails" in body else "item"


def _eid(value: str | int) -> str:
    text = str(value)
    if not text or any(not (ch.isalnum() or ch in "_-") for ch in text):
        raise ValueError(f"a NetSuite external id may hold letters, digits, '_' and '-' only, got {value!r}")
    return text

"""The NetSuite side end to end: the bodies the order flow builds, as the connector puts them on the wire.

Requests are captured as they leave the connector (a response hook on its session) and
checked against ``peppasync/contracts/netsuite.json``; the sandbox, which enforces the same
contract, must accept them and hold what Shopify sold. Classification is judged by status
and ``o:errorCode`` only, which stub servers with misleading details show.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from importlib import resources
from typing import Any

import oauthlib.oauth1
import pytest
import requests

from peppasync.backoff import Backoff
from peppasync.config import NetsuiteConfig, parse_config
from peppasync.contracts import check
from peppasync.errors import ConnectorError
from peppasync.sandbox import PROFILES, Sandbox
from peppasync.sandbox.erp import NON_SKU_ITEM_ID
from peppasync.sandbox.signature import OAuthCredentials, OAuthVerifier, authorization_parameters

from actors.adapters.netsuite import customer_record, sales_order_record
from actors.connectors import NetsuiteConnector, RetryPolicy
from actors.connectors.netsuite import TokenAuth
from actors.domain import Order
from actors.validation import normalise_order

from .conftest import Handler, StubServer, json_body

QUIET = replace(PROFILES["calm"], name="quiet", erp_latency_median=0.001, erp_latency_sigma=0.0)
FAST_RETRY = RetryPolicy(max_attempts=4, deadline=5.0, backoff=Backoff(base=0.001, cap=0.005))
# Which contract each write keeps, by record type in its URL.
CONTRACTS = {("PUT", "customer"): "CustomerUpsert", ("PUT", "salesOrder"): "SalesOrderUpsert",
             ("PATCH", "salesOrder"): "SalesOrderCancel"}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(QUIET, seed=21) as sb:
        yield sb


class Wire:
    """A connector to the sandbox and every request it sent, with its answer."""

    def __init__(self, sb: Sandbox, **netsuite: Any) -> None:
        sections = sb.config_sections()
        config = parse_config({"netsuite": {**sections["netsuite"], **netsuite}}).netsuite
        self.erp = NetsuiteConnector(config, retry=FAST_RETRY)
        self.sent: list[tuple[requests.PreparedRequest, requests.Response]] = []
        self.erp.session.hooks["response"].append(self._keep)

    def _keep(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.sent.append((response.request, response))

    def writes(self) -> list[tuple[str, dict[str, Any]]]:
        """(contract name, body) of every write sent."""
        out = []
        for request, _ in self.sent:
            kind = str(request.path_url).split("/record/v1/", 1)[1].split("/", 1)[0]
            if (str(request.method), kind) in CONTRACTS:
                body = request.body if isinstance(request.body, (bytes, str)) else b"{}"
                out.append((CONTRACTS[(str(request.method), kind)], json.loads(body)))
        return out


def _placed(sb: Sandbox, kind: str, lines_mean: float = 3.0) -> dict[str, Any]:
    """A valid Shopify order payload of one kind (a messy kind of the generator, or guest / customer)."""
    messy = kind if kind not in ("customer", "guest") else None
    placed = sb.place_orders(1, malformed_ratio=0.0, messy_ratio=1.0 if messy else 0.0, lines_mean=lines_mean,
                             messy_kinds=(messy,) if messy else ())[0]
    payload = dict(placed.payload)
    if kind == "guest":
        payload.pop("customer")
    return payload


def _sync(wire: Wire, payload: dict[str, Any]) -> dict[str, Any]:
    """What the order actor does with the ERP for a new order: customer first, then the sales order."""
    order = normalise_order(payload, non_sku_lines=True)
    typed = Order.from_record(order)
    if typed.customer is not None:
        wire.erp.upsert_customer(typed.customer.id, customer_record(typed.customer))
    wire.erp.upsert_sales_order(order["id"], sales_order_record(typed, NON_SKU_ITEM_ID))
    return order


KINDS = ["customer", "guest", "gift_card", "discount", "other_currency", "test_order", "yen", "no_sku_line"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_body_sent_for_an_order_keeps_the_netsuite_contract_and_netsuite_holds_what_was_sold(
        sandbox: Sandbox, kind: str) -> None:
    wire = Wire(sandbox)
    payload = _placed(sandbox, kind)

    order = _sync(wire, payload)

    writes = wire.writes()
    assert [name for name, _ in writes] == (["SalesOrderUpsert"] if kind == "guest"
                                            else ["CustomerUpsert", "SalesOrderUpsert"])
    assert [(name, check("netsuite", name, body)) for name, body in writes] == [(name, []) for name, _ in writes]
    record = sandbox.netsuite.erp.sales_orders()[order["id"]]
    amounts = sum(Decimal(str(line["amount"])) for line in record["item"]["items"])
    assert amounts == Decimal(payload["subtotal_price"])  # NetSuite's lines add up to Shopify's subtotal
    currency = record.get("currency", {}).get("id")
    assert sandbox.netsuite.erp.currencies[currency] == payload["currency"]


def test_an_order_without_a_shopify_customer_is_booked_to_the_configured_guest_customer(sandbox: Sandbox) -> None:
    wire = Wire(sandbox)

    order = _sync(wire, _placed(sandbox, "guest"))

    assert sandbox.netsuite.erp.sales_orders()[order["id"]]["entity"] == {"id": sandbox.netsuite.erp.guest_customer}


def test_a_guest_order_without_a_configured_guest_customer_is_refused_before_anything_is_sent(
        sandbox: Sandbox) -> None:
    wire = Wire(sandbox, guest_customer="")

    with pytest.raises(ConnectorError) as caught:
        _sync(wire, _placed(sandbox, "guest"))

    assert (caught.value.transient, caught.value.code) == (False, "CONFIG_GUEST_CUSTOMER")
    assert "[netsuite] guest_customer" in str(caught.value)
    assert wire.sent == [] and sandbox.netsuite.ledger.entries() == []


def test_a_currency_missing_from_the_map_is_refused_and_without_a_map_the_customers_currency_applies(
        sandbox: Sandbox) -> None:
    partial = Wire(sandbox, currencies={"USD": 1})
    unmapped = Wire(sandbox, currencies={})
    payload = _placed(sandbox, "other_currency")

    with pytest.raises(ConnectorError) as caught:
        _sync(partial, payload)
    order = _sync(unmapped, payload)

    assert (caught.value.transient, caught.value.code) == (False, "CONFIG_CURRENCIES")
    assert payload["currency"] in str(caught.value)
    assert "currency" not in sandbox.netsuite.erp.sales_orders()[order["id"]]


def test_a_changed_order_sent_again_has_only_its_new_lines_in_netsuite(sandbox: Sandbox) -> None:
    wire = Wire(sandbox)
    payload = _placed(sandbox, "customer")
    extra = sandbox.catalog.items[-2]
    added = {**payload["line_items"][0], "id": 1, "sku": extra.sku, "price": str(extra.price), "quantity": 1,
             "current_quantity": 1}
    bigger = {**payload, "line_items": [*payload["line_items"], added],
              **{key: str(Decimal(payload[key]) + extra.price)
                 for key in ("subtotal_price", "total_price", "current_subtotal_price", "current_total_price")}}
    order = _sync(wire, bigger)

    _sync(wire, payload)  # the customer removed a line

    lines = sandbox.netsuite.erp.sales_orders()[order["id"]]["item"]["items"]
    assert [line["item"]["externalId"] for line in lines] == [line["sku"] for line in payload["line_items"]]
    assert all("replace=item" in str(request.url) for request, _ in wire.sent if "salesOrder" in str(request.url))


def test_a_cancellation_keeps_its_contract_and_the_internal_id_comes_from_the_location(sandbox: Sandbox) -> None:
    wire = Wire(sandbox)
    order = normalise_order(_placed(sandbox, "guest"))

    internal = wire.erp.upsert_sales_order(order["id"], sales_order_record(Order.from_record(order)))
    wire.erp.cancel_sales_order(order["id"])

    record = sandbox.netsuite.erp.sales_orders()[order["id"]]
    assert internal == record["id"]
    assert wire.writes()[-1] == ("SalesOrderCancel", {"orderStatus": {"id": "C"}})
    assert check("netsuite", "SalesOrderCancel", wire.writes()[-1][1]) == []
    assert record["orderStatus"]["id"] == "C"


def test_item_cost_reads_the_inventory_item_the_contract_describes_average_cost_first(sandbox: Sandbox) -> None:
    wire = Wire(sandbox)
    item = sandbox.catalog.items[3]

    cost = wire.erp.item_cost(item.sku)

    answer = wire.sent[-1][1].json()
    assert check("netsuite", "InventoryItem", answer) == []
    assert cost == answer["averageCost"] == float(item.cost)
    assert wire.erp.item_cost("NO-SUCH-SKU") is None


# -- classification by status and o:errorCode, never by detail ---------------------------------

def _config(url: str) -> NetsuiteConfig:
    return NetsuiteConfig(base_url=url, account_id="1_SB1", consumer_key="ck", consumer_secret="cs", token_id="tk",
                          token_secret="ts", max_concurrency=2, guest_customer="7")


def _answer(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> Handler:
    body = {"type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html", "title": "Error", "status": status,
            "o:errorDetails": [{"detail": detail, "o:errorCode": code}]}

    def handle(request: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json", **(headers or {})}, json_body(body)
    return handle


ORDER = {"entity": {"id": "7"}, "item": {"items": [{"item": {"externalId": "PS-0001"}, "quantity": 1}]}}


def test_a_400_whose_detail_reads_like_throttling_is_still_refused_for_good(
        stub: Callable[[Handler], StubServer]) -> None:
    server = stub(_answer(400, "USER_ERROR", "Concurrent request limit exceeded. Request blocked. Try again."))
    erp = NetsuiteConnector(_config(server.url), retry=FAST_RETRY)

    with pytest.raises(ConnectorError) as caught:
        erp.upsert_sales_order(1, ORDER)

    assert (caught.value.transient, caught.value.status, caught.value.code) == (False, 400, "USER_ERROR")
    assert len(server.requests) == 1


def test_a_400_with_a_throttling_code_is_retried_whatever_its_detail_says(
        stub: Callable[[Handler], StubServer]) -> None:
    server = stub(_answer(400, "SSS_REQUEST_LIMIT_EXCEEDED", "Invalid content in the request body."))
    erp = NetsuiteConnector(_config(server.url), retry=FAST_RETRY)

    with pytest.raises(ConnectorError) as caught:
        erp.upsert_sales_order(1, ORDER)

    assert (caught.value.transient, caught.value.code) == (True, "SSS_REQUEST_LIMIT_EXCEEDED")
    assert len(server.requests) == FAST_RETRY.max_attempts
    assert erp.throttled == FAST_RETRY.max_attempts


def test_a_404_that_is_not_netsuites_nonexistent_id_is_an_error_not_a_missing_item(
        stub: Callable[[Handler], StubServer]) -> None:
    server = stub(lambda request: (404, {"Content-Type": "text/html"}, b"<h1>Not Found</h1>"))
    erp = NetsuiteConnector(_config(server.url), retry=FAST_RETRY)

    with pytest.raises(ConnectorError) as caught:
        erp.item_cost("PS-0001")

    assert (caught.value.transient, caught.value.status) == (False, 404)


def test_a_write_answered_without_a_location_is_refused_as_outside_the_contract(
        stub: Callable[[Handler], StubServer]) -> None:
    server = stub(lambda request: (204, {}, b""))
    erp = NetsuiteConnector(_config(server.url), retry=FAST_RETRY)

    with pytest.raises(ConnectorError) as caught:
        erp.upsert_sales_order(1, ORDER)

    assert caught.value.transient is False and "Location" in str(caught.value)


SIGNED_URLS = [
    "https://1234568-sb1.suitetalk.api.netsuite.com/services/rest/record/v1/salesOrder/eid:1001",
    "http://127.0.0.1:46503/services/rest/record/v1/customer?q=email%20IS%20%22a%2Bb%40example.com%22&limit=5",
    "HTTP://Example.COM:80/services/rest/record/v1/salesOrder?b=2&a=1&a=0&empty=&plus=a+b&caf%C3%A9=%C3%A9t%C3%A9",
    "https://example.com:8443/services/rest/query/v1/suiteql?limit=1000&offset=0",
]


@pytest.mark.parametrize("url", SIGNED_URLS)
def test_a_request_is_signed_as_oauthlib_signs_it_and_the_sandbox_accepts_it_once(url: str) -> None:
    config = NetsuiteConfig(base_url="https://example.com", account_id="1234568_SB1", consumer_key="ck & co",
                            consumer_secret="cs/1+2", token_id="tk~1", token_secret="ts=3")
    ours = TokenAuth(config).authorization("put", url, nonce="n0nce7Ab", timestamp=1765000000)
    reference = oauthlib.oauth1.Client(
        "ck & co", client_secret="cs/1+2", resource_owner_key="tk~1", resource_owner_secret="ts=3",
        signature_method=oauthlib.oauth1.SIGNATURE_HMAC_SHA256, realm="1234568_SB1",
        nonce="n0nce7Ab", timestamp="1765000000",
    ).sign(url, "PUT")[1]["Authorization"]
    signature = dict(part.split("=", 1) for part in ours.removeprefix("OAuth ").split(", "))["oauth_signature"]

    assert signature in reference
    verifier = OAuthVerifier(OAuthCredentials("1234568_SB1", "ck & co", "cs/1+2", "tk~1", "ts=3"))
    assert verifier.verify("PUT", url, ours, b'{"a": 1}', "application/json") is None
    assert verifier.verify("PUT", url, ours, b"", "application/json") == "the nonce was already used"


def test_every_authorization_header_keeps_netsuites_tba_contract_and_the_sandbox_refuses_one_that_breaks_it() -> None:
    config = NetsuiteConfig(base_url="https://example.com", account_id="1234568_SB1", consumer_key="ck",
                            consumer_secret="cs", token_id="tk", token_secret="ts")
    url = "https://example.com/services/rest/record/v1/customer?limit=5"
    auth = TokenAuth(config)
    headers = [auth.authorization("GET", url) for _ in range(50)]

    assert [p for h in headers for p in check("netsuite", "TbaAuthorization", authorization_parameters(h))] == []
    document = json.loads(resources.files("peppasync.contracts").joinpath("netsuite.json").read_text())
    documented = frozenset(document["$defs"]["TbaAuthorization"]["properties"])
    assert {frozenset(authorization_parameters(h)) for h in headers} == {documented}  # no parameter of our own
    verifier = OAuthVerifier(OAuthCredentials("1234568_SB1", "ck", "cs", "tk", "ts"))
    sha1 = headers[0].replace('oauth_signature_method="HMAC-SHA256"', 'oauth_signature_method="HMAC-SHA1"')
    assert verifier.verify("GET", url, sha1, b"", "") == (
        "the Authorization header breaks NetSuite's TBA contract: oauth_signature_method: 'HMAC-SHA256' was expected")
    no_version = headers[1].replace(', oauth_version="1.0"', "")
    assert verifier.verify("GET", url, no_version, b"", "") == (
        "the Authorization header breaks NetSuite's TBA contract: (body): 'oauth_version' is a required property")
    spaced = auth.authorization("GET", url, nonce="has space")
    assert verifier.verify("GET", url, spaced, b"", "").startswith(
        "the Authorization header breaks NetSuite's TBA contract: oauth_nonce: 'has space' does not match")
    assert verifier.verify("GET", url, headers[2], b"", "") is None


def test_a_signature_does_not_hold_for_another_url_method_or_secret() -> None:
    config = NetsuiteConfig(base_url="https://example.com", account_id="1_SB1", consumer_key="ck",
                            consumer_secret="cs", token_id="tk", token_secret="ts")
    url = "https://example.com/services/rest/record/v1/customer?limit=5"
    auth = TokenAuth(config)
    verifier = OAuthVerifier(OAuthCredentials("1_SB1", "ck", "cs", "tk", "ts"))

    assert verifier.verify("GET", url.replace("5", "6"), auth.authorization("GET", url), b"", "") == (
        "the signature does not match")
    assert verifier.verify("DELETE", url, auth.authorization("GET", url), b"", "") == "the signature does not match"
    other = TokenAuth(replace(config, token_secret="another"))
    assert verifier.verify("GET", url, other.authorization("GET", url), b"", "") == "the signature does not match"
    first, second = auth.authorization("GET", url), auth.authorization("GET", url)
    assert first != second  # a fresh nonce each time
    assert verifier.verify("GET", url, first, b"", "") is None and verifier.verify("GET", url, second, b"", "") is None

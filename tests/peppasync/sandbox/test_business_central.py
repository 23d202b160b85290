"""The Business Central simulator's contract, spoken over HTTP as a connector would, with a real token.

The required-field tests are generated from ``peppasync/contracts/business_central.json``'s
own ``required`` lists: a field the contract comes to require is refused by the simulator
and tested here without anyone writing a new test.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import replace
from importlib import resources
from typing import Any

import pytest
import requests

from peppasync.contracts import check
from peppasync.sandbox import PROFILES, Sandbox

QUIET = replace(PROFILES["calm"], name="quiet", erp_latency_median=0.001, erp_latency_sigma=0.0)
CONTRACT: dict[str, Any] = json.loads(
    resources.files("peppasync.contracts").joinpath("business_central.json").read_text())
LINE = {"lineType": "Item", "lineObjectNumber": "PS-0001", "description": "Tee", "quantity": 2, "unitPrice": 19.5}
ORDER = {"number": "SH500", "externalDocumentNumber": "500", "customerNumber": "GUEST", "currencyCode": "USD",
         "orderDate": "2026-11-27", "salesOrderLines": [LINE]}
CUSTOMER = {"number": "SHC9", "displayName": "Ada Lovelace", "type": "Person", "email": "ada@example.com"}


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(QUIET, seed=5, erp="business_central") as sandbox:
        yield sandbox


class Client:
    """Plain requests with a token from the simulator's token endpoint."""

    def __init__(self, sb: Sandbox) -> None:
        section = sb.config_sections()["business_central"]
        self.base = (f"{section['base_url']}/v2.0/{section['tenant']}/{section['environment']}/api/v2.0/"
                     f"companies({section['company_id']})/")
        self.token_url = f"{section['login_url']}/{section['tenant']}/oauth2/v2.0/token"
        self.form = {"grant_type": "client_credentials", "client_id": section["client_id"],
                     "client_secret": section["client_secret"], "scope": "https://api.businesscentral.dynamics.com/.default"}
        answer = requests.post(self.token_url, data=self.form, timeout=10)
        assert answer.status_code == 200
        assert check("business_central", "TokenResponse", answer.json()) == []
        self.token = answer.json()["access_token"]

    def send(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        if method in ("PATCH", "DELETE"):
            headers["If-Match"] = "*"
        return requests.request(method, self.base + path, json=body, headers=headers, timeout=10)


def _error(response: requests.Response) -> dict[str, str]:
    body = response.json()
    assert check("business_central", "ErrorBody", body) == []
    return dict(body["error"])


# -- required fields, from the contract -------------------------------------------------------------

def _required(schema: dict[str, Any], path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    while "$ref" in schema:
        schema = CONTRACT["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    for key in schema.get("required", []):
        yield (*path, key)
    for key, sub in schema.get("properties", {}).items():
        yield from _required(sub, (*path, key))
    if isinstance(schema.get("items"), dict):
        yield from _required(schema["items"], (*path, 0))


VALID = {"SalesOrderCreate": ORDER, "CustomerCreate": CUSTOMER, "SalesOrderLineCreate": LINE}
REQUIRED = [(name, path) for name in VALID for path in _required(CONTRACT["$defs"][name])]


def _without(body: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any]:
    out = copy.deepcopy(body)
    parent: Any = out
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return out


def _send(client: Client, name: str, body: dict[str, Any]) -> requests.Response:
    if name == "SalesOrderLineCreate":
        order = client.send("POST", "salesOrders", {**ORDER, "number": "SH1", "externalDocumentNumber": "1"}).json()
        return client.send("POST", f"salesOrders({order['id']})/salesOrderLines", body)
    return client.send("POST", {"SalesOrderCreate": "salesOrders", "CustomerCreate": "customers"}[name], body)


def test_the_contract_requires_what_business_central_cannot_do_without() -> None:
    assert {(name, ".".join(map(str, path))) for name, path in REQUIRED} == {
        ("SalesOrderCreate", "number"), ("SalesOrderCreate", "externalDocumentNumber"),
        ("SalesOrderCreate", "customerNumber"), ("SalesOrderCreate", "salesOrderLines"),
        ("SalesOrderCreate", "salesOrderLines.0.lineType"), ("SalesOrderCreate", "salesOrderLines.0.lineObjectNumber"),
        ("SalesOrderCreate", "salesOrderLines.0.quantity"),
        ("CustomerCreate", "number"), ("CustomerCreate", "displayName"),
        ("SalesOrderLineCreate", "lineType"), ("SalesOrderLineCreate", "lineObjectNumber"),
        ("SalesOrderLineCreate", "quantity")}


@pytest.mark.parametrize("name", sorted(VALID))
def test_each_valid_body_keeps_its_contract_and_is_created(sb: Sandbox, name: str) -> None:
    client = Client(sb)

    response = _send(client, name, VALID[name])

    assert check("business_central", name, VALID[name]) == []
    assert response.status_code == 201


@pytest.mark.parametrize(("name", "path"), REQUIRED, ids=[f"{n}-{'.'.join(map(str, p))}" for n, p in REQUIRED])
def test_a_body_without_a_required_field_is_refused_naming_that_field_and_nothing_is_created(
        sb: Sandbox, name: str, path: tuple[str | int, ...]) -> None:
    client = Client(sb)
    before = {k: v for k, v in sb.erp.snapshot().items() if k != "sales_orders"}

    response = _send(client, name, _without(VALID[name], path))

    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "BadRequest_InvalidRequestBody"
    assert f"'{path[-1]}' is required" in error["message"]
    after = {k: v for k, v in sb.erp.snapshot().items() if k != "sales_orders"}
    assert after == before
    if name != "SalesOrderLineCreate":
        assert sb.erp.booked_ids() == set()


# -- types, references, keys, tokens and limits --------------------------------------------------------

@pytest.mark.parametrize(("field", "value"), [("quantity", "2"), ("quantity", 0), ("lineType", "Gadget"),
                                              ("unitPrice", -1), ("colour", "red")])
def test_a_line_with_a_wrong_type_a_bad_value_or_an_unknown_property_is_refused(
        sb: Sandbox, field: str, value: Any) -> None:
    client = Client(sb)

    response = client.send("POST", "salesOrders", {**ORDER, "salesOrderLines": [{**LINE, field: value}]})

    assert response.status_code == 400
    assert _error(response)["code"] == "BadRequest_InvalidRequestBody"
    assert sb.erp.booked_ids() == set()


def test_an_unknown_customer_or_item_number_is_refused_as_business_central_refuses_a_table_relation(
        sb: Sandbox) -> None:
    client = Client(sb)

    customer = client.send("POST", "salesOrders", {**ORDER, "customerNumber": "NOBODY"})
    item = client.send("POST", "salesOrders", {**ORDER, "salesOrderLines": [{**LINE, "lineObjectNumber": "NOPE"}]})

    assert [_error(r)["code"] for r in (customer, item)] == ["Application_DialogException"] * 2
    assert "(NOBODY) that cannot be found in the related table (Customer)" in _error(customer)["message"]
    assert sb.erp.booked_ids() == set()


def test_a_number_taken_already_is_refused_as_a_duplicate_key_and_the_first_order_is_unchanged(sb: Sandbox) -> None:
    client = Client(sb)
    first = client.send("POST", "salesOrders", ORDER)

    again = client.send("POST", "salesOrders", {**ORDER, "salesOrderLines": [{**LINE, "quantity": 9}]})

    assert first.status_code == 201 and check("business_central", "SalesOrder", first.json()) == []
    assert (again.status_code, _error(again)["code"]) == (400, "Internal_EntityWithSameKeyExists")
    assert sb.erp.booked()["500"].lines == (("PS-0001", 2),)
    assert sb.erp.duplicate_creates() == 0


def test_without_a_token_or_with_one_it_did_not_issue_business_central_answers_401(sb: Sandbox) -> None:
    client = Client(sb)

    missing = requests.post(client.base + "salesOrders", json=ORDER, timeout=10)
    forged = client.send("POST", "salesOrders", ORDER, token="made-up")

    assert [r.status_code for r in (missing, forged)] == [401, 401]
    assert _error(forged)["code"] == "Authentication_InvalidCredentials"
    assert sb.erp.booked_ids() == set()


def test_the_token_endpoint_refuses_a_wrong_secret_with_the_identity_platforms_error(sb: Sandbox) -> None:
    client = Client(sb)

    answer = requests.post(client.token_url, data={**client.form, "client_secret": "wrong"}, timeout=10)

    assert answer.status_code == 401
    assert check("business_central", "TokenError", answer.json()) == []
    assert answer.json()["error"] == "invalid_client"


def test_over_the_concurrency_limit_business_central_answers_429(sb: Sandbox) -> None:
    client = Client(sb)
    assert sb.business_central is not None
    sb.business_central.concurrency_limit = 0  # every request is one too many

    response = client.send("GET", "items")

    assert response.status_code == 429
    assert _error(response)["code"]


def test_a_deleted_order_is_gone_and_deleting_it_again_is_404(sb: Sandbox) -> None:
    client = Client(sb)
    order = client.send("POST", "salesOrders", ORDER).json()

    gone = client.send("DELETE", f"salesOrders({order['id']})")
    again = client.send("DELETE", f"salesOrders({order['id']})")

    assert (gone.status_code, again.status_code) == (204, 404)
    assert _error(again)["code"] == "BadRequest_NotFound"
    assert sb.erp.booked_ids() == set()


def test_orders_are_found_by_external_document_number_with_an_odata_filter(sb: Sandbox) -> None:
    client = Client(sb)
    client.send("POST", "salesOrders", ORDER)

    found = client.send("GET", "salesOrders?$filter=externalDocumentNumber eq '500'")
    none = client.send("GET", "salesOrders?$filter=externalDocumentNumber eq '501'")

    assert check("business_central", "Collection", found.json()) == []
    assert [r["number"] for r in found.json()["value"]] == ["SH500"]
    assert none.json()["value"] == []

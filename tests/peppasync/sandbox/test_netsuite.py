"""The NetSuite simulator's REST record contract, signed with oauthlib as a connector would.

The simulator enforces ``peppasync/contracts/netsuite.json``: the required-field tests are
generated from the contract's own ``required`` lists, so a field the contract comes to
require is refused by the simulator and tested here without anyone writing a new test.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from importlib import resources
from typing import Any

import gevent
import pytest

from peppasync.contracts import check
from peppasync.sandbox import Sandbox

from .conftest import QUIET
from .helpers import netsuite

MakeSandbox = Callable[..., Sandbox]

CONTRACT: dict[str, Any] = json.loads(resources.files("peppasync.contracts").joinpath("netsuite.json").read_text())
ORDER = {"entity": {"externalId": "shopify-customer-9"}, "tranDate": "2026-11-27", "currency": {"id": "4"},
         "item": {"items": [{"item": {"externalId": "PS-0001"}, "quantity": 2, "rate": 19.5, "amount": 39.0}]}}
PERSON = {"externalId": "shopify-customer-9", "isPerson": True, "firstName": "Ada", "lastName": "Lovelace",
          "email": "ada@example.com", "subsidiary": {"id": "1"}}
COMPANY = {"isPerson": False, "companyName": "Acme Corp", "subsidiary": {"id": "1"}}
CANCEL = {"orderStatus": {"id": "C"}}
# The same order as the engine books it in full: shipping by ship method, Shopify's tax per line.
TAXED = {**ORDER, "shippingCost": 5.0, "shipMethod": {"id": "8001"}, "taxDetailsOverride": True,
         "item": {"items": [{"item": {"externalId": "PS-0001"}, "quantity": 2, "rate": 19.5, "amount": 39.0,
                             "taxDetailsReference": "line-1"},
                            {"item": {"id": "7003"}, "rate": -3.9, "amount": -3.9}]},
         "taxDetails": {"items": [{"taxDetailsReference": "line-1", "taxCode": {"id": "9001"}, "taxBasis": 35.1,
                                   "taxAmount": 2.81},
                                  {"taxDetailsReference": "SHIPPING", "taxCode": {"id": "9001"}, "taxAmount": 0.4}]}}
REFUND = {"externalId": "shopify-refund-77", "entity": {"externalId": "shopify-customer-9"},
          "currency": {"id": "4"}, "shippingCost": 5.0,
          "item": {"items": [{"item": {"externalId": "PS-0001"}, "quantity": 1, "rate": 17.55, "amount": 17.55,
                              "taxDetailsReference": "line-1"}]}, "taxDetailsOverride": True,
          "taxDetails": {"items": [{"taxDetailsReference": "line-1", "taxCode": {"id": "9001"}, "taxAmount": 1.4}]}}
DEPOSIT = {"externalId": "shopify-payment-500", "customer": {"externalId": "shopify-customer-9"},
           "salesOrder": {"externalId": "500"}, "payment": 44.31, "currency": {"id": "4"}}
RETURN = {"externalId": "shopify-return-500", "entity": {"externalId": "shopify-customer-9"},
          "createdFrom": {"externalId": "500"},
          "item": {"items": [{"item": {"externalId": "PS-0001"}, "quantity": 2, "rate": 19.5, "amount": 39.0}]}}


def _with_customer(sb: Sandbox) -> None:
    assert netsuite(sb, "PUT", "customer/eid:shopify-customer-9", PERSON).status_code == 204


def _errors(response: Any) -> list[dict[str, Any]]:
    """The answer's error details, once its body has been checked against the ErrorBody contract."""
    body = response.json()
    assert check("netsuite", "ErrorBody", body) == []
    assert body["status"] == response.status_code
    return list(body["o:errorDetails"])


# -- the contract's required fields -----------------------------------------------------------

def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = CONTRACT["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _required(schema: dict[str, Any], path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path of each required field, the if/then/else branch that requires it or "") in a body's schema."""
    schema = _resolve(schema)
    for key in schema.get("required", []):
        yield (*path, key), ""
    for branch in ("then", "else"):
        for key in schema.get(branch, {}).get("required", []):
            yield (*path, key), branch
    for key, sub in schema.get("properties", {}).items():
        yield from _required(sub, (*path, key))
    if isinstance(schema.get("items"), dict):
        yield from _required(schema["items"], (*path, 0))


# A body that keeps each contract (and the branch of a conditional), and how it is sent.
VALID: dict[tuple[str, str], dict[str, Any]] = {
    ("SalesOrderUpsert", ""): TAXED, ("SalesOrderCancel", ""): CANCEL, ("CustomerUpsert", ""): PERSON,
    ("CustomerUpsert", "then"): PERSON, ("CustomerUpsert", "else"): COMPANY,
    ("CreditMemoUpsert", ""): REFUND, ("CashRefundUpsert", ""): {**REFUND, "account": {"id": "1100"}},
    ("CustomerDepositUpsert", ""): DEPOSIT, ("ReturnAuthorizationUpsert", ""): RETURN}
SENT = {"SalesOrderUpsert": ("PUT", "salesOrder/eid:501"), "SalesOrderCancel": ("PATCH", "salesOrder/eid:500"),
        "CustomerUpsert": ("PUT", "customer/eid:shopify-customer-10"),
        "CreditMemoUpsert": ("PUT", "creditMemo/eid:shopify-refund-77"),
        "CashRefundUpsert": ("PUT", "cashRefund/eid:shopify-refund-77"),
        "CustomerDepositUpsert": ("PUT", "customerDeposit/eid:shopify-payment-500"),
        "ReturnAuthorizationUpsert": ("PUT", "returnAuthorization/eid:shopify-return-500")}
REQUIRED = [(name, branch, path) for name in SENT for path, branch in _required(CONTRACT["$defs"][name])]


def _error_path(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if n else p) for n, p in enumerate(path))


def _without(body: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any]:
    out = copy.deepcopy(body)
    parent: Any = out
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return out


def _prepared(make_sandbox: MakeSandbox) -> Sandbox:
    sb = make_sandbox()
    _with_customer(sb)
    assert netsuite(sb, "PUT", "salesOrder/eid:500", ORDER).status_code == 204
    return sb


def test_the_contract_requires_what_netsuite_requires_of_the_bodies_we_send() -> None:
    found = {(name, branch, _error_path(path)) for name, branch, path in REQUIRED}

    assert {("SalesOrderUpsert", "", "entity"), ("SalesOrderUpsert", "", "item"),
            ("SalesOrderUpsert", "", "item.items"), ("SalesOrderUpsert", "", "item.items[0].item"),
            ("SalesOrderCancel", "", "orderStatus"), ("CustomerUpsert", "", "subsidiary"),
            ("CustomerUpsert", "then", "firstName"), ("CustomerUpsert", "then", "lastName"),
            ("CustomerUpsert", "else", "companyName")} | {
            (name, "", path) for name in ("SalesOrderUpsert", "CreditMemoUpsert", "CashRefundUpsert")
            for path in ("taxDetails.items", "taxDetails.items[0].taxDetailsReference",
                         "taxDetails.items[0].taxCode", "taxDetails.items[0].taxAmount")} | {
            (name, "", path) for name in ("CreditMemoUpsert", "CashRefundUpsert", "ReturnAuthorizationUpsert")
            for path in ("entity", "item", "item.items", "item.items[0].item")} | {
            ("CustomerDepositUpsert", "", "customer"), ("CustomerDepositUpsert", "", "payment")} == found


@pytest.mark.parametrize(("name", "branch"), sorted(VALID))
def test_each_valid_body_keeps_its_contract_and_is_accepted(make_sandbox: MakeSandbox, name: str,
                                                            branch: str) -> None:
    sb = _prepared(make_sandbox)
    method, path = SENT[name]

    response = netsuite(sb, method, path, VALID[(name, branch)])

    assert check("netsuite", name, VALID[(name, branch)]) == []
    assert response.status_code == 204


@pytest.mark.parametrize(("name", "branch", "path"), REQUIRED,
                         ids=[f"{n}{'-' + b if b else ''}-{_error_path(p)}" for n, b, p in REQUIRED])
def test_a_body_without_a_required_field_is_refused_with_user_error_at_that_field(
        make_sandbox: MakeSandbox, name: str, branch: str, path: tuple[str | int, ...]) -> None:
    sb = _prepared(make_sandbox)
    method, url = SENT[name]
    before = sb.ledger()["netsuite"]["state"]

    response = netsuite(sb, method, url, _without(VALID[(name, branch)], path))

    assert response.status_code == 400
    assert {"o:errorCode": "USER_ERROR", "o:errorPath": _error_path(path)} in [
        {k: d.get(k) for k in ("o:errorCode", "o:errorPath")} for d in _errors(response)]
    assert sb.ledger()["netsuite"]["state"] == before


# -- wrong types, values, fields and references -------------------------------------------------

def test_a_wrong_type_an_order_status_outside_a_to_h_and_an_unknown_field_are_invalid_content(
        make_sandbox: MakeSandbox) -> None:
    sb = _prepared(make_sandbox)
    line = {**ORDER["item"]["items"][0], "quantity": "2"}  # type: ignore[index]

    wrong_type = netsuite(sb, "PUT", "salesOrder/eid:502", {**ORDER, "item": {"items": [line]}})
    wrong_status = netsuite(sb, "PATCH", "salesOrder/eid:500", {"orderStatus": {"id": "X"}})
    unknown_field = netsuite(sb, "PUT", "salesOrder/eid:503", {**ORDER, "total": 39.0})

    assert [(r.status_code, [(d["o:errorCode"], d["o:errorPath"]) for d in _errors(r)])
            for r in (wrong_type, wrong_status, unknown_field)] == [
        (400, [("INVALID_CONTENT", "item.items[0].quantity")]),
        (400, [("INVALID_CONTENT", "orderStatus")]),
        (400, [("INVALID_CONTENT", "total")])]
    assert sb.ledger()["netsuite"]["state"]["sales_orders"]["500"]["status"] == "B"


def test_a_line_with_an_unknown_sku_is_refused_as_invalid_content_at_its_path_as_the_docs_show(
        make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    _with_customer(sb)
    body = {**ORDER, "item": {"items": [{"item": {"externalId": "PS-0001"}, "quantity": 1},
                                        {"item": {"externalId": "GHOST-1"}, "quantity": 1}]}}

    response = netsuite(sb, "PUT", "salesOrder/eid:99", body)

    assert response.status_code == 400
    assert response.json()["title"] == "Bad Request"
    assert _errors(response) == [{
        "detail": "Error while accessing resource: You have entered an Invalid Field Value GHOST-1 for the "
                  "following field: item",
        "o:errorCode": "INVALID_CONTENT", "o:errorPath": "item.items[1].item"}]
    assert "99" not in sb.ledger()["netsuite"]["state"]["sales_orders"]


def test_a_customer_or_currency_the_account_does_not_have_is_refused_at_its_field(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()

    response = netsuite(sb, "PUT", "salesOrder/eid:98", {**ORDER, "currency": {"id": "99"}})

    assert response.status_code == 400
    assert [(d["o:errorCode"], d["o:errorPath"]) for d in _errors(response)] == [
        ("INVALID_CONTENT", "entity"), ("INVALID_CONTENT", "currency")]


def test_the_guest_customer_takes_an_order_by_its_internal_id(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()

    response = netsuite(sb, "PUT", "salesOrder/eid:97", {**ORDER, "entity": {"id": sb.netsuite.erp.guest_customer}})

    assert response.status_code == 204
    assert sb.config_sections()["netsuite"]["guest_customer"] == sb.netsuite.erp.guest_customer


# -- upserts, sublists, status --------------------------------------------------------------

def test_a_correctly_signed_upsert_answers_204_with_a_location(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    _with_customer(sb)

    response = netsuite(sb, "PUT", "salesOrder/eid:5600000000001", ORDER)

    assert response.status_code == 204
    assert response.headers["Location"].startswith(f"{sb.netsuite_url}/services/rest/record/v1/salesOrder/")
    state = sb.ledger()["netsuite"]["state"]
    assert state["sales_orders"]["5600000000001"]["lines"] == [{"sku": "PS-0001", "quantity": 2}]


def test_an_update_adds_the_lines_sent_unless_the_item_sublist_is_replaced(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    _with_customer(sb)
    netsuite(sb, "PUT", "salesOrder/eid:60", ORDER)
    netsuite(sb, "PUT", "salesOrder/eid:61", ORDER)
    changed = {**ORDER, "item": {"items": [{"item": {"externalId": "PS-0002"}, "quantity": 1}]}}

    netsuite(sb, "PUT", "salesOrder/eid:60", changed)
    netsuite(sb, "PUT", "salesOrder/eid:61?replace=item", changed)

    orders = sb.ledger()["netsuite"]["state"]["sales_orders"]
    assert orders["60"]["lines"] == [{"sku": "PS-0001", "quantity": 2}, {"sku": "PS-0002", "quantity": 1}]
    assert orders["61"]["lines"] == [{"sku": "PS-0002", "quantity": 1}]


def test_a_wrong_token_secret_or_realm_is_refused_with_401_invalid_login(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()

    wrong_secret = netsuite(sb, "GET", "inventoryItem/eid:PS-0001", token_secret="guess")
    wrong_realm = netsuite(sb, "GET", "inventoryItem/eid:PS-0001", realm="999_SB1")

    assert wrong_secret.status_code == 401
    assert wrong_realm.status_code == 401
    detail = _errors(wrong_secret)[0]
    assert detail["o:errorCode"] == "INVALID_LOGIN"
    assert "signature does not match" in detail["detail"]
    assert sb.netsuite.ledger.outcomes() == {"unauthorized": 2}


def test_an_upsert_of_an_existing_external_id_is_an_update_not_a_duplicate(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    _with_customer(sb)

    netsuite(sb, "PUT", "salesOrder/eid:77", ORDER)
    again = netsuite(sb, "PUT", "salesOrder/eid:77", ORDER)

    assert again.status_code == 204
    state = sb.ledger()["netsuite"]["state"]
    assert state["creates"]["salesOrder/77"] == 1
    assert state["duplicates"] == {}


def test_a_post_create_of_an_existing_external_id_is_a_visible_duplicate(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    _with_customer(sb)

    first = netsuite(sb, "POST", "salesOrder", {**ORDER, "externalId": "88"})
    second = netsuite(sb, "POST", "salesOrder", {**ORDER, "externalId": "88"})

    assert first.status_code == 204
    assert second.status_code == 400
    assert _errors(second)[0]["o:errorCode"] == "DUP_RCRD"
    assert sb.ledger()["netsuite"]["state"]["duplicates"] == {"salesOrder/88": 1}
    assert sb.netsuite.ledger.outcomes()["duplicate"] == 1


def test_a_patch_with_order_status_c_cancels_the_sales_order(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    _with_customer(sb)
    netsuite(sb, "PUT", "salesOrder/eid:42", ORDER)

    response = netsuite(sb, "PATCH", "salesOrder/eid:42", CANCEL)

    assert response.status_code == 204
    assert sb.ledger()["netsuite"]["state"]["sales_orders"]["42"]["status"] == "C"
    assert netsuite(sb, "GET", "salesOrder/eid:42").json()["orderStatus"] == {"id": "C", "refName": "Cancelled"}


def test_a_patch_of_a_sales_order_that_does_not_exist_is_404_nonexistent_id(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()

    response = netsuite(sb, "PATCH", "salesOrder/eid:404", CANCEL)

    assert response.status_code == 404
    assert _errors(response)[0]["o:errorCode"] == "NONEXISTENT_ID"


# -- reads ---------------------------------------------------------------------------------

def test_an_inventory_item_by_sku_has_its_cost_and_an_unknown_one_is_404(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    item = sb.catalog.items[0]

    found = netsuite(sb, "GET", f"inventoryItem/eid:{item.sku}")
    missing = netsuite(sb, "GET", "inventoryItem/eid:NOPE")
    not_allowed = netsuite(sb, "PUT", f"inventoryItem/eid:{item.sku}", {})

    assert found.status_code == 200 and check("netsuite", "InventoryItem", found.json()) == []
    assert found.json()["averageCost"] == float(item.cost)
    assert missing.status_code == 404 and _errors(missing)[0]["o:errorCode"] == "NONEXISTENT_ID"
    assert not_allowed.status_code == 405 and _errors(not_allowed)[0]["o:errorCode"] == "INVALID_REQUEST"


# -- limits and faults -------------------------------------------------------------------------

def test_a_request_over_the_concurrency_limit_gets_429_and_the_ledger_shows_the_peak(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(replace(QUIET, erp_concurrency_limit=2))
    sb.netsuite.pause()
    held = [gevent.spawn(netsuite, sb, "GET", f"inventoryItem/eid:PS-000{n}") for n in (1, 2)]
    assert sb.netsuite.ledger.wait_until(lambda ledger: ledger.in_flight == 2, timeout=5)

    over = netsuite(sb, "GET", "inventoryItem/eid:PS-0003")
    sb.netsuite.resume()
    gevent.joinall(held, timeout=5)

    assert over.status_code == 429
    assert _errors(over)[0]["o:errorCode"] == "CONCURRENCY_LIMIT_EXCEEDED"
    assert [g.value.status_code for g in held] == [200, 200]
    assert sb.netsuite.ledger.max_in_flight == 2
    assert sb.netsuite.ledger.outcomes() == {"throttled": 1, "ok": 2}
    assert max(n for _, n in sb.netsuite.ledger.concurrency_series()) == 2


def test_injected_5xx_faults_follow_the_seed_and_the_request_identity(make_sandbox: MakeSandbox) -> None:
    profile = replace(QUIET, erp_error_rate=0.3)
    first = make_sandbox(profile, seed=11)
    second = make_sandbox(profile, seed=11)
    paths = [f"inventoryItem/eid:PS-{n:04d}" for n in range(1, 21)]

    answers_first = [netsuite(first, "GET", p) for p in paths]
    statuses_second = [netsuite(second, "GET", p).status_code for p in reversed(paths)][::-1]

    statuses_first = [r.status_code for r in answers_first]
    assert statuses_first == statuses_second
    assert {500, 503} & set(statuses_first) and 200 in statuses_first
    assert all(_errors(r)[0]["o:errorCode"] == "UNEXPECTED_ERROR" for r in answers_first if r.status_code >= 500)


# -- the money records ---------------------------------------------------------------------------

def test_netsuite_totals_a_sales_order_from_its_lines_discounts_shipping_and_tax(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    _with_customer(sb)

    assert netsuite(sb, "PUT", "salesOrder/eid:600", TAXED).status_code == 204
    order = sb.ledger()["netsuite"]["state"]["sales_orders"]["600"]

    # 39.00 - 3.90 + 5.00 shipping + 2.81 + 0.40 tax
    assert (order["subtotal"], order["discountTotal"], order["taxTotal"], order["total"]) == (35.1, -3.9, 3.21, 43.31)


def test_tax_details_that_name_no_line_are_refused_at_their_reference(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    _with_customer(sb)
    body = {**TAXED, "taxDetails": {"items": [{"taxDetailsReference": "line-9", "taxCode": {"id": "9001"},
                                               "taxAmount": 1.0}]}}

    response = netsuite(sb, "PUT", "salesOrder/eid:601", body)

    assert response.status_code == 400
    assert [(d["o:errorCode"], d["o:errorPath"]) for d in _errors(response)] == [
        ("INVALID_CONTENT", "taxDetails.items[0].taxDetailsReference")]


def test_a_deposit_or_return_for_a_sales_order_netsuite_does_not_have_is_refused(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    _with_customer(sb)

    deposit = netsuite(sb, "PUT", "customerDeposit/eid:shopify-payment-1", {**DEPOSIT, "salesOrder": {"externalId": "9"}})
    back = netsuite(sb, "PUT", "returnAuthorization/eid:shopify-return-9", {**RETURN, "createdFrom": {"externalId": "9"}})

    assert [(r.status_code, [d["o:errorPath"] for d in _errors(r)]) for r in (deposit, back)] == [
        (400, ["salesOrder"]), (400, ["createdFrom"])]


def test_a_refund_booked_as_both_a_credit_memo_and_a_cash_refund_shows_as_two_documents(
        make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox()
    _with_customer(sb)

    netsuite(sb, "PUT", "creditMemo/eid:shopify-refund-77", REFUND)
    netsuite(sb, "PUT", "cashRefund/eid:shopify-refund-77", REFUND)

    assert sb.netsuite.erp.credit_documents() == {"shopify-refund-77": ["creditMemo", "cashRefund"]}

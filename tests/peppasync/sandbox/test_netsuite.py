"""The NetSuite simulator's REST record contract, signed with oauthlib as a connector would."""

from __future__ import annotations

from dataclasses import replace

import gevent

from .conftest import QUIET
from .helpers import netsuite

ORDER = {"entity": {"externalId": "shopify-customer-9"},
         "item": {"items": [{"item": {"externalId": "PS-0001"}, "quantity": 2, "rate": 19.5}]}}


def _with_customer(sb):
    assert netsuite(sb, "PUT", "customer/eid:shopify-customer-9", {"email": "a@example.com"}).status_code == 204


def test_a_correctly_signed_upsert_answers_204_with_a_location(make_sandbox):
    sb = make_sandbox()
    _with_customer(sb)

    response = netsuite(sb, "PUT", "salesOrder/eid:5600000000001", ORDER)

    assert response.status_code == 204
    assert response.headers["Location"].startswith(f"{sb.netsuite_url}/services/rest/record/v1/salesOrder/")
    state = sb.ledger()["netsuite"]["state"]
    assert state["sales_orders"]["5600000000001"]["lines"] == [{"sku": "PS-0001", "quantity": 2}]


def test_a_wrong_token_secret_or_realm_is_refused_with_401_invalid_login(make_sandbox):
    sb = make_sandbox()

    wrong_secret = netsuite(sb, "GET", "inventoryItem/eid:PS-0001", token_secret="guess")
    wrong_realm = netsuite(sb, "GET", "inventoryItem/eid:PS-0001", realm="999_SB1")

    assert wrong_secret.status_code == 401
    assert wrong_realm.status_code == 401
    detail = wrong_secret.json()["o:errorDetails"][0]
    assert detail["o:errorCode"] == "INVALID_LOGIN"
    assert "signature does not match" in detail["detail"]
    assert sb.netsuite.ledger.outcomes() == {"unauthorized": 2}


def test_an_upsert_of_an_existing_external_id_is_an_update_not_a_duplicate(make_sandbox):
    sb = make_sandbox()
    _with_customer(sb)

    netsuite(sb, "PUT", "salesOrder/eid:77", ORDER)
    again = netsuite(sb, "PUT", "salesOrder/eid:77", ORDER)

    assert again.status_code == 204
    state = sb.ledger()["netsuite"]["state"]
    assert state["creates"]["salesOrder/77"] == 1
    assert state["duplicates"] == {}


def test_a_post_create_of_an_existing_external_id_is_a_visible_duplicate(make_sandbox):
    sb = make_sandbox()
    _with_customer(sb)

    first = netsuite(sb, "POST", "salesOrder", {**ORDER, "externalId": "88"})
    second = netsuite(sb, "POST", "salesOrder", {**ORDER, "externalId": "88"})

    assert first.status_code == 204
    assert second.status_code == 400
    assert second.json()["o:errorDetails"][0]["o:errorCode"] == "DUP_RCRD"
    assert sb.ledger()["netsuite"]["state"]["duplicates"] == {"salesOrder/88": 1}
    assert sb.netsuite.ledger.outcomes()["duplicate"] == 1


def test_a_line_with_an_unknown_sku_is_refused_as_invalid_key_or_ref(make_sandbox):
    sb = make_sandbox()
    body = {"item": {"items": [{"item": {"externalId": "PS-0001"}, "quantity": 1},
                               {"item": {"externalId": "GHOST-1"}, "quantity": 1}]}}

    response = netsuite(sb, "PUT", "salesOrder/eid:99", body)

    assert response.status_code == 400
    error = response.json()
    assert error["status"] == 400 and error["title"] == "Bad Request" and error["type"]
    assert error["o:errorDetails"] == [{"detail": "Invalid item reference key GHOST-1.",
                                        "o:errorCode": "INVALID_KEY_OR_REF", "o:errorPath": "item.items[1].item"}]
    assert "99" not in sb.ledger()["netsuite"]["state"]["sales_orders"]


def test_a_patch_with_order_status_c_cancels_the_sales_order(make_sandbox):
    sb = make_sandbox()
    _with_customer(sb)
    netsuite(sb, "PUT", "salesOrder/eid:42", ORDER)

    response = netsuite(sb, "PATCH", "salesOrder/eid:42", {"orderStatus": {"id": "C"}})

    assert response.status_code == 204
    assert sb.ledger()["netsuite"]["state"]["sales_orders"]["42"]["status"] == "C"


def test_an_inventory_item_by_sku_has_its_cost_and_an_unknown_one_is_404(make_sandbox):
    sb = make_sandbox()
    item = sb.catalog.items[0]

    found = netsuite(sb, "GET", f"inventoryItem/eid:{item.sku}")
    missing = netsuite(sb, "GET", "inventoryItem/eid:NOPE")

    assert found.status_code == 200 and found.json()["cost"] == float(item.cost)
    assert missing.status_code == 404
    assert missing.json()["o:errorDetails"][0]["o:errorCode"] == "NONEXISTENT_ID"


def test_a_request_over_the_concurrency_limit_gets_429_and_the_ledger_shows_the_peak(make_sandbox):
    sb = make_sandbox(replace(QUIET, erp_concurrency_limit=2))
    sb.netsuite.pause()
    held = [gevent.spawn(netsuite, sb, "GET", f"inventoryItem/eid:PS-000{n}") for n in (1, 2)]
    assert sb.netsuite.ledger.wait_until(lambda ledger: ledger.in_flight == 2, timeout=5)

    over = netsuite(sb, "GET", "inventoryItem/eid:PS-0003")
    sb.netsuite.resume()
    gevent.joinall(held, timeout=5)

    assert over.status_code == 429
    assert over.json()["o:errorDetails"][0]["o:errorCode"] == "CONCURRENCY_LIMIT_EXCEEDED"
    assert [g.value.status_code for g in held] == [200, 200]
    assert sb.netsuite.ledger.max_in_flight == 2
    assert sb.netsuite.ledger.outcomes() == {"throttled": 1, "ok": 2}
    assert max(n for _, n in sb.netsuite.ledger.concurrency_series()) == 2


def test_injected_5xx_faults_follow_the_seed_and_the_request_identity(make_sandbox):
    profile = replace(QUIET, erp_error_rate=0.3)
    first = make_sandbox(profile, seed=11)
    second = make_sandbox(profile, seed=11)
    paths = [f"inventoryItem/eid:PS-{n:04d}" for n in range(1, 21)]

    statuses_first = [netsuite(first, "GET", p).status_code for p in paths]
    statuses_second = [netsuite(second, "GET", p).status_code for p in reversed(paths)][::-1]

    assert statuses_first == statuses_second
    assert {500, 503} & set(statuses_first) and 200 in statuses_first

"""The Shopify simulator's GraphQL contract, pinned from the client side with plain requests."""

from __future__ import annotations

from dataclasses import replace

import gevent
import requests

from peppasync.clock import ManualClock

from .conftest import QUIET
from .helpers import LOCATION, SET_QUANTITY, graphql
from .helpers import set_available as _set


def _available(sb, item_gid):
    query = """query($id: ID!, $loc: ID!) { inventoryItem(id: $id) { inventoryLevel(locationId: $loc) {
               quantities(names: ["available"]) { quantity } } } }"""
    data = graphql(sb, query, {"id": item_gid, "loc": LOCATION}).json()["data"]
    return data["inventoryItem"]["inventoryLevel"]["quantities"][0]["quantity"]


def test_a_missing_or_wrong_access_token_is_refused_with_401(make_sandbox):
    sb = make_sandbox()

    wrong = graphql(sb, "{ shop { name } }", token="shpat_wrong")
    missing = requests.post(sb.graphql_url, json={"query": "{ shop { name } }"}, timeout=5)

    assert wrong.status_code == 401
    assert missing.status_code == 401
    assert "Invalid API key or access token" in wrong.json()["errors"]


def test_every_response_carries_the_query_cost_and_throttle_status(make_sandbox):
    sb = make_sandbox()

    body = graphql(sb, "{ productVariants(first: 5) { nodes { sku } } }").json()

    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 7
    assert cost["actualQueryCost"] == 7
    assert set(cost["throttleStatus"]) == {"maximumAvailable", "currentlyAvailable", "restoreRate"}
    assert cost["throttleStatus"]["maximumAvailable"] == 1000.0


def test_unfilled_page_slots_are_refunded_in_the_actual_cost(make_sandbox):
    sb = make_sandbox()

    body = graphql(sb, "{ orders(first: 50) { nodes { id } } }").json()

    assert body["data"]["orders"]["nodes"] == []
    assert body["extensions"]["cost"]["requestedQueryCost"] == 52
    assert body["extensions"]["cost"]["actualQueryCost"] == 2


def test_a_call_costing_more_than_the_bucket_holds_is_throttled_with_http_200(make_sandbox):
    clock = ManualClock()
    sb = make_sandbox(replace(QUIET, bucket_size=100.0, bucket_restore_rate=10.0), clock=clock)
    query = "{ productVariants(first: 40) { nodes { sku } } }"  # 42 points

    first, second, third = (graphql(sb, query) for _ in range(3))
    clock.advance(5.0)
    after_refill = graphql(sb, query)

    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert "data" in second.json() and "errors" not in second.json()
    assert third.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert third.json()["extensions"]["cost"]["actualQueryCost"] is None
    assert third.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 16.0
    assert "errors" not in after_refill.json()
    assert sb.shopify.ledger.outcomes()["throttled"] == 1


def test_a_query_over_the_single_query_maximum_is_rejected_before_running(make_sandbox):
    sb = make_sandbox()

    body = graphql(sb, "{ orders(first: 250) { nodes { lineItems(first: 250) { nodes { sku } } } } }").json()

    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert "data" not in body


def test_a_document_with_an_unknown_field_gets_shopifys_validation_error_naming_it(make_sandbox):
    sb = make_sandbox()
    before = sb.shopify.bucket.status()["currentlyAvailable"]

    answer = graphql(sb, "{ orders(first: 1) { nodes { colour } } }")

    body = answer.json()
    assert answer.status_code == 200
    assert body["errors"] == [{
        "message": "Field 'colour' doesn't exist on type 'Order'", "locations": [{"line": 1, "column": 30}],
        "path": ["query", "orders", "nodes", "colour"],
        "extensions": {"code": "undefinedField", "typeName": "Order", "fieldName": "colour"}}]
    assert "data" not in body
    assert body["extensions"]["cost"]["requestedQueryCost"] == 0
    assert sb.shopify.bucket.status()["currentlyAvailable"] == before
    assert sb.shopify.ledger.outcomes() == {"invalid": 1}


def test_a_field_only_real_shopify_has_is_answered_as_not_simulated(make_sandbox):
    sb = make_sandbox()

    body = graphql(sb, "{ shop { name email } }").json()

    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_SIMULATED"]
    assert "Shopify 2026-10 accepts this, but the sandbox does not simulate it" in body["errors"][0]["message"]
    assert "email" in body["errors"][0]["message"]


def test_only_the_api_version_whose_schema_the_sandbox_ships_is_served(make_sandbox):
    sb = make_sandbox()
    older = sb.graphql_url.replace("/2026-10/", "/2025-07/")

    answer = requests.post(older, json={"query": "{ shop { name } }"},
                           headers={"X-Shopify-Access-Token": sb.shopify.access_token}, timeout=5)

    assert sb.api_version == "2026-10"
    assert answer.status_code == 404
    assert "serves Shopify Admin API 2026-10 only" in answer.json()["errors"]


def test_a_missing_required_variable_is_refused_and_nothing_is_set(make_sandbox):
    sb = make_sandbox()
    item = f"gid://shopify/InventoryItem/{sb.catalog.items[0].inventory_item_id}"
    quantities = [{"inventoryItemId": item, "locationId": LOCATION, "quantity": 7, "changeFromQuantity": None}]

    body = graphql(sb, SET_QUANTITY, {"input": {"name": "available", "reason": "correction",
                                                "quantities": quantities}}).json()

    assert body["errors"] == [{
        "message": "Variable $key of type String! was provided invalid value", "locations": [{"line": 2, "column": 52}],
        "extensions": {"code": "INVALID_VARIABLE", "value": None,
                       "problems": [{"path": [], "explanation": "Expected value to not be null"}]}}]
    assert "data" not in body
    assert _available(sb, item) == 500


def test_a_variable_of_the_wrong_type_is_refused_naming_where_it_is_wrong(make_sandbox):
    sb = make_sandbox()
    item = f"gid://shopify/InventoryItem/{sb.catalog.items[0].inventory_item_id}"
    quantities = [{"inventoryItemId": item, "locationId": LOCATION, "quantity": "7", "compareQuantity": 500}]

    body = graphql(sb, SET_QUANTITY, {"key": "k-types", "input": {"name": "available", "reason": "correction",
                                                                  "quantities": quantities}}).json()

    assert body["errors"][0]["extensions"]["problems"] == [
        {"path": ["quantities", 0, "quantity"], "explanation": 'Could not coerce value "7" to Int'},
        {"path": ["quantities", 0, "compareQuantity"],
         "explanation": "Field is not defined on InventoryQuantityInput"}]
    assert _available(sb, item) == 500


def test_leaving_out_change_from_quantity_is_refused_since_2026_04(make_sandbox):
    sb = make_sandbox()
    item = f"gid://shopify/InventoryItem/{sb.catalog.items[0].inventory_item_id}"
    quantities = [{"inventoryItemId": item, "locationId": LOCATION, "quantity": 7}]

    body = graphql(sb, SET_QUANTITY, {"key": "k-omitted", "input": {"name": "available", "reason": "correction",
                                                                    "quantities": quantities}}).json()

    errors = body["data"]["inventorySetQuantities"]["userErrors"]
    assert [e["field"] for e in errors] == [["input", "quantities", "0", "changeFromQuantity"]]
    assert "or null to skip the check" in errors[0]["message"]
    assert _available(sb, item) == 500


def test_a_set_without_an_idempotency_key_is_refused_since_2026_04(make_sandbox):
    sb = make_sandbox()
    item = f"gid://shopify/InventoryItem/{sb.catalog.items[0].inventory_item_id}"
    mutation = """mutation Set($input: InventorySetQuantitiesInput!) {
                    inventorySetQuantities(input: $input) { userErrors { field code message } } }"""
    quantities = [{"inventoryItemId": item, "locationId": LOCATION, "quantity": 7, "changeFromQuantity": None}]

    body = graphql(sb, mutation, {"input": {"name": "available", "reason": "correction",
                                            "quantities": quantities}}).json()

    assert body["data"]["inventorySetQuantities"] is None
    assert "requires an idempotency key" in body["errors"][0]["message"]
    assert _available(sb, item) == 500


def test_orders_page_by_cursor_sorted_by_updated_at_and_filtered_by_it(make_sandbox):
    clock = ManualClock(start=1_700_000_000.0)
    sb = make_sandbox(clock=clock)
    sb.place_orders(3, malformed_ratio=0.0)
    clock.advance(60)
    late = sb.place_orders(3, malformed_ratio=0.0)
    query = """query($after: String) { orders(first: 2, after: $after, sortKey: UPDATED_AT,
                 query: "updated_at:>'2023-11-14T22:13:30Z'") {
                 nodes { legacyResourceId name } pageInfo { hasNextPage endCursor } } }"""

    pages, after = [], None
    while True:
        data = graphql(sb, query, {"after": after}).json()["data"]["orders"]
        pages.append([n["legacyResourceId"] for n in data["nodes"]])
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]

    assert pages == [[late[0].id, late[1].id], [late[2].id]]


def test_a_malformed_search_query_is_an_error_that_shows_the_expected_form(make_sandbox):
    sb = make_sandbox()

    body = graphql(sb, '{ orders(first: 1, query: "updated_at>yesterday") { nodes { id } } }').json()

    assert "expected field:>'value'" in body["errors"][0]["message"]


def test_product_variants_map_a_sku_to_its_inventory_item(make_sandbox):
    sb = make_sandbox()
    item = sb.catalog.items[4]

    body = graphql(sb, f'{{ productVariants(first: 1, query: "sku:{item.sku}") {{ nodes {{ sku '
                       "inventoryItem { id } } } }").json()

    assert body["data"]["productVariants"]["nodes"] == [
        {"sku": item.sku, "inventoryItem": {"id": f"gid://shopify/InventoryItem/{item.inventory_item_id}"}}]


def test_a_quoted_search_value_takes_backslash_escaped_quotes_and_backslashes(make_sandbox):
    sb = make_sandbox(extra_skus=["O'Reilly Mug", "C:\\bin (4)"])
    query = "query($q: String!) { productVariants(first: 5, query: $q) { nodes { sku } } }"

    found = [graphql(sb, query, {"q": q}).json()["data"]["productVariants"]["nodes"]
             for q in ("sku:'O\\'Reilly Mug'", "sku:'C:\\\\bin (4)'", 'sku:"O\'Reilly Mug"')]

    assert found == [[{"sku": "O'Reilly Mug"}], [{"sku": "C:\\bin (4)"}], [{"sku": "O'Reilly Mug"}]]


def test_a_fulfillment_with_tracking_closes_the_fulfillment_order_and_a_second_is_refused(make_sandbox):
    sb = make_sandbox()
    order = sb.place_orders(1, malformed_ratio=0.0)[0]
    fos = graphql(sb, """query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 5) {
                         nodes { id status } } } }""", {"id": f"gid://shopify/Order/{order.id}"}).json()
    fo_id = fos["data"]["order"]["fulfillmentOrders"]["nodes"][0]["id"]
    mutation = """mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
                    fulfillment { status trackingInfo { company number url } } userErrors { field message } } }"""
    tracking = {"company": "UPS", "number": "1Z999", "url": "https://www.ups.com/track?tracknum=1Z999"}
    variables = {"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo_id}], "trackingInfo": tracking}}

    first = graphql(sb, mutation, variables).json()["data"]["fulfillmentCreate"]
    second = graphql(sb, mutation, variables).json()["data"]["fulfillmentCreate"]

    assert first["userErrors"] == []
    assert first["fulfillment"] == {"status": "SUCCESS", "trackingInfo": [tracking]}
    assert "unfulfillable status= closed" in second["userErrors"][0]["message"]
    state = sb.ledger()["shopify"]["state"]
    assert state["orders"][str(order.id)]["fulfillment_status"] == "FULFILLED"
    assert state["fulfillments"][0]["tracking"] == [tracking]


def test_a_stale_change_from_quantity_is_refused_and_changes_nothing(make_sandbox):
    sb = make_sandbox()
    item = f"gid://shopify/InventoryItem/{sb.catalog.items[0].inventory_item_id}"

    stale = _set(sb, item, 7, 499, "key-stale")
    fresh = _set(sb, item, 7, 500, "key-fresh")

    errors = stale["data"]["inventorySetQuantities"]["userErrors"]
    assert [e["code"] for e in errors] == ["CHANGE_FROM_QUANTITY_STALE"]
    assert stale["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"] is None
    assert fresh["data"]["inventorySetQuantities"]["userErrors"] == []
    assert _available(sb, item) == 7


def test_the_same_idempotency_key_replays_the_original_result_and_applies_once(make_sandbox):
    sb = make_sandbox()
    item = f"gid://shopify/InventoryItem/{sb.catalog.items[1].inventory_item_id}"

    first = _set(sb, item, 480, 500, "8d1f0c8e-replay")
    replay = _set(sb, item, 480, 500, "8d1f0c8e-replay")
    other_params = _set(sb, item, 470, 480, "8d1f0c8e-replay")

    assert replay["data"] == first["data"]
    assert first["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"]["changes"][0]["delta"] == -20
    assert _available(sb, item) == 480
    assert [e["code"] for e in other_params["data"]["inventorySetQuantities"]["userErrors"]] == [
        "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"]
    assert sb.shopify.ledger.outcomes()["replayed"] == 1


def test_the_official_shopify_library_runs_a_query_against_the_sandbox(make_sandbox):
    import shopify

    sb = make_sandbox()
    port = sb.shopify_url.rsplit(":", 1)[1]
    saved = (shopify.Session.protocol, shopify.Session.myshopify_domain, shopify.Session.port)
    # The library builds "{shop}.{myshopify_domain}:{port}" from the first label of the host.
    shopify.Session.protocol, shopify.Session.myshopify_domain, shopify.Session.port = "http", "0.0.1", int(port)
    try:
        session = shopify.Session("127.0.0.1", sb.api_version, sb.shopify.access_token)
        shopify.ShopifyResource.activate_session(session)
        result = shopify.GraphQL().execute("{ shop { name myshopifyDomain } }")
    finally:
        shopify.ShopifyResource.clear_session()
        shopify.Session.protocol, shopify.Session.myshopify_domain, shopify.Session.port = saved

    assert '"name": "Peppasync Sandbox"' in result


def test_a_page_size_given_as_a_variable_is_costed_and_refunded_like_a_literal(make_sandbox):
    sb = make_sandbox()
    sb.place_orders(3, malformed_ratio=0.0)

    body = graphql(sb, "query($n: Int!) { orders(first: $n) { nodes { id } } }", {"n": 10}).json()

    assert len(body["data"]["orders"]["nodes"]) == 3
    assert body["extensions"]["cost"]["requestedQueryCost"] == 12
    assert body["extensions"]["cost"]["actualQueryCost"] == 5


def test_under_a_burst_of_concurrent_queries_the_bucket_spends_no_more_than_it_holds_and_throttles_the_rest(
        make_sandbox):
    clock = ManualClock()
    sb = make_sandbox(QUIET, clock=clock)  # a bucket of 1,000 points
    query = "{ productVariants(first: 40) { nodes { sku } } }"  # 42 points requested, and spent: 40 SKUs exist

    def ask():
        return graphql(sb, query).json()

    answers = [g.get() for g in gevent.joinall([gevent.spawn(ask) for _ in range(60)], raise_error=True)]
    spent = sb.shopify.ledger.events()["points_spent"]
    clock.advance(42 / sb.profile.bucket_restore_rate)
    after_refill = ask()

    throttled = [a for a in answers if a.get("errors", [{}])[0].get("extensions", {}).get("code") == "THROTTLED"]
    assert len(answers) - len(throttled) == 1000 // 42
    assert all(a["extensions"]["cost"]["actualQueryCost"] is None for a in throttled)
    assert spent == 42 * (1000 // 42)
    assert "errors" not in after_refill

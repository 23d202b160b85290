"""Fulfillment holds in the Shopify simulator: several apps' holds on one fulfillment order, each
released by its id, a held fulfillment order refused for fulfillment, and another app that holds
orders for a while."""

from __future__ import annotations

from dataclasses import replace

import gevent

from peppasync.sandbox.other_app import OTHER_APP

from .conftest import QUIET
from .helpers import graphql

HOLDS = """query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 5) {
             nodes { id status fulfillmentHolds { id handle reason heldByRequestingApp } } } } }"""
HOLD = """mutation($id: ID!, $hold: FulfillmentOrderHoldInput!) { fulfillmentOrderHold(id: $id, fulfillmentHold: $hold) {
            fulfillmentHold { id handle reason heldByRequestingApp } fulfillmentOrder { status }
            userErrors { field message code } } }"""
RELEASE = """mutation($id: ID!, $holdIds: [ID!]) { fulfillmentOrderReleaseHold(id: $id, holdIds: $holdIds) {
               fulfillmentOrder { status fulfillmentHolds { id } } userErrors { field message code } } }"""
FULFILL = """mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) {
               fulfillment { status } userErrors { field message } } }"""


def _fulfillment_order(sb, order_id):
    return graphql(sb, HOLDS, {"id": f"gid://shopify/Order/{order_id}"}).json()["data"]["order"][
        "fulfillmentOrders"]["nodes"][0]


def test_our_hold_beside_another_apps_is_released_by_its_id_and_leaves_the_other_in_place(make_sandbox):
    sb = make_sandbox()
    order = sb.place_orders(1, malformed_ratio=0.0)[0]
    sb.other_app.hold(order.id, 3600.0, reason="HIGH_RISK_OF_FRAUD")
    fo = _fulfillment_order(sb, order.id)

    ours = graphql(sb, HOLD, {"id": fo["id"], "hold": {"reason": "OTHER", "handle": "peppasync-gate-design",
                                                        "reasonNotes": "design proof awaiting approval"}}).json()
    hold = ours["data"]["fulfillmentOrderHold"]["fulfillmentHold"]
    released = graphql(sb, RELEASE, {"id": fo["id"], "holdIds": [hold["id"]]}).json()
    after = _fulfillment_order(sb, order.id)

    assert fo["status"] == "ON_HOLD"
    assert fo["fulfillmentHolds"] == [{"id": fo["fulfillmentHolds"][0]["id"], "handle": "review",
                                       "reason": "HIGH_RISK_OF_FRAUD", "heldByRequestingApp": False}]
    assert hold["handle"] == "peppasync-gate-design" and hold["heldByRequestingApp"] is True
    assert released["data"]["fulfillmentOrderReleaseHold"]["userErrors"] == []
    assert after["status"] == "ON_HOLD"
    assert [h["reason"] for h in after["fulfillmentHolds"]] == ["HIGH_RISK_OF_FRAUD"]


def test_the_same_handle_twice_is_refused_and_releasing_without_ids_releases_every_apps_holds(make_sandbox):
    sb = make_sandbox()
    order = sb.place_orders(1, malformed_ratio=0.0)[0]
    sb.other_app.hold(order.id, 3600.0)
    fo_id = _fulfillment_order(sb, order.id)["id"]
    hold = {"id": fo_id, "hold": {"reason": "AWAITING_PAYMENT", "handle": "deposit"}}

    graphql(sb, HOLD, hold)
    again = graphql(sb, HOLD, hold).json()["data"]["fulfillmentOrderHold"]
    everything = graphql(sb, RELEASE, {"id": fo_id}).json()["data"]["fulfillmentOrderReleaseHold"]

    assert again["userErrors"][0]["code"] == "DUPLICATE_FULFILLMENT_HOLD_HANDLE"
    assert everything["fulfillmentOrder"] == {"status": "OPEN", "fulfillmentHolds": []}


def test_a_held_fulfillment_order_cannot_be_fulfilled_until_its_holds_are_released(make_sandbox):
    sb = make_sandbox()
    order = sb.place_orders(1, malformed_ratio=0.0)[0]
    sb.other_app.hold(order.id, 3600.0)
    fo = _fulfillment_order(sb, order.id)
    fulfil = {"f": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}],
                    "trackingInfo": {"company": "UPS", "number": "1Z1"}}}

    refused = graphql(sb, FULFILL, fulfil).json()["data"]["fulfillmentCreate"]
    graphql(sb, RELEASE, {"id": fo["id"], "holdIds": [fo["fulfillmentHolds"][0]["id"]]})
    done = graphql(sb, FULFILL, fulfil).json()["data"]["fulfillmentCreate"]

    assert "unfulfillable status= on_hold" in refused["userErrors"][0]["message"]
    assert done["userErrors"] == [] and done["fulfillment"]["status"] == "SUCCESS"


def test_the_other_app_holds_the_share_of_orders_the_profile_names_and_releases_them_after_a_while(make_sandbox):
    sb = make_sandbox(replace(QUIET, other_app_hold_rate=0.5, other_app_hold_min=0.2, other_app_hold_max=0.3))

    placed = sb.place_orders(20, malformed_ratio=0.0)
    held_at_first = {h["order_id"] for h in sb.shopify.shop.hold_log}
    gevent.sleep(0.5)

    assert 4 <= len(held_at_first) <= 16
    assert held_at_first <= {p.id for p in placed}
    assert all(h["app"] == OTHER_APP and h["released"] is not None for h in sb.shopify.shop.hold_log)
    assert all(_fulfillment_order(sb, oid)["status"] == "OPEN" for oid in held_at_first)

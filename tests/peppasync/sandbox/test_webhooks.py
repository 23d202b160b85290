"""Shopify webhooks as a receiver sees them: headers, HMAC, retries, duplicates and drops."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import replace

import requests

from peppasync.sandbox import sign

from .conftest import QUIET, Receiver
from .helpers import graphql


def _verify(secret: str, body: bytes, header: str) -> bool:
    digest = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(digest, header)


def test_a_delivered_webhook_carries_shopifys_headers_and_a_good_hmac(make_sandbox, receiver):
    sb = make_sandbox(webhook_url=f"{receiver.url}/webhooks/shopify")

    order = sb.place_orders(1, malformed_ratio=0.0)[0]

    assert receiver.wait_for(1)
    got = receiver.received[0]
    assert got.path == "/webhooks/shopify"
    assert got.headers["X-Shopify-Topic"] == "orders/create"
    assert got.headers["X-Shopify-Shop-Domain"] == "peppasync-sandbox.myshopify.com"
    assert got.headers["X-Shopify-Api-Version"] == sb.api_version
    assert got.headers["X-Shopify-Triggered-At"].endswith("Z")
    assert got.headers["X-Shopify-Webhook-Id"] and got.headers["X-Shopify-Event-Id"].isdigit()
    assert _verify(sb.webhook_secret, got.body, got.headers["X-Shopify-Hmac-Sha256"])
    assert json.loads(got.body)["id"] == order.id


def test_a_webhook_checked_with_the_wrong_secret_or_a_changed_body_fails_verification(make_sandbox, receiver):
    sb = make_sandbox(webhook_url=receiver.url)

    sb.place_orders(1, malformed_ratio=0.0)

    assert receiver.wait_for(1)
    got = receiver.received[0]
    assert not _verify("not-the-secret", got.body, got.headers["X-Shopify-Hmac-Sha256"])
    assert not _verify(sb.webhook_secret, got.body + b" ", got.headers["X-Shopify-Hmac-Sha256"])
    assert sign(sb.webhook_secret, got.body) == got.headers["X-Shopify-Hmac-Sha256"]


def test_the_order_body_has_shopifys_rest_shape(make_sandbox, receiver):
    sb = make_sandbox(webhook_url=receiver.url)

    sb.place_orders(1, malformed_ratio=0.0)

    assert receiver.wait_for(1)
    body = json.loads(receiver.received[0].body)
    assert {"id", "name", "email", "created_at", "updated_at", "currency", "total_price", "subtotal_price",
            "total_tax", "total_discounts", "financial_status", "test", "customer", "shipping_address",
            "line_items"} <= set(body)
    assert {"id", "email", "first_name", "last_name"} <= set(body["customer"])
    assert {"id", "sku", "title", "quantity", "price", "requires_shipping", "gift_card"} <= set(body["line_items"][0])
    assert isinstance(body["total_price"], str)


def test_a_failing_receiver_gets_retries_with_the_same_event_until_it_answers_2xx(make_sandbox):
    receiver = Receiver(statuses=[500, 503])
    try:
        sb = make_sandbox(webhook_url=receiver.url)

        sb.place_orders(1, malformed_ratio=0.0)

        assert sb.webhooks.wait_idle(5)
        assert len(receiver.received) == 3
        assert len({r.headers["X-Shopify-Event-Id"] for r in receiver.received}) == 1
        assert len({r.headers["X-Shopify-Triggered-At"] for r in receiver.received}) == 1
        assert [e.outcome for e in sb.webhooks.ledger.entries()] == ["rejected", "rejected", "delivered"]
    finally:
        receiver.stop()


def test_the_sender_gives_up_after_its_retries(make_sandbox):
    receiver = Receiver(statuses=[500] * 10)
    try:
        sb = make_sandbox(replace(QUIET, webhook_retries=2), webhook_url=receiver.url)

        sb.place_orders(1, malformed_ratio=0.0)

        assert sb.webhooks.wait_idle(5)
        assert len(receiver.received) == 3
        assert sb.webhooks.ledger.events() == {"gave_up": 1}
    finally:
        receiver.stop()


def test_duplicates_share_an_event_id_and_drops_never_arrive(make_sandbox, receiver):
    profile = replace(QUIET, webhook_duplicate_rate=0.3, webhook_drop_rate=0.2)
    sb = make_sandbox(profile, webhook_url=receiver.url)

    sb.place_orders(40, malformed_ratio=0.0)

    assert sb.webhooks.wait_idle(5)
    plans = sb.webhooks.plans
    dropped = {p.event_id for p in plans if p.dropped}
    duplicated = {p.event_id for p in plans if p.copies == 2 and not p.dropped}
    seen = [int(r.headers["X-Shopify-Event-Id"]) for r in receiver.received]
    assert dropped and duplicated
    assert not dropped & set(seen)
    assert {e for e in seen if seen.count(e) == 2} == duplicated
    assert len({r.headers["X-Shopify-Webhook-Id"] for r in receiver.received}) == len(receiver.received)


def test_cancel_and_refund_send_their_topics(make_sandbox, receiver):
    sb = make_sandbox(webhook_url=receiver.url)
    order = sb.place_orders(1, malformed_ratio=0.0)[0]

    sb.cancel_order(order.id)
    sb.refund_order(order.id)

    assert receiver.wait_for(4)
    topics = sorted(r.headers["X-Shopify-Topic"] for r in receiver.received)
    assert topics == ["orders/cancelled", "orders/create", "orders/updated", "refunds/create"]
    cancelled = next(json.loads(r.body) for r in receiver.received if r.headers["X-Shopify-Topic"] == "orders/cancelled")
    assert cancelled["cancelled_at"] and cancelled["cancel_reason"] == "customer"


def test_reordered_events_arrive_after_events_placed_later(make_sandbox, receiver):
    profile = replace(QUIET, webhook_reorder_rate=0.3)
    sb = make_sandbox(profile, webhook_url=receiver.url, time_scale=2.5)

    sb.place_orders(20, malformed_ratio=0.0)

    assert sb.webhooks.wait_idle(5)
    held_back = {p.event_id for p in sb.webhooks.plans if p.delay > 0}
    arrival = [int(r.headers["X-Shopify-Event-Id"]) for r in receiver.received]
    assert held_back
    assert set(arrival[-len(held_back):]) == held_back
    shopify_ledger = requests.get(f"{sb.shopify_url}/_sandbox/ledger", timeout=5).json()
    assert shopify_ledger["webhooks"]["outcomes"] == {"delivered": 20}


def test_a_receiver_slower_than_the_timeout_counts_as_a_failure_and_is_retried(make_sandbox):
    receiver = Receiver(hold=1)
    try:
        sb = make_sandbox(replace(QUIET, webhook_timeout=0.2), webhook_url=receiver.url)

        sb.place_orders(1, malformed_ratio=0.0)

        assert sb.webhooks.wait_idle(5)
        assert [e.outcome for e in sb.webhooks.ledger.entries()] == ["timeout", "delivered"]
        assert len(receiver.received) == 2
    finally:
        receiver.stop()


def test_a_fulfillment_through_the_api_is_followed_by_orders_updated(make_sandbox, receiver):
    sb = make_sandbox(webhook_url=receiver.url)
    order = sb.place_orders(1, malformed_ratio=0.0)[0]
    fo = next(iter(sb.shopify.shop.fulfillment_orders))
    mutation = """mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { userErrors { message } } }"""

    graphql(sb, mutation, {"f": {"lineItemsByFulfillmentOrder": [
        {"fulfillmentOrderId": f"gid://shopify/FulfillmentOrder/{fo}"}]}})

    assert receiver.wait_for(2)
    updated = [r for r in receiver.received if r.headers["X-Shopify-Topic"] == "orders/updated"]
    assert [json.loads(r.body)["id"] for r in updated] == [order.id]

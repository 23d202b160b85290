"""Refunds read back from Shopify's GraphQL (the sandbox's) read as their refunds/create webhooks do."""

from __future__ import annotations

from dataclasses import replace

from peppasync.backoff import Backoff
from peppasync.config import parse_config
from peppasync.contracts import check
from peppasync.sandbox import PROFILES, Sandbox

from actors.connectors import RetryPolicy, ShopifyConnector
from actors.order_import import fetch_refunds
from actors.refund import read_refund
from actors.validation import normalise_order

QUIET = replace(PROFILES["calm"], name="quiet")


def test_an_orders_refunds_read_back_are_the_refunds_its_webhooks_carried() -> None:
    with Sandbox(QUIET, seed=8) as sb:
        placed = sb.place_orders(1, malformed_ratio=0.0, messy_ratio=1.0, messy_kinds=("discount",))[0]
        sku = placed.payload["line_items"][0]["sku"]
        sent = [sb.refund_order(placed.id, units={sku: 1}, restock_type="return"), sb.refund_order(placed.id)]
        shopify = ShopifyConnector(parse_config(sb.config_sections()).shopify,
                                   retry=RetryPolicy(max_attempts=2, deadline=5.0, backoff=Backoff(base=0.001, cap=0.005)))

        found = fetch_refunds(shopify, f"gid://shopify/Order/{placed.id}")

    record = normalise_order(placed.payload)
    # The refund keeps the webhook's contract; its lines' line_item carries only what the engine reads of it.
    assert [[p for p in check("shopify", "RefundWebhook", body) if ".line_item" not in p.path]
            for body in found] == [[], []]
    assert [read_refund(body, record) for body in found] == [read_refund(body, record) for body in sent]

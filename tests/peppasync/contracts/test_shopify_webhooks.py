"""Shopify's webhook bodies: the sandbox sends what Shopify documents, and the order flow reads nothing else."""

import json
from importlib import resources
from typing import Any

import pytest
import requests

from peppasync.clock import ManualClock
from peppasync.contracts import check
from peppasync.sandbox import MESSY_KINDS, PROFILES, Sandbox

from actors.adapters import sale_facts
from actors.order_import import ORDER_QUERY, REFUNDS_QUERY, rest_order, rest_refund
from actors.validation import normalise_order

QUIET = PROFILES["calm"]


def _sandbox() -> Sandbox:
    return Sandbox(QUIET, seed=4, clock=ManualClock())


def test_every_valid_order_the_sandbox_places_keeps_shopifys_order_webhook_contract():
    placed = _sandbox().place_orders(200, malformed_ratio=0.0, messy_ratio=0.5)

    broken = {p.id: [str(x) for x in check("shopify", "OrderWebhook", p.payload)] for p in placed}

    assert {k for p in placed for k in p.messy} == set(MESSY_KINDS)
    assert {k: v for k, v in broken.items() if v} == {}


def test_an_edited_order_and_a_refund_keep_their_contracts():
    sb = _sandbox()
    order = sb.place_orders(1, malformed_ratio=0.0)[0]
    first = order.payload["line_items"][0]["sku"]

    edited = sb.edit_order(order.id, {first: 0, sb.catalog.physical[-1].sku: 2})
    refund = sb.refund_order(order.id)

    assert check("shopify", "OrderWebhook", edited) == []
    assert check("shopify", "RefundWebhook", refund) == []
    assert [x["current_quantity"] for x in edited["line_items"] if x["sku"] == first] == [0]


def test_a_body_without_current_quantities_breaks_the_contract_at_that_field():
    body = _sandbox().place_orders(1, malformed_ratio=0.0)[0].payload
    del body["line_items"][0]["current_quantity"]

    problems = check("shopify", "OrderWebhook", body)

    assert [(p.path, p.source) for p in problems] == [
        ("line_items.0", "https://shopify.dev/docs/api/admin-graphql/latest/objects/LineItem"
                         "#field-LineItem.fields.currentQuantity")]


class _Recorder(dict):
    """A JSON object that notes every key read from it, at its path."""

    def __init__(self, value: dict[str, Any], path: str, seen: set[str]) -> None:
        super().__init__({k: _wrap(v, f"{path}.{k}" if path else k, seen) for k, v in value.items()})
        self._path, self._seen = path, seen

    def _note(self, key: str) -> None:
        self._seen.add(f"{self._path}.{key}" if self._path else key)

    def __getitem__(self, key: str) -> Any:
        self._note(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._note(key)
        return super().get(key, default)


def _wrap(value: Any, path: str, seen: set[str]) -> Any:
    if isinstance(value, dict):
        return _Recorder(value, path, seen)
    if isinstance(value, list):
        return [_wrap(v, f"{path}[]", seen) for v in value]
    return value


def _documented(schema: dict[str, Any], defs: dict[str, Any], path: str = "") -> set[str]:
    """Every key path the contract defines (``line_items[].current_quantity``)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _documented(defs[name], defs, path) if name not in ("Money", "Timestamp") else set()
    out: set[str] = set()
    for key, sub in schema.get("properties", {}).items():
        here = f"{path}.{key}" if path else key
        out.add(here)
        out |= _documented(sub, defs, here)
    if "items" in schema:
        out |= _documented(schema["items"], defs, f"{path}[]")
    return out


@pytest.mark.parametrize("kind", ["discount", "yen", "no_sku_line", "unicode_address", "gift_card"])
def test_the_order_flow_reads_only_fields_the_contract_documents(kind):
    document = json.loads(resources.files("peppasync.contracts").joinpath("shopify.json").read_text())
    documented = _documented(document["$defs"]["OrderWebhook"], document["$defs"])
    placed = _sandbox().place_orders(60, malformed_ratio=0.0, messy_ratio=1.0, messy_kinds=(kind,))[0]
    seen: set[str] = set()

    normalise_order(_wrap(placed.payload, "", seen), non_sku_lines=True)

    assert seen and seen <= documented, sorted(seen - documented)


def _read_back(sb, order_id, *, refund=False):
    """The order, and its refunds, as the reconciler reads them from the sandbox's GraphQL (after a full
    refund, if asked), and the refund's webhook body."""
    sb.start()
    try:
        refunded = sb.refund_order(order_id) if refund else None
        answers = [requests.post(sb.graphql_url, json={"query": query,
                                                       "variables": {"id": f"gid://shopify/Order/{order_id}"}},
                                 headers={"X-Shopify-Access-Token": sb.shopify.access_token}, timeout=10).json()
                   for query in (ORDER_QUERY, REFUNDS_QUERY)]
    finally:
        sb.stop()
    order, refunds = (answer["data"]["order"] for answer in answers)
    return rest_order(order), [rest_refund(node, order_id) for node in refunds["refunds"]], refunded


def test_an_order_read_back_by_the_reconciler_keeps_the_webhook_contract():
    sb = _sandbox()
    order = sb.place_orders(1, malformed_ratio=0.0, messy_ratio=1.0, messy_kinds=("discount",))[0]

    body, _, _ = _read_back(sb, order.id)

    assert check("shopify", "OrderWebhook", body) == []
    assert normalise_order(body) == {**normalise_order(order.payload), "updated_at": body["updated_at"]}


@pytest.mark.parametrize("kind", ["discount", "yen", "gift_card", "no_sku_line"])
def test_the_margin_reads_only_fields_the_contract_documents(kind):
    document = json.loads(resources.files("peppasync.contracts").joinpath("shopify.json").read_text())
    documented = _documented(document["$defs"]["OrderWebhook"], document["$defs"])
    sb = _sandbox()
    placed = sb.place_orders(60, malformed_ratio=0.0, messy_ratio=1.0, messy_kinds=(kind,))[0]
    body = placed.payload | {"refunds": [sb.refund_order(placed.id)]}
    seen: set[str] = set()

    sale_facts(_wrap(body, "", seen))

    assert seen and seen <= documented, sorted(seen - documented)


@pytest.mark.parametrize("kind", ["discount", "other_currency", "yen", "gift_card"])
def test_an_order_the_reconciler_reads_back_carries_the_money_its_webhook_did(kind):
    sb = _sandbox()
    placed = sb.place_orders(40, malformed_ratio=0.0, messy_ratio=1.0, messy_kinds=(kind,))[0]

    body, refunds, refund = _read_back(sb, placed.id, refund=True)

    assert check("shopify", "OrderWebhook", body) == []
    # Lines, discounts, taxes and shipping in both currencies, as the webhook stated them...
    assert sale_facts(body) == sale_facts(placed.payload)
    # ...and the refund, read on its own (in the shop's currency, as the reconciler books it).
    [read] = sale_facts(body | {"refunds": refunds}).refunds
    [sent] = sale_facts(placed.payload | {"refunds": [refund]}).refunds
    assert ([(g.sku, g.quantity, g.amount.shop) for g in read.lines], read.shipping.shop) == (
        [(g.sku, g.quantity, g.amount.shop) for g in sent.lines], sent.shipping.shop)

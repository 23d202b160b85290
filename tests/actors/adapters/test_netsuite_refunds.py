"""Refunds and returns in NetSuite: one credit document per Shopify refund, adding up to what went back.

Refunds are made by the sandbox's Shopify (its ``refunds/create`` bodies), read as the order
actor reads them and booked through ``NetsuiteErp`` in the sandbox's NetSuite; the records
are read back over its ledger API.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from peppasync.errors import RejectedError
from peppasync.money import minor_unit
from peppasync.sandbox import Sandbox

from actors.adapters import NetsuiteErp
from actors.domain import Order
from actors.refund import read_refund
from actors.validation import normalise_order

from .test_netsuite_money import MESSY, QUIET, _book, _erp


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(QUIET, seed=34) as sb:
        yield sb


def _state(sb: Sandbox) -> dict[str, Any]:
    answer = requests.get(f"{sb.netsuite_url}/_sandbox/ledger", timeout=10)
    assert answer.status_code == 200
    return dict(answer.json()["state"])


def _refund(erp: NetsuiteErp, sb: Sandbox, order: Order, refund: dict[str, Any]) -> Decimal:
    """Book a refund body as the order actor does; what Shopify says went back."""
    record = normalise_order(sb.shopify.shop.orders[int(order.id)], non_sku_lines=True)
    booked = read_refund(refund, record)
    erp.upsert_refund(order, booked)
    return booked.total


def test_every_full_refund_is_one_credit_memo_adding_up_to_what_went_back(sandbox: Sandbox) -> None:
    erp = _erp(sandbox)
    placed = sandbox.place_orders(20, malformed_ratio=0.0, messy_ratio=0.7, messy_kinds=MESSY)
    orders = [_book(erp, p.payload) for p in placed]

    given_back = {f"shopify-refund-{refund['id']}": (_refund(erp, sandbox, order, refund), order.currency)
                  for order in orders for refund in [sandbox.refund_order(int(order.id))]}
    memos = _state(sandbox)["credit_memos"]

    assert set(memos) == set(given_back)
    assert {eid: abs(Decimal(str(memos[eid]["total"])) - total) < minor_unit(currency)
            for eid, (total, currency) in given_back.items()} == dict.fromkeys(given_back, True)
    assert _state(sandbox)["cash_refunds"] == {}


def test_a_partial_refund_credits_its_units_with_their_discount_and_tax_and_no_shipping(sandbox: Sandbox) -> None:
    erp = _erp(sandbox)
    placed = sandbox.place_orders(1, malformed_ratio=0.0, messy_ratio=1.0, messy_kinds=("discount",))[0]
    order = _book(erp, placed.payload)
    line = placed.payload["line_items"][0]
    # One unit of the first line: its price less its share of the discount, and its share of the tax.
    quantity = line["quantity"]
    discount = Decimal(line["discount_allocations"][0]["amount"])
    tax = Decimal(line["tax_lines"][0]["price"])
    net = ((Decimal(line["price"]) * quantity - discount) / quantity).quantize(Decimal("0.01"))
    unit_tax = (tax / quantity).quantize(Decimal("0.01"))

    refund = sandbox.refund_order(int(order.id), units={line["sku"]: 1}, restock_type="return")
    _refund(erp, sandbox, order, refund)
    memo = sandbox.netsuite.erp.records_of("creditMemo")[f"shopify-refund-{refund['id']}"]

    assert [(i["item"], i["quantity"], i["amount"]) for i in memo["item"]["items"]] == [
        ({"externalId": line["sku"]}, 1, float(net))]
    assert ("shippingCost" in memo, memo["taxTotal"], memo["total"]) == (False, float(unit_tax),
                                                                          float(net + unit_tax))


def test_a_refund_booked_again_stays_one_document(sandbox: Sandbox) -> None:
    erp = _erp(sandbox)
    order = _book(erp, sandbox.place_orders(1, malformed_ratio=0.0)[0].payload)
    refund = sandbox.refund_order(int(order.id))

    for _ in range(3):
        _refund(erp, sandbox, order, refund)
    state = _state(sandbox)

    assert sandbox.netsuite.erp.credit_documents() == {f"shopify-refund-{refund['id']}": ["creditMemo"]}
    assert state["creates"][f"creditMemo/shopify-refund-{refund['id']}"] == 1


def test_as_cash_refunds_they_come_from_the_configured_account(sandbox: Sandbox) -> None:
    erp = _erp(sandbox, refunds="cash_refund")
    order = _book(erp, sandbox.place_orders(1, malformed_ratio=0.0)[0].payload)
    refund = sandbox.refund_order(int(order.id))

    total = _refund(erp, sandbox, order, refund)
    cash = sandbox.netsuite.erp.records_of("cashRefund")[f"shopify-refund-{refund['id']}"]

    assert (cash["account"], Decimal(str(cash["total"]))) == ({"id": "1100"}, total)
    assert _state(sandbox)["credit_memos"] == {}


def test_a_refund_beyond_lines_and_shipping_without_an_item_for_it_is_refused_naming_the_key(
        sandbox: Sandbox) -> None:
    erp = _erp(sandbox, refund_item="", non_sku_item="")
    order = _book(erp, sandbox.place_orders(1, malformed_ratio=0.0)[0].payload)
    goodwill = {"id": 4242, "order_id": int(order.id), "created_at": "2026-11-28T00:00:00Z",
                "refund_line_items": [], "transactions": [{"kind": "refund", "status": "success", "amount": "5.00"}],
                "order_adjustments": [{"kind": "refund_discrepancy", "amount": "-5.00"}]}

    with pytest.raises(RejectedError) as refused:
        _refund(erp, sandbox, order, goodwill)

    assert refused.value.code == "CONFIG_REFUND_ITEM" and "[netsuite] refund_item" in str(refused.value)


def test_a_goodwill_refund_goes_on_the_refund_item(sandbox: Sandbox) -> None:
    erp = _erp(sandbox)
    order = _book(erp, sandbox.place_orders(1, malformed_ratio=0.0)[0].payload)
    goodwill = {"id": 4243, "order_id": int(order.id), "created_at": "2026-11-28T00:00:00Z",
                "refund_line_items": [], "transactions": [{"kind": "refund", "status": "success", "amount": "5.00"}],
                "order_adjustments": [{"kind": "refund_discrepancy", "amount": "-5.00"}]}

    _refund(erp, sandbox, order, goodwill)
    memo = sandbox.netsuite.erp.records_of("creditMemo")["shopify-refund-4243"]

    assert ([i["item"] for i in memo["item"]["items"]], memo["total"]) == ([{"id": "7004"}], 5)


def test_a_return_is_opened_once_from_the_sales_order_with_its_shipped_lines(sandbox: Sandbox) -> None:
    erp = _erp(sandbox)
    order = _book(erp, sandbox.place_orders(1, malformed_ratio=0.0, messy_ratio=1.0,
                                            messy_kinds=("no_sku_line",))[0].payload)

    erp.open_return(order)
    erp.open_return(order)
    state = _state(sandbox)

    assert state["return_authorizations"][f"shopify-return-{order.id}"]["createdFrom"] == order.id
    assert state["creates"][f"returnAuthorization/shopify-return-{order.id}"] == 1
    record = sandbox.netsuite.erp.records_of("returnAuthorization")[f"shopify-return-{order.id}"]
    assert [i["item"] for i in record["item"]["items"]] == [
        {"externalId": line.sku} for line in order.lines if line.requires_shipping]

"""Business Central end to end: the adapter and connector against the sandbox's Business Central over HTTP.

Every write is captured as it leaves the connector and checked against
``peppasync/contracts/business_central.json``; the simulator enforces the same contract,
so what it holds is what Business Central would. Creation must be idempotent without an
upsert: a create sent twice, or after a crash, leaves one sales order with its lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
import requests

from peppasync.backoff import Backoff
from peppasync.config import parse_config
from peppasync.contracts import check
from peppasync.errors import RejectedError, TransientError
from peppasync.sandbox import PROFILES, Sandbox

from actors.adapters import BusinessCentralErp
from actors.adapters.business_central import sales_order_number, sales_order_record
from actors.connectors import BusinessCentralConnector, RetryPolicy
from actors.domain import Order, Refund
from actors.validation import normalise_order

QUIET = replace(PROFILES["calm"], name="quiet", erp_latency_median=0.001, erp_latency_sigma=0.0)
FAST_RETRY = RetryPolicy(max_attempts=4, deadline=5.0, backoff=Backoff(base=0.001, cap=0.005))
# Which contract a write keeps, by method and the last resource named in its URL.
CONTRACTS = {("POST", "salesOrders"): "SalesOrderCreate", ("POST", "salesOrderLines"): "SalesOrderLineCreate",
             ("PATCH", "salesOrderLines"): "SalesOrderLineUpdate", ("POST", "customers"): "CustomerCreate",
             ("PATCH", "customers"): "CustomerUpdate"}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(QUIET, seed=21, erp="business_central") as sb:
        yield sb


class Wire:
    """The adapter on a connector to the sandbox, and every request it sent with its answer."""

    def __init__(self, sb: Sandbox, **settings: Any) -> None:
        sections = sb.config_sections()
        config = parse_config({"erp": sections["erp"],
                               "business_central": {**sections["business_central"], **settings}}).business_central
        self.connector = BusinessCentralConnector(config, retry=FAST_RETRY)
        self.erp = BusinessCentralErp(self.connector, guest_customer=config.guest_customer,
                                      non_sku_item=config.non_sku_item)
        self.sent: list[tuple[requests.PreparedRequest, requests.Response]] = []
        self.connector.session.hooks["response"].append(self._keep)

    def _keep(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.sent.append((response.request, response))

    def writes(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for request, _ in self.sent:
            last = str(request.path_url).split("?")[0].rstrip("/").rsplit("/", 1)[-1].split("(")[0]
            name = CONTRACTS.get((str(request.method), last))
            if name is not None:
                body = request.body if isinstance(request.body, (bytes, str)) else b"{}"
                out.append((name, json.loads(body)))
        return out


def _order(sb: Sandbox, kind: str = "customer") -> Order:
    messy = kind if kind not in ("customer", "guest") else None
    placed = sb.place_orders(1, malformed_ratio=0.0, messy_ratio=1.0 if messy else 0.0,
                             messy_kinds=(messy,) if messy else ())[0]
    payload = dict(placed.payload)
    if kind == "guest":
        payload.pop("customer")
    return Order.from_record(normalise_order(payload, non_sku_lines=True))


def _sync(wire: Wire, order: Order) -> None:
    """What the order flow does with the ERP for an order: its customer first, then the sales order."""
    if order.customer is not None:
        wire.erp.upsert_customer(order.customer)
    wire.erp.upsert_sales_order(order)


def _lines(sb: Sandbox, order: Order) -> list[tuple[str, int]]:
    assert sb.business_central is not None
    return list(sb.business_central.booked()[order.id].lines)


KINDS = ["customer", "guest", "gift_card", "discount", "other_currency", "yen", "no_sku_line"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_body_sent_for_an_order_keeps_the_contract_and_business_central_holds_what_was_sold(
        sandbox: Sandbox, kind: str) -> None:
    wire = Wire(sandbox)
    order = _order(sandbox, kind)

    _sync(wire, order)

    writes = wire.writes()
    assert [name for name, _ in writes] == (["SalesOrderCreate"] if kind == "guest"
                                            else ["CustomerCreate", "SalesOrderCreate"])
    assert [(name, check("business_central", name, body)) for name, body in writes] == [(n, []) for n, _ in writes]
    assert _lines(sandbox, order) == [("" if line.non_sku else line.sku, line.quantity) for line in order.lines]
    answer = wire.sent[-1][1].json()
    assert check("business_central", "SalesOrder", answer) == []
    net = sum((line.price * line.quantity for line in order.lines), Decimal(0)) - order.discounts
    assert Decimal(str(answer["totalAmountExcludingTax"])) == net  # the lines add up to what Shopify charged


def test_an_order_sent_again_is_refused_as_a_taken_number_found_and_not_created_twice(
        sandbox: Sandbox) -> None:
    wire = Wire(sandbox)
    order = _order(sandbox)

    _sync(wire, order)
    _sync(wire, order)

    assert sandbox.erp.duplicate_creates() == 0
    assert [name for name, _ in wire.writes()] == ["CustomerCreate", "SalesOrderCreate"] * 2
    assert sandbox.erp.ledger.outcomes()["duplicate"] == 2  # the second time, both numbers were taken
    assert sandbox.erp.booked_ids() == {order.id}
    assert _lines(sandbox, order) == [(line.sku, line.quantity) for line in order.lines]


def test_a_create_whose_answer_was_lost_is_sent_again_into_a_taken_number_and_the_order_stays_single(
        sandbox: Sandbox) -> None:
    wire = Wire(sandbox)
    order = _order(sandbox, "guest")
    assert sandbox.business_central is not None
    sandbox.business_central.lose_answers(1)  # Business Central saves the order; its answer never arrives

    wire.erp.upsert_sales_order(order)  # the connector sends the create again

    outcomes = sandbox.erp.ledger.outcomes()
    assert (outcomes["reset"], outcomes["duplicate"]) == (1, 1)
    assert sandbox.erp.duplicate_creates() == 0
    assert sandbox.erp.booked_ids() == {order.id}
    assert _lines(sandbox, order) == [(line.sku, line.quantity) for line in order.lines]


def test_a_create_sent_twice_by_a_crash_between_look_up_and_answer_is_refused_the_second_time(
        sandbox: Sandbox) -> None:
    wire = Wire(sandbox)
    order = _order(sandbox, "guest")
    body = sales_order_record(order, guest_customer="GUEST")

    first = wire.connector.create_sales_order(body)
    again = wire.connector.create_sales_order(body)  # a second process that looked before the first wrote

    assert first is not None and first["number"] == sales_order_number(order.id)
    assert again is None
    assert sandbox.erp.duplicate_creates() == 0
    assert _lines(sandbox, order) == [(line.sku, line.quantity) for line in order.lines]


def test_a_changed_order_has_exactly_its_new_lines_after_the_update(sandbox: Sandbox) -> None:
    wire = Wire(sandbox)
    order = _order(sandbox)
    extra = sandbox.catalog.items[-2]
    bigger = replace(order, lines=(*order.lines, replace(order.lines[0], sku=extra.sku, quantity=2)))
    _sync(wire, bigger)

    fewer = replace(order, lines=(replace(order.lines[0], quantity=order.lines[0].quantity + 1),))
    wire.erp.upsert_sales_order(fewer)

    assert _lines(sandbox, order) == [(order.lines[0].sku, order.lines[0].quantity + 1)]
    names = [name for name, _ in wire.writes()]
    assert "SalesOrderLineUpdate" in names
    assert all(check("business_central", name, body) == [] for name, body in wire.writes())


def test_a_line_changed_to_another_item_keeps_shopifys_line_order(sandbox: Sandbox) -> None:
    wire = Wire(sandbox)
    order = _order(sandbox, "guest")
    first, second = sandbox.catalog.items[1], sandbox.catalog.items[2]
    two = replace(order, lines=(replace(order.lines[0], sku=first.sku, quantity=1),
                                replace(order.lines[0], sku=second.sku, quantity=2)))
    _sync(wire, two)
    other = sandbox.catalog.items[4]

    _sync(wire, replace(two, lines=(replace(two.lines[0], sku=other.sku), two.lines[1])))

    assert _lines(sandbox, order) == [(other.sku, 1), (second.sku, 2)]


def test_a_cancelled_order_is_deleted_and_a_second_cancel_is_done_already(sandbox: Sandbox) -> None:
    wire = Wire(sandbox)
    order = _order(sandbox)
    _sync(wire, order)

    wire.erp.cancel_sales_order(order)
    wire.erp.cancel_sales_order(order)

    assert sandbox.erp.booked_ids() == set()
    assert sandbox.erp.snapshot()["deleted"] == [order.id]


def test_a_customer_whose_number_is_taken_is_found_by_it_and_updated_not_created_again(sandbox: Sandbox) -> None:
    wire = Wire(sandbox)
    order = _order(sandbox)
    assert order.customer is not None

    wire.erp.upsert_customer(order.customer)
    wire.erp.upsert_customer(replace(order.customer, email="new@example.com"))

    assert [name for name, _ in wire.writes()] == ["CustomerCreate", "CustomerCreate", "CustomerUpdate"]
    assert wire.writes()[-1][1] == {"email": "new@example.com"}
    assert sandbox.erp.duplicate_creates() == 0


def test_a_refused_token_is_fetched_again_once_and_the_call_goes_through(sandbox: Sandbox) -> None:
    wire = Wire(sandbox)
    order = _order(sandbox)
    _sync(wire, order)
    assert sandbox.business_central is not None
    issued = sandbox.erp.ledger.events()["tokens_issued"]

    sandbox.business_central.expire_tokens()
    wire.erp.cancel_sales_order(order)

    assert sandbox.erp.ledger.events()["tokens_issued"] == issued + 1
    assert sandbox.erp.ledger.outcomes()["unauthorized"] == 1
    assert sandbox.erp.booked_ids() == set()


def test_a_token_is_kept_for_its_lifetime_not_fetched_per_call(sandbox: Sandbox) -> None:
    wire = Wire(sandbox)

    for _ in range(3):
        wire.erp.upsert_sales_order(_order(sandbox, "guest"))

    assert sandbox.erp.ledger.events()["tokens_issued"] == 1


def test_a_wrong_client_secret_is_refused_with_the_identity_platforms_reason(sandbox: Sandbox) -> None:
    wire = Wire(sandbox, client_secret="wrong")

    with pytest.raises(RejectedError) as caught:
        wire.erp.upsert_sales_order(_order(sandbox, "guest"))

    assert "invalid_client" in str(caught.value)
    assert sandbox.erp.booked_ids() == set()


def test_an_unknown_item_is_refused_with_business_centrals_message_and_code(sandbox: Sandbox) -> None:
    wire = Wire(sandbox)
    order = _order(sandbox, "guest")
    unknown = replace(order, lines=(replace(order.lines[0], sku="NO-SUCH-SKU"),))

    with pytest.raises(RejectedError) as caught:
        wire.erp.upsert_sales_order(unknown)

    assert caught.value.code == "Application_DialogException"
    assert "(NO-SUCH-SKU) that cannot be found in the related table (Item)" in str(caught.value)
    assert sandbox.erp.booked_ids() == set()


def test_over_the_request_window_business_central_answers_429_with_retry_after_and_it_is_transient() -> None:
    with Sandbox(QUIET, seed=22, erp="business_central") as sb:
        assert sb.business_central is not None
        sb.business_central.window = type(sb.business_central.window)(1, 3600.0, sb.clock)
        wire = Wire(sb)
        wire.connector.retry = RetryPolicy(max_attempts=1)

        with pytest.raises(TransientError) as caught:
            _sync(wire, _order(sb))  # the customer's create takes the window's one request

    throttled = [response for _, response in wire.sent if response.status_code == 429]
    assert throttled and int(throttled[0].headers["Retry-After"]) > 0
    assert throttled[0].json()["error"]["code"]
    assert caught.value.retry_after is not None and caught.value.retry_after > 0


def test_item_cost_reads_the_items_unit_cost_and_none_for_an_unknown_sku(sandbox: Sandbox) -> None:
    wire = Wire(sandbox)
    item = sandbox.catalog.items[3]

    assert wire.connector.item_cost(item.sku) == float(item.cost)
    assert wire.connector.item_cost("NO-SUCH-SKU") is None


def test_money_beyond_the_sales_order_is_not_booked_and_says_what_to_do_by_hand(sandbox):
    wire = Wire(sandbox)
    order = _order(sandbox)
    refund = Refund(id="901", order_id=order.id, currency=order.currency, created_at="", total=Decimal("12.50"))

    wire.erp.record_payments(order)  # the company's cash receipt journals book payments

    with pytest.raises(RejectedError, match=r"book a sales credit memo for Shopify refund 901 .* by hand"):
        wire.erp.upsert_refund(order, refund)
    with pytest.raises(RejectedError, match="open a sales return order by hand"):
        wire.erp.open_return(order)
    assert wire.sent == []  # nothing was sent to Business Central

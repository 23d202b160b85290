"""The margin actor under a real actor system and store, against figures computed by hand."""

from decimal import Decimal

import gevent
import pytest

from peppasync.clock import SystemClock
from peppasync.config import parse_config
from peppasync.errors import TransientError, ValidationError
from peppasync.store import open_store

from actors.costs import CostBook
from actors.margin import MarginActor, MarginSettings
from actors.margin_model import Transaction
from actors.margin_report import margin_of
from actors.payment_reads import PaymentReads
from actors.system import ActorSystem
from tests.actors.conftest import CountingHooks, roomy_supervision, small_policy


class Costs:
    """An ERP's and a storefront's unit costs (the external side of the cost book)."""

    def __init__(self, sources, costs):
        self.sources = sources
        self.costs = costs
        self.reads = 0
        self.down = False

    def unit_costs(self, sku):
        self.reads += 1
        if self.down:
            raise TransientError("the ERP is down")
        return {source: Decimal(amount) for source, amount in self.costs.get(sku, {}).items()}


class MarginHooks(CountingHooks):
    """Keeps the margin events the metrics are made from."""

    def __init__(self):
        super().__init__()
        self.changes = []

    def on_margin(self, currency, changes, first_percent, fell_below_floor):
        self.changes.append((currency, dict(changes), first_percent, fell_below_floor))


def _money(shop, presentment):
    return {"shop_money": {"amount": shop, "currency_code": "USD"},
            "presentment_money": {"amount": presentment, "currency_code": "EUR"}}


def _line(ident, sku, quantity, price, eur, *, discount=None, tax="0.00"):
    return {
        "id": ident, "sku": sku, "quantity": quantity, "price": price, "price_set": _money(price, eur),
        "discount_allocations": [{"amount": discount[0], "amount_set": _money(*discount)}] if discount else [],
        "tax_lines": [{"title": "State tax", "price": tax, "rate": 0.08, "price_set": _money(tax, "0.00")}],
        "gift_card": False, "requires_shipping": True,
    }


ORDER = {
    "id": 5001, "name": "#5001", "currency": "USD", "presentment_currency": "EUR", "taxes_included": False,
    "created_at": "2026-11-27T10:00:00Z", "updated_at": "2026-11-27T10:00:00Z",
    "total_price": "90.72", "total_price_set": _money("90.72", "81.65"),
    "subtotal_price": "76.00", "total_discounts": "4.00", "total_tax": "6.72",
    "line_items": [
        _line(1, "MUG", 2, "20.00", "18.00", discount=("4.00", "3.60"), tax="2.88"),
        _line(2, "TEE", 1, "30.00", "27.00", tax="2.40"),
        _line(3, "POSTER", 1, "10.00", "9.00", tax="0.80"),
    ],
    "shipping_lines": [{"title": "Standard", "price": "8.00", "price_set": _money("8.00", "7.20"),
                        "discounted_price": "8.00", "discounted_price_set": _money("8.00", "7.20"),
                        "tax_lines": [{"price": "0.64", "price_set": _money("0.64", "0.58"), "rate": 0.08}]}],
    "shipping_address": {"first_name": "Ada", "last_name": "Byron", "address1": "1 Main St", "city": "Springfield",
                         "zip": "12345", "country_code": "US"},
    "refunds": [],
}

REFUND = {
    "id": 801, "order_id": 5001, "created_at": "2026-11-29T09:00:00Z",
    "refund_line_items": [{"line_item_id": 1, "quantity": 1, "restock_type": "return",
                           "subtotal": "18.00", "subtotal_set": _money("18.00", "16.20"),
                           "total_tax": "1.44", "total_tax_set": _money("1.44", "1.30"),
                           "line_item": {"sku": "MUG"}}],
    "order_adjustments": [],
}


class Payments:
    """The storefront's charges of an order and their fees (the external side of the payments port)."""

    def __init__(self):
        self.asked = []

    def charges(self, order_ids):
        self.asked.extend(order_ids)
        return {order_id: (Transaction(Decimal("90.72"), Decimal("2.71")),) for order_id in order_ids}


@pytest.fixture
def payments():
    return Payments()


@pytest.fixture
def engine(tmp_path, request):
    store = open_store(f"sqlite:///{tmp_path}/margin.db")
    store.migrate()
    config = parse_config({"margin": {"fee_percent": 2.9, "fee_fixed": 0.30, "per_order": {"packaging": 0.80},
                                      "floor_percent": 60.0}}, environ={})
    erp = Costs(("erp.average_cost", "erp.last_purchase_price"), {"MUG": {"erp.average_cost": "6.00"}})
    shop = Costs(("shopify.unit_cost",), {"TEE": {"shopify.unit_cost": "11.00"}, "MUG": {"shopify.unit_cost": "5"}})
    clock = SystemClock()
    hooks = MarginHooks()
    system = ActorSystem(store, small_policy(), clock=clock, supervision=roomy_supervision(clock), hooks=hooks,
                         sweep_interval=0.05, services={
        "margin": MarginSettings.from_config(config.margin),
        "costs": CostBook([erp, shop], clock, ttl=3600),
        **({"payments": PaymentReads(request.getfixturevalue("payments"), linger=0.01)} if "payments" in request.fixturenames else {}),
    })
    system.register(MarginActor)
    system.start()
    sent = 0

    def version():
        found = store.get_state("margin", "5001")
        return found[1] if found else 0

    def send(payload, *, changes=True):
        nonlocal sent
        before = version()
        system.tell("margin", "5001", {"received_at": clock.time(), **payload})
        sent += 1
        hooks.wait_finished(sent)
        for _ in range(250):  # the state commits just after the outcome is counted
            if not changes or version() > before:
                break
            gevent.sleep(0.02)
        assert not changes or version() > before, "the margin's state was not saved"
        settle()

    def settle():
        """Until the margin has heard of every unit cost it waited on (they are read in the background)."""
        for _ in range(250):
            if not store.pending("margin", "5001", limit=1, now=float("inf")):
                gevent.sleep(0.05)
                if not store.pending("margin", "5001", limit=1, now=float("inf")):
                    return
            gevent.sleep(0.02)
        raise AssertionError("the margin's mailbox never emptied")

    send.hooks = hooks
    yield send, store, erp
    system.stop(timeout=5)
    store.close()


def _parts(view):
    return {c["name"]: (c["amount"], c["source"], c["basis"]) for c in [view["revenue"], *view["costs"]]}


def test_the_margin_equals_the_hand_computed_figures_component_by_component(engine):
    send, store, _ = engine
    send({"type": "sale", "body": ORDER})
    send({"type": "label", "shipment_id": "71", "shipment_cost": 9.00, "insurance_cost": 0, "voided": False})
    send({"type": "label", "shipment_id": "71", "shipment_cost": 9.00, "insurance_cost": 0, "voided": True})
    send({"type": "label", "shipment_id": "72", "shipment_cost": 7.50, "insurance_cost": 1.25, "voided": False})
    send({"type": "refund", "body": REFUND})

    view = margin_of(store, "5001")

    # Revenue: (2 x 20.00 - 4.00) + 30.00 + 10.00 + shipping 8.00 - refunded 18.00, tax excluded.
    # In euros: (36.00 - 3.60) + 27.00 + 9.00 + 7.20 - 16.20.
    assert view["revenue"]["presentment"] == "59.40"
    # COGS: one mug kept (one returned to stock) at the ERP's 6.00, the tee at Shopify's 11.00,
    # the poster has no cost anywhere: missing. Fees: 2.9 % of 90.72 + 0.30 = 2.93088.
    assert _parts(view) == {
        "revenue": ("66.00", "shopify.order", "actual"),
        "cogs": ("17.00", "erp.average_cost+shopify.unit_cost", "missing"),
        "fulfilment": ("8.75", "wms.label", "actual"),
        "payment_fees": ("2.93", "config.margin.fee_rate", "estimated"),
        "packaging": ("0.80", "config.margin.packaging", "estimated"),
    }
    assert (view["margin"], view["percent"], view["complete"]) == ("36.52", "55.33", False)
    assert (view["currency"], view["presentment_currency"]) == ("USD", "EUR")


def test_a_refund_seen_twice_and_an_older_order_body_change_nothing(engine):
    send, store, _ = engine
    refunded = {**ORDER, "updated_at": "2026-11-29T09:00:01Z", "refunds": [REFUND]}
    send({"type": "sale", "body": refunded})
    send({"type": "refund", "body": REFUND})
    send({"type": "sale", "body": ORDER}, changes=False)  # the create webhook, late

    assert margin_of(store, "5001")["revenue"]["amount"] == "66.00"


def test_costs_are_a_snapshot_at_sale_and_a_failed_source_is_read_again_later(engine):
    send, store, erp = engine
    erp.down = True
    send({"type": "sale", "body": ORDER})
    # The ERP is down: the mug is costed from the next source in the order (2 x 5.00 + 11.00).
    assert _parts(margin_of(store, "5001"))["cogs"][:2] == ("21.00", "shopify.unit_cost")
    erp.down = False
    erp.costs["MUG"] = {"erp.average_cost": "7.00"}
    send({"type": "recost"})
    assert _parts(margin_of(store, "5001"))["cogs"][:2] == ("25.00", "erp.average_cost+shopify.unit_cost")
    erp.costs["MUG"] = {"erp.average_cost": "9.00"}
    send({"type": "label", "shipment_id": "72", "shipment_cost": 7.50, "insurance_cost": 0, "voided": False})
    # A later event keeps the snapshot taken at the time of sale (or at the last recost).
    assert _parts(margin_of(store, "5001"))["cogs"][0] == "25.00"


def test_a_message_the_margin_cannot_read_is_refused_with_its_reason(engine):
    send, store, _ = engine
    send({"type": "sale", "body": {"id": 5001}}, changes=False)
    for _ in range(100):  # the quarantine commits just after the outcome is counted
        if store.quarantine_list():
            break
        gevent.sleep(0.02)
    [entry] = store.quarantine_list()
    assert entry.reason == "validation" and "a sale needs the order body with its line_items" in entry.traceback


def test_an_order_the_flow_would_refuse_gets_no_margin_and_says_why(engine):
    send, store, _ = engine
    broken = {**ORDER, "line_items": [{**ORDER["line_items"][0], "quantity": -2}]}
    send({"type": "sale", "body": broken})

    with pytest.raises(ValidationError, match="order 5001 has no margin: the order was refused .*quantity"):
        margin_of(store, "5001")
    assert store.quarantine_list() == []  # the order's own entry is the operator's; none for its margin

    send({"type": "sale", "body": {**ORDER, "updated_at": "2026-11-27T11:00:00Z"}})  # fixed in Shopify
    assert margin_of(store, "5001")["revenue"]["amount"] == "84.00"


@pytest.mark.parametrize("bad", [
    {"price_set": {"shop_money": {"amount": "NaN"}, "presentment_money": {"amount": "1"}}},
    {"price": "1e400"},
    {"tax_lines": [{"price": "1.00", "price_set": {"nested": [[[[[[[[[[[]]]]]]]]]]]}}]},
])
def test_amounts_that_are_not_amounts_leave_nothing_in_the_state(engine, bad):
    send, store, _ = engine
    line = {**ORDER["line_items"][1], **bad}
    send({"type": "sale", "body": {**ORDER, "line_items": [ORDER["line_items"][0], line, ORDER["line_items"][2]]}})

    state, _ = store.get_state("margin", "5001")
    assert "sale" not in state and "amount" in state["refused"]  # the reason names what was wrong


def test_fees_shopify_reports_replace_the_estimate_once_the_order_is_paid(engine, payments):
    send, store, _ = engine
    send({"type": "sale", "body": {**ORDER, "financial_status": "paid"}})

    fees = next(c for c in margin_of(store, "5001")["costs"] if c["name"] == "payment_fees")
    send({"type": "label", "shipment_id": "72", "shipment_cost": 7.50, "insurance_cost": 0, "voided": False})

    assert (fees["amount"], fees["source"], fees["basis"]) == ("2.71", "shopify.transaction_fees", "actual")
    assert payments.asked == ["5001"]  # once, not on every event


def test_an_update_that_changes_no_money_writes_nothing(engine):
    send, store, _ = engine
    send({"type": "sale", "body": ORDER})
    _, version = store.get_state("margin", "5001")

    send({"type": "sale", "body": {**ORDER, "updated_at": "2026-11-27T12:00:00Z", "note": "gift wrap"}},
         changes=False)
    send({"type": "sale", "body": {**ORDER, "updated_at": "2026-11-27T11:00:00Z",
                                   "shipping_lines": []}}, changes=False)  # older than the update above

    assert store.get_state("margin", "5001")[1] == version

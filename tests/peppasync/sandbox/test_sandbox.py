"""The Sandbox as the engine, demo and benchmarks use it: config, orders, determinism, ledgers."""

from __future__ import annotations

import argparse
from dataclasses import replace
from decimal import Decimal

import pytest
import requests

from peppasync.clock import ManualClock
from peppasync.config import parse_config
from peppasync.sandbox import MALFORMED_KINDS, PROFILES, Sandbox, SandboxProfile
from peppasync.sandbox.cli import add_arguments

from .conftest import QUIET


def test_config_sections_parse_into_a_complete_config_that_points_at_the_simulators(make_sandbox):
    sb = make_sandbox()

    config = parse_config(sb.config_sections(), environ={}, complete=True)

    assert config.shopify.shop_url == sb.shopify_url
    assert config.shopify.access_token == sb.shopify.access_token
    assert config.netsuite.base_url == sb.netsuite_url
    assert config.netsuite.account_id == sb.netsuite.credentials.account_id
    assert config.wms.base_url == sb.wms_url


def test_the_same_seed_places_the_same_orders_and_plans_the_same_faults():
    profile = replace(PROFILES["black-friday"], webhook_drop_rate=0.2, webhook_duplicate_rate=0.2)
    runs = []
    for _ in range(2):
        sb = Sandbox(profile, seed=42, clock=ManualClock())
        placed = sb.place_orders(60, malformed_ratio=0.2, messy_ratio=0.2)
        runs.append(([p.payload for p in placed], sb.webhooks.plans))
    other = Sandbox(profile, seed=43, clock=ManualClock())
    other_placed = other.place_orders(60, malformed_ratio=0.2, messy_ratio=0.2)

    assert runs[0][0] == runs[1][0]
    assert runs[0][1] == runs[1][1]
    assert any(plan.dropped for plan in runs[0][1]) and any(plan.copies == 2 for plan in runs[0][1])
    assert [p.payload for p in other_placed] != runs[0][0]


def test_malformed_orders_are_marked_with_what_is_wrong_with_them():
    sb = Sandbox(QUIET, seed=5, clock=ManualClock())

    placed = sb.place_orders(200, malformed_ratio=0.5)

    by_kind = {kind: [p for p in placed if p.malformed == kind] for kind in MALFORMED_KINDS}
    assert all(by_kind.values())
    assert all(any(sku not in sb.catalog for sku, _ in p.lines) for p in by_kind["unknown_sku"])
    assert all(any(not sku for sku, _ in p.lines) for p in by_kind["missing_sku"])
    assert all(p.payload["shipping_address"] is None for p in by_kind["no_shipping_address"])
    assert all(any(q < 0 for _, q in p.lines) for p in by_kind["negative_quantity"])
    for p in by_kind["bad_totals"]:
        body = p.payload
        shipping = sum(Decimal(s["price"]) for s in body["shipping_lines"])
        expected = Decimal(body["subtotal_price"]) + Decimal(body["total_tax"]) + shipping
        assert Decimal(body["total_price"]) != expected
    valid = [p for p in placed if p.valid]
    for p in valid:
        body = p.payload
        lines = sum(Decimal(line["price"]) * line["quantity"] for line in body["line_items"])
        assert Decimal(body["subtotal_price"]) == lines - Decimal(body["total_discounts"])


def test_messy_but_valid_orders_cover_gift_cards_unicode_many_lines_and_more():
    sb = Sandbox(QUIET, seed=9, clock=ManualClock())

    placed = sb.place_orders(120, malformed_ratio=0.0, messy_ratio=1.0)

    kinds = {p.messy[0] for p in placed}
    assert kinds == {"gift_card", "unicode_address", "many_lines", "discount", "other_currency", "test_order", "yen",
                     "no_sku_line"}
    gift = next(p for p in placed if "gift_card" in p.messy).payload
    assert gift["shipping_address"] is None and not gift["line_items"][0]["requires_shipping"]
    assert any(len(p.payload["line_items"]) == 250 for p in placed)
    assert any(p.payload["currency"] != "USD" for p in placed)
    assert all(p.valid for p in placed)


def test_bad_arguments_get_errors_that_say_what_was_wrong():
    with pytest.raises(ValueError, match="unknown sandbox profile 'weekend'; choose one of black-friday, calm"):
        Sandbox("weekend")
    with pytest.raises(ValueError, match="time_scale must be positive"):
        Sandbox(time_scale=0)
    with pytest.raises(ValueError, match="malformed_ratio must be within"):
        Sandbox(QUIET).place_orders(1, malformed_ratio=2)
    with pytest.raises(ValueError, match="webhook_drop_rate must be within"):
        SandboxProfile(name="odd", webhook_drop_rate=1.5)


def test_each_simulator_serves_its_ledger_as_json(make_sandbox):
    sb = make_sandbox()
    sb.place_orders(2, malformed_ratio=0.0)
    requests.get(f"{sb.wms_url}/shipments", auth=("nobody", "nothing"), timeout=5)

    shopify = requests.get(f"{sb.shopify_url}/_sandbox/ledger", timeout=5).json()
    wms = requests.get(f"{sb.wms_url}/_sandbox/ledger", timeout=5).json()
    netsuite = requests.get(f"{sb.netsuite_url}/_sandbox/ledger", timeout=5).json()

    assert len(shopify["state"]["orders"]) == 2
    assert wms["ledger"]["outcomes"] == {"unauthorized": 1}
    assert wms["ledger"]["entries"][0]["status"] == 401
    assert set(netsuite["state"]) >= {"sales_orders", "creates", "duplicates"}


def test_placing_orders_commits_shopify_stock(make_sandbox):
    sb = make_sandbox()

    placed = sb.place_orders(5, malformed_ratio=0.0)

    sold: dict[str, int] = {}
    for order in placed:
        for sku, quantity in order.lines:
            sold[sku] = sold.get(sku, 0) + quantity
    assert all(sb.shopify.shop.available(sku) == 500 - n for sku, n in sold.items())


def test_the_cli_refuses_malformed_ports_with_a_usage_message(capsys):
    parser = argparse.ArgumentParser(prog="peppasync sandbox")
    add_arguments(parser)

    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--ports", "8471,8472"])

    assert exit_info.value.code == 2
    assert "--ports wants three ports" in capsys.readouterr().err
    assert parser.parse_args(["--ports", "1,2,3", "--profile", "black-friday"]).ports == (1, 2, 3)


def test_paced_orders_follow_the_profile_and_still_place_every_order(make_sandbox, receiver):
    sb = make_sandbox(PROFILES["black-friday"], time_scale=1000.0, webhook_url=receiver.url)

    placed = sb.place_orders(30, malformed_ratio=0.0, paced=True)

    assert len(placed) == 30
    assert len(sb.shopify.shop.orders) == 30
    assert sb.webhooks.wait_idle(5)


def test_a_ledger_asked_for_without_detail_has_counts_but_no_entries(make_sandbox):
    sb = make_sandbox()
    requests.get(f"{sb.wms_url}/shipments", auth=(sb.wms.api_key, sb.wms.api_secret), timeout=5)

    brief = requests.get(f"{sb.wms_url}/_sandbox/ledger", params={"detail": "0"}, timeout=5).json()

    assert brief["ledger"]["outcomes"] == {"ok": 1}
    assert "entries" not in brief["ledger"] and "concurrency" not in brief["ledger"]


def test_cancelling_an_order_the_shop_does_not_have_names_it(make_sandbox):
    sb = make_sandbox()

    with pytest.raises(KeyError, match="the shop has no order 12345"):
        sb.cancel_order(12345)

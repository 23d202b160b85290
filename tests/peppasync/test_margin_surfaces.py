"""True margin as an operator reads it: the ops API and `peppasync margin show|report` on a running server."""

import json
import os
import subprocess
import sys
import time
from decimal import Decimal

import pytest
import requests

from peppasync.clock import SystemClock
from peppasync.config import parse_config
from peppasync.http.webhooks import shopify_hmac
from peppasync.runtime import Runtime

from actors.costs import CostBook
from actors.margin import MarginActor, MarginSettings
from tests.actors.test_margin import ORDER, REFUND
from tests.peppasync.serving import ROOT, free_port

OPS = {"Authorization": "Bearer ops-secret"}


class ErpCosts:
    sources = ("erp.average_cost",)
    costs = {"MUG": {"erp.average_cost": Decimal("6.00")}, "TEE": {"erp.average_cost": Decimal("11.00")}}

    def unit_costs(self, sku):
        return self.costs.get(sku, {})


@pytest.fixture
def server(tmp_path):
    port = free_port()
    raw = {
        "server": {"listen": f"127.0.0.1:{port}", "ops_token": "ops-secret"},
        "store": {"url": f"sqlite:///{tmp_path}/margin.db"},
        "margin": {"fee_percent": 2.9, "fee_fixed": 0.30, "cost_percent": 50.0},
        "shopify": {"webhook_secret": "hush"},
    }
    config = parse_config(raw, environ={})
    runtime = Runtime(config, clock=SystemClock(), kinds=[MarginActor], services=lambda config, metrics, clock: {
        "margin": MarginSettings.from_config(config.margin), "costs": CostBook([ErpCosts()], clock),
    })
    runtime.start()
    path = tmp_path / "ops.toml"
    path.write_text(f'[server]\nlisten = "127.0.0.1:{port}"\nops_token = "ops-secret"\n'
                    f'[store]\nurl = "sqlite:///{tmp_path}/margin.db"\n')
    yield runtime, f"http://127.0.0.1:{port}", path
    runtime.stop()


def _send(runtime, *payloads):
    for payload in payloads:
        runtime.store.enqueue("margin", "5001", {"received_at": time.time(), **payload})
    runtime.wake("margin", "5001")


def _settled(base, revenue):
    for _ in range(200):
        answer = requests.get(f"{base}/api/v1/margin/5001", headers=OPS, timeout=5)
        # Unit costs are read in the background: settled once none is awaited any more.
        if (answer.status_code == 200 and answer.json()["revenue"]["amount"] == revenue
                and answer.json()["cost_reads_pending"] is False):
            return answer.json()
        time.sleep(0.05)
    raise AssertionError(f"the margin never showed revenue {revenue}: {answer.status_code} {answer.text}")


def _cli(config, *args):
    return subprocess.run([sys.executable, "-m", "peppasync", *args, "--config", str(config)], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_the_api_and_the_cli_show_the_same_margin_with_its_sources(server):
    runtime, base, config = server
    _send(runtime, {"type": "sale", "body": ORDER}, {"type": "refund", "body": REFUND})

    view = _settled(base, "66.00")
    shown = _cli(config, "margin", "show", "5001")
    as_json = json.loads(_cli(config, "margin", "show", "5001", "--json").stdout)

    # The poster has no cost anywhere, so it costs the configured 50 % of its 10.00.
    assert {c["name"]: (c["amount"], c["basis"]) for c in view["costs"]} == {
        "cogs": ("22.00", "estimated"), "fulfilment": ("0.00", "missing"), "payment_fees": ("2.93", "estimated")}
    assert as_json == view
    assert shown.returncode == 0
    assert "config.margin.cost_percent+erp.average_cost" in shown.stdout and "margin: 41.07 USD" in shown.stdout
    assert "incomplete: no figure for fulfilment" in shown.stdout


def test_the_report_adds_up_by_sku_and_names_the_worst(server):
    runtime, base, config = server
    _send(runtime, {"type": "sale", "body": ORDER}, {"type": "refund", "body": REFUND})
    _settled(base, "66.00")

    report = requests.get(f"{base}/api/v1/margin", params={"by": "sku"}, headers=OPS, timeout=5).json()
    table = _cli(config, "margin", "report", "--by", "sku")

    rows = {r["group"]: (r["units"], r["revenue"], r["costs"]["cogs"]) for r in report["rows"]}
    # One mug of two came back: 36.00 - 18.00 revenue, one mug's cost left.
    assert rows == {"MUG": (1, "18.00", "6.00"), "TEE": (1, "30.00", "11.00"), "POSTER": (1, "10.00", "5.00")}
    assert [r["group"] for r in report["rows"]][0] == "POSTER"  # the worst margin first
    assert table.returncode == 0 and "MUG" in table.stdout and "worst orders: #5001" in table.stdout


def test_bad_questions_get_a_clear_answer(server):
    _, base, config = server

    missing = requests.get(f"{base}/api/v1/margin/999", headers=OPS, timeout=5)
    bad_by = requests.get(f"{base}/api/v1/margin", params={"by": "week"}, headers=OPS, timeout=5)
    bad_since = _cli(config, "margin", "report", "--since", "yesterday-ish")
    not_an_id = _cli(config, "margin", "show", "#1001")
    unauthorised = requests.get(f"{base}/api/v1/margin/999", timeout=5)

    assert missing.status_code == 404 and "999" in missing.json()["error"]
    assert bad_by.status_code == 400 and "day, sku, order" in bad_by.json()["error"]
    assert bad_since.returncode == 2 and "--since must be a date" in bad_since.stderr
    assert not_an_id.returncode == 2 and "whole number" in not_an_id.stderr
    assert unauthorised.status_code == 401


def test_a_recost_reads_the_costs_again(server):
    runtime, base, _ = server
    _send(runtime, {"type": "sale", "body": ORDER})
    _settled(base, "84.00")

    answer = requests.post(f"{base}/api/v1/margin/5001/recost", headers=OPS, timeout=5)
    unknown = requests.post(f"{base}/api/v1/margin/42/recost", headers=OPS, timeout=5)

    assert answer.status_code == 200 and answer.json()["recost"] == ["5001"]
    assert unknown.status_code == 404


def test_a_webhook_reaches_the_margin_in_the_same_transaction_as_its_order(server):
    runtime, base, _ = server
    body = json.dumps(ORDER).encode()
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": shopify_hmac("hush", body),
               "X-Shopify-Event-Id": "evt-1", "Content-Type": "application/json"}

    first = requests.post(f"{base}/webhooks/shopify", data=body, headers=headers, timeout=5)
    again = requests.post(f"{base}/webhooks/shopify", data=body, headers=headers, timeout=5)

    assert (first.json()["status"], again.json()["status"]) == ("accepted", "duplicate")
    assert _settled(base, "84.00")["name"] == "#5001"
    # The order actor is told the margin knows, so it does not pass the body on a second time.
    [order] = runtime.store.pending("order", "5001", limit=10, now=time.time() + 1)
    assert order.payload["margin_told"] is True


def test_a_cost_booked_late_reaches_every_order_that_sold_the_sku(server, monkeypatch):
    runtime, base, config = server
    _send(runtime, {"type": "sale", "body": ORDER})
    _settled(base, "84.00")
    monkeypatch.setitem(ErpCosts.costs, "MUG", {"erp.average_cost": Decimal("8.00")})  # a freight bill came in

    asked = _cli(config, "margin", "recost", "--sku", "MUG", "--since", "2026-11-01")
    nobody = _cli(config, "margin", "recost", "--sku", "MUG", "--since", "2026-12-01")
    bad = requests.post(f"{base}/api/v1/margin/recost", json={"since": "2026-11-01"}, headers=OPS, timeout=5)

    assert asked.returncode == 0 and "1 orders will read their unit costs again: 5001" in asked.stdout
    assert "no order with a margin sold MUG since 2026-12-01" in nobody.stdout
    assert bad.status_code == 400 and '"sku"' in bad.json()["error"]
    for _ in range(200):  # the server's sweep finds a message another process stored
        cogs = next(c for c in _settled(base, "84.00")["costs"] if c["name"] == "cogs")
        if cogs["amount"] == "32.00":  # 2 x 8.00 + 11.00 + the poster at 50 % of 10.00
            break
        time.sleep(0.05)
    assert cogs["amount"] == "32.00"

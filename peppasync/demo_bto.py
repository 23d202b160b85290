"""``peppasync demo --bto``: custom orders through their stage gates, on the sandbox.

A batch of build-to-order orders (tagged ``custom``) goes through finance, design, production
and QC. Half are paid at checkout, so finance passes by itself; simulated staff approve the
rest through the same path as the console and the CLI (``actors.gate_board.send_signal``),
one design is rejected (the customer withdrew the artwork) and one design approval comes
late, past the gate's SLA, which the demo shortens to a few seconds to show the breach. The
run ends with where each order stands: its gates, the warehouse, the ERP and Shopify.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import gevent

from peppasync.demo import build_demo
from peppasync.runtime import Runtime
from peppasync.sandbox import PROFILES, Sandbox

__all__ = ["BTO_GATES", "run_bto_demo"]

#: The demo's workflow. Design is due in 4 s so that the late approval breaches it.
BTO_GATES: dict[str, Any] = {
    "on_reject": "hold",
    "workflows": {"custom": {"order_tags": ["custom"], "gates": ["finance", "design", "production", "qc"]}},
    "finance": {"owner": "finance", "sla_hours": 24, "pass_at_paid_percent": 50},
    "design": {"owner": "design", "sla_hours": 4 / 3600, "expire_days": 14, "on_expiry": "approve"},
    "production": {"owner": "factory", "sla_hours": 240},
    "qc": {"owner": "factory", "sla_hours": 24},
}
_STAFF = {"finance": "Alice (finance)", "design": "Bob (design)", "production": "Factory 7", "qc": "Quality, line 2"}


def run_bto_demo(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    from actors.gate_board import send_signal
    from actors.gate_workflows import GateSettings

    count = max(4, min(args.orders, 40))
    profile = replace(PROFILES["calm"], name="bto", order_rate=10.0, erp_latency_median=0.05, shipment_delay=10.0)
    sandbox, runtime = build_demo(Path(args.dir), profile=profile, seed=args.seed, time_scale=10.0,
                                  listen=args.listen, erp=getattr(args, "erp", "netsuite"), gates=BTO_GATES)
    settings = GateSettings.from_config(runtime.config.gates)
    print(f"peppasync demo --bto: {count} custom orders through finance -> design -> production -> qc",
          file=out)
    print(f"  engine  {runtime.http.url}  (peppasync gates list --config ... shows the same)\n", file=out)
    started = time.monotonic()
    try:
        paid = sandbox.place_orders(count // 2, malformed_ratio=0.0, tags="custom")
        unpaid = sandbox.place_orders(count - count // 2, malformed_ratio=0.0, tags="custom", unpaid=True)
        orders = [str(o.id) for o in paid + unpaid]
        rejected, late = orders[-1], orders[0]
        pace = random.Random(args.seed)
        acted: set[tuple[str, str]] = set()
        deadline = started + 120.0
        while time.monotonic() < deadline:
            gevent.sleep(0.5)
            for order, gate, opened in _open_gates(runtime, orders):
                if (order, gate) in acted or runtime.clock.time() - opened < pace.uniform(0.3, 1.5):
                    continue
                if gate == "design" and order == late and runtime.clock.time() - opened < 6.0:
                    continue  # the designer is out: this one comes past its 4 s SLA
                action, why = ("reject", "the customer withdrew the artwork") if (
                    gate == "design" and order == rejected) else ("approve", _why(gate))
                send_signal(runtime.store, settings, order, gate, action, who=_STAFF[gate], why=why,
                            via="demo", now=runtime.clock.time())
                acted.add((order, gate))
            if _settled(sandbox, orders, rejected):
                break
        gevent.sleep(1.0)
        rows = [_where(sandbox, runtime, order) for order in orders]
    finally:
        runtime.stop()
        sandbox.stop()
    _print(rows, time.monotonic() - started, out)
    ok = all(r["shopify"] == "fulfilled" for r in rows if r["order"] != rejected)
    breaches = sum(r["breaches"] for r in rows)
    held = next(r for r in rows if r["order"] == rejected)
    ok = ok and held["wms"] == "on_hold" and held["shopify"] != "fulfilled" and breaches == 1
    print("\n  " + ("AS DESIGNED: every approved order shipped and fulfilled after its last gate, the rejected one "
                    "held with its reason, one SLA breach." if ok else "NOT AS DESIGNED: see the table above."),
          file=out)
    return 0 if ok else 1


def _why(gate: str) -> str:
    return {"finance": "deposit received by wire", "design": "proof signed", "production": "built",
            "qc": "checked"}[gate]


def _open_gates(runtime: Runtime, orders: list[str]) -> list[tuple[str, str, float]]:
    found = []
    for order in orders:
        for gate in ("finance", "design", "production", "qc"):
            state = runtime.store.get_state("gate", f"{order}:{gate}")
            saved = (state[0].get("gate") or {}) if state else {}
            if saved.get("status") == "open" and saved.get("opened_at") is not None:
                found.append((order, gate, float(saved["opened_at"])))
    return found


def _settled(sandbox: Sandbox, orders: list[str], rejected: str) -> bool:
    fulfilled = {str(f["order_id"]) for f in sandbox.shopify.shop.fulfillments.values()}
    return all(o in fulfilled for o in orders if o != rejected)


def _where(sandbox: Sandbox, runtime: Runtime, order: str) -> dict[str, Any]:
    gates, breaches = [], 0
    for gate in ("finance", "design", "production", "qc"):
        state = runtime.store.get_state("gate", f"{order}:{gate}")
        saved = (state[0].get("gate") or {}) if state else {}
        status = saved.get("status", "-")
        last = next((h for h in reversed(saved.get("history") or []) if h["action"] in ("approve", "reject")), None)
        by = f" by {last['who']}" if last and last["who"] != "rule" else " (rule)" if last else ""
        gates.append(f"{gate} {status}{by if status in ('passed', 'rejected') else ''}")
        breaches += sum(1 for h in saved.get("history") or [] if h["action"] == "breach")
    wms = sandbox.wms.warehouse.orders.get(order, {})
    erp_status = str((sandbox.erp.snapshot()["sales_orders"].get(order) or {}).get("status") or "-")
    fulfilled = any(str(f["order_id"]) == order for f in sandbox.shopify.shop.fulfillments.values())
    held = any(fo["holds"] for fo in sandbox.shopify.shop.fulfillment_orders.values() if str(fo["order_id"]) == order)
    return {"order": order, "gates": gates, "breaches": breaches, "wms": wms.get("orderStatus", "-"),
            "notes": wms.get("internalNotes") or "",
            "erp": {"A": "pending approval", "B": "approved"}.get(erp_status, erp_status),
            "shopify": "fulfilled" if fulfilled else "held" if held else "open"}


def _print(rows: list[dict[str, Any]], elapsed: float, out: TextIO) -> None:
    for r in rows:
        breach = f", {r['breaches']} SLA breach" if r["breaches"] else ""
        print(f"  order {r['order']}: {'; '.join(r['gates'])}{breach}", file=out)
        notes = f" ({r['notes']})" if r["wms"] == "on_hold" and r["notes"] else ""
        print(f"      WMS {r['wms']}{notes}, ERP {r['erp']}, Shopify {r['shopify']}", file=out)
    print(f"\n  time {elapsed:.1f} s", file=out)

"""``peppasync demo``: the sandbox and the engine together, on an embedded SQLite store.

It starts the simulated Shopify, ERP (NetSuite or Business Central) and WMS, points a real engine (HTTP
server, store, actors, connectors) at them, places orders at the profile's
pace (a few malformed on purpose), shows the flow live, and ends with the
consistency summary read from the simulators' own ledgers.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import gevent
import gevent.event

from peppasync.config import Config, parse_config
from peppasync.consistency import Consistency, check_consistency
from peppasync.engine import engine_kinds, engine_services
from peppasync.runtime import Runtime
from peppasync.sandbox import Sandbox, SandboxProfile

from actors.durable import DurableActor
from actors.margin_report import margin_report

__all__ = ["build_demo", "demo_sandbox", "engine_config", "run_demo", "start_engine"]

_ERP_NAMES = {"netsuite": "NetSuite", "business_central": "Business Central"}


def demo_sandbox(*, profile: str | SandboxProfile, seed: int, time_scale: float, listen: str,
                 erp: str = "netsuite") -> Sandbox:
    """A sandbox (not yet started) simulating ``erp``, whose webhooks go to an engine listening on `listen`."""
    host, _, port = listen.rpartition(":")
    return Sandbox(
        profile,
        seed=seed,
        time_scale=time_scale,
        webhook_url=f"http://{host}:{port}/webhooks/shopify",
        wms_webhook_url=f"http://{host}:{port}/webhooks/wms",
        erp=erp,
    )


def engine_config(
    sandbox: Sandbox, database: Path, *, listen: str, engine: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The raw configuration of an engine wired to a started sandbox, on a SQLite file.

    The engine's timings follow the sandbox's time scale, so that a compressed
    run reconciles and retries as often, in simulated time, as a real one.
    """
    raw: dict[str, Any] = sandbox.config_sections()
    # A held order looks at its holds again as often, in simulated time, as a real one would.
    raw["shopify"]["hold_recheck_seconds"] = max(0.25, 30.0 / sandbox.time_scale)
    raw["server"] = {"listen": listen, "ops_token": secrets.token_hex(16), "shutdown_timeout": 5.0}
    raw["store"] = {"url": f"sqlite:///{database.resolve()}"}
    # The estimates a shop would configure: a card rate for fees, packaging per order, a floor.
    raw["margin"] = {"fee_percent": 2.9, "fee_fixed": 0.30, "fulfilment_estimate": 6.50,
                     "per_order": {"packaging": 0.80}, "floor_percent": 10.0}
    raw["engine"] = {
        "reconcile_interval": max(1.0, 60.0 / sandbox.time_scale),
        "retry_min_seconds": 0.05,
        "retry_max_seconds": 2.0,
        **(engine or {}),
    }
    return raw


def build_demo(
    directory: Path,
    *,
    profile: str | SandboxProfile,
    seed: int,
    time_scale: float,
    listen: str,
    engine: dict[str, Any] | None = None,
    erp: str = "netsuite",
    gates: dict[str, Any] | None = None,
) -> tuple[Sandbox, Runtime]:
    """A started sandbox and a started runtime wired to it, with a fresh SQLite store."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("demo.db*"):
        old.unlink()
    sandbox = demo_sandbox(profile=profile, seed=seed, time_scale=time_scale, listen=listen, erp=erp)
    sandbox.start()
    raw = engine_config(sandbox, directory / "demo.db", listen=listen, engine=engine)
    if gates is not None:
        raw["gates"] = gates
    return sandbox, start_engine(sandbox, parse_config(raw, source="demo", environ={}))


def start_engine(sandbox: Sandbox, config: Config, kinds: list[type[DurableActor]] | None = None) -> Runtime:
    """A started runtime for ``config``; the sandbox it is wired to is stopped when it cannot start."""
    runtime = Runtime(config, kinds=engine_kinds(config) if kinds is None else kinds, services=engine_services)
    try:
        runtime.start()
    except BaseException:
        sandbox.stop()
        raise
    return runtime


def _progress(sandbox: Sandbox, runtime: Runtime) -> dict[str, int]:
    card = sandbox.scorecard()
    counts = runtime.store.quarantine_counts()
    depth = runtime.store.mailbox_stats(now=runtime.clock.time())
    return {
        "placed": card.placed,
        "erp": card.erp_orders,
        "wms": len(sandbox.wms.warehouse.orders),
        "shipped": len(sandbox.wms.warehouse.shipments),
        "fulfilled": len(sandbox.shopify.shop.fulfillments),
        "quarantined": sum(n for (kind, _), n in counts.items() if kind == "order"),
        "backlog": sum(s.depth for kind, s in depth.items() if kind in ("order", "shipments")),
    }


def _line(p: dict[str, int], elapsed: float) -> str:
    return (
        f"{elapsed:6.1f}s  placed {p['placed']:>5}  in ERP {p['erp']:>5}  in WMS {p['wms']:>5}  "
        f"shipped {p['shipped']:>5}  fulfilled {p['fulfilled']:>5}  quarantined {p['quarantined']:>3}  "
        f"backlog {p['backlog']:>5}"
    )


def _summary(result: Consistency, elapsed: float, out: TextIO) -> None:
    d = result.as_dict()
    rows = [
        ("orders placed", d["placed"]),
        ("valid / malformed", f"{d['valid']} / {d['malformed']}"),
        ("valid orders missing in the ERP", d["erp_missing"]),
        ("duplicate creates in the ERP", d["erp_duplicate_creates"]),
        ("ERP orders with wrong lines", d["wrong_lines"]),
        ("ERP orders not adding up to Shopify's total", d["wrong_totals"]),
        ("refunds / credit documents in the ERP", f"{d['refunds']} / {d['credit_documents']}"),
        ("refunds without exactly one credit document", d["refunds_not_credited_once"]),
        ("orders missing in the WMS", d["wms_missing"]),
        ("cancelled orders still open in the WMS", d["wms_not_cancelled"]),
        ("shipments not fulfilled in Shopify", d["unfulfilled_shipments"]),
        ("tracking numbers that differ", d["tracking_mismatches"]),
        ("malformed orders quarantined", f"{d['quarantined_found']} of {d['quarantined_expected']}"),
        ("valid orders quarantined", d["valid_quarantined"]),
        ("ERP 429s (throttled calls)", sum(n for k, n in result.scorecard.throttled.items()
                                           if k not in ("shopify", "wms"))),
        ("time", f"{elapsed:.1f} s"),
    ]
    width = max(len(r[0]) for r in rows)
    print("", file=out)
    for label, value in rows:
        print(f"  {label:<{width}}  {value}", file=out)
    verdict = "CONSISTENT" if result.consistent else "NOT CONSISTENT"
    print(f"\n  {verdict}: every valid order in the ERP once with its lines adding up to Shopify's total, "
          f"in the WMS, shipped ones fulfilled with tracking; malformed ones in quarantine." if result.consistent else
          f"\n  {verdict}: see the counts above; `peppasync quarantine list` shows what was set aside.",
          file=out)


def _margin_summary(runtime: Runtime, out: TextIO) -> None:
    """True margin over the orders of the run, from the margin actors' saved state."""
    if not runtime.config.margin.enabled:
        return
    report = margin_report(runtime.store, by="day", worst=3)
    print("\n  true margin (peppasync margin report; margin show ORDER for one order)", file=out)
    for row in report["rows"]:
        costs = ", ".join(f"{name} {amount}" for name, amount in row["costs"].items())
        print(f"  {row['group']}  {row['orders']} orders  revenue {row['revenue']} {row['currency']}  "
              f"costs: {costs}  margin {row['margin']} ({row['percent']} %)", file=out)
    if report["worst_orders"]:
        worst = ", ".join(f"{o['name']} {o['margin']} {o['currency']}" for o in report["worst_orders"])
        print(f"  worst orders: {worst}", file=out)
    if report["incomplete_orders"]:
        print(f"  {report['incomplete_orders']} orders have a cost missing (their margin looks better than it is)",
              file=out)


def run_demo(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    directory = Path(args.dir)
    erp = getattr(args, "erp", "netsuite")
    sandbox, runtime = build_demo(
        directory, profile=args.profile, seed=args.seed, time_scale=args.time_scale, listen=args.listen, erp=erp
    )
    print(f"peppasync demo: {args.orders} orders, profile {args.profile}, seed {args.seed}, "
          f"time x{args.time_scale:g}, ERP {erp}", file=out)
    print(f"  engine  {runtime.http.url}  (metrics at /metrics, store {directory}/demo.db)", file=out)
    print(f"  sandbox Shopify {sandbox.shopify_url}  {_ERP_NAMES[erp]} {sandbox.erp_url}  WMS {sandbox.wms_url}\n",
          file=out)
    started = time.monotonic()
    placer = gevent.spawn(sandbox.place_orders, args.orders, malformed_ratio=0.02, messy_ratio=0.05, paced=True)
    tty = out.isatty()
    last_print = 0.0
    deadline = started + max(120.0, args.orders * 0.5)
    result: Consistency | None = None
    refunded = False
    try:
        while time.monotonic() < deadline:
            gevent.sleep(0.5)
            elapsed = time.monotonic() - started
            progress = _progress(sandbox, runtime)
            if placer.ready() and not refunded and progress["erp"]:
                refunded = True
                _refund_some(sandbox, max(1, args.orders // 50))
            if tty:
                print("\r" + _line(progress, elapsed), end="", file=out, flush=True)
            elif elapsed - last_print >= 5:
                print(_line(progress, elapsed), file=out, flush=True)
                last_print = elapsed
            if placer.ready() and progress["backlog"] == 0:
                result = check_consistency(sandbox, runtime.store)
                if result.consistent:
                    break
        if tty:
            print("", file=out)
        elapsed = time.monotonic() - started
        if result is None or not result.consistent:
            # Out of time: where things stand now. (A check that passed stands: checked again,
            # it could meet a parcel the warehouse shipped a moment later, not yet fulfilled.)
            result = check_consistency(sandbox, runtime.store)
        _summary(result, elapsed, out)
        _margin_summary(runtime, out)
        if args.serve:
            ops = directory / "peppasync.toml"
            # The operator commands read a configuration file, never the working directory's.
            ops.write_text(f'[server]\nlisten = "{runtime.config.server.listen}"\n'
                           f'[store]\nurl = "{runtime.config.store.url}"\n', encoding="utf-8")
            print(f"\nserving on {runtime.http.url} until Ctrl-C;"
                  f" operator commands: peppasync status --config {ops}", file=out)
            _wait_for_signal(runtime)
    finally:
        placer.kill()
        runtime.stop()
        sandbox.stop()
    return 0 if result is not None and result.consistent else 1


def _refund_some(sandbox: Sandbox, count: int) -> None:
    """Refund one unit of the first line of ``count`` orders already in the ERP, the unit returned to stock,
    as customers do after a sale: each refund must reach the ERP as one credit document."""
    in_erp = sandbox.netsuite.erp.sales_orders()
    shop = sandbox.shopify.shop
    chosen = []
    for placed in sandbox.placed:
        with shop.lock:
            order = shop.orders.get(placed.id) or {}
            cancelled = bool(order.get("cancelled_at"))
        if placed.valid and not cancelled and str(placed.id) in in_erp and placed.payload["line_items"][0].get("sku"):
            chosen.append(placed)
        if len(chosen) == count:
            break
    for placed in chosen:
        sku = str(placed.payload["line_items"][0]["sku"])
        sandbox.refund_order(placed.id, "demo: one unit returned", units={sku: 1}, restock_type="return")


def _wait_for_signal(runtime: Runtime) -> None:
    import signal

    stopped = gevent.event.Event()
    handlers = [gevent.signal_handler(s, stopped.set) for s in (signal.SIGINT, signal.SIGTERM)]
    try:
        stopped.wait()
    finally:
        for h in handlers:
            h.cancel()

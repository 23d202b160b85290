"""`peppasync sandbox`: serve the simulators until SIGINT or SIGTERM, printing URLs and credentials."""

from __future__ import annotations

import argparse
import json
import signal
import sys

import gevent
import gevent.event

from .erp_book import ERP_KINDS
from .profile import PROFILES
from .sandbox import Sandbox

__all__ = ["add_arguments", "command", "parse_ports"]


def parse_ports(text: str) -> tuple[int, int, int]:
    """`A,B,C` -> the Shopify, NetSuite and WMS ports (0 = any free port)."""
    parts = text.split(",")
    try:
        ports = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ports wants three numbers like 8471,8472,8473, got {text!r}") from None
    if len(ports) != 3 or any(not 0 <= p <= 65535 for p in ports):
        raise argparse.ArgumentTypeError(f"--ports wants three ports within 0..65535 (Shopify,NetSuite,WMS), "
                                         f"got {text!r}")
    return ports[0], ports[1], ports[2]


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"--time-scale wants a positive number, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `peppasync sandbox`."""
    parser.add_argument("--profile", choices=sorted(PROFILES), default="calm", help="load and fault profile")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same orders and faults (default 1)")
    parser.add_argument("--time-scale", type=_scale, default=1.0, help="divide delays and windows by this")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--ports", type=parse_ports, default=(0, 0, 0),
                        help="Shopify,NetSuite,WMS ports (default: any free ones)")
    parser.add_argument("--webhook-url", default=None, help="where to deliver Shopify webhooks")
    parser.add_argument("--wms-webhook-url", default=None, help="where to deliver SHIP_NOTIFY webhooks")
    parser.add_argument("--orders", type=int, default=0,
                        help="place this many orders at the profile's pace once serving (default 0)")
    parser.add_argument("--malformed-ratio", type=float, default=0.01, help="share of malformed orders")
    parser.add_argument("--json", action="store_true", help="print the configuration as JSON")
    parser.add_argument("--erp", choices=ERP_KINDS, default="netsuite",
                        help="the ERP to simulate (default netsuite); it is served on the second port")


def command(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; 0 on a clean stop, 2 when the sandbox cannot start."""
    try:
        sandbox = Sandbox(args.profile, seed=args.seed, time_scale=args.time_scale, host=args.host,
                          ports=tuple(args.ports), webhook_url=getattr(args, "webhook_url", None),
                          wms_webhook_url=getattr(args, "wms_webhook_url", None),
                          erp=getattr(args, "erp", "netsuite"))
        sandbox.start()
    except (ValueError, OSError) as exc:
        print(f"peppasync sandbox: cannot start: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "orders", 0) < 0 or not 0 <= getattr(args, "malformed_ratio", 0.01) <= 1:
        sandbox.stop()
        print("peppasync sandbox: --orders must be >= 0 and --malformed-ratio within [0, 1]", file=sys.stderr)
        return 2
    stop = gevent.event.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, stop.set)
    sections = sandbox.config_sections()
    if getattr(args, "json", False):
        print(json.dumps(sections, indent=2), flush=True)
    else:
        print(f"sandbox profile {sandbox.profile.name}, seed {sandbox.seed}, time scale {sandbox.time_scale}")
        print(f"  Shopify GraphQL  {sandbox.graphql_url}")
        if sandbox.business_central is not None:
            print(f"  Business Central {sandbox.erp_url}/v2.0/{sandbox.business_central.credentials.tenant}/"
                  f"{sandbox.business_central.credentials.environment}/api/v2.0/ (token and API)")
        else:
            print(f"  NetSuite REST    {sandbox.netsuite_url}/services/rest/record/v1/")
        print(f"  WMS              {sandbox.wms_url}")
        print("  ledgers          GET /_sandbox/ledger on each")
        print("configuration for peppasync.toml:")
        for name, table in sections.items():
            print(f"[{name}]")
            for key, value in table.items():
                if isinstance(value, dict):  # an inline table: {USD = 1, EUR = 4}
                    value_text = "{" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + "}"
                else:
                    value_text = json.dumps(value)
                print(f"{key} = {value_text}")
        print("Ctrl-C to stop", flush=True)
    orders = getattr(args, "orders", 0)
    if orders:
        gevent.spawn(sandbox.place_orders, orders, getattr(args, "malformed_ratio", 0.01), paced=True)
    try:
        stop.wait()
    finally:
        sandbox.stop()
    return 0

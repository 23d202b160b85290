"""``peppasync bench``: the Black Friday benchmark and the crash-safety (chaos) runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from peppasync.logs import setup_logging

__all__ = ["add_bench_arguments"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _common(p: argparse.ArgumentParser, orders: int, directory: str) -> None:
    p.add_argument("--orders", type=_positive, default=orders, help=f"orders to replay (default {orders})")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--time-scale", type=_scale, default=20.0, help="sandbox speed-up (default 20)")
    p.add_argument("--dir", default=directory, help=f"where runs keep stores and logs (default {directory})")
    p.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    p.add_argument("--erp", choices=("netsuite", "business_central"), default="netsuite",
                   help="the ERP the sandbox simulates and the engine books orders in (default netsuite)")
    p.add_argument("--nodes", type=_positive, default=1,
                   help="serve nodes sharing one PostgreSQL store (default 1; above 1 needs --postgres)")
    p.add_argument("--postgres", metavar="URL", default=None,
                   help="a PostgreSQL database for the runs' stores (each run gets a fresh schema, dropped after)")


def _cluster_usage(args: argparse.Namespace) -> str | None:
    if args.nodes > 1 and not args.postgres:
        return (f"peppasync: --nodes {args.nodes} needs a PostgreSQL database the nodes share: add --postgres "
                "postgresql://USER@HOST:PORT/DB (each run gets a schema of its own there)")
    if args.postgres and not args.postgres.startswith(("postgresql://", "postgres://")):
        return f"peppasync: --postgres expects postgresql://USER@HOST:PORT/DB, got {args.postgres!r}"
    return None


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``black-friday`` and ``chaos`` subcommands of ``peppasync bench``."""
    sub = parser.add_subparsers(dest="bench", metavar="BENCHMARK")
    sub.required = True
    p = sub.add_parser("black-friday", help="the surge against the ERP's physical limit and a synchronous baseline")
    _common(p, 5000, ".peppasync-bench/black-friday")
    p.add_argument("--baseline-sample", type=_positive, default=200,
                   help="orders the synchronous baseline runs before its time is projected (default 200)")
    p.add_argument("--no-clean-run", action="store_true",
                   help="skip the second run without malformed orders (no poison p99 comparison)")
    p.set_defaults(func=black_friday)
    p = sub.add_parser("chaos", help="SIGKILLs, ERP faults and lost webhooks; nothing may be lost or duplicated")
    _common(p, 200, ".peppasync-bench/chaos")
    p.add_argument("--rounds", type=_positive, default=20, help="rounds to run (default 20)")
    p.add_argument("--kills", type=int, default=2, help="SIGKILLs per round (default 2)")
    p.add_argument("--erp-bursts", type=int, default=2, help="ERP fault bursts per round (default 2)")
    p.set_defaults(func=chaos)


def black_friday(args: argparse.Namespace) -> int:
    from peppasync.bench import BlackFridayOptions, black_friday_rows, print_rows, run_black_friday, write_json

    usage = _cluster_usage(args)
    if usage:
        print(usage, file=sys.stderr)
        return 2
    setup_logging("error", json_lines=False)
    options = BlackFridayOptions(orders=args.orders, seed=args.seed, time_scale=args.time_scale,
                                 directory=Path(args.dir), baseline_sample=args.baseline_sample,
                                 clean_run=not args.no_clean_run, erp=args.erp, nodes=args.nodes,
                                 postgres=args.postgres)
    figures = run_black_friday(options, sys.stdout)
    print("", flush=True)
    print_rows(("figure", "value", "target"), black_friday_rows(figures), sys.stdout)
    if args.json:
        write_json(Path(args.json), figures)
        print(f"\n  every figure: {args.json}")
    correct = all(figures["targets"][k]["met"] for k in ("lost", "duplicates", "wrong_lines", "quarantine_mismatch"))
    correct = correct and not figures.get("lost_one_node") and not figures.get("duplicates_one_node")
    return 0 if correct and not figures["timed_out"] else 1


def chaos(args: argparse.Namespace) -> int:
    from peppasync.bench import (
        CHAOS_HEADERS,
        ChaosOptions,
        chaos_rows,
        heal_summary,
        print_rows,
        run_chaos,
        write_json,
    )

    if args.kills < 0 or args.erp_bursts < 0:
        print("peppasync: --kills and --erp-bursts must be 0 or more", file=sys.stderr)
        return 2
    usage = _cluster_usage(args)
    if usage:
        print(usage, file=sys.stderr)
        return 2
    setup_logging("error", json_lines=False)
    options = ChaosOptions(rounds=args.rounds, orders=args.orders, seed=args.seed, time_scale=args.time_scale,
                           directory=Path(args.dir), kills=args.kills, erp_bursts=args.erp_bursts, erp=args.erp,
                           nodes=args.nodes, postgres=args.postgres)
    result = run_chaos(options, sys.stdout)
    print("", flush=True)
    print_rows(CHAOS_HEADERS, chaos_rows(result["rounds"]), sys.stdout)
    print("\n" + heal_summary(result["lost_webhooks"]))
    failed = [r["round"] for r in result["rounds"] if not r["ok"]]
    print(f"\n  {len(result['rounds']) - len(failed)} of {len(result['rounds'])} rounds healed with nothing lost, "
          "duplicated or mismatched" + (f"; failed: {', '.join(map(str, failed))}" if failed else ""))
    if args.json:
        write_json(Path(args.json), result)
        print(f"  every figure: {args.json}")
    return 0 if not failed else 1

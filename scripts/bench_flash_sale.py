from gevent import monkey

monkey.patch_all()

"""Flash sale: oversold units, stock-to-Shopify lag and Shopify points, engine against naive.

    .venv/bin/python scripts/bench_flash_sale.py [--skus 200] [--stock 10] [--buffer 3] [--scale 2]

Both strategies sell the same drop in fresh sandboxes with the same seed (see
peppasync/flash_sale.py): 200 SKUs, orders at the flash-sale profile's rate
then ten times faster, other channels draining the warehouse, time-compressed.
Lags are in simulated seconds. Figures come from one run on this machine.

The sandbox and the engine share this process, and compression multiplies every
real-time delay of theirs in simulated seconds. At x2 the engine's own delays
stay within what the buffer covers; at x5 on a loaded 2-core machine they can
reach a burst's worth of sales (1 unit oversold in some runs).
"""

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from peppasync.flash_sale import FlashSalePlan, FlashSaleResult, run_flash_sale  # noqa: E402


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _num(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _ratio(naive: float | int | None, engine: float | int | None) -> str:
    if naive is None or engine is None:
        return "-"
    if engine == 0:
        return "inf" if naive else "1.0x"
    return f"{naive / engine:.1f}x"


def _table(engine: FlashSaleResult, naive: FlashSaleResult) -> str:
    rows = [
        ("orders accepted by Shopify", engine.orders, naive.orders, False),
        ("checkouts refused as sold out", engine.refused, naive.refused, False),
        ("units sold on Shopify", engine.units_sold, naive.units_sold, False),
        ("oversold units", engine.oversold_units, naive.oversold_units, True),
        ("stock-to-Shopify lag p50 (sim s)", engine.lag_p50, naive.lag_p50, True),
        ("stock-to-Shopify lag p99 (sim s)", engine.lag_p99, naive.lag_p99, True),
        ("changes left unwritten, Shopify > WMS free", engine.unreflected, naive.unreflected, False),
        ("GraphQL points spent in the sale", engine.points_spent, naive.points_spent, True),
        ("THROTTLED responses", engine.throttled, naive.throttled, True),
        ("THROTTLED, start-up included", engine.throttled_total, naive.throttled_total, False),
        ("quantities written to Shopify", engine.shopify_writes, naive.shopify_writes, False),
        ("oversells_total (engine's own count)", engine.engine_oversells, naive.engine_oversells, False),
        ("wall time of the sale (s)", engine.seconds, naive.seconds, False),
    ]
    width = max(len(r[0]) for r in rows)
    out = [f"  {'':<{width}}  {'engine':>10}  {'naive':>10}  {'naive/engine':>12}"]
    for label, e, n, ratio in rows:
        out.append(f"  {label:<{width}}  {_num(e):>10}  {_num(n):>10}  {_ratio(n, e) if ratio else '':>12}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description="Flash sale: the engine against a naive stock push.")
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument("--stock", type=int, default=10, help="units per SKU at the start")
    parser.add_argument("--buffer", type=int, default=3, help="units per SKU held back from Shopify")
    parser.add_argument("--scale", type=float, default=2.0, help="time compression (see above)")
    parser.add_argument("--burst", type=float, default=40.0, help="simulated seconds of the 10x burst")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    plan = FlashSalePlan(skus=args.skus, stock=args.stock, buffer=args.buffer, time_scale=args.scale,
                         burst=args.burst, seed=args.seed)
    print(f"flash sale: {plan.skus} SKUs x {plan.stock} units, buffer {plan.buffer}, time x{plan.time_scale:g}, "
          f"warm-up {plan.warmup:g} s then a 10x burst of {plan.burst:g} s (simulated), seed {plan.seed}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="peppasync-flash-") as tmp:
        for strategy in ("engine", "naive"):
            results[strategy] = run_flash_sale(plan, strategy, Path(tmp), _port(),
                                               progress=lambda line: print(f"  {line}", flush=True))
    print()
    print(_table(results["engine"], results["naive"]))


if __name__ == "__main__":
    main()

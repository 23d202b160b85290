"""Tables for people and JSON files for scripts, for both benchmarks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

__all__ = ["CHAOS_HEADERS", "black_friday_rows", "chaos_rows", "print_rows", "write_json"]


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} s"


def _met(figures: dict[str, Any], key: str) -> str:
    target = figures.get("targets", {}).get(key)
    if target is None:
        return ""
    verdict = {True: "met", False: "NOT MET", None: "n/a"}[target["met"]]
    return f"target {target['target']}: {verdict}"


def black_friday_rows(f: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, value, target verdict) for every figure of a black-friday run."""
    b = f["baseline"]
    rss = f["peak_rss_bytes"]
    lag_ratio = f["lag_p99_ratio"]
    return [
        ("orders (valid / malformed)", f"{f['orders']} ({f['valid']} / {f['malformed']})", ""),
        ("time to consistency (ERP, shipped ones fulfilled)", _s(f["time_to_consistency_seconds"])
         if f["time_to_consistency_seconds"] is not None
         else f"not reached: {f['shipped_unfulfilled_at_end']} shipped orders not yet fulfilled", ""),
        ("time until every valid order in the ERP", _s(f["erp_seconds"]), ""),
        ("ERP calls R / mean latency L / limit C",
         f"{f['erp_calls']} / {f['erp_mean_latency_seconds'] * 1000:.0f} ms / {f['erp_concurrency_limit']}", ""),
        ("physical limit R*L/C", _s(f["physical_limit_seconds"]), ""),
        ("efficiency (limit / measured)", f"{f['efficiency']:.3f}", _met(f, "efficiency")),
        ("synchronous baseline" + (" (projected)" if b["projected"] else ""),
         f"{_s(b['seconds'])} (measured {b['orders_measured']} orders in {_s(b['seconds_measured'])})", ""),
        ("speed-up over the baseline", f"{f['speedup']:.1f}x" if f["speedup"] else "n/a", _met(f, "speedup")),
        ("best speed-up this ERP allows (baseline / limit)",
         f"{f['speedup_ceiling']:.1f}x" if f["speedup_ceiling"] else "n/a", ""),
        ("ERP 429s (share of calls)", f"{f['erp_throttled']} ({f['erp_throttled_share']:.2%})",
         _met(f, "erp_throttled_share")),
        ("Shopify THROTTLED (share of calls)", f"{f['shopify_throttled']} ({f['shopify_throttled_share']:.2%})", ""),
        ("ERP 5xx answered (retried)", str(f["erp_errors"]), ""),
        ("orders lost", str(f["lost"]), _met(f, "lost")),
        ("duplicates in the ERP", str(f["duplicates"]), _met(f, "duplicates")),
        ("ERP orders with wrong lines", str(f["wrong_lines"]), _met(f, "wrong_lines")),
        ("quarantined (expected / found)", f"{f['quarantined_expected']} / {f['quarantined_found']}"
         + (f", {f['valid_quarantined']} valid" if f["valid_quarantined"] else ""), _met(f, "quarantine_mismatch")),
        ("order-to-ERP lag p50 / p99", f"{_s(f['lag_p50_seconds'])} / {_s(f['lag_p99_seconds'])}", ""),
        ("p99 lag with no malformed orders", _s(f["lag_p99_without_poison_seconds"]), ""),
        ("p99 with poison / without", f"{lag_ratio:.3f}" if lag_ratio is not None else "n/a",
         _met(f, "lag_p99_ratio")),
        ("WMS orders / shipped / fulfilled", f"{f['wms_orders']} / {f['shipped']} / {f['fulfilled']}", ""),
        ("peak RSS of the engine", f"{rss / 2**20:.0f} MiB" if rss else "n/a", ""),
    ]


def chaos_rows(rounds: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """One row per round: what was done to it, and what was found afterwards."""
    return [
        (str(r["round"]), f"{r['valid']}/{r['malformed']}", str(r["kills"]), str(r["erp_5xx"]), str(r["erp_resets"]),
         f"{r['webhooks_duplicated']}/{r['webhooks_dropped']}", str(r["lost"]), str(r["duplicated"]),
         str(r["mismatched"]), _s(r["heal_seconds"]), "ok" if r["ok"] else "FAILED")
        for r in rounds
    ]


CHAOS_HEADERS = ("round", "valid/bad", "kills", "ERP 5xx", "resets", "webhooks dup/drop", "lost", "duplicated",
                 "mismatched", "heal", "verdict")


def print_rows(headers: tuple[str, ...], rows: list[tuple[str, ...]], out: TextIO) -> None:
    """An aligned table with a rule under the headers."""
    cells = [list(headers)] + [list(r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip(), file=out)
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths), file=out)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")

"""Tables for people and JSON files for scripts, for both benchmarks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = ["CHAOS_HEADERS", "black_friday_rows", "chaos_rows", "heal_summary", "print_rows", "write_json"]


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} s"


def _met(figures: dict[str, Any], key: str) -> str:
    target = figures.get("targets", {}).get(key)
    if target is None:
        return ""
    return f"target {target['target']}: {_verdict(target['met'])}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT MET", None: "n/a"}[met]


def _heal(h: dict[str, Any]) -> str:
    """p50 / p99 / max of placed -> consistent, and the latest into the ERP, for the lost-webhook orders."""
    spread = h["to_consistent_seconds"]
    if spread["max"] is None:
        return "no webhook lost" if not h["lost"] else f"{h['lost']} lost, none healed"
    text = (f"{_s(spread['p50'])} / {_s(spread['p99'])} / {_s(spread['max'])} ({h['lost']} orders; "
            f"in the ERP after {_s(h['to_erp_seconds']['max'])} at most)")
    return text + (f", {h['unhealed']} not healed" if h["unhealed"] else "")


def _heal_target(h: dict[str, Any]) -> str:
    return (f"target ERP <= {h['erp_target_seconds']:,.1f} s, consistent <= {h['target_seconds']:,.1f} s "
            f"(2 x {h['interval_seconds']:g} s + drain at capacity): {_verdict(h['met'])}")


def heal_summary(summary: dict[str, Any]) -> str:
    """One paragraph on every round's lost-webhook orders: heal p50/p99/max and rounds within target."""
    if not summary["lost"]:
        return "  no orders/create webhook was lost in any round"
    return (f"  orders whose create webhook was lost: {summary['lost']}"
            + (f" ({summary['unhealed']} not healed)" if summary["unhealed"] else "")
            + f"; placed -> consistent p50 {_s(summary['p50_seconds'])}, p99 {_s(summary['p99_seconds'])}, "
            f"max {_s(summary['max_seconds'])}\n  heal target (2 x reconcile_interval + drain at capacity) "
            f"met in {summary['rounds_met']} of {summary['rounds_judged']} rounds with a lost webhook: "
            f"{_verdict(summary['met'])}")


def black_friday_rows(f: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(figure, value, target verdict) for every figure of a black-friday run."""
    b = f["baseline"]
    rss = f["peak_rss_bytes"]
    c = f["client_ceiling"]
    lag_ratio = f["lag_p99_ratio"]
    nodes = [] if "nodes_slowdown" not in f else [
        ("nodes", str(f["nodes"]), ""),
        ("time until every valid order in the ERP: 1 node / nodes",
         f"{_s(f['erp_seconds_one_node'])} / {_s(f['erp_seconds'])}", ""),
        ("efficiency: 1 node / nodes", f"{f['efficiency_one_node']:.3f} / {f['efficiency']:.3f}", ""),
        ("time with the nodes / with 1 node", f"{f['nodes_slowdown']:.3f}" if f["nodes_slowdown"] else "n/a",
         _met(f, "nodes_slowdown")),
        ("1 node: orders lost / duplicates in the ERP", f"{f['lost_one_node']} / {f['duplicates_one_node']}", ""),
        ("time to full consistency: 1 node / nodes (ratio)",
         f"{_s(f['time_to_full_consistency_seconds_one_node'])} / {_s(f['time_to_full_consistency_seconds'])}"
         + (f" ({f['full_nodes_slowdown']:.3f})" if f["full_nodes_slowdown"] else ""), ""),
    ]
    return [
        ("orders (valid / malformed)", f"{f['orders']} ({f['valid']} / {f['malformed']})", ""),
        *nodes,
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
        ("a client with nothing else to do: share of R*L/C (per call, ms there and back)",
         f"{c['occupancy']:.3f} ({c['gap_ms']:.1f} ms)" if c else "n/a", ""),
        ("efficiency against that client's", f"{f['efficiency_of_client_ceiling']:.3f}"
         if f["efficiency_of_client_ceiling"] is not None else "n/a", _met(f, "efficiency_of_client_ceiling")),
        ("an ERP slot's time per call, ms: the ERP's own / there and back / between calls", _split(f), ""),
        ("the ERP's slots in use: while the orders arrive / afterwards", _slots(f), ""),
        ("the engine's hub: a timer woken late by, mean", f"{f['engine_hub_lag_mean_ms']:.1f} ms"
         if f.get("engine_hub_lag_mean_ms") is not None else "n/a", ""),
        ("the engine's GC pauses until then (count / total / full collections)",
         _engine_pauses(f.get("engine_gc_pauses")), ""),
        ("the sandbox's hub (the simulators' side of every call): woken late by, mean",
         f"{f['sandbox_hub_lag_mean_ms']:.1f} ms" if f.get("sandbox_hub_lag_mean_ms") is not None else "n/a", ""),
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
        (f"event -> true margin lag p50 / p99 ({f['margin_events']} events)",
         f"{_s(f['margin_lag_p50_seconds'])} / {_s(f['margin_lag_p99_seconds'])}", _met(f, "margin_lag_p99_seconds")),
        ("  by event: p99 (events)", ", ".join(f"{event} {_s(e['p99_seconds'])} ({e['events']})"
                                               for event, e in f.get("margin_lag_by_event", {}).items()) or "n/a", ""),
        ("WMS orders / shipped / fulfilled (when every valid order was in the ERP)",
         f"{f['wms_orders']} / {f['shipped']} / {f['fulfilled']}", ""),
        ("WMS calls / request window", f"{f['wms_calls']} / {f['wms_window_limit']} per "
                                        f"{f['wms_window_seconds']:g} s", ""),
        ("WMS physical limit (calls x window / limit)", _s(f["wms_physical_limit_seconds"]), ""),
        ("time to full consistency (every valid order in the ERP and the WMS, every shipment fulfilled)",
         _s(f["time_to_full_consistency_seconds"]), ""),
        (f"efficiency against the binding limit ({f['binding_system']}, {_s(f['binding_limit_seconds'])})",
         f"{f['full_efficiency']:.3f}" if f["full_efficiency"] is not None else "n/a", _met(f, "full_efficiency")),
        ("lost create webhook: placed -> consistent p50 / p99 / max", _heal(f["lost_webhooks"]),
         _heal_target(f["lost_webhooks"])),
        ("peak RSS of the engine", f"{rss / 2**20:.0f} MiB" if rss else "n/a", ""),
        ("the sandbox's own GC pauses (count / total / longest)", _pauses(f.get("sandbox_gc_pauses")), ""),
    ]


def _split(f: dict[str, Any]) -> str:
    split = f.get("erp_call_split_ms")
    if not split:
        return "n/a"
    return f"{split['erp']:.0f} / {split['there_and_back']:.1f} / {split['between_calls']:.1f}"


def _slots(f: dict[str, Any]) -> str:
    slots = f.get("erp_slots_in_use") or {}
    parts = [f"{slots[k]:.2f}" if slots.get(k) is not None else "n/a" for k in ("arriving", "after")]
    return f"{parts[0]} / {parts[1]} of {f['erp_concurrency_limit']}"


def _engine_pauses(p: dict[str, Any] | None) -> str:
    """The engine stood still this long while the ERP's part of the run went on (from its own metrics)."""
    if not p:
        return "n/a"
    return f"{p['count']} / {_s(p['total_seconds'])} / {p['full']}"


def _pauses(p: dict[str, Any] | None) -> str:
    """The simulators' process stood still this long: every simulated system answered late by as much."""
    if not p:
        return "n/a"
    return f"{p['count']} / {_s(p['total_seconds'])} / {p['longest_seconds'] * 1000:.0f} ms"


def chaos_rows(rounds: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """One row per round: what was done to it, and what was found afterwards."""
    return [
        (str(r["round"]), f"{r['valid']}/{r['malformed']}", str(r["kills"]), str(r["erp_5xx"]), str(r["erp_resets"]),
         f"{r['webhooks_duplicated']}/{r['webhooks_dropped']}", str(r["lost"]), str(r["duplicated"]),
         str(r["mismatched"]), _s(r["heal_seconds"]), _lost_heal(r["lost_webhooks"]),
         "ok" if r["ok"] else "FAILED")
        for r in rounds
    ]


def _lost_heal(h: dict[str, Any]) -> str:
    """In the ERP (max) and consistent (p50, max) for a round's lost-webhook orders, against both targets."""
    if not h["lost"]:
        return "n/a"
    erp, consistent = h["to_erp_seconds"], h["to_consistent_seconds"]
    healed = (f"{_n(erp['max'])} / {_n(consistent['p50'])} / {_n(consistent['max'])} s"
              if consistent["max"] is not None else "none healed")
    return (f"{healed} (targets {h['erp_target_seconds']:,.1f} / {h['target_seconds']:,.1f} s): "
            f"{_verdict(h['met'])}")


def _n(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f}"


CHAOS_HEADERS = ("round", "valid/bad", "kills", "ERP 5xx", "resets", "webhooks dup/drop", "lost", "duplicated",
                 "mismatched", "heal", "lost webhooks: in ERP max / consistent p50 / max", "verdict")


def print_rows(headers: tuple[str, ...], rows: Sequence[tuple[str, ...]], out: TextIO) -> None:
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

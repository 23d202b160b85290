"""``peppasync bench chaos``: rounds of the replay while things break; nothing may be lost.

Each round replays its orders on the black-friday profile with more duplicated and
dropped webhooks, SIGKILLs the engine at random moments of its progress (and
restarts it), and makes the ERP answer bursts of 5xx or drop its connections.
Then it waits for the engine to heal and judges the end state from the
simulators' ledgers: every valid order in the ERP once with its lines, in the
WMS, shipped ones fulfilled; every malformed one in quarantine. Each round also
reports the heal time of the orders whose create webhook was lost (placed to
consistent, see ``peppasync.bench.heal``) against its target.

With ``nodes`` above 1 the engine is a cluster of that many nodes on PostgreSQL
(``postgres``) behind a balancer, and each SIGKILL hits a node picked at random.
"""

from __future__ import annotations

import dataclasses
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import gevent

from peppasync.consistency import Consistency, check_consistency
from peppasync.sandbox import PROFILES, SandboxProfile

from .figures import percentile
from .heal import heal_figures
from .progress import ProgressBar
from .replay import Replay

__all__ = ["ChaosOptions", "chaos_profile", "lost_webhooks", "run_chaos"]


def chaos_profile() -> SandboxProfile:
    """Black Friday, with twice the duplicated and three times the dropped webhooks."""
    return dataclasses.replace(PROFILES["black-friday"], name="chaos", webhook_duplicate_rate=0.1,
                               webhook_drop_rate=0.03)


@dataclass(frozen=True)
class ChaosOptions:
    """How many rounds, how big, and how much breaks in each."""

    rounds: int = 20
    orders: int = 200
    malformed_ratio: float = 0.02
    seed: int = 7
    time_scale: float = 20.0
    directory: Path = field(default_factory=lambda: Path(".peppasync-bench/chaos"))
    kills: int = 2
    erp_bursts: int = 2
    heal_timeout: float = 180.0
    erp: str = "netsuite"
    nodes: int = 1
    postgres: str | None = None

    def __post_init__(self) -> None:
        if self.nodes < 1:
            raise ValueError(f"nodes must be at least 1, got {self.nodes}")
        if self.nodes > 1 and not self.postgres:
            raise ValueError(f"{self.nodes} nodes need a PostgreSQL database to share (postgres)")
        if self.rounds < 1 or self.orders < 1:
            raise ValueError(f"rounds and orders must be at least 1, got {self.rounds} and {self.orders}")
        if self.kills < 0 or self.erp_bursts < 0:
            raise ValueError(f"kills and erp_bursts must be 0 or more, got {self.kills} and {self.erp_bursts}")
        if not self.time_scale > 0:
            raise ValueError(f"time_scale must be positive, got {self.time_scale}")


def _counts(result: Consistency) -> dict[str, int]:
    """Lost (never arrived), duplicated (arrived twice) and mismatched (arrived wrong)."""
    d = result.as_dict()
    return {
        "lost": d["erp_missing"] + d["wms_missing"] + d["unfulfilled_shipments"],
        "duplicated": d["erp_duplicate_creates"],
        "mismatched": (d["wrong_lines"] + d["tracking_mismatches"] + d["erp_malformed"] + d["erp_not_cancelled"]
                       + d["wms_not_cancelled"]
                       + d["malformed_not_quarantined"] + d["valid_quarantined"]),
    }


def _round(options: ChaosOptions, n: int, out: TextIO) -> dict[str, Any]:
    seed = options.seed + n
    rng = random.Random(f"{seed}:chaos")
    # Faults at random points of the round's progress (share of orders in the ERP).
    events = sorted([(rng.uniform(0.05, 0.85), "kill") for _ in range(options.kills)]
                    + [(rng.uniform(0.05, 0.85), rng.choice(("5xx", "reset"))) for _ in range(options.erp_bursts)])
    replay = Replay(options.directory / f"round-{n:02d}", profile=chaos_profile(), seed=seed,
                    time_scale=options.time_scale, erp=options.erp, nodes=options.nodes, postgres=options.postgres)
    try:
        replay.start()
        bar = ProgressBar(out, f"round {n}/{options.rounds}", options.orders)
        began = replay.sandbox.clock.time()
        replay.place(options.orders, malformed_ratio=options.malformed_ratio)
        last_fault = time.monotonic()
        deadline = last_fault + options.heal_timeout
        done: list[str] = []
        while events and time.monotonic() < deadline:
            gevent.sleep(0.05)
            p = replay.progress()
            bar.update(p.valid_in_erp, f"faults {len(done)}/{len(done) + len(events)}")
            if p.valid_in_erp < events[0][0] * options.orders and not p.erp_done:
                continue
            _, fault = events.pop(0)
            if fault == "kill":
                victim = rng.choice(replay.engines)
                victim.kill()
                gevent.sleep(rng.uniform(0.0, 1.0))
                victim.start()
                last_fault = time.monotonic()
            else:
                seconds = rng.uniform(10.0, 40.0) / options.time_scale
                replay.sandbox.erp.inject(fault, seconds)
                last_fault = time.monotonic() + seconds
            done.append(fault)
        result, healed = _heal(replay, bar, deadline)
        heal = healed - last_fault if healed is not None else None
        bar.close(f"healed {heal:.1f} s after the last fault" if heal is not None else "did not heal in time")
        outcomes = replay.sandbox.erp.ledger.outcomes()
        plans = replay.sandbox.webhooks.plans
        counts = _counts(result)
        lost = heal_figures(replay.sandbox, replay.reconcile_interval, since=began)
        return {
            "round": n, "seed": seed, "valid": result.scorecard.valid, "malformed": result.scorecard.malformed,
            "kills": done.count("kill"), "erp_bursts": [f for f in done if f != "kill"],
            "erp_5xx": outcomes.get("error", 0), "erp_resets": outcomes.get("reset", 0),
            "webhooks_duplicated": sum(1 for w in plans if w.copies > 1 and not w.dropped),
            "webhooks_dropped": sum(1 for w in plans if w.dropped),
            **counts, "heal_seconds": round(max(0.0, heal), 3) if heal is not None else None,
            "ok": healed is not None and not any(counts.values()), "consistency": result.as_dict(),
            "lost_webhooks": lost.as_dict(), "lost_heal_seconds": [round(t, 3) for t in lost.to_consistent],
            "peak_rss_bytes": max((e.peak_rss or 0 for e in replay.engines), default=0) or None,
        }
    finally:
        replay.close()


def _heal(replay: Replay, bar: ProgressBar, deadline: float) -> tuple[Consistency, float | None]:
    """Wait until the end state is consistent (or the deadline); (the last verdict, when it healed)."""
    while replay.progress().placing and time.monotonic() < deadline:
        gevent.sleep(0.1)
    store = replay.store()
    try:
        while True:
            p = replay.progress()
            bar.update(p.valid_in_erp, f"healing: WMS {p.wms}  shipped {p.shipped}  fulfilled {p.fulfilled}")
            result = check_consistency(replay.sandbox, store)
            if result.consistent:
                return result, time.monotonic()
            if time.monotonic() >= deadline:
                return result, None
            gevent.sleep(0.25)
    finally:
        store.close()


def run_chaos(options: ChaosOptions, out: TextIO) -> dict[str, Any]:
    """Run every round; returns the options and one result per round (JSON-ready)."""
    print(f"peppasync bench chaos: {options.rounds} rounds of {options.orders} orders, {options.kills} SIGKILLs "
          f"and {options.erp_bursts} ERP fault bursts per round, time x{options.time_scale:g}, ERP {options.erp}"
          + (f", {options.nodes} nodes on PostgreSQL" if options.nodes > 1 else ""), file=out, flush=True)
    rounds = [_round(options, n, out) for n in range(1, options.rounds + 1)]
    return {"options": {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(options).items()},
            "rounds": rounds, "ok": all(r["ok"] for r in rounds), "lost_webhooks": lost_webhooks(rounds)}


def lost_webhooks(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The heal times of every round's lost-webhook orders together, and in how many rounds the target held."""
    times = [t for r in rounds for t in r["lost_heal_seconds"]]
    verdicts = [r["lost_webhooks"]["met"] for r in rounds if r["lost_webhooks"]["met"] is not None]
    return {
        "lost": sum(r["lost_webhooks"]["lost"] for r in rounds),
        "unhealed": sum(r["lost_webhooks"]["unhealed"] for r in rounds),
        "p50_seconds": round(percentile(times, 50), 3) if times else None,
        "p99_seconds": round(percentile(times, 99), 3) if times else None,
        "max_seconds": round(max(times), 3) if times else None,
        "rounds_judged": len(verdicts), "rounds_met": sum(1 for v in verdicts if v),
        "met": all(verdicts) if verdicts else None,
    }

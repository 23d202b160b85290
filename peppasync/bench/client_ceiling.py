"""The ERP's ceiling for any client: C callers that do nothing but keep one call in flight each.

R*L/C (``ErpFigures.physical_limit``) counts only the time the ERP spends on its calls. Every
call also crosses HTTP both ways: it is built and signed, parsed and verified by the ERP, and
its answer written and read, and while that happens the slot holds no call. So no client
reaches R*L/C. This probe measures how close one can come against the same ERP on the same
machine: a child process (as the engine is one) whose C greenlets each sync orders one call
after another, as the synchronous baseline does, with a new call sent the moment the last one
answered and no pause after a 5xx. Its share of R*L/C while all C were busy is the ceiling the
engine's efficiency is read against (the black-friday figure ``efficiency_of_client_ceiling``).

The child is started with gevent patched before anything else is imported, as ``peppasync`` is.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator, MutableSet
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import gevent
import gevent.event

from peppasync.sandbox import LedgerEntry, PlacedOrder, Sandbox, SandboxProfile

from .engine import CHECKOUT, checkout_env
from .figures import NOT_CALLS, slots_in_use

__all__ = ["ClientCeiling", "client_occupancy", "run_client_ceiling"]

_CHILD = "from gevent import monkey; monkey.patch_all(); from peppasync.bench.client_ceiling import main; main()"


@dataclass(frozen=True)
class ClientCeiling:
    """What the probe measured: its calls, their mean latency L, and its share of R*L/C."""

    calls: int
    mean_latency: float
    concurrency: int
    seconds: float
    occupancy: float

    @property
    def gap(self) -> float:
        """Seconds per call in which its slot held nothing: the way there and back."""
        return self.mean_latency * (1 / self.occupancy - 1) if self.occupancy > 0 else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "mean_latency_seconds": round(self.mean_latency, 4),
                "concurrency": self.concurrency, "seconds": round(self.seconds, 3),
                "occupancy": round(self.occupancy, 4), "gap_ms": round(self.gap * 1000, 2)}


def client_occupancy(entries: list[LedgerEntry], concurrency: int, since: float, until: float) -> ClientCeiling:
    """The share of the ERP's ``concurrency`` slots its calls held from the moment all were first
    in use (the ``concurrency``-th start after ``since``) to ``until``."""
    calls = sorted((e for e in entries if e.started >= since and e.outcome not in NOT_CALLS),
                   key=lambda e: e.started)
    if len(calls) < concurrency:
        raise ValueError(f"the probe made {len(calls)} calls, fewer than the ERP's {concurrency} slots")
    begin = calls[concurrency - 1].started
    if until <= begin:
        raise ValueError(f"the probe ended {begin - until:.3f} s before all {concurrency} slots were in use")
    inside = [e for e in calls if e.started < until]
    mean = sum(e.duration for e in inside) / len(inside)
    return ClientCeiling(calls=len(inside), mean_latency=mean, concurrency=concurrency, seconds=until - begin,
                         occupancy=slots_in_use(calls, begin, until) / concurrency)


def run_client_ceiling(profile: str | SandboxProfile, *, seed: int, time_scale: float, orders: int,
                       malformed_ratio: float, lines_mean: float, erp: str = "netsuite",
                       seconds: float = 8.0) -> ClientCeiling:
    """Probe a fresh sandbox of ``erp`` (the same orders as the run) for ``seconds``."""
    with Sandbox(profile, seed=seed, time_scale=time_scale, erp=erp) as sandbox:
        placed = sandbox.place_orders(orders, malformed_ratio=malformed_ratio, lines_mean=lines_mean)
        spec = {"erp": erp, "sections": sandbox.config_sections(), "time_scale": sandbox.time_scale,
                "concurrency": sandbox.erp.concurrency_limit, "seconds": seconds,
                "orders": [{"id": p.id, "name": p.name, "payload": p.payload} for p in placed if p.valid]}
        since = sandbox.clock.time()
        done = subprocess.run([sys.executable, "-c", _CHILD], cwd=CHECKOUT, env=checkout_env(),
                              input=json.dumps(spec, default=str).encode(), capture_output=True, timeout=seconds + 120)
        if done.returncode != 0:
            raise RuntimeError(f"the client ceiling probe failed (exit {done.returncode}): "
                               f"{done.stderr.decode(errors='replace')[-2000:]}")
        until = json.loads(done.stdout)["until"]
        return client_occupancy(sandbox.erp.ledger.entries(), sandbox.erp.concurrency_limit, since, until)


class _Customers(MutableSet[int]):
    """The customers the callers created. A caller that meets one another caller is creating
    waits for it (its order names the customer), so that none is created twice."""

    def __init__(self) -> None:
        self._made: dict[int, gevent.event.Event] = {}

    def __contains__(self, customer: object) -> bool:
        made = self._made.get(customer)  # type: ignore[call-overload]
        if made is None:
            self._made[customer] = gevent.event.Event()  # type: ignore[index]  # ours to create
            return False
        made.wait()
        return True

    def add(self, customer: int) -> None:
        self._made.setdefault(customer, gevent.event.Event()).set()

    def discard(self, customer: int) -> None:
        self._made.pop(customer, None)

    def __iter__(self) -> Iterator[int]:
        return iter(self._made)

    def __len__(self) -> int:
        return len(self._made)


def _probe(spec: dict[str, Any]) -> dict[str, float]:
    """In the child: C callers over one shared list of orders for ``seconds``, or until the
    orders run out (``until``: whichever came first)."""
    from .baseline import SequentialMiddleware
    from .baseline_business_central import SequentialBusinessCentral

    sandbox = SimpleNamespace(config_sections=lambda: spec["sections"], time_scale=spec["time_scale"])
    orders = iter([PlacedOrder(o["id"], o["name"], o["payload"], None, ()) for o in spec["orders"]])
    customers = _Customers()
    began = time.time()
    deadline = began + spec["seconds"]
    ran_out = [float("inf")]

    def caller() -> None:
        client = (SequentialMiddleware if spec["erp"] == "netsuite" else SequentialBusinessCentral)(
            sandbox, customers=customers)  # type: ignore[arg-type]
        client.pause = 0.0
        try:
            while time.time() < deadline:
                order = next(orders, None)
                if order is None:
                    ran_out[0] = min(ran_out[0], time.time())
                    return
                client.sync(order)
        finally:
            client.close()

    gevent.joinall([gevent.spawn(caller) for _ in range(spec["concurrency"])], raise_error=True)
    return {"until": min(deadline, ran_out[0])}


def main() -> None:
    """The child: the probe's spec on stdin, ``{"until": ...}`` on stdout."""
    print(json.dumps(_probe(json.load(sys.stdin))))

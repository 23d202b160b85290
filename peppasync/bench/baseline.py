"""The synchronous baseline: the sequential middleware competitors run, against the same ERP.

One order at a time: upsert its customer (once per customer), then one ERP call per
line item, each awaited before the next (the sales order grows a line per call: NetSuite
adds the lines of an update to the ones it has).
Sandbox latency is the same per call; only the shape of the calls differs.
"""

from __future__ import annotations

import time
from collections.abc import MutableSet
from dataclasses import dataclass
from typing import Any

import gevent
import requests

from peppasync.config import parse_config
from peppasync.sandbox import PlacedOrder, Sandbox, SandboxProfile

from actors.connectors.netsuite import TokenAuth

from .baseline_business_central import SequentialBusinessCentral

__all__ = ["BaselineResult", "SequentialMiddleware", "run_baseline"]

_ROOT = "/services/rest/record/v1/"


class SequentialMiddleware:
    """A plain sequential NetSuite client: no parallelism, a call per line, simple retries."""

    def __init__(self, sandbox: Sandbox, *, attempts: int = 8, customers: MutableSet[int] | None = None) -> None:
        config = parse_config(sandbox.config_sections(), source="baseline", environ={})
        self.base = config.netsuite.base_url.rstrip("/") + _ROOT
        self.session = requests.Session()
        self.session.auth = TokenAuth(config.netsuite)
        self.guest = {"id": config.netsuite.guest_customer}
        self.subsidiary = {"id": config.netsuite.subsidiary}
        self.attempts = attempts
        self.pause = 0.5 / sandbox.time_scale
        self.calls = 0
        # The customers created: shared by clients that sync side by side (``client_ceiling``).
        self._customers: MutableSet[int] = set() if customers is None else customers

    def sync(self, order: PlacedOrder) -> None:
        body = order.payload
        customer = body.get("customer") or {}
        if customer.get("id") and customer["id"] not in self._customers:
            self._put(f"customer/eid:shopify-customer-{customer['id']}",
                      {"isPerson": True, "firstName": customer["first_name"], "lastName": customer["last_name"],
                       "email": customer["email"], "subsidiary": self.subsidiary})
            self._customers.add(customer["id"])
        header: dict[str, Any] = {"externalId": str(order.id), "otherRefNum": order.name, "entity": self.guest}
        if customer.get("id"):
            header["entity"] = {"externalId": f"shopify-customer-{customer['id']}"}
        for line in body["line_items"]:
            self._put(f"salesOrder/eid:{order.id}", {**header, "item": {"items": [
                {"item": {"externalId": line["sku"]}, "quantity": line["quantity"], "rate": float(line["price"])}]}})

    def _put(self, path: str, body: dict[str, Any]) -> None:
        for attempt in range(self.attempts):
            self.calls += 1
            try:
                response = self.session.put(self.base + path, json=body, timeout=(3.05, 60))
            except requests.ConnectionError:
                response = None
            if response is not None and response.status_code < 400:
                return
            if response is not None and response.status_code < 500 and response.status_code != 429:
                raise RuntimeError(f"the ERP refused {path}: HTTP {response.status_code} {response.text[:200]}")
            gevent.sleep(self.pause * 2**attempt)
        raise RuntimeError(f"the ERP kept failing {path} after {self.attempts} attempts")

    def close(self) -> None:
        self.session.close()


@dataclass(frozen=True)
class BaselineResult:
    """How long the baseline took for ``measured`` valid orders, and what that means for ``valid``."""

    measured: int
    seconds_measured: float
    calls: int
    mean_latency: float
    valid: int

    @property
    def projected(self) -> bool:
        return self.measured < self.valid

    @property
    def seconds(self) -> float:
        """The time for every valid order: measured, or projected from the sample's mean per order."""
        if not self.projected:
            return self.seconds_measured
        return self.seconds_measured / max(1, self.measured) * self.valid

    def as_dict(self) -> dict[str, Any]:
        return {"orders_measured": self.measured, "seconds_measured": round(self.seconds_measured, 3),
                "calls": self.calls, "mean_latency_seconds": round(self.mean_latency, 4),
                "valid_orders": self.valid, "seconds": round(self.seconds, 3), "projected": self.projected}


def run_baseline(profile: str | SandboxProfile, *, seed: int, time_scale: float, orders: int,
                 malformed_ratio: float, lines_mean: float, sample: int, budget: float,
                 erp: str = "netsuite") -> BaselineResult:
    """Run the baseline on a fresh sandbox of ``erp`` with the same orders, for ``sample`` orders or ``budget`` s."""
    with Sandbox(profile, seed=seed, time_scale=time_scale, erp=erp) as sandbox:
        placed = sandbox.place_orders(orders, malformed_ratio=malformed_ratio, lines_mean=lines_mean)
        valid = [p for p in placed if p.valid]
        middleware = SequentialMiddleware(sandbox) if erp == "netsuite" else SequentialBusinessCentral(sandbox)
        began = time.monotonic()
        done = 0
        try:
            for order in valid[:sample]:
                middleware.sync(order)
                done += 1
                if time.monotonic() - began >= budget:
                    break
        finally:
            middleware.close()
        elapsed = time.monotonic() - began
        entries = [e for e in sandbox.erp.ledger.entries() if e.outcome not in ("throttled", "unauthorized", "token")]
        latency = sum(e.duration for e in entries) / len(entries) if entries else 0.0
        return BaselineResult(measured=done, seconds_measured=elapsed, calls=middleware.calls,
                              mean_latency=latency, valid=len(valid))

"""Sandbox profiles: how busy and how unreliable the simulated services are."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

__all__ = ["PROFILES", "SandboxProfile", "chance", "erp_latency", "lognormal", "resolve_profile"]


@dataclass(frozen=True)
class SandboxProfile:
    """The load shape and fault rates of one sandbox run.

    Times are in simulated seconds; the sandbox divides them by its time scale.
    Rates are probabilities in [0, 1], decided per request identity from the seed.
    """

    name: str
    # Orders: mean arrivals per second, and how bursty (1.0 = Poisson, higher = clumped).
    order_rate: float = 2.0
    burst_factor: float = 1.0
    # Shopify GraphQL cost bucket (classic Standard plan values).
    bucket_size: float = 1000.0
    bucket_restore_rate: float = 50.0
    # NetSuite: account-wide concurrency, log-normal latency that grows with load, random 5xx.
    erp_concurrency_limit: int = 15
    erp_latency_median: float = 0.3
    erp_latency_sigma: float = 0.4
    erp_load_factor: float = 1.0
    erp_error_rate: float = 0.0
    # Shopify webhooks: faults of the sender.
    webhook_duplicate_rate: float = 0.0
    webhook_drop_rate: float = 0.0
    webhook_reorder_rate: float = 0.0
    webhook_late_rate: float = 0.0
    webhook_late_delay: float = 30.0
    webhook_retries: int = 8
    webhook_retry_base: float = 1.0
    webhook_timeout: float = 5.0
    # WMS: request window, shipment delay, stock taken by other sales channels.
    wms_window_limit: int = 40
    wms_window_seconds: float = 60.0
    # ShipStation V2's inventory API: requests per window (200 a minute by default).
    inventory_window_limit: int = 200
    shipment_delay: float = 5.0
    channel_consumption_rate: float = 0.0
    # Another app (a fraud filter) holds this share of orders' fulfillment orders right after
    # checkout, and this share when the warehouse ships them (an address check the warehouse did
    # not wait for), for other_app_hold_min to other_app_hold_max seconds.
    other_app_hold_rate: float = 0.0
    other_app_ship_hold_rate: float = 0.0
    other_app_hold_min: float = 6.0
    other_app_hold_max: float = 12.0

    def __post_init__(self) -> None:
        for name in ("webhook_duplicate_rate", "webhook_drop_rate", "webhook_reorder_rate",
                     "webhook_late_rate", "erp_error_rate", "other_app_hold_rate", "other_app_ship_hold_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"profile {self.name!r}: {name} must be within [0, 1], got {value!r}")
        for name in ("order_rate", "bucket_size", "bucket_restore_rate", "wms_window_seconds",
                     "webhook_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"profile {self.name!r}: {name} must be positive, got {getattr(self, name)!r}")
        if not 0 <= self.other_app_hold_min <= self.other_app_hold_max:
            raise ValueError(f"profile {self.name!r}: expected 0 <= other_app_hold_min <= other_app_hold_max, got "
                             f"{self.other_app_hold_min!r} and {self.other_app_hold_max!r}")
        if self.erp_concurrency_limit < 1 or self.wms_window_limit < 1 or self.inventory_window_limit < 1:
            raise ValueError(f"profile {self.name!r}: limits must be at least 1")


PROFILES: dict[str, SandboxProfile] = {
    "calm": SandboxProfile(name="calm"),
    "black-friday": SandboxProfile(
        name="black-friday",
        order_rate=40.0,
        burst_factor=4.0,
        erp_concurrency_limit=10,
        erp_latency_median=0.8,
        erp_latency_sigma=0.6,
        erp_load_factor=2.0,
        erp_error_rate=0.02,
        webhook_duplicate_rate=0.05,
        webhook_drop_rate=0.01,
        webhook_reorder_rate=0.1,
        webhook_late_rate=0.01,
        shipment_delay=20.0,
        channel_consumption_rate=2.0,
    ),
    # A product drop: orders come at order_rate, then burst_factor times faster, while
    # other sales channels drain the warehouse; the WMS allows 100 requests/s and ships an hour later.
    "flash-sale": SandboxProfile(
        name="flash-sale",
        order_rate=2.0,
        burst_factor=10.0,
        erp_concurrency_limit=15,
        erp_latency_median=0.2,
        erp_latency_sigma=0.3,
        webhook_duplicate_rate=0.02,
        webhook_reorder_rate=0.05,
        wms_window_limit=6000,
        shipment_delay=3600.0,
        channel_consumption_rate=10.0,
    ),
}


def resolve_profile(profile: str | SandboxProfile) -> SandboxProfile:
    """Return the profile itself, or the named one; a ValueError lists the names known."""
    if isinstance(profile, SandboxProfile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ValueError(
            f"unknown sandbox profile {profile!r}; choose one of {', '.join(sorted(PROFILES))}"
        ) from None


def chance(seed: int, *identity: object) -> float:
    """A number in [0, 1) fixed by the seed and the identity, whatever the arrival order."""
    text = ":".join([str(seed), *map(str, identity)])
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def lognormal(seed: int, median: float, sigma: float, *identity: object) -> float:
    """A log-normal sample with the given median, fixed by seed and identity."""
    u1 = max(chance(seed, "ln1", *identity), 1e-12)
    u2 = chance(seed, "ln2", *identity)
    normal = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
    return median * math.exp(sigma * normal)


def erp_latency(profile: SandboxProfile, seed: int, identity: str, attempt: int, load: int, limit: int) -> float:
    """Seconds an ERP takes to answer a request (log-normal, fixed by seed, request and attempt), longer
    as more of its ``limit`` concurrent requests are in flight (``load``): an ERP slows under load."""
    latency = lognormal(seed, profile.erp_latency_median, profile.erp_latency_sigma, identity, attempt)
    return latency * (1.0 + profile.erp_load_factor * (load - 1) / max(1, limit))

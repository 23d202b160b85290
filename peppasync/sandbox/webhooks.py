"""Shopify's webhook sender: signed deliveries with retries, duplicates, reordering, lateness and drops."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import gevent
import requests
import requests.adapters

from peppasync.clock import Clock

from .ledger import Ledger
from .profile import SandboxProfile, chance

__all__ = ["TOPICS", "WebhookPlan", "WebhookSender", "sign"]

TOPICS = frozenset({"orders/create", "orders/updated", "orders/cancelled", "refunds/create"})
_CONNECT_TIMEOUT = 1.0


def sign(secret: str, body: bytes) -> str:
    """Base64 of the HMAC-SHA256 of the raw body: the `X-Shopify-Hmac-Sha256` value."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class WebhookPlan:
    """What the sender decided for one event, from the seed and the event's identity alone."""

    topic: str
    event_id: int
    dropped: bool
    copies: int  # deliveries carrying this Event-Id (2 = one duplicate)
    delay: float  # simulated seconds before the first attempt (reordering, lateness)


class WebhookSender:
    """Delivers events to `url` in the background; `wait_idle` returns once all have ended.

    Each delivery is one POST per attempt with Shopify's headers; any non-2xx, timeout or
    refused connection is retried with exponential backoff up to `profile.webhook_retries`.
    """

    def __init__(self, *, secret: str, shop_domain: str, api_version: str, profile: SandboxProfile,
                 seed: int, time_scale: float, clock: Clock, url: str | None = None) -> None:
        self.secret = secret
        self.shop_domain = shop_domain
        self.api_version = api_version
        self.url = url
        self.ledger = Ledger("shopify-webhooks", clock)
        self.plans: list[WebhookPlan] = []
        self._profile = profile
        self._seed = seed
        self._scale = time_scale
        self._clock = clock
        self._pending = 0
        self._sent: Counter[tuple[str, Any]] = Counter()
        self._cond = threading.Condition()
        self._greenlets: list[gevent.Greenlet] = []
        self._http = requests.Session()
        # A burst sends hundreds of webhooks at once: keep that many connections for reuse.
        self._http.mount("http://", requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=256))

    def event_id(self, topic: str, key: str) -> int:
        digest = hashlib.sha256(f"{self._seed}:event:{topic}:{key}".encode()).digest()
        return 1_000_000_000 + int.from_bytes(digest[:6], "big") % 9_000_000_000

    def plan(self, topic: str, key: str) -> WebhookPlan:
        """Decide the faults of one event from the seed and (topic, key): not from arrival order."""
        p = self._profile
        event = self.event_id(topic, key)
        dropped = chance(self._seed, "drop", event) < p.webhook_drop_rate
        copies = 2 if chance(self._seed, "dup", event) < p.webhook_duplicate_rate else 1
        delay = 0.0
        if chance(self._seed, "reorder", event) < p.webhook_reorder_rate:
            delay += 0.5 + 2.0 * chance(self._seed, "reorder-by", event)
        if chance(self._seed, "late", event) < p.webhook_late_rate:
            delay += p.webhook_late_delay
        return WebhookPlan(topic, event, dropped, copies, delay)

    def send(self, topic: str, payload: dict[str, Any], key: str | None = None) -> WebhookPlan:
        """Queue an event; `key` names it (default: the payload's id and how many events it had before)."""
        if topic not in TOPICS:
            raise ValueError(f"unknown webhook topic {topic!r}; expected one of {', '.join(sorted(TOPICS))}")
        if key is None:
            with self._cond:
                n = self._sent[(topic, payload.get("id"))]
                self._sent[(topic, payload.get("id"))] += 1
            key = f"{payload.get('id')}:{n}"
        plan = self.plan(topic, key)
        self.plans.append(plan)
        if plan.dropped or self.url is None:
            self.ledger.note("dropped" if plan.dropped else "no_target")
            return plan
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        triggered = datetime.fromtimestamp(self._clock.time(), UTC).isoformat(timespec="milliseconds")
        for copy in range(plan.copies):
            webhook_id = str(uuid.UUID(bytes=hashlib.sha256(f"{self._seed}:{plan.event_id}:{copy}".encode())
                                        .digest()[:16]))
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": sign(self.secret, body),
                "X-Shopify-Shop-Domain": self.shop_domain,
                "X-Shopify-API-Version": self.api_version,
                "X-Shopify-Webhook-Id": webhook_id,
                "X-Shopify-Event-Id": str(plan.event_id),
                "X-Shopify-Triggered-At": triggered.replace("+00:00", "Z"),
            }
            delay = plan.delay + copy * 0.2
            with self._cond:
                self._pending += 1
            self._greenlets.append(gevent.spawn(self._deliver, self.url, topic, body, headers, delay))
        return plan

    def _deliver(self, url: str, topic: str, body: bytes, headers: dict[str, str], delay: float) -> None:
        try:
            if delay:
                gevent.sleep(delay / self._scale)
            for attempt in range(self._profile.webhook_retries + 1):
                if attempt:
                    gevent.sleep(self._profile.webhook_retry_base * 2 ** (attempt - 1) / self._scale)
                started = self.ledger.begin()
                status, outcome = 0, "delivered"
                try:
                    response = self._http.post(url, data=body, headers=headers,
                                               timeout=(_CONNECT_TIMEOUT, self._profile.webhook_timeout))
                    status = response.status_code
                    outcome = "delivered" if 200 <= status < 300 else "rejected"
                except requests.Timeout:
                    outcome = "timeout"
                except requests.RequestException:
                    outcome = "refused"
                self.ledger.end(started, "POST", topic, status, outcome,
                                key=headers["X-Shopify-Event-Id"], detail=f"attempt {attempt + 1}")
                if outcome == "delivered":
                    return
            self.ledger.note("gave_up")
        finally:
            with self._cond:
                self._pending -= 1
                self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return self._pending

    def wait_idle(self, timeout: float) -> bool:
        """Block until every queued delivery has succeeded or given up; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    def stop(self) -> None:
        """Abandon deliveries still waiting or retrying."""
        gevent.killall(self._greenlets, block=True, timeout=2)
        self._greenlets.clear()
        self._http.close()

"""Webhook ingest: verify, parse strictly, persist durably, deduplicate, then answer.

Shopify signs the raw body (base64 HMAC-SHA256 with the app secret); the WMS
signs nothing, so its URL carries a secret token. Either way nothing is stored
unless the caller proved who it is, and 200 is sent only after the event is
committed to the store.

Shopify's headers are not signed: the topic, the event id and the trigger time
can be changed by anyone who replays a signed body. So an event is its id and
the digest of its body (a reused id with another body is stored, and logged),
and what the engine does with an event comes from the body (see the order
actor). A body that can never be stored gets a 4xx with the reason, never a
5xx that Shopify would retry for two days.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Sequence
from typing import Any

from peppasync.clock import parse_timestamp
from peppasync.http.request import HttpError, Request, Response, json_response
from peppasync.metrics import Metrics
from peppasync.store import Store, ops

__all__ = ["LATE_AFTER_SECONDS", "SHOPIFY_TOPICS", "WebhookIngest", "shopify_hmac"]

log = logging.getLogger("peppasync.webhooks")

SHOPIFY_TOPICS = ("orders/create", "orders/updated", "orders/cancelled", "refunds/create")
#: Past this age (from ``X-Shopify-Triggered-At``) an event is logged as late; it is processed all the same.
LATE_AFTER_SECONDS = 3600.0
# Event ids as Shopify sends them (numbers, UUIDs): printable ASCII, bounded, so
# every store can keep them as text.
_IDENT = re.compile(r"[!-~]{1,255}")
# Shopify's order ids are positive 64-bit integers: an order's mailbox key, and
# its external id in the ERP and the WMS, which take nothing else.
_ORDER_ID = re.compile(r"[1-9][0-9]{0,19}")


def shopify_hmac(secret: str, body: bytes) -> str:
    """The value Shopify puts in ``X-Shopify-Hmac-Sha256`` for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class WebhookIngest:
    """Handlers for ``POST /webhooks/shopify`` and ``POST /webhooks/wms``."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        *,
        shopify_secret: str,
        wms_token: str,
        now: Any,
        late_after: float = LATE_AFTER_SECONDS,
        margins: bool = False,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._secret = shopify_secret
        self._wms_token = wms_token
        self._now = now
        self._late_after = late_after
        self._margins = margins

    def shopify(self, request: Request) -> Response:
        topic = request.header("X-Shopify-Topic") or "unknown"
        label = topic if topic in SHOPIFY_TOPICS else "other"
        try:
            body = request.body()
        except HttpError as exc:
            raise self._refuse("shopify", label, _body_outcome(exc), exc) from None
        # Compared as bytes: compare_digest refuses str with non-ASCII characters.
        given = request.header("X-Shopify-Hmac-Sha256").encode("utf-8", "replace")
        if not self._secret or not given or not hmac.compare_digest(shopify_hmac(self._secret, body).encode(), given):
            self._count("shopify", label, "bad_hmac")
            raise HttpError(401, "X-Shopify-Hmac-Sha256 does not match the body", reason="bad_hmac")
        if topic not in SHOPIFY_TOPICS:
            self._count("shopify", label, "ignored")
            return json_response({"status": "ignored", "topic": topic})
        try:
            order = request.json()
        except HttpError as exc:
            raise self._refuse("shopify", label, "malformed", exc) from None
        order_id = _order_id(topic, order)
        if order_id is None:
            raise self._refuse("shopify", label, "malformed", HttpError(
                422, f"{topic} body has no order id ('id' or 'order_id'): a positive whole number",
                reason="no_order_id",
            ))
        digest = hashlib.sha256(body).hexdigest()
        event_id = request.header("X-Shopify-Event-Id") or request.header("X-Shopify-Webhook-Id") or digest
        if not _IDENT.fullmatch(event_id):
            raise self._refuse("shopify", label, "malformed", HttpError(
                400, "X-Shopify-Event-Id must be 1 to 255 printable ASCII characters", reason="bad_event_id",
            ))
        triggered_at = request.header("X-Shopify-Triggered-At")
        if not _IDENT.fullmatch(triggered_at):
            triggered_at = ""
        received_at = self._now()
        self._note_late(topic, event_id, triggered_at, received_at)
        payload = {
            "type": "webhook",
            "topic": topic,
            "event_id": event_id,
            "digest": digest,
            "triggered_at": triggered_at or None,
            "received_at": received_at,
            "body": order,
        }
        also: list[tuple[str, dict[str, Any]]] = []
        if self._margins:
            # The order's margin hears of it now, in the same transaction, not after the order's
            # own mailbox (which waits on the ERP under load); the order actor need not pass it on.
            kind = "refund" if topic == "refunds/create" else "sale"
            also.append(("margin", {"type": kind, "body": order, "received_at": received_at}))
            payload["margin_told"] = True
        return self._persist("shopify", label, "order", order_id, event_id, payload, digest, also)

    def wms(self, request: Request) -> Response:
        token = request.query.get("token", "")
        if not self._wms_token or not hmac.compare_digest(token.encode(), self._wms_token.encode()):
            self._count("wms", "ship_notify", "bad_token")
            raise HttpError(401, "the token query parameter is missing or wrong", reason="bad_token")
        try:
            note = request.json()
        except HttpError as exc:
            raise self._refuse("wms", "ship_notify", _body_outcome(exc), exc) from None
        if not isinstance(note, dict) or not isinstance(note.get("resource_url"), str):
            raise self._refuse("wms", "ship_notify", "malformed", HttpError(
                422, "expected {\"resource_url\": ..., \"resource_type\": ...}", reason="no_resource_url",
            ))
        rtype = str(note.get("resource_type") or "SHIP_NOTIFY")
        payload = {
            "type": "ship_notify",
            "resource_url": note["resource_url"],
            "resource_type": rtype,
            "received_at": self._now(),
        }
        return self._persist("wms", "ship_notify", "shipments", "wms", note["resource_url"], payload)

    def _persist(
        self, source: str, topic: str, kind: str, key: str, event_id: str, payload: dict[str, Any], digest: str = "",
        also: Sequence[tuple[str, dict[str, Any]]] = (),
    ) -> Response:
        # One transaction: the message (and the ``also`` messages to other kinds of the same key)
        # and its dedup key commit together, so a crash can neither lose an acknowledged event nor
        # mark one seen unstored; a duplicate adds nothing, so no actor ever sees it.
        [admission] = self._store.write([ops.InsertOnce(
            source, event_id, ops.Insert(kind, key, payload), digest,
            also=tuple(ops.Insert(other, key, more) for other, more in also))])
        if admission.message_id is None:
            self._count(source, topic, "duplicate")
            return json_response({"status": "duplicate", "event_id": event_id})
        if admission.reused:
            log.warning(
                "webhook event id seen before with another body: stored as a new event",
                extra={"source": source, "topic": topic, "event_id": event_id, "key": key,
                       "message_id": admission.message_id},
            )
        # The commit handed the messages to their actors (``actors.delivery``): nobody need be woken.
        self._count(source, topic, "accepted")
        return json_response({"status": "accepted", "event_id": event_id, "message_id": admission.message_id})

    def _note_late(self, topic: str, event_id: str, triggered_at: str, received_at: float) -> None:
        """Log an event older than ``late_after``: Shopify retried it, or it was long on its way.

        It is processed all the same: Shopify retries a failed delivery for
        hours, and dropping a late one would lose it for good.
        """
        moment = parse_timestamp(triggered_at)
        if moment is None:
            return
        age = received_at - moment.timestamp()
        if age > self._late_after:
            log.warning(
                "late webhook: processed all the same",
                extra={"topic": topic, "event_id": event_id, "triggered_at": triggered_at,
                       "age_seconds": round(age, 1), "late_after_seconds": self._late_after},
            )

    def _refuse(self, source: str, topic: str, outcome: str, exc: HttpError) -> HttpError:
        """Count and log a refused webhook; returns the error to raise."""
        self._count(source, topic, outcome)
        log.warning(
            "webhook refused",
            extra={"source": source, "topic": topic, "status": exc.status,
                   "reason": exc.extra.get("reason", outcome), "error": exc.message},
        )
        return exc

    def _count(self, source: str, topic: str, outcome: str) -> None:
        self._metrics.webhooks_total.labels(source=source, topic=topic, outcome=outcome).inc()


def _body_outcome(exc: HttpError) -> str:
    return {413: "too_large", 408: "timeout"}.get(exc.status, "malformed")


def _order_id(topic: str, body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    raw = body.get("order_id") if topic == "refunds/create" else body.get("id")
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        return None
    text = str(raw)
    return text if _ORDER_ID.fullmatch(text) else None

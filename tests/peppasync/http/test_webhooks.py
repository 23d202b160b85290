"""Webhooks and ops API bodies from hostile or broken senders, against a real server in this process.

A body that can never succeed is answered 4xx with the reason and counted,
never 5xx (Shopify would retry it for two days); nothing of it is stored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from peppasync.clock import SystemClock
from peppasync.config import parse_config
from peppasync.http import shopify_hmac
from peppasync.runtime import Runtime
from peppasync.store import ops

from tests.peppasync.serving import free_port
from tests.peppasync.store import raw

SECRET = "hush"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Runtime, str]]:
    port = free_port()
    config = parse_config(
        {
            "server": {"listen": f"127.0.0.1:{port}", "ops_token": "ops-secret"},
            "store": {"url": f"sqlite:///{tmp_path}/webhooks.db"},
            "shopify": {"webhook_secret": SECRET},
            "wms": {"webhook_token": "wms-token"},
        },
        environ={},
    )
    runtime = Runtime(config, clock=SystemClock())
    runtime.start()
    yield runtime, f"http://127.0.0.1:{port}"
    runtime.stop()


def _post(base: str, body: bytes, *, topic: str = "orders/create", event_id: str = "e-1",
          hmac: str | None = None, **headers: str) -> requests.Response:
    sent = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": hmac if hmac is not None else shopify_hmac(SECRET, body),
        "X-Shopify-Event-Id": event_id,
        "Content-Type": "application/json",
        **{name.replace("_", "-"): value for name, value in headers.items()},
    }
    return requests.post(f"{base}/webhooks/shopify", data=body, headers=sent, timeout=10)


def _refused(runtime: Runtime, topic: str = "orders/create") -> float:
    value = runtime.metrics.registry.get_sample_value(
        "peppasync_webhooks_total", {"source": "shopify", "topic": topic, "outcome": "malformed"}
    )
    return value or 0.0


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"id": 1, "total_price": NaN}', "not_a_number"),
        ('{"id": 1, "total_price": Infinity}', "not_a_number"),
        ('{"id": 1, "total_price": 1e400}', "number_out_of_range"),
        ('{"id": 1, "note": ' + _nested(10_000) + "}", "too_deep"),
        ('{"id": 1, "note": ' + _nested(65) + "}", "too_deep"),
        ('{"id": 1, "quantity": ' + "9" * 5000 + "}", "number_too_long"),
        ('{"id": 1, "note": "\\ud800"}', "lone_surrogate"),
        ('{"id": 1, "note": "a\\u0000b"}', "nul_character"),
        ('{"id": 1, "id": 2}', "duplicate_key"),
        ('{"id": 1, "note": "caf\xe9"}', "not_utf8"),
    ],
)
def test_a_signed_body_that_can_never_be_stored_gets_400_with_its_reason_and_is_counted(
    server: tuple[Runtime, str], text: str, reason: str
) -> None:
    runtime, base = server
    body = text.encode("latin-1") if reason == "not_utf8" else text.encode()

    answer = _post(base, body)

    assert answer.status_code == 400, answer.text
    assert answer.json()["reason"] == reason
    assert runtime.store.mailbox_stats() == {}
    assert _refused(runtime) == 1.0
    assert "webhooks.db" not in answer.text


def test_when_the_store_fails_the_answer_is_503_and_does_not_name_the_store(server: tuple[Runtime, str]) -> None:
    runtime, base = server
    runtime.store.close()

    answer = _post(base, b'{"id": 1}')

    assert answer.status_code == 503
    assert "webhooks.db" not in answer.text and "sqlite" not in answer.text


def test_a_signed_order_nested_deep_enough_to_break_its_actor_later_is_refused_at_the_door(
    server: tuple[Runtime, str],
) -> None:
    runtime, base = server
    order = json.loads('{"id": 7, "line_items": [], "note_attributes": [{"name": "x", "value": %s}]}' % _nested(700))

    answer = _post(base, json.dumps(order).encode())

    assert answer.status_code == 400
    assert answer.json()["reason"] == "too_deep"
    assert runtime.store.pending("order", "7", limit=5) == []


def test_a_webhook_whose_hmac_header_is_not_ascii_is_refused_as_unsigned(server: tuple[Runtime, str]) -> None:
    runtime, base = server

    answer = _post(base, b'{"id": 1}', hmac="\xe9t\xe9")

    assert answer.status_code == 401
    assert runtime.store.mailbox_stats() == {}


@pytest.mark.parametrize("event_id", ["x" * 300, "two words"])
def test_an_event_id_the_store_could_not_keep_as_text_is_refused(server: tuple[Runtime, str], event_id: str) -> None:
    runtime, base = server

    answer = _post(base, b'{"id": 1}', event_id=event_id)

    assert answer.status_code == 400
    assert answer.json()["reason"] == "bad_event_id"
    assert runtime.store.mailbox_stats() == {}


def test_a_reused_event_id_with_another_body_is_stored_and_logged_not_dropped_as_a_duplicate(
    server: tuple[Runtime, str], caplog: pytest.LogCaptureFixture
) -> None:
    runtime, base = server
    caplog.set_level(logging.WARNING, logger="peppasync.webhooks")

    first = _post(base, json.dumps({"id": 1001, "line_items": []}).encode(), event_id="evt-9")
    other_order = _post(base, json.dumps({"id": 1002, "line_items": []}).encode(), event_id="evt-9")
    same_order_changed = _post(base, json.dumps({"id": 1001, "line_items": [], "note": "x"}).encode(), event_id="evt-9")
    resent = _post(base, json.dumps({"id": 1002, "line_items": []}).encode(), event_id="evt-9")

    assert [a.json()["status"] for a in (first, other_order, same_order_changed, resent)] == [
        "accepted", "accepted", "accepted", "duplicate"]
    assert len(runtime.store.pending("order", "1001", limit=5)) == 2
    assert [m.payload["body"]["id"] for m in runtime.store.pending("order", "1002", limit=5)] == [1002]
    reused = [r for r in caplog.records if "seen before with another body" in r.getMessage()]
    assert len(reused) == 2 and {r.key for r in reused} == {"1001", "1002"}  # type: ignore[attr-defined]


def test_a_late_event_is_logged_and_still_stored(server: tuple[Runtime, str], caplog: pytest.LogCaptureFixture) -> None:
    runtime, base = server
    caplog.set_level(logging.WARNING, logger="peppasync.webhooks")
    hours_ago = (datetime.now(UTC) - timedelta(hours=5)).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    answer = _post(base, b'{"id": 1001}', X_Shopify_Triggered_At=hours_ago)

    assert answer.status_code == 200 and answer.json()["status"] == "accepted"
    assert len(runtime.store.pending("order", "1001", limit=5)) == 1
    [late] = [r for r in caplog.records if r.getMessage().startswith("late webhook")]
    assert late.age_seconds > 4 * 3600  # type: ignore[attr-defined]


def test_a_wms_notification_nested_too_deep_gets_400_not_500(server: tuple[Runtime, str]) -> None:
    runtime, base = server
    body = ('{"resource_url": "http://wms/shipments", "x": ' + _nested(10_000) + "}").encode()

    answer = requests.post(f"{base}/webhooks/wms?token=wms-token", data=body, timeout=10)

    assert answer.status_code == 400
    assert answer.json()["reason"] == "too_deep"
    assert runtime.store.mailbox_stats() == {}


def test_a_quarantine_retry_whose_payload_is_not_strict_json_gets_400_and_changes_nothing(
    server: tuple[Runtime, str],
) -> None:
    runtime, base = server
    message_id = runtime.store.enqueue("nobody", "1", {"type": "webhook"})
    runtime.store.write([ops.Start(message_id)])
    [qid] = runtime.store.write([ops.Quarantine(message_id, "validation", "ValidationError", "Traceback")])

    answer = requests.post(
        f"{base}/api/v1/quarantine/{qid}/retry", data=b'{"payload": {"type": "webhook", "total": NaN}}',
        headers={"Authorization": "Bearer ops-secret"}, timeout=10,
    )

    assert answer.status_code == 400
    assert answer.json()["reason"] == "not_a_number"
    assert runtime.store.quarantine_get(qid).state == "open"


def test_the_quarantine_lists_and_shows_an_entry_an_earlier_version_stored_nested_700_deep(
    server: tuple[Runtime, str],
) -> None:
    runtime, base = server
    message_id = runtime.store.enqueue("nobody", "1", {"type": "webhook"})
    runtime.store.write([ops.Start(message_id)])
    [qid] = runtime.store.write([ops.Quarantine(message_id, "validation", "ValidationError", "Traceback")])
    deep = '{"type": "webhook", "body": {"id": 1, "note": %s}}' % _nested(700)
    raw.execute(runtime.store.url, "UPDATE quarantine SET payload = ? WHERE id = ?", (deep, qid))
    auth = {"Authorization": "Bearer ops-secret"}

    listed = requests.get(f"{base}/api/v1/quarantine", headers=auth, timeout=10)
    shown = requests.get(f"{base}/api/v1/quarantine/{qid}", headers=auth, timeout=10)

    assert listed.status_code == 200 and [e["id"] for e in listed.json()["entries"]] == [qid]
    assert shown.status_code == 200 and shown.json()["payload"]["type"] == "unreadable"

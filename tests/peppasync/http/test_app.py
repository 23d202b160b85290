"""The HTTP surface, served by a real gevent server in this process."""

import json
import socket

import pytest
import requests

from peppasync.clock import SystemClock
from peppasync.config import parse_config
from peppasync.http import shopify_hmac
from peppasync.runtime import Runtime
from peppasync.store import ops

from tests.peppasync.serving import free_port

SECRET = "hush"


@pytest.fixture
def server(tmp_path):
    port = free_port()
    config = parse_config(
        {
            "server": {"listen": f"127.0.0.1:{port}", "ops_token": "ops-secret", "max_body_bytes": 100_000},
            "store": {"url": f"sqlite:///{tmp_path}/http.db"},
            "shopify": {"webhook_secret": SECRET},
            "wms": {"webhook_token": "wms-token"},
        },
        environ={},
    )
    runtime = Runtime(config, clock=SystemClock())
    runtime.start()
    yield runtime, f"http://127.0.0.1:{port}"
    runtime.stop()


def _post_webhook(base, body: bytes, *, topic="orders/create", event_id="e-1", secret=SECRET, hmac=None):
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": hmac if hmac is not None else shopify_hmac(secret, body),
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Webhook-Id": f"w-{event_id}",
        "Content-Type": "application/json",
    }
    return requests.post(f"{base}/webhooks/shopify", data=body, headers=headers, timeout=5)


def test_health_and_readiness_answer_200_when_the_store_is_reachable(server):
    _, base = server

    assert requests.get(f"{base}/healthz", timeout=5).status_code == 200
    ready = requests.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["checks"]["store"] is True


def test_metrics_are_served_in_the_prometheus_text_format(server):
    _, base = server

    resp = requests.get(f"{base}/metrics", timeout=5)

    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE peppasync_mailbox_depth gauge" in resp.text
    assert "process_resident_memory_bytes" in resp.text


def test_a_signed_webhook_is_persisted_before_200(server):
    runtime, base = server
    body = json.dumps({"id": 1001, "line_items": []}).encode()

    resp = _post_webhook(base, body)

    assert resp.status_code == 200
    assert resp.json()["status"] == "accepted"
    [message] = runtime.store.pending("order", "1001", limit=10)
    assert message.payload["topic"] == "orders/create"
    assert message.payload["body"] == {"id": 1001, "line_items": []}


def test_a_bad_hmac_is_refused_with_401_and_nothing_is_stored(server):
    runtime, base = server
    body = json.dumps({"id": 1002}).encode()

    resp = _post_webhook(base, body, secret="not-the-secret")

    assert resp.status_code == 401
    assert "X-Shopify-Hmac-Sha256" in resp.json()["error"]
    assert runtime.store.pending("order", "1002", limit=10) == []


def test_a_duplicate_event_id_is_acknowledged_but_stored_once(server):
    runtime, base = server
    body = json.dumps({"id": 1003}).encode()

    first = _post_webhook(base, body, event_id="dup")
    second = _post_webhook(base, body, event_id="dup")

    assert first.json()["status"] == "accepted"
    assert second.status_code == 200 and second.json()["status"] == "duplicate"
    assert len(runtime.store.pending("order", "1003", limit=10)) == 1


def test_a_signed_body_that_is_not_json_gets_a_clear_400(server):
    _, base = server

    resp = _post_webhook(base, b"{not json")

    assert resp.status_code == 400
    assert "not valid JSON" in resp.json()["error"]


def test_an_oversized_body_gets_413(server):
    _, base = server

    resp = _post_webhook(base, b"x" * 200_000)

    assert resp.status_code == 413


def test_a_body_cut_short_by_a_client_that_hangs_up_gets_400_and_stores_nothing(server):
    runtime, base = server
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"POST /webhooks/shopify HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                     b"X-Shopify-Topic: orders/create\r\n\r\n{\"id\": 1")
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk

    assert answer.startswith(b"HTTP/1.1 400")
    assert b"ended early" in answer
    assert runtime.store.mailbox_stats() == {}
    assert requests.get(f"{base}/healthz", timeout=5).status_code == 200


def test_the_wms_webhook_needs_its_token(server):
    runtime, base = server
    note = {"resource_url": "http://wms/shipments?batch=1", "resource_type": "SHIP_NOTIFY"}

    refused = requests.post(f"{base}/webhooks/wms?token=wrong", json=note, timeout=5)
    accepted = requests.post(f"{base}/webhooks/wms?token=wms-token", json=note, timeout=5)

    assert refused.status_code == 401
    assert accepted.status_code == 200
    assert len(runtime.store.pending("shipments", "wms", limit=10)) == 1


def test_the_ops_api_needs_the_bearer_token(server):
    _, base = server

    without = requests.get(f"{base}/api/v1/status", timeout=5)
    wrong = requests.get(f"{base}/api/v1/status", headers={"Authorization": "Bearer nope"}, timeout=5)
    right = requests.get(f"{base}/api/v1/status", headers={"Authorization": "Bearer ops-secret"}, timeout=5)

    assert without.status_code == 401 and wrong.status_code == 401
    assert right.status_code == 200
    assert right.json()["store"] == "sqlite"


def test_an_unknown_path_and_a_wrong_method_say_so(server):
    _, base = server

    assert requests.get(f"{base}/nowhere", timeout=5).status_code == 404
    wrong = requests.get(f"{base}/webhooks/shopify", timeout=5)
    assert wrong.status_code == 405
    assert wrong.json()["allowed"] == ["POST"]


OPS = {"Authorization": "Bearer ops-secret"}


def _quarantine(runtime, specs):
    """Quarantine one order message per reason in ``specs``; their entry ids."""
    store = runtime.store
    message_ids = store.write([ops.Insert("order", f"q{n}", {"n": n}) for n in range(len(specs))])
    store.write([ops.Start(m) for m in message_ids])
    return store.write([ops.Quarantine(m, reason, "ValidationError", "Traceback") for m, reason in zip(message_ids, specs)])


def test_the_quarantine_list_pages_with_a_total_and_a_cursor_until_next_is_null(server):
    runtime, base = server
    ids = _quarantine(runtime, ["validation"] * 5)

    pages = []
    params = {"limit": "2"}
    while True:
        page = requests.get(f"{base}/api/v1/quarantine", params=params, headers=OPS, timeout=5).json()
        pages.append(page)
        if page["next"] is None:
            break
        params["after"] = str(page["next"])

    assert [[e["id"] for e in p["entries"]] for p in pages] == [ids[0:2], ids[2:4], ids[4:]]
    assert [(p["total"], p["next"]) for p in pages] == [(5, ids[1]), (5, ids[3]), (5, None)]


def test_the_quarantine_list_filters_by_reason_before_the_limit(server):
    runtime, base = server
    ids = _quarantine(runtime, ["validation", "netsuite_rejected"] * 3)

    page = requests.get(
        f"{base}/api/v1/quarantine", params={"reason": "netsuite_rejected", "limit": "2"}, headers=OPS, timeout=5
    ).json()

    assert [e["id"] for e in page["entries"]] == [ids[1], ids[3]]
    assert (page["total"], page["next"]) == (3, ids[3])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=0", "limit must be a whole number from 1 to 1000, got '0'"),
        ("limit=1001", "limit must be a whole number from 1 to 1000, got '1001'"),
        ("limit=ten", "limit must be a whole number from 1 to 1000, got 'ten'"),
        ("after=-1", "after must be a whole number of at least 0, got '-1'"),
        ("offset=100", "offset is not supported: page with after=<next> from the previous answer"),
        ("state=closed", "state must be open, retried or discarded, got 'closed'"),
    ],
)
def test_a_bad_quarantine_list_query_gets_a_400_that_says_what_was_wrong(server, query, message):
    _, base = server

    resp = requests.get(f"{base}/api/v1/quarantine?{query}", headers=OPS, timeout=5)

    assert resp.status_code == 400
    assert resp.json() == {"error": message}

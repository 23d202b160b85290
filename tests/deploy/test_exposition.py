"""What /metrics serves: clean for ``promtool check metrics`` and complete for the dashboard and rules."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import gevent
import pytest
import requests

from peppasync.metrics import FLOWS, Metrics

from tests.deploy.promql import (
    ROOT,
    SCRAPE_SERIES,
    dashboard_queries,
    exported_series,
    load_dashboard,
    load_rules,
    metric_names,
    run_promtool,
)
from tests.peppasync.serving import write_config

ACTORS = ("order", "inventory", "gate", "margin", "reconciler", "connector")
CONNECTORS = ("shopify", "netsuite", "wms", "wms_inventory")


def _referenced() -> set[str]:
    names = {n for _, expr in dashboard_queries(load_dashboard()) for n in metric_names(expr)}
    names |= {n for rule in load_rules() for n in metric_names(rule["expr"])}
    return names - SCRAPE_SERIES


def _populated() -> Metrics:
    """Metrics with a child for every documented label value, as a busy server has them."""
    m = Metrics(process=True)
    m.build_info.info({"version": "0.0.0", "store": "sqlite"})
    for actor in ACTORS:
        m.mailbox_depth.labels(actor=actor).set(3)
        m.mailbox_oldest_age_seconds.labels(actor=actor).set(1.5)
        m.backlog_drain_seconds.labels(actor=actor).set(float("inf"))
        m.actors_active.labels(actor=actor).set(1)
        m.actor_restarts_total.labels(actor=actor).inc()
        m.message_duration_seconds.labels(actor=actor).observe(0.02)
        m.quarantined_messages.labels(actor=actor, reason="validation").set(2)
        for outcome in ("ok", "retry", "quarantined"):
            m.messages_total.labels(actor=actor, outcome=outcome).inc()
    for connector in CONNECTORS:
        for outcome in ("ok", "throttled", "transient_error", "permanent_error"):
            m.connector_requests_total.labels(connector=connector, outcome=outcome).inc()
        m.connector_request_duration_seconds.labels(connector=connector).observe(0.3)
        m.connector_inflight.labels(connector=connector).set(2)
        m.connector_waiting.labels(connector=connector).set(5)
        m.connector_concurrency_limit.labels(connector=connector).set(10)
        m.connector_throttled_total.labels(connector=connector).inc()
    m.connector_bucket_available.labels(connector="shopify").set(950)
    m.supervisor_escalations_total.labels(supervisor="orders").inc()
    for flow in FLOWS:
        m.sync_lag_seconds.labels(flow=flow).observe(4.0)
    for outcome in ("accepted", "duplicate", "bad_hmac", "bad_token", "malformed", "too_large"):
        m.webhooks_total.labels(source="shopify", topic="orders/create", outcome=outcome).inc()
    for kind in ("missed_order", "stuck_order", "missed_shipment", "stock_drift"):
        m.reconcile_repairs_total.labels(kind=kind).inc()
    m.orders.labels(state="received").set(5)
    m.oversells_total.inc()
    m.store_up.set(1)
    m.store_commits_total.inc()
    m.store_commit_batch_size.observe(40)
    m.store_commit_duration_seconds.observe(0.004)
    return m


def test_promtool_check_metrics_is_clean_on_a_fresh_exposition(needs_promtool):
    result = run_promtool("check", "metrics", stdin=Metrics().exposition())

    assert result.returncode == 0
    assert result.stdout + result.stderr == ""


def test_promtool_check_metrics_is_clean_with_every_label_value_populated(needs_promtool):
    result = run_promtool("check", "metrics", stdin=_populated().exposition())

    assert result.returncode == 0
    assert result.stdout + result.stderr == ""


def test_promtool_check_metrics_flags_a_badly_named_metric(needs_promtool):
    bad = b"# HELP demo_latency_ms_total x\n# TYPE demo_latency_ms_total counter\ndemo_latency_ms_total 1\n"

    result = run_promtool("check", "metrics", stdin=bad)

    assert result.returncode != 0
    assert "demo_latency_ms_total" in result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    config = write_config(tmp_path, port)
    venv_script = ROOT / ".venv" / "bin" / "peppasync"
    command = [str(venv_script)] if venv_script.exists() else [sys.executable, "-m", "peppasync"]
    return subprocess.Popen(
        [*command, "serve", "--config", str(config)],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _wait_serving(proc: subprocess.Popen[bytes]) -> list[dict[str, object]]:
    """Read the JSON log until the server says it serves; returns the lines read."""
    assert proc.stderr is not None
    lines: list[dict[str, object]] = []
    with gevent.Timeout(30, AssertionError(f"no 'peppasync serving' log line; got {lines}")):
        for raw in proc.stderr:
            lines.append(json.loads(raw))
            if lines[-1]["msg"] == "peppasync serving":
                return lines
    raise AssertionError(f"server exited with {proc.wait()} before serving: {lines}")


@pytest.mark.slow
def test_a_running_server_exports_every_metric_the_dashboard_and_rules_read(needs_promtool, tmp_path):
    port = _free_port()
    proc = _serve(tmp_path, port)
    try:
        _wait_serving(proc)
        scrape = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)

    check = run_promtool("check", "metrics", stdin=scrape.content)
    assert scrape.status_code == 200
    assert scrape.headers["Content-Type"].startswith("text/plain")
    assert check.returncode == 0, check.stdout + check.stderr
    assert sorted(_referenced() - exported_series(scrape.text)) == []
    assert code == 0

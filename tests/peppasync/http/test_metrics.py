"""/metrics as Prometheus scrapes it: format negotiation and compression, over a real HTTP request."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from peppasync.clock import SystemClock
from peppasync.config import parse_config
from peppasync.runtime import Runtime

from tests.peppasync.serving import free_port

# What Prometheus 2.x sends on every scrape (scrape/scrape.go, acceptHeader and Accept-Encoding).
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    config = parse_config(
        {"server": {"listen": f"127.0.0.1:{port}"}, "store": {"url": f"sqlite:///{tmp_path}/metrics.db"}},
        environ={},
    )
    runtime = Runtime(config, clock=SystemClock())
    runtime.start()
    yield f"http://127.0.0.1:{port}"
    runtime.stop()


def _scrape(base: str, **headers: str) -> tuple[requests.Response, bytes]:
    """The answer and its body as it came over the wire, before any decoding."""
    response = requests.get(f"{base}/metrics", headers=headers, stream=True, timeout=10)
    return response, response.raw.read(decode_content=False)


def test_a_prometheus_scrape_gets_openmetrics_compressed_with_gzip(base: str) -> None:
    response, wire = _scrape(base, **{"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"})

    body = gzip.decompress(wire).decode()
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert response.headers["Content-Encoding"] == "gzip"
    assert int(response.headers["Content-Length"]) == len(wire)
    assert "# TYPE peppasync_messages counter" in body  # OpenMetrics names the family without _total
    assert "peppasync_messages_total{" in body
    assert body.endswith("# EOF\n")


def test_a_scraper_that_asks_for_neither_gets_the_text_format_uncompressed(base: str) -> None:
    response, wire = _scrape(base, **{"Accept": "*/*", "Accept-Encoding": "identity"})

    body = wire.decode()
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "Content-Encoding" not in response.headers
    assert "# TYPE peppasync_messages_total counter" in body
    assert "# EOF" not in body


def test_the_text_format_is_compressed_too_when_gzip_is_accepted(base: str) -> None:
    response, wire = _scrape(base, **{"Accept": "text/plain;version=0.0.4", "Accept-Encoding": "gzip, deflate"})

    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert response.headers["Content-Encoding"] == "gzip"
    assert "# TYPE peppasync_mailbox_depth gauge" in gzip.decompress(wire).decode()
    assert "Accept-Encoding" in response.headers["Vary"]


def test_a_scrape_can_select_metric_families_by_name(base: str) -> None:
    _, wire = _scrape(base, **{"Accept-Encoding": "identity"})
    selected = requests.get(
        f"{base}/metrics", params={"name[]": "peppasync_store_up"}, headers={"Accept-Encoding": "identity"}, timeout=10
    )

    assert "peppasync_store_up" in selected.text
    assert [line for line in selected.text.splitlines() if not line.startswith(("# ", "peppasync_store_up"))] == []
    assert len(selected.content) < len(wire)

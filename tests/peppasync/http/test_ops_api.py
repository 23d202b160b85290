"""The ops API's acts are bounded by configuration and audited under the credential that made them."""

import os
import subprocess
import sys

import pytest
import requests

from peppasync.clock import SystemClock
from peppasync.config import parse_config
from peppasync.runtime import Runtime
from peppasync.store import ops

from actors.connectors import NetsuiteConnector
from tests.peppasync.serving import ROOT, SERVICES, free_port

OPS = {"Authorization": "Bearer ops-secret"}


@pytest.fixture
def server(tmp_path):
    """A runtime with a NetSuite connector whose configured ceiling is 4, and a config file for the CLI."""
    port = free_port()
    raw = {
        "server": {"listen": f"127.0.0.1:{port}", "ops_token": "ops-secret"},
        "store": {"url": f"sqlite:///{tmp_path}/ops.db"},
        "netsuite": {**SERVICES["netsuite"], "max_concurrency": 4},
    }
    config = parse_config(raw, environ={})
    runtime = Runtime(config, clock=SystemClock(),
                      services=lambda config, metrics, clock: {"netsuite": NetsuiteConnector(config.netsuite)})
    runtime.start()
    path = tmp_path / "ops.toml"
    path.write_text(f'[server]\nlisten = "127.0.0.1:{port}"\nops_token = "ops-secret"\n'
                    f'[store]\nurl = "sqlite:///{tmp_path}/ops.db"\n')
    yield runtime, f"http://127.0.0.1:{port}", path
    runtime.stop()


def _limit(base: str, value: object) -> requests.Response:
    return requests.put(f"{base}/api/v1/connectors/netsuite/limit", json={"limit": value}, headers=OPS, timeout=5)


def test_a_connector_limit_above_its_configured_ceiling_or_below_1_is_refused_and_changes_nothing(server):
    runtime, base, _ = server

    huge = _limit(base, 10**11)
    zero = _limit(base, 0)
    stats = runtime.connector("netsuite").stats()

    assert (huge.status_code, zero.status_code) == (400, 400)
    assert huge.json() == {
        "error": "the netsuite connector's limit must be from 1 to 4 (its configured ceiling), got 100000000000",
        "low": 1, "high": 4,
    }
    assert (stats["limit"], stats["ceiling"], stats["max_limit"]) == (4, 4, 4)


def test_a_connector_limit_can_be_lowered_and_raised_again_up_to_its_configured_ceiling(server):
    _, base, _ = server

    lowered = _limit(base, 1)
    raised = _limit(base, 4)

    assert (lowered.status_code, lowered.json()["limit"], lowered.json()["max_limit"]) == (200, 1, 4)
    assert (raised.status_code, raised.json()["limit"]) == (200, 4)


def test_connector_limit_from_the_cli_above_the_ceiling_exits_2_with_the_servers_reason(server):
    _, _, path = server

    result = subprocess.run(
        [sys.executable, "-m", "peppasync", "connector", "limit", "netsuite", "5", "--config", str(path)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )

    assert result.returncode == 2
    assert result.stderr == (
        "peppasync: server refused: 400 the netsuite connector's limit must be from 1 to 4"
        " (its configured ceiling), got 5\n"
    )


def _quarantined(runtime: Runtime, count: int) -> list[int]:
    store = runtime.store
    message_ids = store.write([ops.Insert("order", f"q{n}", {"n": n}) for n in range(count)])
    store.write([ops.Start(m) for m in message_ids])
    return store.write([ops.Quarantine(m, "validation", "ValidationError", "Traceback") for m in message_ids])


def test_the_audit_names_the_ops_token_not_a_name_the_client_sends(server):
    runtime, base, _ = server
    first, second = _quarantined(runtime, 2)

    claimed = requests.post(f"{base}/api/v1/quarantine/{first}/retry", json={"who": "alice"}, headers=OPS, timeout=5)
    retried = requests.post(f"{base}/api/v1/quarantine/{first}/retry", json={}, headers=OPS, timeout=5)
    discarded = requests.post(f"{base}/api/v1/quarantine/{second}/discard", headers=OPS, timeout=5)
    audit = runtime.store.audit_list()

    assert claimed.status_code == 400
    assert claimed.json()["error"] == (
        "who cannot be given: the audit log records the credential that made the request (api:ops_token)"
    )
    assert (retried.status_code, discarded.status_code) == (200, 200)
    assert [(a.action, a.who) for a in audit] == [("quarantine.discard", "api:ops_token"),
                                                  ("quarantine.retry", "api:ops_token")]

"""The gates as approvers and operators reach them: `peppasync gates list|approve|reject|...` and
/api/v1/gates on a running server, each refusing a mistake with what was wrong."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from peppasync.clock import SystemClock
from peppasync.config import parse_config
from peppasync.runtime import Runtime

from actors.gate import GateActor, GateTimerActor
from actors.gate_workflows import GateSettings
from tests.peppasync.serving import ROOT, free_port

OPS = {"Authorization": "Bearer ops-secret"}
GATES = {
    "workflows": {"custom": {"order_tags": ["custom"], "gates": ["finance", "design"]}},
    "finance": {"owner": "finance", "sla_hours": 24},
    "design": {"owner": "design", "sla_hours": 0.0001},
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Runtime, str, Path]]:
    port = free_port()
    raw: dict[str, Any] = {"server": {"listen": f"127.0.0.1:{port}", "ops_token": "ops-secret"},
                           "store": {"url": f"sqlite:///{tmp_path}/gates.db"}, "gates": GATES}
    runtime = Runtime(parse_config(raw, environ={}), clock=SystemClock(), kinds=[GateActor, GateTimerActor],
                      services=lambda config, metrics, clock: {"gates": GateSettings.from_config(config.gates)})
    runtime.start()
    path = tmp_path / "ops.toml"
    path.write_text(f'[server]\nlisten = "127.0.0.1:{port}"\nops_token = "ops-secret"\n'
                    f'[store]\nurl = "sqlite:///{tmp_path}/gates.db"\n'
                    '[gates.workflows.custom]\norder_tags = ["custom"]\ngates = ["finance", "design"]\n'
                    '[gates.finance]\nowner = "finance"\nsla_hours = 24\n'
                    '[gates.design]\nowner = "design"\nsla_hours = 0.0001\n')
    for order in ("1001", "1002"):
        runtime.system.tell("gate", f"{order}:finance", {"type": "open", "workflow": "custom"})
    yield runtime, f"http://127.0.0.1:{port}", path
    runtime.stop()


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "peppasync", *args, "--config", str(config)], capture_output=True,
                          text=True, timeout=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _listed(base: str, **query: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{base}/api/v1/gates", params=query, headers=OPS, timeout=5)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["gates"])


def _until(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("not there in time")


def test_an_approval_from_the_cli_moves_the_order_to_its_next_gate_which_goes_overdue_first(server) -> None:
    runtime, base, config = server
    _until(lambda: len(_listed(base)) == 2)

    approved = _cli(config, "gates", "approve", "1001", "finance", "--by", "alice", "--note", "deposit received")
    _until(lambda: any(r["gate"] == "design" for r in _listed(base)))
    _until(lambda: _listed(base, overdue="1"))
    listed = _cli(config, "gates", "list")
    as_json = json.loads(_cli(config, "gates", "list", "--overdue", "--json").stdout)

    assert approved.returncode == 0, approved.stderr
    assert "approve of finance for order 1001 by alice sent" in approved.stdout
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ORDER", "GATE", "STATUS", "OWNER", "DUE", "OVERDUE", "LAST"]
    assert lines[2].split()[:4] == ["1001", "design", "open", "design"] and "yes" in lines[2]
    assert lines[3].split()[:4] == ["1002", "finance", "open", "finance"]
    assert [(r["order_id"], r["gate"], r["overdue"]) for r in as_json["gates"]] == [("1001", "design", True)]
    trail = runtime.store.get_state("gate", "1001:finance")[0]["gate"]["history"]
    assert (trail[-1]["who"], trail[-1]["action"], trail[-1]["why"]) == ("alice", "approve", "deposit received")
    metrics = _until(lambda: _breached(base))
    assert 'peppasync_gates{gate="design",state="open"} 1.0' in metrics
    assert 'peppasync_gates{gate="finance",state="open"} 1.0' in metrics
    assert 'peppasync_gates_overdue{gate="design"} 1.0' in metrics
    assert 'peppasync_gate_seconds_count{gate="finance",outcome="passed"} 1.0' in metrics


def _breached(base: str) -> str:
    text = requests.get(f"{base}/metrics", timeout=5).text
    return text if 'peppasync_gate_sla_breaches_total{gate="design"} 1.0' in text else ""


def test_the_api_takes_a_rejection_with_who_and_why_and_refuses_what_the_gate_cannot_take(server) -> None:
    runtime, base, config = server
    _until(lambda: len(_listed(base)) == 2)

    rejected = requests.post(f"{base}/api/v1/gates/1002/finance/reject", headers=OPS, timeout=5,
                             json={"by": "alice", "note": "card declined"})
    _until(lambda: len(_listed(base)) == 1)
    again = requests.post(f"{base}/api/v1/gates/1002/finance/approve", headers=OPS, timeout=5, json={"by": "bob"})
    unknown = requests.post(f"{base}/api/v1/gates/1001/finance/bless", headers=OPS, timeout=5, json={"by": "bob"})
    nobody = requests.post(f"{base}/api/v1/gates/1001/finance/approve", headers=OPS, timeout=5, json={"by": " "})
    not_open = requests.post(f"{base}/api/v1/gates/1001/design/approve", headers=OPS, timeout=5, json={"by": "bob"})
    no_token = requests.post(f"{base}/api/v1/gates/1001/finance/approve", timeout=5, json={"by": "bob"})
    cli = _cli(config, "gates", "hold", "1002", "finance", "--by", "carol")

    assert rejected.status_code == 202, rejected.text
    assert (again.status_code, again.json()["error"]) == (422, "finance of order 1002 is rejected already")
    assert unknown.status_code == 422 and "unknown action 'bless'" in unknown.json()["error"]
    assert nobody.status_code == 422 and "--by NAME" in nobody.json()["error"]
    assert not_open.status_code == 404 and "order 1001 has no gate 'design' open" in not_open.json()["error"]
    assert no_token.status_code == 401
    assert (cli.returncode, cli.stderr.strip()) == (1, "peppasync: finance of order 1002 is rejected already")
    audit = [(e.who, e.action) for e in runtime.store.audit_list() if e.target == "gate:1002:finance"]
    assert ("api:ops_token", "gate.signal.reject") in audit


def test_an_sla_made_shorter_while_the_server_was_down_breaches_at_its_new_time_after_the_restart(
        tmp_path: Path) -> None:
    def serve(finance_hours: float) -> Runtime:
        gates = {**GATES, "finance": {"owner": "finance", "sla_hours": finance_hours}}
        raw = {"server": {"listen": f"127.0.0.1:{free_port()}"}, "store": {"url": f"sqlite:///{tmp_path}/gates.db"},
               "gates": gates}
        runtime = Runtime(parse_config(raw, environ={}), clock=SystemClock(), kinds=[GateActor, GateTimerActor],
                          services=lambda config, metrics, clock: {"gates": GateSettings.from_config(config.gates)})
        runtime.start()
        return runtime

    first = serve(24)
    first.system.tell("gate", "1001:finance", {"type": "open", "workflow": "custom"})
    _until(lambda: first.store.get_state("gate", "1001:finance"))
    first.stop()
    second = serve(1 / 3600)
    try:
        gate = _until(lambda: (found := second.store.get_state("gate", "1001:finance")) and found[0]["gate"]["breached"]
                      and found[0]["gate"])
    finally:
        second.stop()

    assert gate["due_at"] == gate["opened_at"] + 1.0
    assert [h["action"] for h in gate["history"]] == ["open", "breach"]

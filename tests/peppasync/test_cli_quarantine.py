"""`peppasync quarantine ...` and the ops API act on the same quarantine, and audit every act."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from peppasync.clock import SystemClock
from peppasync.config import parse_config
from peppasync.runtime import Runtime
from peppasync.store import open_store, ops

from tests.peppasync.serving import free_port

ROOT = Path(__file__).resolve().parents[2]


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peppasync", *args, "--config", str(config)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture
def quarantined(tmp_path):
    """A store holding two quarantined order messages, and a config pointing at it."""
    url = f"sqlite:///{tmp_path}/q.db"
    store = open_store(url)
    store.migrate()
    ids = []
    for key in ("1001", "1002"):
        [mid] = store.write([ops.Insert("order", key, {"type": "webhook", "body": {"id": key}})])
        store.write([ops.Start(mid)])
        [qid] = store.write([ops.Quarantine(mid, "validation", "ValidationError", "Traceback...\nValidationError: no lines")])
        ids.append(qid)
    store.close()
    config = tmp_path / "peppasync.toml"
    config.write_text(f'[store]\nurl = "{url}"\n')
    return config, url, ids


def test_quarantine_list_shows_each_entry_with_its_reason(quarantined):
    config, _, ids = quarantined

    table = _cli(config, "quarantine", "list")
    as_json = _cli(config, "quarantine", "list", "--json")

    assert table.returncode == 0
    assert "REASON" in table.stdout and "validation" in table.stdout
    listed = json.loads(as_json.stdout)
    assert ([e["id"] for e in listed["entries"]], listed["total"], listed["next"]) == (ids, 2, None)


def _many(tmp_path: Path, reasons: list[str]) -> tuple[Path, list[int]]:
    """A store holding one quarantined order message per reason (in three commits), and its config."""
    url = f"sqlite:///{tmp_path}/many.db"
    store = open_store(url)
    store.migrate()
    try:
        message_ids = store.write([ops.Insert("order", str(n), {"n": n}) for n in range(len(reasons))])
        store.write([ops.Start(m) for m in message_ids])
        ids = store.write([ops.Quarantine(m, r, "ValidationError", "Traceback") for m, r in zip(message_ids, reasons)])
    finally:
        store.close()
    config = tmp_path / "peppasync.toml"
    config.write_text(f'[store]\nurl = "{url}"\n')
    return config, ids


def _rows(table: str) -> list[int]:
    return [int(line.split()[0]) for line in table.splitlines()[2:]]


def test_quarantine_list_without_a_limit_lists_every_entry_not_the_first_hundred(tmp_path):
    config, ids = _many(tmp_path, ["validation"] * 1234)

    table = _cli(config, "quarantine", "list")
    as_json = _cli(config, "quarantine", "list", "--json")

    assert table.returncode == 0 and table.stderr == ""
    assert _rows(table.stdout) == ids
    listed = json.loads(as_json.stdout)
    assert ([e["id"] for e in listed["entries"]], listed["total"], listed["next"]) == (ids, 1234, None)


def test_quarantine_list_with_a_limit_says_how_many_exist_and_the_command_for_the_next_page(tmp_path):
    config, ids = _many(tmp_path, ["validation"] * 5)

    first = _cli(config, "quarantine", "list", "--limit", "2")
    hint = first.stderr.split(": ", 2)[2].strip()
    second = _cli(config, *shlex.split(hint)[1:-2])  # the hint's own --config is given by _cli

    assert first.returncode == 0
    assert _rows(first.stdout) == ids[:2]
    assert first.stderr == (
        f"peppasync: 2 of 5 open quarantined messages shown; the next 2: "
        f"peppasync quarantine list --limit 2 --after {ids[1]} --config {config}\n"
    )
    assert _rows(second.stdout) == ids[2:4]
    assert f"--after {ids[3]}" in second.stderr


def test_quarantine_list_json_with_a_limit_carries_the_total_and_the_next_cursor(tmp_path):
    config, ids = _many(tmp_path, ["validation"] * 5)

    first = json.loads(_cli(config, "quarantine", "list", "--json", "--limit", "3").stdout)
    last = json.loads(_cli(config, "quarantine", "list", "--json", "--limit", "3", "--after", str(first["next"])).stdout)

    assert ([e["id"] for e in first["entries"]], first["total"], first["next"]) == (ids[:3], 5, ids[2])
    assert ([e["id"] for e in last["entries"]], last["total"], last["next"]) == (ids[3:], 5, None)


def test_quarantine_list_filters_by_reason_before_the_limit(tmp_path):
    config, ids = _many(tmp_path, ["validation"] * 3 + ["netsuite_rejected"] * 2)

    result = _cli(config, "quarantine", "list", "--reason", "netsuite_rejected", "--limit", "3")

    assert _rows(result.stdout) == ids[3:]
    assert result.stderr == ""


def test_quarantine_list_with_a_limit_that_is_not_a_positive_number_exits_2(quarantined):
    config, _, _ = quarantined

    result = _cli(config, "quarantine", "list", "--limit", "0")

    assert result.returncode == 2
    assert "argument --limit: expected a whole number of at least 1, got '0'" in result.stderr


def test_quarantine_show_prints_payload_and_traceback(quarantined):
    config, _, ids = quarantined

    result = _cli(config, "quarantine", "show", str(ids[0]))

    assert result.returncode == 0
    assert '"id": "1001"' in result.stdout
    assert "ValidationError: no lines" in result.stdout


def test_quarantine_retry_with_an_edited_payload_puts_it_back_and_audits(quarantined, tmp_path):
    config, url, ids = quarantined
    edited = tmp_path / "fixed.json"
    edited.write_text(json.dumps({"type": "webhook", "body": {"id": "1001", "line_items": [1]}}))

    result = _cli(config, "quarantine", "retry", str(ids[0]), "--payload", str(edited))

    assert result.returncode == 0, result.stderr
    store = open_store(url)
    try:
        [message] = store.pending("order", "1001", limit=5)
        audit = store.audit_list()
    finally:
        store.close()
    assert message.payload["body"]["line_items"] == [1]
    assert message.attempts == 0
    assert audit[0].action == "quarantine.retry" and audit[0].who.startswith("cli")


@pytest.mark.parametrize(("text", "problem"), [
    ("{nope", "not_json"),
    ('{"type": "webhook", "price": NaN}', "not_a_number"),
    ("[" * 200 + "]" * 200, "too_deep"),
])
def test_quarantine_retry_with_a_payload_that_is_not_json_the_engine_can_keep_exits_2_and_changes_nothing(
        quarantined, tmp_path, text, problem):
    config, url, ids = quarantined
    bad = tmp_path / "bad.json"
    bad.write_text(text)

    result = _cli(config, "quarantine", "retry", str(ids[0]), "--payload", str(bad))

    assert result.returncode == 2
    assert f"is not JSON the engine can keep ({problem})" in result.stderr
    store = open_store(url)
    try:
        assert store.quarantine_get(ids[0]).state == "open"
    finally:
        store.close()


def test_quarantine_discard_twice_says_it_is_already_discarded(quarantined):
    config, _, ids = quarantined

    first = _cli(config, "quarantine", "discard", str(ids[1]))
    second = _cli(config, "quarantine", "discard", str(ids[1]))

    assert first.returncode == 0
    assert second.returncode == 1
    assert f"quarantine entry {ids[1]} is already discarded" in second.stderr


def test_showing_an_unknown_entry_exits_1_with_its_id(quarantined):
    config, _, _ = quarantined

    result = _cli(config, "quarantine", "show", "999")

    assert result.returncode == 1
    assert "999" in result.stderr


def test_the_ops_api_lists_retries_and_discards_with_the_token(quarantined):
    _, url, ids = quarantined
    port = free_port()
    config = parse_config(
        {"server": {"listen": f"127.0.0.1:{port}", "ops_token": "t0k"}, "store": {"url": url}}, environ={}
    )
    runtime = Runtime(config, clock=SystemClock())
    runtime.start()
    auth = {"Authorization": "Bearer t0k"}
    base = f"http://127.0.0.1:{port}/api/v1/quarantine"
    try:
        listed = requests.get(base, headers=auth, timeout=5).json()
        retried = requests.post(f"{base}/{ids[0]}/retry", json={"payload": {"type": "webhook"}}, headers=auth, timeout=5)
        again = requests.post(f"{base}/{ids[0]}/retry", headers=auth, timeout=5)
        discarded = requests.post(f"{base}/{ids[1]}/discard", headers=auth, timeout=5)
        refused = requests.post(f"{base}/{ids[1]}/discard", timeout=5)
        actions = [a.action for a in runtime.store.audit_list()]
    finally:
        runtime.stop()

    assert [e["id"] for e in listed["entries"]] == ids
    assert (listed["total"], listed["next"]) == (2, None)
    assert retried.status_code == 200 and "message_id" in retried.json()
    assert again.status_code == 409
    assert discarded.status_code == 200
    assert refused.status_code == 401
    assert sorted(actions) == ["quarantine.discard", "quarantine.retry"]

"""Signed, mutated webhooks through the real server, with a SQLite store, the actors and the sandbox behind.

``peppasync.sandbox.fuzz`` mutates real order bodies (types, depth, numbers,
escapes, encodings, ids, topics, event ids, trigger times) and signs them;
``peppasync.bench.fuzz`` sends them and judges the outcome. The run is
``scripts/fuzz_webhooks.py`` in a process of its own, so that nothing another
test left running can print into its count of raw tracebacks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.peppasync.serving import ROOT


@pytest.mark.slow
def test_fuzzed_signed_webhooks_get_no_5xx_lose_nothing_acknowledged_and_break_no_actor(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fuzz_webhooks.py"), "--bodies", "250", "--rate", "0",
         "--orders", "20", "--drain-timeout", "60", "--directory", str(tmp_path), "--json", str(tmp_path / "r.json")],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    report = json.loads((tmp_path / "r.json").read_text()) if (tmp_path / "r.json").exists() else {}

    assert result.returncode == 0, result.stdout + result.stderr
    assert report["sent"] == 250
    assert report["server_errors"] == [] and report["transport_errors"] == []
    assert report["lost"] == []
    assert report["unloadable"] == []
    assert report["quarantine_error"] == "" and report["quarantine_listed"] == report["quarantined"] > 0
    assert report["crashes_without_exception"] == []
    assert report["drained"] is True
    # Both sides were exercised: bodies the engine took, and bodies refused for each kind of reason.
    assert report["accepted"] > 50
    assert {"400 too_deep", "400 not_a_number", "400 lone_surrogate", "400 not_utf8"} <= set(report["refusals"])
    assert "5xx                                 0" in result.stdout

"""The benchmark scripts run end to end on small numbers and print every figure they promise."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _rate(text: str, label: str, what: str) -> float:
    found = re.search(rf"^{label}\s+{what}\s+([\d,]+) msg/s", text, re.M)
    assert found, f"no {label} {what} figure in:\n{text}"
    return float(found.group(1).replace(",", ""))


def test_bench_store_prints_both_loops_the_ratio_and_what_bounds_it(tmp_path):
    out = _run("bench_store.py", "--messages", "3000", "--producers", "100", "--naive", "50", "--dir", str(tmp_path),
               env={"PEPPASYNC_TEST_POSTGRES_URL": ""})

    grouped, naive = _rate(out, "sqlite", "group commit"), _rate(out, "sqlite", "naive loop")
    ratio = float(re.search(r"^sqlite\s+ratio\s+([\d.]+)x", out, re.M).group(1))
    assert grouped > 0 and naive > 0
    assert abs(ratio - grouped / naive) <= 0.1 * ratio  # the printed ratio is of the printed figures
    assert "3,000 msgs, 100 producers" in out
    assert _rate(out, "sqlite", "bare driver") > 0
    assert re.search(r"^disk\s+fsync\s+[\d,]+ µs", out, re.M)
    assert "postgresql skipped" in out


def test_bench_engine_prints_durable_and_bare_rates_and_the_memory_of_its_actors():
    out = _run("bench_engine.py", "--messages", "2000", "--actors", "200", "--rss-actors", "2000")

    for row in ("one hop, messages/s", "three hops, pipelines/s"):
        found = re.search(rf"^{re.escape(row)}\s+([\d,]+)\s+([\d,]+)\s+([\d.]+)$", out, re.M)
        assert found, f"no {row!r} row in:\n{out}"
        durable, bare = (float(g.replace(",", "")) for g in found.groups()[:2])
        assert 0 < durable < bare
    assert re.search(r"2,000 actors active \d[\d,]* MiB .*after passivation \d[\d,]* MiB", out), out
    one = float(re.search(r"^one hop, messages/s\s+([\d,]+)", out, re.M).group(1).replace(",", ""))
    cpu = re.search(r"^one hop, engine CPU/message\s+([\d.]+) µs \(the engine's thread; ([\d.]+) µs of wall "
                    r"time a message, (\d+)% of it on the CPU\)$", out, re.M)
    assert cpu, out
    per_message, wall, share = float(cpu.group(1)), float(cpu.group(2)), int(cpu.group(3))
    assert per_message > 0 and abs(wall - 1e6 / one) <= 0.1 * wall  # the wall time is of the printed rate
    assert abs(share - 100 * per_message / wall) <= 2, out  # and the share is of the two figures
    assert re.search(r"^one hop with state, msgs/s\s+\d[\d,]*\s+\([\d,]+ bytes of JSON", out, re.M), out
    # The store's own ceiling for a hop: what one hop is read against.
    alone = re.search(r"^one hop, the store alone\s+([\d,]+)\s+\(.*one hop is ([\d.]+) of it\)$", out, re.M)
    assert alone and float(alone.group(1).replace(",", "")) > 0 and float(alone.group(2)) > 0, out
    if os.environ.get("PEPPASYNC_TEST_POSTGRES_URL"):
        for row in ("postgresql one hop, msgs/s", "postgresql three hops, p/s"):
            found = re.search(rf"^{re.escape(row)}\s+([\d,]+)\s+\(([\d.]+) of SQLite's\)$", out, re.M)
            assert found and float(found.group(1).replace(",", "")) > 0, out
        assert re.search(r"^postgresql one hop, CPU/msg\s+[\d.]+ µs \(the engine's thread; \d+% of the wall time",
                         out, re.M), out
        assert re.search(r"^postgresql, the store alone\s+[\d,]+\s+\(PostgreSQL's one hop is [\d.]+ of it\)$",
                         out, re.M), out
    else:
        assert "postgresql skipped" in out

"""A writer killed with SIGKILL mid-stream loses no acknowledged message and leaves a sound database."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import gevent
import pytest

from peppasync.store import open_store

CHILD = Path(__file__).with_name("kill_writer.py")
ROOT = Path(__file__).resolve().parents[3]
ACKS_BEFORE_KILL = 3000


def _kill_mid_stream(url: str) -> set[int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    acked: set[int] = set()
    assert child.stdout is not None
    try:
        with gevent.Timeout(60, AssertionError("the child acknowledged too few writes in 60 s")):
            while len(acked) < ACKS_BEFORE_KILL:
                line = child.stdout.readline()
                if not line:
                    raise AssertionError(f"the child died early: {child.stderr.read().decode()}")  # type: ignore[union-attr]
                acked.add(int(line))
    finally:
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate(timeout=30)
    # Lines flushed before the kill were acknowledged too.
    acked.update(int(line) for line in rest.split())
    assert child.returncode == -signal.SIGKILL
    return acked


def _stored_ids(url: str) -> tuple[list[int], set[int]]:
    store = open_store(url)
    try:
        applied = store.migrate()
        keys = store.pending_keys("crash", now=float("inf"))
        ids = {m.id for _, key in keys for m in store.pending("crash", key, limit=1_000_000, now=float("inf"))}
    finally:
        store.close()
    return applied, ids


@pytest.mark.slow
def test_every_acknowledged_message_survives_a_sigkill_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"

    acked = _kill_mid_stream(url)

    with closing(sqlite3.connect(tmp_path / "store.db")) as raw:
        integrity = raw.execute("PRAGMA integrity_check").fetchall()
    applied, stored = _stored_ids(url)
    assert integrity == [("ok",)]
    assert applied == []
    assert acked <= stored


@pytest.mark.slow
@pytest.mark.postgres
def test_every_acknowledged_message_survives_a_sigkill_on_postgresql(postgres_schema_url: str) -> None:
    acked = _kill_mid_stream(postgres_schema_url)

    applied, stored = _stored_ids(postgres_schema_url)
    assert applied == []
    assert acked <= stored

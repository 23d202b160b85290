"""One serving node per store: a second `serve` on the same store is refused, naming the first."""

import os
import signal
import subprocess
import sys
import time

import pytest

from peppasync.clock import SystemClock
from peppasync.config import parse_config
from peppasync.runtime import Runtime
from peppasync.store.node import StoreInUseError, hold_store

from tests.peppasync.serving import ROOT, free_port

POSTGRES = os.environ.get("PEPPASYNC_TEST_POSTGRES_URL")


def test_a_second_node_on_one_sqlite_store_is_refused_until_the_first_lets_go(tmp_path):
    url = f"sqlite:///{tmp_path}/engine.db"
    first = hold_store(url)

    with pytest.raises(StoreInUseError, match=rf"served by another node \(pid {os.getpid()} on "):
        hold_store(url)
    first.release()
    hold_store(url).release()


def test_a_node_killed_outright_leaves_the_store_free(tmp_path):
    url = f"sqlite:///{tmp_path}/engine.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from peppasync.store.node import hold_store; hold_store({url!r}); "
                               "print('held', flush=True); import time; time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreInUseError, match=f"pid {holder.pid} "):
            hold_store(url)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()

    hold_store(url).release()


def test_serve_refuses_a_store_another_runtime_serves(tmp_path):
    def runtime():
        raw = {"server": {"listen": f"127.0.0.1:{free_port()}"}, "store": {"url": f"sqlite:///{tmp_path}/e.db"}}
        return Runtime(parse_config(raw, environ={}), clock=SystemClock())

    first = runtime()
    first.start()
    try:
        with pytest.raises(StoreInUseError, match="one node per SQLite store"):
            runtime().start()
    finally:
        first.stop()
    second = runtime()
    second.start()
    second.stop()


@pytest.mark.skipif(not POSTGRES, reason="PEPPASYNC_TEST_POSTGRES_URL is not set")
def test_a_second_node_on_one_postgresql_database_is_refused_until_the_first_lets_go():
    first = hold_store(POSTGRES)
    try:
        with pytest.raises(StoreInUseError, match="served by another node \\(PostgreSQL backend pid \\d+"):
            hold_store(POSTGRES)
    finally:
        first.release()
    deadline = time.monotonic() + 5
    while True:  # the server ends the session, and drops its lock, as the connection closes
        try:
            hold_store(POSTGRES).release()
            break
        except StoreInUseError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.mark.skipif(not POSTGRES, reason="PEPPASYNC_TEST_POSTGRES_URL is not set")
def test_nodes_of_a_cluster_share_a_postgresql_database_but_never_with_a_single_node():
    first = hold_store(POSTGRES, cluster=True)
    second = hold_store(POSTGRES, cluster=True)
    try:
        with pytest.raises(StoreInUseError, match=r"run several nodes as a cluster with \[cluster\] enabled = true"):
            hold_store(POSTGRES)
    finally:
        first.release()
        second.release()
    single = _once_free(lambda: hold_store(POSTGRES))
    try:
        with pytest.raises(StoreInUseError, match=r"served by a single node .*set \[cluster\] enabled = true on it"):
            hold_store(POSTGRES, cluster=True)
    finally:
        single.release()


def _once_free(take):
    deadline = time.monotonic() + 5
    while True:  # the server drops a lock as the session that held it ends, a moment after close
        try:
            return take()
        except StoreInUseError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)

import gc
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import gevent.event
import requests

from peppasync.clock import ManualClock
from peppasync.config import parse_config
from peppasync.runtime import DEDUP_WINDOW, Runtime
from peppasync.store import open_store, ops

from tests.peppasync.serving import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_the_runtime_refuses_to_start_without_gevent_patching(tmp_path):
    code = (
        "from peppasync.config import parse_config\n"
        "from peppasync.runtime import Runtime\n"
        f"Runtime(parse_config({{'store': {{'url': 'sqlite:///{tmp_path}/x.db'}}}}, environ={{}})).start()\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )

    assert result.returncode != 0
    assert "RuntimeStartError: gevent is not monkey-patched" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_orders_by_state_start_from_what_the_store_holds(tmp_path):
    url = f"sqlite:///{tmp_path}/engine.db"
    store = open_store(url)
    store.migrate()
    store.write([ops.PutState("order", str(n), {"status": "fulfilled" if n < 3 else "sent_to_wms"}) for n in range(5)])
    store.close()
    port = free_port()
    runtime = Runtime(parse_config({"server": {"listen": f"127.0.0.1:{port}"}, "store": {"url": url}}, environ={}))
    runtime.start()
    try:
        scrape = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        runtime.stop()

    assert 'peppasync_orders{state="fulfilled"} 3.0' in scrape
    assert 'peppasync_orders{state="sent_to_wms"} 2.0' in scrape


def test_a_sigterm_while_the_server_starts_stops_it_cleanly_once_started(tmp_path):
    code = (
        "from gevent import monkey\n"
        "monkey.patch_all()\n"
        "import os, signal\n"
        "from peppasync.config import parse_config\n"
        "from peppasync.runtime import Runtime\n"
        "def services(config, metrics, clock):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)  # as systemd's stop would, mid-start\n"
        "    return {}\n"
        f"config = parse_config({{'server': {{'listen': '127.0.0.1:{free_port()}'}},"
        f" 'store': {{'url': 'sqlite:///{tmp_path}/x.db'}}}}, environ={{}})\n"
        "print('exit', Runtime(config, services=services).serve())\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "exit 0\n"


def test_a_running_server_forgets_webhook_event_ids_older_than_its_dedup_window(tmp_path):
    url = f"sqlite:///{tmp_path}/engine.db"
    now = time.time()
    for age, event in ((DEDUP_WINDOW + 3600, "old"), (3600, "recent")):
        store = open_store(url, clock=ManualClock(now - age))
        store.migrate()
        store.write([ops.Dedup("shopify", event)])
        store.close()
    pruned = gevent.event.AsyncResult()

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage() == "webhook dedup keys pruned":
                pruned.set(record.pruned)

    logger = logging.getLogger("peppasync.runtime")
    catch = Catch()
    logger.addHandler(catch)
    logger.setLevel(logging.INFO)
    runtime = Runtime(parse_config({"server": {"listen": f"127.0.0.1:{free_port()}"}, "store": {"url": url}},
                                   environ={}))
    runtime.start()
    try:
        count = pruned.get(timeout=10)
        old, recent = runtime.store.write([ops.Dedup("shopify", "old"), ops.Dedup("shopify", "recent")])
    finally:
        runtime.stop()
        logger.removeHandler(catch)
        logger.setLevel(logging.NOTSET)

    assert count == 1
    assert old is True  # forgotten, so recorded afresh
    assert recent is False  # still remembered: a duplicate


def test_a_running_server_reports_how_long_a_ready_greenlet_waits_for_the_hub(tmp_path):
    port = free_port()
    runtime = Runtime(parse_config({"server": {"listen": f"127.0.0.1:{port}"},
                                    "store": {"url": f"sqlite:///{tmp_path}/engine.db"}}, environ={}))
    runtime.start()

    def busy() -> None:
        end = time.perf_counter() + 0.4
        while time.perf_counter() < end:
            pass  # holds the hub, as a long piece of work without a yield would

    try:
        gevent.sleep(0.3)  # a sample or two of an idle hub
        hog = gevent.spawn(busy)
        gevent.sleep(0.6)
        hog.join()
        scrape = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        runtime.stop()

    def sample(name: str) -> float:
        line = next(line for line in scrape.splitlines() if line.startswith(name))
        return float(line.rsplit(" ", 1)[1])

    assert sample("peppasync_hub_lag_seconds_count") >= 2
    assert sample('peppasync_hub_lag_seconds_bucket{le="0.01"}') >= 1  # while the hub was free
    assert sample("peppasync_hub_lag_seconds_sum") >= 0.15  # the timer due while the work held the hub


def test_a_running_server_reports_each_pause_of_the_garbage_collector_by_generation(tmp_path):
    port = free_port()
    runtime = Runtime(parse_config({"server": {"listen": f"127.0.0.1:{port}"},
                                    "store": {"url": f"sqlite:///{tmp_path}/engine.db"}}, environ={}))
    runtime.start()
    try:
        cycles = []
        for _ in range(200_000):  # garbage that only the cyclic collector frees
            cycle: list[object] = []
            cycle.append(cycle)
            cycles.append(cycle)
        del cycles
        gc.collect()  # one full collection, on top of the young ones the cycles set off
        gevent.sleep(0.6)  # the hub-lag loop hands the pauses to the metrics
        scrape = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        runtime.stop()
    counts = {line.split('"')[1]: float(line.rsplit(" ", 1)[1]) for line in scrape.splitlines()
              if line.startswith("peppasync_gc_pause_seconds_count{")}

    assert counts["2"] >= 1
    assert counts["0"] >= 1  # 200,000 new containers cross the young threshold (50,000) several times
    assert float(next(line for line in scrape.splitlines()
                      if line.startswith('peppasync_gc_pause_seconds_sum{generation="2"}')).rsplit(" ", 1)[1]) > 0

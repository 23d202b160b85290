"""`peppasync serve` as a real process: start, probes, graceful SIGTERM under load."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from peppasync.cli.configfile import SYSTEM_CONFIG
from peppasync.http import shopify_hmac
from peppasync.store import open_store

from tests.peppasync.serving import (
    ROOT,
    UNREACHABLE,
    free_port,
    server_log,
    start_server,
    stop_server,
    wait_healthy,
    write_config,
)


def _serve_once(config: Path | None, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `peppasync serve` to its end (at most 30 s) with only ``env`` of the PEPPASYNC_ variables."""
    options = [] if config is None else ["--config", str(config)]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PEPPASYNC_")}
    return subprocess.run(
        [sys.executable, "-m", "peppasync", "serve", *options, *args], capture_output=True, text=True, timeout=30,
        cwd=cwd, env={**environ, "PYTHONPATH": str(ROOT), **env},
    )


def test_serve_on_a_file_with_only_server_exits_2_naming_each_missing_section_before_it_starts(tmp_path):
    port = free_port()
    config = tmp_path / "peppasync.toml"
    config.write_text(f'[server]\nlisten = "127.0.0.1:{port}"\n[store]\nurl = "sqlite:///{tmp_path}/server.db"\n')

    result = _serve_once(config, tmp_path)

    assert result.returncode == 2
    assert [line.split(": ")[1] for line in result.stderr.splitlines()[1:]] == ["shopify", "netsuite", "wms"]
    assert "section [netsuite] is missing; serve needs base_url, account_id" in result.stderr
    assert not (tmp_path / "server.db").exists()  # it stopped before opening the store or the port


def test_serve_without_any_configuration_says_where_it_looked_and_what_is_missing(tmp_path):
    if Path(SYSTEM_CONFIG).exists():
        pytest.skip(f"{SYSTEM_CONFIG} exists on this machine")
    (tmp_path / "peppasync.toml").write_text("[server]\n")  # the working directory is not searched

    result = _serve_once(None, tmp_path, PEPPASYNC_SERVER_LISTEN="127.0.0.1:0")

    assert result.returncode == 2
    assert (f"<no configuration file>: no --config FILE given, PEPPASYNC_CONFIG is not set, and {SYSTEM_CONFIG}"
            " does not exist") in result.stderr
    assert "<environment>: wms: section [wms] is missing" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["peppasync.toml"]


def test_serve_reads_the_file_named_by_PEPPASYNC_CONFIG(tmp_path):
    config = tmp_path / "elsewhere.toml"
    config.write_text('[server]\nlisten = "127.0.0.1:0"\n')

    result = _serve_once(None, tmp_path, PEPPASYNC_CONFIG=str(config))

    assert result.returncode == 2
    assert f"  {config}: shopify: section [shopify] is missing" in result.stderr.splitlines()[1]


def test_serve_answers_healthz_within_seconds_and_stops_cleanly_on_sigint(tmp_path):
    port = free_port()
    config = write_config(tmp_path, port)
    proc = start_server(config)
    try:
        took = wait_healthy(port, proc)
        # /healthz answers as soon as the port is open; /readyz once the actors
        # have started, a moment later.
        ready_after = wait_healthy(port, proc, path="/readyz")
        ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
    finally:
        code = stop_server(proc, config, signal.SIGINT)

    assert took < 15
    assert ready_after < 15
    assert ready == {"ready": True, "checks": {"store": True, "actors": True}}
    assert code == 0


def test_sigterm_on_a_busy_server_stops_in_time_and_loses_nothing_acknowledged(tmp_path):
    port = free_port()
    config = write_config(tmp_path, port)
    proc = start_server(config)
    wait_healthy(port, proc)
    acknowledged: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def send(worker: int) -> None:
        session = requests.Session()
        n = 0
        while not stop.is_set():
            order_id = worker * 1_000_000 + n
            n += 1
            body = json.dumps({"id": order_id}).encode()
            headers = {
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Hmac-Sha256": shopify_hmac("hush", body),
                "X-Shopify-Event-Id": f"evt-{order_id}",
            }
            try:
                resp = session.post(f"http://127.0.0.1:{port}/webhooks/shopify", data=body, headers=headers, timeout=10)
            except requests.RequestException:
                return  # the server stopped accepting
            if resp.status_code == 200:
                with lock:
                    acknowledged.append(order_id)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    while True:
        with lock:
            if len(acknowledged) >= 300:
                break
        threading.Event().wait(0.01)
    try:
        code = stop_server(proc, config, signal.SIGTERM, timeout=15)
    finally:
        stop.set()
    for t in threads:
        t.join(timeout=10)

    assert code == 0
    store = open_store(f"sqlite:///{tmp_path}/server.db")
    try:
        # Each acknowledged event is still in its mailbox, or was handled and
        # (these bodies carry no line items) quarantined: never nowhere.
        waiting = {key for _, key in store.pending_keys(kind="order", now=float("inf"), limit=1_000_000)}
        quarantined = {e.key for e in store.quarantine_list(kind="order", limit=1_000_000)}
    finally:
        store.close()
    stored = waiting | quarantined
    missing = [o for o in acknowledged if str(o) not in stored]
    assert missing == []
    assert len(acknowledged) >= 300


def test_sigusr1_logs_every_greenlet_stack_and_the_server_keeps_serving(tmp_path):
    port = free_port()
    config = write_config(tmp_path, port)
    proc = start_server(config)
    try:
        wait_healthy(port, proc)
        proc.send_signal(signal.SIGUSR1)
        dumps: list[dict[str, object]] = []
        for _ in range(300):  # up to 15 s on a loaded machine
            # Whole lines only: the server may be writing the last one.
            lines = [json.loads(line) for line in server_log(config).split("\n")[:-1]]
            dumps = [line for line in lines if line["msg"] == "greenlet stacks"]
            if dumps:
                break
            threading.Event().wait(0.05)
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    finally:
        code = stop_server(proc, config)

    assert len(dumps) == 1
    assert "serve" in str(dumps[0]["stacks"])  # the main greenlet, waiting in Runtime.serve
    assert health.status_code == 200
    assert code == 0


@pytest.fixture
def taken_port():
    """A port another process holds, as when a second server or a stale one is running."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def _records(stderr: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stderr.splitlines()]


def test_serve_on_a_port_already_taken_exits_2_at_once_with_one_line_naming_the_port(tmp_path, taken_port):
    config = write_config(tmp_path, taken_port)
    config.chmod(0o600)

    result = _serve_once(config, tmp_path)  # a server that hangs fails this at 30 s

    assert result.returncode == 2
    [record] = _records(result.stderr)
    assert (record["level"], record["msg"], record["error_class"]) == ("critical", "cannot start", "ListenError")
    assert record["error"] == (
        f"cannot listen on 127.0.0.1:{taken_port}: address already in use;"
        " stop what holds the port or change [server] listen"
    )
    assert not (tmp_path / "server.db").exists()  # the port is checked before the store is touched


def test_serve_with_a_store_that_does_not_answer_exits_2_with_one_line_that_hides_its_password(tmp_path):
    url = f"postgresql://peppasync:hunter2-pass@127.0.0.1:{free_port()}/peppasync"
    config = write_config(tmp_path, free_port(), store={"url": url})
    config.chmod(0o600)

    result = _serve_once(config, tmp_path)

    assert result.returncode == 2
    [record] = _records(result.stderr)
    assert (record["msg"], record["error_class"]) == ("cannot start", "StoreUnavailableError")
    assert str(record["error"]).startswith("cannot open the store: store postgresql://peppasync:***@127.0.0.1:")
    assert "Connection refused" in str(record["error"])
    assert "hunter2" not in result.stderr


def test_the_log_level_comes_from_the_config_file_and_the_command_line_overrides_it(tmp_path, taken_port):
    config = write_config(tmp_path, taken_port, log={"level": "critical"})
    config.chmod(0o644)  # readable by others, with secrets: a warning at start

    from_file = _serve_once(config, tmp_path)
    overridden = _serve_once(config, tmp_path, "--log-level", "warning")

    assert [(r["level"], r["msg"]) for r in _records(from_file.stderr)] == [("critical", "cannot start")]
    assert [(r["level"], r["msg"]) for r in _records(overridden.stderr)] == [
        ("warning", "configuration file with secrets is readable by other users"),
        ("critical", "cannot start"),
    ]


def test_text_logs_keep_the_event_fields(tmp_path, taken_port):
    config = write_config(tmp_path, taken_port, log={"format": "text"})
    config.chmod(0o600)

    result = _serve_once(config, tmp_path)

    [line] = result.stderr.splitlines()
    assert line.split(" ", 1)[1] == (
        "CRITICAL peppasync.serve: cannot start"
        f' error="cannot listen on 127.0.0.1:{taken_port}: address already in use;'
        ' stop what holds the port or change [server] listen" error_class=ListenError'
    )


def test_when_stderr_is_the_journal_each_line_starts_with_its_syslog_priority(tmp_path, taken_port):
    config = write_config(tmp_path, taken_port)
    config.chmod(0o644)
    log = tmp_path / "journal"
    with open(log, "w") as stderr:
        st = os.fstat(stderr.fileno())
        environ = {k: v for k, v in os.environ.items() if not k.startswith("PEPPASYNC_")}
        subprocess.run(
            [sys.executable, "-m", "peppasync", "serve", "--config", str(config)], stderr=stderr, timeout=30,
            cwd=tmp_path, env={**environ, "PYTHONPATH": str(ROOT), "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"},
        )

    lines = log.read_text().splitlines()
    assert [line[:3] for line in lines] == ["<4>", "<2>"]  # warning, critical: sd-daemon(3)
    assert [json.loads(line[3:])["level"] for line in lines] == ["warning", "critical"]


def test_a_journal_stream_inherited_by_a_redirected_stderr_adds_no_priorities(tmp_path, taken_port):
    config = write_config(tmp_path, taken_port)
    config.chmod(0o600)

    result = _serve_once(config, tmp_path, JOURNAL_STREAM="8:12345")

    assert result.stderr.startswith('{"ts": ')


def test_a_config_file_with_secrets_that_others_can_read_is_warned_about_unless_allowed(tmp_path, taken_port):
    config = write_config(tmp_path, taken_port)
    config.chmod(0o644)

    warned = _serve_once(config, tmp_path)
    allowed = _serve_once(config, tmp_path, "--allow-world-readable-config")
    config.chmod(0o600)
    private = _serve_once(config, tmp_path)

    warning = _records(warned.stderr)[0]
    assert (warning["level"], warning["path"], warning["mode"]) == ("warning", str(config), "0644")
    assert warning["keys"] == [
        "server.ops_token", "shopify.access_token", "shopify.webhook_secret", "netsuite.consumer_key",
        "netsuite.consumer_secret", "netsuite.token_id", "netsuite.token_secret", "wms.api_key", "wms.api_secret",
        "wms.webhook_token", "wms.inventory_api_key",
    ]
    assert [r["msg"] for r in _records(allowed.stderr)] == ["cannot start"]
    assert [r["msg"] for r in _records(private.stderr)] == ["cannot start"]


def test_the_log_of_a_running_server_shows_no_secret_even_at_debug_level(tmp_path):
    port = free_port()
    config = write_config(tmp_path, port)
    config.chmod(0o600)
    proc = start_server(config, "--log-level", "debug")
    try:
        wait_healthy(port, proc)
        base = f"http://127.0.0.1:{port}"
        status = requests.get(f"{base}/api/v1/status", headers={"Authorization": "Bearer ops-secret"}, timeout=5)
        refused = requests.post(f"{base}/webhooks/wms?token=wms-token-guess", json={}, timeout=5)
        accepted = requests.post(f"{base}/webhooks/wms?token=wms-token", timeout=5,
                                 json={"resource_url": f"{UNREACHABLE}/shipments", "resource_type": "SHIP_NOTIFY"})
    finally:
        code = stop_server(proc, config)

    log = server_log(config)
    assert (status.status_code, refused.status_code, accepted.status_code, code) == (200, 401, 200, 0)
    assert "POST /webhooks/wms?token=*** " in log  # the access lines are there, masked
    for secret in ("ops-secret", "wms-token", "shpat_test", "hush"):
        assert secret not in log

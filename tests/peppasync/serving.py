"""Helpers for tests that start a real ``peppasync serve`` process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# Every section and key `serve` requires, pointing at a loopback port where
# nothing listens: calls out fail at once, as when a service is down.
UNREACHABLE = "http://127.0.0.1:9"
SERVICES: dict[str, dict[str, object]] = {
    "shopify": {"shop_url": UNREACHABLE, "access_token": "shpat_test", "webhook_secret": "hush",
                "location_id": "gid://shopify/Location/1"},
    "netsuite": {"base_url": UNREACHABLE, "account_id": "1234567", "consumer_key": "ck", "consumer_secret": "cs",
                 "token_id": "ti", "token_secret": "ts"},
    "wms": {"base_url": UNREACHABLE, "api_key": "key", "api_secret": "secret", "webhook_token": "wms-token",
            "inventory_url": UNREACHABLE, "inventory_api_key": "v2-key"},
}


def write_config(directory: Path, port: int, **sections: dict[str, object]) -> Path:
    base: dict[str, dict[str, object]] = {
        "server": {"listen": f"127.0.0.1:{port}", "ops_token": "ops-secret", "shutdown_timeout": 5.0},
        "store": {"url": f"sqlite:///{directory}/server.db"},
        **{name: dict(values) for name, values in SERVICES.items()},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    lines = []
    for name, values in base.items():
        lines.append(f"[{name}]")
        for key, value in values.items():
            lines.append(f"{key} = {value!r}".replace("'", '"'))
    path = directory / "peppasync.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def start_server(config: Path, *args: str) -> subprocess.Popen[bytes]:
    # The log goes to a file beside the config: a pipe nobody reads would fill
    # up and freeze the server mid-test.
    log = open(config.parent / "server.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "peppasync", "serve", "--config", str(config), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    log.close()
    return proc


def stop_server(proc: subprocess.Popen[bytes], config: Path, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
    """Send ``sig`` and wait for the exit code; a server that does not stop is
    asked for its greenlet stacks (SIGUSR1), killed, and its log shown."""
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)
        time.sleep(2)
        proc.kill()
        proc.wait()
        raise AssertionError(f"server did not stop within {timeout} s; its log:\n{server_log(config)}") from None


def server_log(config: Path) -> str:
    return (config.parent / "server.log").read_text(errors="replace")


def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0, path: str = "/healthz") -> float:
    """Poll ``path`` until it answers 200; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        try:
            if requests.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                return time.monotonic() - started
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{path} did not answer 200 within {timeout} s")

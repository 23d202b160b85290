"""EngineProcess: ``peppasync serve`` as a child process, to be measured, killed and restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests

__all__ = ["CHECKOUT", "EngineProcess", "checkout_env", "write_toml"]

#: This checkout: a child process (the engine, a probe) runs its code, wherever the bench was started.
CHECKOUT = Path(__file__).resolve().parents[2]


def checkout_env() -> dict[str, str]:
    """The environment for a child process that runs this checkout's code."""
    return {**os.environ, "PYTHONPATH": str(CHECKOUT)}


def write_toml(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """Write TOML tables of strings, numbers, booleans and inline tables (all a config needs here)."""
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        for key, value in values.items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml_value(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


class EngineProcess:
    """One engine node serving ``config``; its log goes to ``log`` (appended across restarts).

    ``peak_rss`` is the largest resident set any of its lives reached, read from
    ``/proc`` before each stop or kill (None where there is no ``/proc``).
    """

    def __init__(self, config: Path, url: str, log: Path) -> None:
        self.config = config.resolve()  # the engine runs in the repository, not in the caller's directory
        self.url = url
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.peak_rss: int | None = None

    def start(self, timeout: float = 60.0) -> float:
        """Start and wait until ``/healthz`` answers; returns the seconds that took."""
        began = time.monotonic()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "peppasync", "serve", "--config", str(self.config), "--log-format", "text"],
                cwd=CHECKOUT, env=checkout_env(),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            )
        self.starts += 1
        session = requests.Session()
        try:
            while time.monotonic() - began < timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the engine exited with {self.proc.returncode} while starting; see {self.log}")
                try:
                    if session.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                        return time.monotonic() - began
                except requests.ConnectionError:
                    pass
                time.sleep(0.05)
        finally:
            session.close()
        self.stop()
        raise RuntimeError(f"the engine did not answer /healthz within {timeout:.0f} s; see {self.log}")

    def metrics(self) -> str:
        """The engine's Prometheus exposition now; empty when it does not answer (stopped, killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return ""
        try:
            response = requests.get(f"{self.url}/metrics", timeout=10)
        except requests.RequestException:
            return ""
        return response.text if response.status_code == 200 else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, as a power cut or the OOM killer would."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self._sample_rss()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.kills += 1

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (SIGKILL past ``timeout``); returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._sample_rss()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _sample_rss(self) -> None:
        assert self.proc is not None
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1]) * 1024
                self.peak_rss = max(self.peak_rss or 0, rss)

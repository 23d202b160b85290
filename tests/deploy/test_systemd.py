"""The systemd unit and the example configuration it starts with."""

from __future__ import annotations

import configparser
import getpass
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from peppasync.config import load_config, parse_config
from peppasync.http import shopify_hmac
from peppasync.store import open_store

from tests.deploy import sandbox
from tests.deploy.promql import DEPLOY, ROOT
from tests.peppasync.serving import SERVICES, free_port, server_log, stop_server, wait_healthy, write_config

UNIT = DEPLOY / "systemd" / "peppasync.service"
CONFIG = DEPLOY / "systemd" / "peppasync.toml"
ENV_FILE = DEPLOY / "systemd" / "peppasync.env"
INSTALLED = "/opt/peppasync/venv/bin/peppasync"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT, encoding="utf-8")
    return parser


def _env_file() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_FILE.read_text().splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_systemd_analyze_verify_finds_nothing_wrong_with_the_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart is executable: point it at this checkout's script.
    script = Path(sys.executable).with_name("peppasync")
    unit = tmp_path / "peppasync.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace(INSTALLED, str(script)), encoding="utf-8")

    # verify exits 0 even when it ignores a line, so its output is the verdict.
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)

    assert [line for line in (result.stdout + result.stderr).splitlines() if "peppasync.service" in line] == []


def test_systemd_analyze_verify_reports_a_bad_line_so_the_check_above_can_fail(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "peppasync.service"
    unit.write_text("[Service]\nType=notify\nRestart=sometimes\nStartLimitIntervalSec=5\nExecStart=/bin/true\n", encoding="utf-8")

    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)

    output = result.stdout + result.stderr
    assert "Failed to parse service restart specifier" in output
    assert "Unknown key 'StartLimitIntervalSec'" in output


def test_the_unit_waits_for_ready_restarts_on_failure_and_not_on_configuration_errors():
    service = _unit()["Service"]

    assert service["Type"] == "notify"
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == "2"
    assert service["ExecStart"] == f"{INSTALLED} serve --config /etc/peppasync/peppasync.toml"
    assert service["EnvironmentFile"].lstrip("-") == "/etc/peppasync/peppasync.env"
    assert int(service["WatchdogSec"]) > 0
    # An ExecStartPre failure is restarted whatever its exit status: configuration
    # errors must surface as the main process's exit 2 instead.
    assert "ExecStartPre" not in service


def test_the_unit_gives_the_server_time_to_drain_before_it_is_killed():
    service = _unit()["Service"]
    config = load_config(CONFIG, environ={})

    assert int(service["TimeoutStopSec"]) >= 2 * config.server.shutdown_timeout


def test_the_unit_keeps_the_sqlite_store_in_its_state_directory():
    service = _unit()["Service"]
    config = load_config(CONFIG, environ={})

    assert service["StateDirectory"] == "peppasync"
    assert config.store.url == "sqlite:////var/lib/peppasync/peppasync.db"
    assert service["ProtectSystem"] == "strict"  # everything else is read-only


def test_the_example_configuration_and_secrets_file_are_valid_together():
    environ = _env_file()

    config = load_config(CONFIG, environ=environ, complete=True)

    assert config.server.ops_token and config.shopify.webhook_secret and config.wms.webhook_token
    assert all(key.startswith("PEPPASYNC_") for key in environ)


def test_the_example_configuration_keeps_secrets_out_of_the_file():
    config = load_config(CONFIG, environ={})

    assert config.server.ops_token == ""
    assert config.shopify.access_token == config.shopify.webhook_secret == ""
    assert config.netsuite.token_secret == config.wms.api_secret == ""


def _check_config(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peppasync", "check-config", str(CONFIG)],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env={"PATH": "/usr/bin:/bin", **environ},
    )


def test_check_config_accepts_the_example_configuration_with_its_secrets_file():
    result = _check_config(_env_file())

    assert result.returncode == 0, result.stderr
    assert f"{CONFIG}: valid" in result.stdout


def test_check_config_without_the_secrets_file_names_each_secret_it_lacks_and_exits_2():
    result = _check_config({})

    named = re.findall(rf"^  {re.escape(str(CONFIG))}: (\w+)\.(\w+): is missing", result.stderr, flags=re.MULTILINE)
    assert result.returncode == 2
    assert sorted(f"PEPPASYNC_{section}_{key}".upper() for section, key in named) == sorted(
        var for var in _env_file() if var != "PEPPASYNC_SERVER_OPS_TOKEN"
    )


def test_a_misspelt_secret_variable_is_refused_with_the_right_name():
    with pytest.raises(Exception) as caught:
        parse_config({}, environ={"PEPPASYNC_SHOPIFY_WEBHOOK_SECRT": "x"})

    assert "PEPPASYNC_SHOPIFY_WEBHOOK_SECRET" in str(getattr(caught.value, "problems", caught.value))


def _ops(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run deploy/systemd/peppasync-ops as the current user against a configuration in tmp_path."""
    config = tmp_path / "peppasync.toml"
    config.write_text('[server]\nlisten = "127.0.0.1:9"\n', encoding="utf-8")
    env_file = tmp_path / "peppasync.env"
    env_file.write_text(f"PEPPASYNC_STORE_URL=sqlite:///{tmp_path}/from-env.db\n", encoding="utf-8")
    environ = {
        "PATH": "/usr/bin:/bin",
        "PEPPASYNC_USER": getpass.getuser(),
        "PEPPASYNC_BIN": str(Path(sys.executable).with_name("peppasync")),
        "PEPPASYNC_CONFIG": str(config),
        "PEPPASYNC_ENV_FILE": str(env_file),
    }
    return subprocess.run(
        [str(DEPLOY / "systemd" / "peppasync-ops"), *args],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=environ,
    )


def test_peppasync_ops_runs_commands_with_the_service_configuration_and_secrets(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/from-env.db")  # as the server leaves it
    store.migrate()
    store.close()

    migrated = _ops(tmp_path, "migrate")
    status = _ops(tmp_path, "status", "--json")

    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.startswith("schema is current")  # the store URL came from the secrets file
    assert status.returncode == 1  # no server answers at 127.0.0.1:9
    assert json.loads(status.stdout)["server"]["state"] == "not reachable"


def test_peppasync_ops_passes_usage_errors_through_with_exit_2(tmp_path):
    result = _ops(tmp_path, "connector", "pause", "erp")

    assert result.returncode == 2
    assert "invalid choice: 'erp'" in result.stderr


def _security(unit: Path) -> tuple[float, str]:
    """The exposure ``systemd-analyze security`` gives the unit file (0 best, 10 worst), and its table."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (CI installs it: .ci/run, Debian package systemd)")
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(unit)], capture_output=True, text=True, timeout=60
    )
    if "--offline" in result.stderr and "unrecognized option" in result.stderr:
        pytest.skip(f"this systemd-analyze cannot rate a unit file offline (systemd 250+): {result.stderr.strip()}")
    found = re.search(rf"Overall exposure level for {re.escape(unit.name)}: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    return float(found.group(1)), result.stdout


def test_systemd_analyze_security_rates_the_unit_3_0_or_better() -> None:
    exposure, table = _security(UNIT)

    assert exposure <= 3.0, table


def test_the_security_rating_sees_a_unit_without_its_hardening(tmp_path: Path) -> None:
    bare = tmp_path / "peppasync.service"
    bare.write_text(UNIT.read_text(encoding="utf-8").split("# Hardening")[0] + "\n[Install]\nWantedBy=multi-user.target\n")

    exposure, table = _security(bare)

    assert exposure > 8.0, table


def test_the_sandbox_leaves_the_server_its_configuration_its_store_and_its_port() -> None:
    service = _unit()["Service"]
    config = load_config(CONFIG, environ={})
    families = service["RestrictAddressFamilies"].split()

    # No capability is granted, so the port must be one any user may bind.
    assert service["CapabilityBoundingSet"] == "" and int(config.server.listen.rsplit(":", 1)[1]) >= 1024
    assert {"AF_INET", "AF_INET6", "AF_UNIX"} <= set(families)  # calls out, sd_notify, a local PostgreSQL
    assert not {"PrivateNetwork", "IPAddressDeny", "SocketBindDeny"} & set(service)
    # ProtectSystem=strict leaves /etc readable; only the state directory is writable.
    assert service["ProtectSystem"] == "strict" and service["StateDirectory"] == "peppasync"
    assert not {"InaccessiblePaths", "TemporaryFileSystem", "ReadOnlyPaths"} & set(service)
    assert "ProcSubset" not in service  # process_start_time_seconds reads the boot time in /proc/stat


def _filters() -> list[str]:
    # configparser keeps the last of repeated keys; systemd reads them all, in order.
    return [
        line.split("=", 1)[1].strip()
        for line in UNIT.read_text(encoding="utf-8").splitlines()
        if line.startswith("SystemCallFilter=")
    ]


def _sandbox_prefix(tmp_path: Path) -> list[str]:
    why = sandbox.unavailable()
    if why is not None:
        pytest.skip(why)
    assert _unit()["Service"]["MemoryDenyWriteExecute"] == "yes"
    assert _unit()["Service"]["SystemCallErrorNumber"] == "EPERM"
    return sandbox.sandboxed(sys.executable, sandbox.allowed_syscalls(_filters()), tmp_path)


def test_the_sandbox_harness_refuses_what_the_unit_forbids(tmp_path: Path) -> None:
    prefix = _sandbox_prefix(tmp_path)
    probes = {
        "sched_setaffinity (@resources)": "import os; os.sched_setaffinity(0, os.sched_getaffinity(0))",
        "chroot (@privileged)": "import os; os.chroot('/')",
        "writable executable memory": "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)",
        "nothing forbidden": "import socket; socket.socket().close()",
    }

    results = {
        name: subprocess.run([*prefix, sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60)
        for name, code in probes.items()
    }

    assert {name: r.returncode for name, r in results.items()} == {
        "sched_setaffinity (@resources)": 1, "chroot (@privileged)": 1, "writable executable memory": 1, "nothing forbidden": 0,
    }
    assert all("PermissionError" in r.stderr for name, r in results.items() if name != "nothing forbidden")


@pytest.mark.slow
def test_the_server_serves_stores_and_stops_under_the_units_system_call_filter_and_memory_protection(
    tmp_path: Path,
) -> None:
    prefix = _sandbox_prefix(tmp_path)
    port = free_port()
    config = write_config(tmp_path, port)
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed once the process has it
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-m", "peppasync", "serve", "--config", str(config)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
    )
    log.close()
    try:
        wait_healthy(port, proc)
        body = b'{"id": 4242, "line_items": []}'
        webhook = requests.post(
            f"http://127.0.0.1:{port}/webhooks/shopify", data=body, timeout=10,
            headers={"X-Shopify-Topic": "orders/create", "X-Shopify-Event-Id": "sandboxed-1",
                     "X-Shopify-Hmac-Sha256": shopify_hmac(str(SERVICES["shopify"]["webhook_secret"]), body)},
        )
        scrape = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        code = stop_server(proc, config)

    lines = [json.loads(line) for line in server_log(config).splitlines() if line.startswith("{")]
    assert webhook.status_code == 200, webhook.text
    assert webhook.json()["status"] == "accepted"
    assert scrape.status_code == 200
    assert re.search(r"^process_start_time_seconds \d", scrape.text, flags=re.M)  # read from /proc
    assert code == 0, server_log(config)
    assert [line for line in lines if line["level"] in ("error", "critical")] == []

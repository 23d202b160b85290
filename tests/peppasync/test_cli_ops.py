"""Operator commands find the configuration as `serve` does, create no store, and tell the truth."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from peppasync.cli.configfile import SYSTEM_CONFIG
from peppasync.store import open_store, ops

from tests.peppasync.serving import ROOT, free_port


def _environ(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PEPPASYNC_")}
    return {**base, "PYTHONPATH": str(ROOT), **extra}


def _cli(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peppasync", *args], capture_output=True, text=True, timeout=60,
        cwd=cwd, env=_environ(**env),
    )


def _store_with_quarantine(tmp_path: Path, count: int = 1) -> tuple[Path, str]:
    """A migrated SQLite store holding ``count`` quarantined order messages, and a config naming it."""
    url = f"sqlite:///{tmp_path}/ops.db"
    store = open_store(url)
    store.migrate()
    try:
        ids = store.write([ops.Insert("order", str(n), {"n": n}) for n in range(count)])
        store.write([ops.Start(m) for m in ids])
        store.write([ops.Quarantine(m, "validation", "ValidationError", "Traceback") for m in ids])
    finally:
        store.close()
    config = tmp_path / "ops.toml"
    config.write_text(f'[server]\nlisten = "127.0.0.1:{free_port()}"\n[store]\nurl = "{url}"\n')
    return config, url


@pytest.mark.parametrize("command", [["status"], ["quarantine", "list"], ["migrate"]], ids=" ".join)
def test_an_ops_command_without_any_configuration_says_where_it_looked_and_creates_nothing(tmp_path, command):
    if Path(SYSTEM_CONFIG).exists():
        pytest.skip(f"{SYSTEM_CONFIG} exists on this machine")

    result = _cli(*command, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "peppasync: configuration is not valid:",
        f"  <no configuration file>: no --config FILE given, PEPPASYNC_CONFIG is not set, and {SYSTEM_CONFIG}"
        " does not exist",
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [["status"], ["quarantine", "list"], ["migrate"]], ids=" ".join)
def test_an_ops_command_on_a_store_file_that_does_not_exist_says_so_and_creates_none(tmp_path, command):
    config = tmp_path / "ops.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/typo.db"\n')

    result = _cli(*command, "--config", str(config))

    assert result.returncode == 1
    assert result.stderr == (
        f"peppasync: store sqlite:///{tmp_path}/typo.db: there is no database file at {tmp_path}/typo.db;"
        " check [store] url (the server creates the store when it first starts)\n"
    )
    assert not (tmp_path / "typo.db").exists()
    assert "Traceback" not in result.stderr


def test_an_ops_command_on_an_empty_database_file_says_it_has_no_schema(tmp_path):
    (tmp_path / "empty.db").write_bytes(b"")
    config = tmp_path / "ops.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/empty.db"\n')

    result = _cli("quarantine", "list", "--config", str(config))

    assert result.returncode == 1
    assert f"store sqlite:///{tmp_path}/empty.db has no Peppasync schema; check [store] url in {config}" in result.stderr


def test_ops_commands_read_the_file_named_by_PEPPASYNC_CONFIG(tmp_path):
    config, _ = _store_with_quarantine(tmp_path)

    result = _cli("quarantine", "list", "--json", cwd=tmp_path, PEPPASYNC_CONFIG=str(config))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"] == 1


def test_a_missing_file_named_by_PEPPASYNC_CONFIG_names_the_variable(tmp_path):
    result = _cli("status", cwd=tmp_path, PEPPASYNC_CONFIG=str(tmp_path / "gone.toml"))

    assert result.returncode == 2
    assert f"  environment PEPPASYNC_CONFIG: {tmp_path}/gone.toml: file not found" in result.stderr.splitlines()
    assert list(tmp_path.iterdir()) == []


def test_config_given_with_the_option_wins_over_PEPPASYNC_CONFIG(tmp_path):
    config, _ = _store_with_quarantine(tmp_path)

    result = _cli("quarantine", "list", "--json", "--config", str(config), PEPPASYNC_CONFIG=str(tmp_path / "gone.toml"))

    assert result.returncode == 0, result.stderr

"""Operator commands find the configuration as `serve` does, create no store, and tell the truth."""

import json
import os
import pwd
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


def test_status_exits_1_with_one_line_when_the_server_is_unreachable_and_still_reports_the_store(tmp_path):
    config, _ = _store_with_quarantine(tmp_path)

    table = _cli("status", "--config", str(config))
    as_json = _cli("status", "--json", "--config", str(config))

    assert (table.returncode, as_json.returncode) == (1, 1)
    [line] = table.stderr.splitlines()
    assert line.startswith("peppasync: server at http://127.0.0.1:") and "is not reachable: connection refused" in line
    assert "validation" in table.stdout  # the store's part of the report is there all the same
    report = json.loads(as_json.stdout)
    assert report["server"]["state"] == "not reachable"
    assert report["quarantine"] == [{"kind": "order", "reason": "validation", "count": 1}]


def test_quarantine_list_into_a_pipe_closed_after_one_line_exits_quietly(tmp_path):
    config, _ = _store_with_quarantine(tmp_path, count=3000)  # far more than a pipe buffer holds
    proc = subprocess.Popen(
        [sys.executable, "-m", "peppasync", "quarantine", "list", "--config", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=_environ(),
    )

    first = proc.stdout.readline()  # as `| head -1` reads, then goes away
    proc.stdout.close()
    code = proc.wait(timeout=60)
    stderr = proc.stderr.read().decode()
    proc.stderr.close()

    assert first.split() == [b"ID", b"ACTOR", b"KEY", b"REASON", b"ERROR", b"ATTEMPTS", b"STATE"]
    assert stderr == ""
    assert code == 141  # as for a process the closed pipe's SIGPIPE ended


def test_the_audit_names_the_account_that_ran_the_command_not_the_user_variables(tmp_path):
    config, url = _store_with_quarantine(tmp_path, count=2)

    retried = _cli("quarantine", "retry", "1", "--config", str(config), USER="mallory", LOGNAME="mallory")
    discarded = _cli("quarantine", "discard", "2", "--config", str(config), USER="mallory", LOGNAME="mallory")

    assert (retried.returncode, discarded.returncode) == (0, 0), retried.stderr + discarded.stderr
    store = open_store(url)
    try:
        audit = store.audit_list()
    finally:
        store.close()
    account = pwd.getpwuid(os.geteuid()).pw_name
    assert [(a.action, a.who) for a in audit] == [
        ("quarantine.discard", f"cli:{account}"), ("quarantine.retry", f"cli:{account}"),
    ]


@pytest.mark.postgres
def test_status_shows_which_store_it_read_without_the_password(tmp_path):
    import uuid
    from urllib.parse import quote

    import psycopg

    from tests.peppasync.store.conftest import postgres_url

    base = postgres_url()
    schema = f"status_test_{uuid.uuid4().hex[:12]}"
    user, _, rest = base.split("://", 1)[1].partition("@")
    url = f"postgresql://{user.split(':')[0]}:hunter2-pass@{rest}"
    url += ("&" if "?" in url else "?") + f"options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            store = open_store(url)
            store.migrate()
            store.close()
            config = tmp_path / "ops.toml"
            config.write_text(f'[server]\nlisten = "127.0.0.1:{free_port()}"\n[store]\nurl = "{url}"\n')

            table = _cli("status", "--config", str(config))
            as_json = _cli("status", "--json", "--config", str(config))
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")

    assert "hunter2-pass" not in table.stdout + table.stderr + as_json.stdout + as_json.stderr
    assert json.loads(as_json.stdout)["store"]["url"].startswith(f"postgresql://{user.split(':')[0]}:***@")
    assert f"{user.split(':')[0]}:***@" in table.stdout

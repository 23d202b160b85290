"""`check-config` shows what it read without showing a secret, and warns when others can read them."""

import subprocess
import sys
from pathlib import Path

from tests.peppasync.serving import SERVICES

PEPPASYNC = [sys.executable, "-m", "peppasync"]


def _check_config(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PEPPASYNC, "check-config", str(path), *args], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin"})


def _write(path: Path, store_url: str, *, ops_token: object = "a-long-ops-token") -> Path:
    lines = ["[server]", f"ops_token = {ops_token!r}".replace("'", '"'), "[store]", f'url = "{store_url}"']
    for section, values in SERVICES.items():
        lines.append(f"[{section}]")
        lines += [f'{key} = "{value}"' for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def test_check_config_masks_the_store_password_wherever_the_url_holds_it(tmp_path):
    config = _write(tmp_path / "p.toml", "postgresql://app:pw-in-url@db:5432/peppasync?password=pw-in-query")

    result = _check_config(config)

    assert result.returncode == 0, result.stderr
    assert "  store: postgresql://app:***@db:5432/peppasync?password=***" in result.stdout.splitlines()
    assert "pw-in" not in result.stdout + result.stderr


def test_a_secret_given_with_the_wrong_type_is_reported_without_its_value(tmp_path):
    config = _write(tmp_path / "p.toml", "sqlite:///x.db", ops_token=8675309123)

    result = _check_config(config)

    assert result.returncode == 2
    assert f"  {config}: server.ops_token: expected a string, got an integer (value not shown: the key holds a secret)" \
        in result.stderr.splitlines()
    assert "8675309123" not in result.stderr


def test_check_config_warns_when_users_other_than_the_owner_can_read_the_secrets_in_the_file(tmp_path):
    config = _write(tmp_path / "p.toml", "sqlite:///x.db")
    config.chmod(0o644)

    warned = _check_config(config)
    silenced = _check_config(config, "--allow-world-readable-config")

    assert warned.returncode == 0
    [line] = warned.stderr.splitlines()
    assert line.startswith(f"peppasync: warning: {config} holds secrets (server.ops_token, shopify.access_token,")
    assert "can read it (mode 0644): chmod 600" in line
    assert silenced.stderr == ""


def test_a_file_others_can_read_that_holds_no_secret_gets_no_warning(tmp_path):
    config = tmp_path / "p.toml"
    config.write_text('[store]\nurl = "sqlite:///x.db"\n')
    config.chmod(0o644)
    environ = {"PATH": "/usr/bin:/bin", **{f"PEPPASYNC_{s.upper()}_{k.upper()}": str(v)
                                          for s, values in SERVICES.items() for k, v in values.items()}}

    result = subprocess.run([*PEPPASYNC, "check-config", str(config)], capture_output=True, text=True, timeout=60,
                            env=environ)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""

import subprocess
import sys
from pathlib import Path

import pytest

from peppasync.config import load_config, parse_config
from peppasync.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PEPPASYNC = [sys.executable, "-m", "peppasync"]


def _check_config(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PEPPASYNC, "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **env},
    )


def test_the_example_configuration_is_valid():
    result = _check_config(ROOT / "peppasync.example.toml")

    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_check_config_on_a_missing_file_names_the_file_and_exits_2(tmp_path):
    missing = tmp_path / "nope.toml"

    result = _check_config(missing)

    assert result.returncode == 2
    assert f"{missing}: file not found" in result.stderr


def test_check_config_on_a_toml_syntax_error_says_where_and_exits_2(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[server]\nlisten = "127.0.0.1:8470\n')

    result = _check_config(path)

    assert result.returncode == 2
    assert "TOML syntax error" in result.stderr
    assert "line 2" in result.stderr


def test_check_config_on_a_wrong_type_names_the_key_and_the_expected_type(tmp_path):
    path = tmp_path / "types.toml"
    path.write_text('[engine]\nmax_attempts = "five"\n')

    result = _check_config(path)

    assert result.returncode == 2
    assert "engine.max_attempts: expected an integer, got a string ('five')" in result.stderr


def test_check_config_on_an_unknown_key_suggests_the_closest_valid_key(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text('[netsuite]\nmax_concurency = 5\n')

    result = _check_config(path)

    assert result.returncode == 2
    assert "unknown key 'max_concurency' in [netsuite]; did you mean 'max_concurrency'?" in result.stderr


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "many.toml"
    path.write_text('[server]\nlisten = 8470\n[stor]\nurl = "x"\n[engine]\nprefetch = 0\n')

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    keys = [p.key for p in caught.value.problems]
    assert "server.listen" in keys and "stor" in keys


def test_an_environment_variable_overrides_the_file(tmp_path):
    path = tmp_path / "env.toml"
    path.write_text('[engine]\nmax_attempts = 3\n')

    config = load_config(path, environ={"PEPPASYNC_ENGINE_MAX_ATTEMPTS": "9"})

    assert config.engine.max_attempts == 9


def test_a_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError) as caught:
        parse_config({}, environ={"PEPPASYNC_NETSUITE_MAX_CONCURRENCY": "lots"})

    assert "environment PEPPASYNC_NETSUITE_MAX_CONCURRENCY: netsuite.max_concurrency: expected an integer" in str(
        caught.value
    )


def test_a_misspelt_environment_variable_is_reported_not_ignored():
    with pytest.raises(ConfigError) as caught:
        parse_config({}, environ={"PEPPASYNC_SHOPIFY_WEBHOOK_SECRT": "s"})

    assert "did you mean PEPPASYNC_SHOPIFY_WEBHOOK_SECRET?" in str(caught.value)


def test_per_sku_buffers_are_read_and_frozen():
    config = parse_config({"inventory": {"default_buffer": 2, "buffers": {"SKU-1": 5}}}, environ={})

    assert config.inventory.buffers["SKU-1"] == 5
    with pytest.raises(TypeError):
        config.inventory.buffers["SKU-2"] = 1  # type: ignore[index]


def test_a_store_url_of_an_unknown_scheme_is_refused():
    with pytest.raises(ConfigError) as caught:
        parse_config({"store": {"url": "mysql://db/x"}}, environ={})

    assert "store.url: expected sqlite:///PATH or postgresql://" in str(caught.value)

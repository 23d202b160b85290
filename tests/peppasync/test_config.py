import re
import subprocess
import sys
from pathlib import Path

import pytest

from peppasync.config import FULFILLMENT_HOLD_REASONS, REQUIRED, load_config, parse_config
from peppasync.contracts import shopify_admin_schema
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


CREDENTIALS = {
    "PEPPASYNC_SHOPIFY_ACCESS_TOKEN": "shpat_x",
    "PEPPASYNC_SHOPIFY_WEBHOOK_SECRET": "s",
    "PEPPASYNC_NETSUITE_CONSUMER_KEY": "ck",
    "PEPPASYNC_NETSUITE_CONSUMER_SECRET": "cs",
    "PEPPASYNC_NETSUITE_TOKEN_ID": "ti",
    "PEPPASYNC_NETSUITE_TOKEN_SECRET": "ts",
    "PEPPASYNC_WMS_API_KEY": "k",
    "PEPPASYNC_WMS_API_SECRET": "s",
    "PEPPASYNC_WMS_WEBHOOK_TOKEN": "t",
    "PEPPASYNC_WMS_INVENTORY_API_KEY": "v2",
}


def _complete() -> dict[str, dict[str, object]]:
    """Every required key of every section, with a made-up value."""
    raw: dict[str, dict[str, object]] = {}
    for section, keys in REQUIRED.items():
        raw[section] = {key: f"https://{section}.example" if key.endswith("_url") else "x" for key in keys}
    return raw


def test_check_config_on_the_example_names_exactly_the_empty_credentials_and_exits_2():
    example = ROOT / "peppasync.example.toml"

    result = _check_config(example)

    named = re.findall(rf"^  {re.escape(str(example))}: (\w+\.\w+): is empty", result.stderr, flags=re.MULTILINE)
    assert result.returncode == 2
    assert sorted(f"PEPPASYNC_{key.replace('.', '_').upper()}" for key in named) == sorted(CREDENTIALS)


def test_the_example_configuration_with_its_credentials_in_the_environment_is_valid():
    result = _check_config(ROOT / "peppasync.example.toml", **CREDENTIALS)

    assert result.returncode == 0, result.stderr
    assert "peppasync.example.toml: valid" in result.stdout


def test_check_config_on_a_file_with_only_server_names_each_missing_section_and_exits_2(tmp_path):
    path = tmp_path / "server-only.toml"
    path.write_text('[server]\nlisten = "127.0.0.1:8470"\n')

    result = _check_config(path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "peppasync: configuration is not valid:",
        (f"  {path}: shopify: section [shopify] is missing; serve needs shop_url, access_token, webhook_secret,"
         " location_id (each may come from PEPPASYNC_SHOPIFY_<KEY> instead)"),
        (f"  {path}: netsuite: section [netsuite] is missing; serve needs base_url, account_id, consumer_key,"
         " consumer_secret, token_id, token_secret (each may come from PEPPASYNC_NETSUITE_<KEY> instead)"),
        (f"  {path}: wms: section [wms] is missing; serve needs base_url, api_key, api_secret, webhook_token,"
         " inventory_api_key (each may come from PEPPASYNC_WMS_<KEY> instead)"),
    ]


@pytest.mark.parametrize(
    ("section", "key"), [(s, k) for s, keys in REQUIRED.items() for k in keys], ids=lambda v: str(v)
)
def test_a_missing_required_key_is_named_with_what_is_expected_and_its_variable(section, key):
    raw = _complete()
    del raw[section][key]

    with pytest.raises(ConfigError) as caught:
        parse_config(raw, source="p.toml", environ={}, complete=True)

    var = f"PEPPASYNC_{section.upper()}_{key.upper()}"
    assert [str(p) for p in caught.value.problems] == [
        f"p.toml: {section}.{key}: is missing; expected {REQUIRED[section][key]}; set it here or in {var}"
    ]


def test_a_complete_configuration_parses_and_an_incomplete_one_parses_only_when_not_asked_to_be_complete():
    complete = parse_config(_complete(), environ={}, complete=True)
    partial = parse_config({"server": {"listen": "127.0.0.1:8470"}}, environ={})

    assert complete.wms.base_url == "https://wms.example"
    assert (partial.shopify.shop_url, partial.netsuite.base_url, partial.wms.base_url) == ("", "", "")
    assert partial.shopify.access_token == partial.netsuite.token_id == partial.wms.api_key == ""


def test_environment_variables_can_give_a_whole_section_the_file_lacks():
    raw = _complete()
    wms = raw.pop("wms")
    environ = {f"PEPPASYNC_WMS_{key.upper()}": str(value) for key, value in wms.items()}

    config = parse_config(raw, environ=environ, complete=True)

    assert config.wms.api_key == "x"


def test_a_required_key_set_to_an_empty_variable_names_the_variable():
    with pytest.raises(ConfigError) as caught:
        parse_config(_complete(), environ={"PEPPASYNC_WMS_API_KEY": " "}, complete=True)

    assert [str(p) for p in caught.value.problems] == [
        "environment PEPPASYNC_WMS_API_KEY: wms.api_key: is empty; expected the ShipStation API key"
    ]


def test_missing_keys_are_reported_together_with_every_other_problem(tmp_path):
    path = tmp_path / "mixed.toml"
    path.write_text('[engine]\nmax_attempts = "five"\n[wms]\nbase_url = "https://wms.example"\n')

    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={}, complete=True)

    keys = [p.key for p in caught.value.problems]
    assert keys == ["engine.max_attempts", "shopify", "netsuite", "wms.api_key", "wms.api_secret", "wms.webhook_token",
                    "wms.inventory_api_key"]


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


def test_a_service_url_that_is_given_must_be_an_http_url():
    raw = _complete()
    raw["shopify"]["shop_url"] = "shop.myshopify.com"

    with pytest.raises(ConfigError) as caught:
        parse_config(raw, environ={}, complete=True)

    assert "shopify.shop_url: expected an http(s) URL, got 'shop.myshopify.com'" in str(caught.value)


def test_a_hold_reason_shopify_does_not_have_is_refused_naming_shopifys_reasons():
    with pytest.raises(ConfigError) as caught:
        parse_config({"shopify": {"ship_despite_holds": ["FRAUD"], "hold_recheck_seconds": 0}}, environ={})

    assert [str(p) for p in caught.value.problems] == [
        "<defaults>: shopify.ship_despite_holds: unknown hold reason 'FRAUD'; Shopify's reasons: AWAITING_PAYMENT, "
        "AWAITING_RETURN_ITEMS, HIGH_RISK_OF_FRAUD, INCORRECT_ADDRESS, INVENTORY_OUT_OF_STOCK, "
        "ONLINE_STORE_POST_PURCHASE_CROSS_SELL, OTHER, UNKNOWN_DELIVERY_DATE",
        "<defaults>: shopify.hold_recheck_seconds: expected a positive number of seconds",
    ]


def test_the_hold_reasons_the_configuration_accepts_are_shopifys_own():
    reasons = shopify_admin_schema().get_type("FulfillmentHoldReason")

    assert set(FULFILLMENT_HOLD_REASONS) == set(reasons.values)

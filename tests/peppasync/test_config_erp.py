"""``[erp] kind`` chooses the ERP; only that ERP's section is required, and a kind we do not speak is named."""

from __future__ import annotations

import pytest

from peppasync.config import ERP_REQUIRED, REQUIRED, parse_config
from peppasync.errors import ConfigError


def _complete(kind: str) -> dict[str, dict[str, object]]:
    raw: dict[str, dict[str, object]] = {"erp": {"kind": kind}}
    sections = {s: keys for s, keys in REQUIRED.items() if s != "netsuite"} | dict(ERP_REQUIRED[kind])
    for section, keys in sections.items():
        raw[section] = {key: f"https://{section}.example" if key.endswith("_url") else "x" for key in keys}
    return raw


def test_with_business_central_chosen_its_section_is_required_and_netsuites_is_not() -> None:
    config = parse_config(_complete("business_central"), environ={}, complete=True)

    assert config.erp.kind == "business_central"
    assert config.business_central.tenant == "x"
    assert config.netsuite.token_id == ""


def test_a_missing_business_central_key_is_named_with_what_is_expected_and_its_variable() -> None:
    raw = _complete("business_central")
    del raw["business_central"]["client_secret"]

    with pytest.raises(ConfigError) as caught:
        parse_config(raw, source="p.toml", environ={}, complete=True)

    assert [str(p) for p in caught.value.problems] == [
        "p.toml: business_central.client_secret: is missing; expected the app registration's client secret; "
        "set it here or in PEPPASYNC_BUSINESS_CENTRAL_CLIENT_SECRET"]


def test_the_kind_can_come_from_the_environment() -> None:
    raw = _complete("business_central")
    del raw["erp"]

    config = parse_config(raw, environ={"PEPPASYNC_ERP_KIND": "business_central"}, complete=True)

    assert config.erp.kind == "business_central"


def test_an_erp_we_do_not_speak_is_refused_naming_the_ones_we_do() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"erp": {"kind": "sap"}}, source="p.toml", environ={})

    assert [str(p) for p in caught.value.problems] == [
        "p.toml: erp.kind: expected one of netsuite, business_central, got 'sap'"]

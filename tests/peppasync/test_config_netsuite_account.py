"""The [netsuite] keys that name the account's own records: guest customer, subsidiary, currencies."""

from __future__ import annotations

import pytest

from peppasync.config import parse_config
from peppasync.errors import ConfigError


def test_the_account_records_are_optional_and_read_from_the_file_or_the_environment() -> None:
    config = parse_config({"netsuite": {"guest_customer": "1234", "currencies": {"USD": 1, "EUR": 4}}},
                          environ={"PEPPASYNC_NETSUITE_SUBSIDIARY": "3"})

    assert parse_config({}, environ={}).netsuite.guest_customer == ""
    assert (config.netsuite.guest_customer, config.netsuite.subsidiary) == ("1234", "3")
    assert dict(config.netsuite.currencies) == {"USD": 1, "EUR": 4}


def test_a_name_where_an_internal_id_goes_or_a_currency_that_is_not_iso_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"netsuite": {"guest_customer": "Web Guest", "subsidiary": "Parent Co",
                                   "currencies": {"usd": 1, "EUR": 0}}}, environ={})

    assert sorted(p.key for p in caught.value.problems) == [
        "netsuite.currencies", "netsuite.currencies", "netsuite.guest_customer", "netsuite.subsidiary"]
    assert "internal id" in str(caught.value) and "ISO 4217" in str(caught.value)

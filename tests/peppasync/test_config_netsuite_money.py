"""The [netsuite] keys that say how an order's money is booked: shipping, discounts, tax, currency, refunds."""

from __future__ import annotations

import pytest

from peppasync.config import parse_config
from peppasync.errors import ConfigError

from actors.adapters import NetsuiteRules


def test_by_default_an_order_is_booked_net_with_netsuites_tax_in_the_shops_currency_with_deposits() -> None:
    rules = NetsuiteRules.from_config(parse_config({}, environ={}).netsuite)

    assert (rules.shipping, rules.discounts, rules.tax, rules.currency, rules.deposits, rules.refunds) == (
        "ship_method", "net", "erp", "shop", True, "credit_memo")


def test_each_choice_and_its_record_are_read_from_the_file_or_the_environment() -> None:
    config = parse_config({"netsuite": {"discounts": "item", "discount_item": "7003", "tax": "lines",
                                        "tax_code": "9001", "ship_methods": {"Standard": 8001}}},
                          environ={"PEPPASYNC_NETSUITE_REFUNDS": "cash_refund",
                                   "PEPPASYNC_NETSUITE_DEPOSITS": "false"})

    rules = NetsuiteRules.from_config(config.netsuite)

    assert (rules.discounts, rules.discount_item, rules.tax, rules.tax_code, dict(rules.ship_methods),
            rules.refunds, rules.deposits) == ("item", "7003", "lines", "9001", {"Standard": 8001},
                                               "cash_refund", False)


def test_an_unknown_choice_is_refused_with_the_choices_there_are() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"netsuite": {"tax": "avalara", "book_currency": "EUR"}}, environ={})

    assert sorted(p.key for p in caught.value.problems) == ["netsuite.book_currency", "netsuite.tax"]
    assert "expected one of 'erp', 'lines', got 'avalara'" in str(caught.value)


def test_a_choice_that_needs_a_record_without_its_id_names_the_key_to_set() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"netsuite": {"shipping": "item", "discounts": "item", "tax": "lines",
                                   "refund_item": "Refunds"}}, environ={})

    assert sorted(p.key for p in caught.value.problems) == [
        "netsuite.discount_item", "netsuite.refund_item", "netsuite.shipping_item", "netsuite.tax_code"]
    assert "[netsuite] shipping = 'item' needs it" in str(caught.value)


def test_a_ship_method_that_is_not_an_internal_id_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"netsuite": {"ship_methods": {"Standard": "UPS Ground"}}}, environ={})

    assert [p.key for p in caught.value.problems] == ["netsuite.ship_methods"]

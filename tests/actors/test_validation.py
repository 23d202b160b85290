import copy

import pytest

from peppasync.errors import ValidationError

from actors.validation import normalise_order

GOOD = {
    "id": 5001,
    "name": "#5001",
    "email": "ana@example.com",
    "currency": "USD",
    "created_at": "2026-11-27T00:01:00Z",
    "updated_at": "2026-11-27T00:01:00Z",
    "subtotal_price": "30.00",
    "total_discounts": "0.00",
    "total_tax": "2.40",
    "total_price": "37.40",
    "shipping_lines": [{"price": "5.00"}],
    "customer": {"id": 77, "email": "ana@example.com", "first_name": "Ana"},
    "shipping_address": {"address1": "1 Main St", "city": "Springfield", "zip": "12345", "country_code": "US"},
    "line_items": [
        {"id": 1, "sku": "SKU-1", "title": "Mug", "quantity": 2, "price": "10.00", "requires_shipping": True},
        {"id": 2, "sku": "SKU-2", "title": "Cap", "quantity": 1, "price": "10.00", "requires_shipping": True},
    ],
}


def order(**changes):
    body = copy.deepcopy(GOOD)
    body.update(changes)
    return body


def test_a_clean_order_is_normalised_with_exact_amounts():
    result = normalise_order(order())

    assert result["id"] == "5001"
    assert [line["sku"] for line in result["lines"]] == ["SKU-1", "SKU-2"]
    assert result["total"] == "37.40"
    assert result["customer_id"] == "77"


def test_a_line_without_a_sku_is_refused_with_its_title():
    body = order()
    body["line_items"][1]["sku"] = ""

    with pytest.raises(ValidationError, match=r"line 2 \(Cap\) has no SKU"):
        normalise_order(body)


def test_a_gift_card_needs_neither_sku_nor_shipping_address():
    body = order(
        shipping_address=None,
        shipping_lines=[],
        line_items=[{"sku": "", "title": "Gift card", "quantity": 1, "price": "50.00", "gift_card": True, "requires_shipping": False}],
        subtotal_price="50.00",
        total_tax="0.00",
        total_price="50.00",
    )

    result = normalise_order(body)

    assert result["needs_shipping"] is False


def test_a_unicode_address_passes_through_untouched():
    address = {"address1": "Straße 5 — Hinterhaus", "city": "Zürich", "zip": "8001", "country_code": "CH", "name": "Zoë Ñúñez 山田"}

    result = normalise_order(order(shipping_address=address))

    assert result["shipping_address"]["name"] == "Zoë Ñúñez 山田"


def test_two_hundred_fifty_lines_are_accepted():
    lines = [{"sku": f"SKU-{n}", "title": "x", "quantity": 1, "price": "1.00"} for n in range(250)]

    result = normalise_order(order(line_items=lines, subtotal_price="250.00", total_tax="0", shipping_lines=[], total_price="250.00"))

    assert len(result["lines"]) == 250


def test_discounts_are_taken_off_the_subtotal():
    result = normalise_order(order(total_discounts="5.00", subtotal_price="25.00", total_price="32.40"))

    assert result["discounts"] == "5.00"


def test_a_missing_shipping_address_on_a_shippable_order_is_refused():
    with pytest.raises(ValidationError, match="needs shipping but has no shipping address"):
        normalise_order(order(shipping_address=None))


def test_totals_that_do_not_add_up_are_refused_with_the_arithmetic():
    with pytest.raises(ValidationError, match="total 99.00 does not add up"):
        normalise_order(order(total_price="99.00"))


def test_a_negative_quantity_is_refused():
    body = order()
    body["line_items"][0]["quantity"] = -2

    with pytest.raises(ValidationError, match="quantity -2"):
        normalise_order(body)


def test_an_unknown_sku_is_refused_when_a_catalogue_is_given():
    with pytest.raises(ValidationError, match="SKU 'SKU-2', which is not in the catalogue"):
        normalise_order(order(), known_sku=lambda sku: sku == "SKU-1")


def test_other_currencies_and_test_orders_are_kept_as_they_are():
    result = normalise_order(order(currency="eur", test=True))

    assert result["currency"] == "EUR"
    assert result["test"] is True


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(ValidationError, match="not a JSON object"):
        normalise_order(["not", "an", "order"])

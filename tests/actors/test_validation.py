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

    with pytest.raises(ValidationError, match=r"line 2 \(Cap\) has no SKU.*non_sku_item"):
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
    with pytest.raises(ValidationError, match="total 99.00 USD does not add up"):
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


def edited(**changes):
    """GOOD after an edit: line 1 (SKU-1) down from 2 to 1, line 2 removed, a new line of SKU-3 added."""
    body = order()
    body["line_items"][0]["current_quantity"] = 1
    body["line_items"][1]["current_quantity"] = 0
    body["line_items"].append({"id": 3, "sku": "SKU-3", "title": "Pen", "quantity": 3, "current_quantity": 3,
                               "price": "2.00", "requires_shipping": True})
    body.update(current_subtotal_price="16.00", current_total_tax="1.28", current_total_price="22.28",
                current_total_discounts="0.00")
    body.update(changes)
    return body


def test_an_edited_order_is_read_from_its_current_quantities_and_totals():
    result = normalise_order(edited())

    assert [(line["sku"], line["quantity"]) for line in result["lines"]] == [("SKU-1", 1), ("SKU-3", 3)]
    assert (result["subtotal"], result["tax"], result["total"]) == ("16.00", "1.28", "22.28")


def test_an_edit_that_raises_a_quantity_counts_the_added_units():
    body = order(current_subtotal_price="40.00", current_total_tax="3.20", current_total_price="48.20")
    body["line_items"][0].update(quantity=3, current_quantity=3)

    result = normalise_order(body)

    assert [(line["sku"], line["quantity"]) for line in result["lines"]] == [("SKU-1", 3), ("SKU-2", 1)]


def test_an_edited_order_whose_current_totals_were_not_updated_is_held_with_the_arithmetic():
    body = edited(current_total_price="37.40")

    with pytest.raises(ValidationError, match="total 37.40 USD does not add up: subtotal 16.00"):
        normalise_order(body)


def test_a_refunded_shipping_charge_is_taken_off_the_expected_total():
    body = order(current_total_price="32.40",
                 refunds=[{"id": 9, "order_adjustments": [{"kind": "shipping_refund", "amount": "-5.00"}]}])

    result = normalise_order(body)

    assert result["total"] == "32.40"


def test_an_order_with_every_line_removed_is_refused():
    body = order()
    for line in body["line_items"]:
        line["current_quantity"] = 0

    with pytest.raises(ValidationError, match="every line of the order has been removed or refunded"):
        normalise_order(body)


def test_a_yen_order_rounded_to_whole_yen_on_each_line_passes():
    lines = [{"id": n, "sku": f"SKU-{n}", "title": "x", "quantity": 1, "price": price, "requires_shipping": True}
             for n, price in enumerate(("1499", "2999", "999"), 1)]
    # 10% tax rounded per line: 149.9 -> 150, 299.9 -> 300, 99.9 -> 100; the order's tax is 550, not 549.7.
    body = order(currency="JPY", line_items=lines, subtotal_price="5497", total_tax="550",
                 shipping_lines=[{"price": "600"}], total_price="6647")

    result = normalise_order(body)

    assert (result["currency"], result["total"]) == ("JPY", "6647")


def test_a_yen_order_off_by_more_than_its_rounding_is_refused():
    lines = [{"id": 1, "sku": "SKU-1", "title": "x", "quantity": 1, "price": "1499", "requires_shipping": True}]
    body = order(currency="JPY", line_items=lines, subtotal_price="1499", total_tax="150",
                 shipping_lines=[{"price": "600"}], total_price="2259")

    with pytest.raises(ValidationError, match="total 2259 JPY does not add up"):
        normalise_order(body)


def test_a_line_without_a_sku_is_kept_for_the_erp_when_non_sku_lines_are_allowed():
    body = order()
    body["line_items"][1].update(sku=None, title="Engraving", requires_shipping=False)

    result = normalise_order(body, non_sku_lines=True)

    engraving = result["lines"][1]
    assert (engraving["non_sku"], engraving["title"], engraving["requires_shipping"]) == (True, "Engraving", False)
    assert result["needs_shipping"] is True


def test_a_shipped_variant_that_lost_its_sku_is_refused_even_when_non_sku_lines_are_allowed():
    body = order()
    body["line_items"][1].update(sku="", variant_id=4411)

    with pytest.raises(ValidationError, match="shipped product variant without a SKU"):
        normalise_order(body, non_sku_lines=True)


@pytest.mark.parametrize("field, value, expected", [
    ("price", "1e999999999", "line 1 price is not a finite amount"),
    ("price", "9" * 5000, "line 1 price is not an amount"),
    ("sku", {"not": "text"}, "line 1 has SKU"),
])
def test_a_line_field_of_the_wrong_kind_is_refused_with_a_clear_reason(field, value, expected):
    body = order()
    body["line_items"][0][field] = value

    with pytest.raises(ValidationError, match=expected):
        normalise_order(body)


@pytest.mark.parametrize("customer_id", [{"nested": 1}, 1.5, "12a", -3, True, "9" * 25])
def test_a_customer_id_that_is_not_a_shopify_id_is_refused(customer_id):
    with pytest.raises(ValidationError, match="is not a Shopify id"):
        normalise_order(order(customer={"id": customer_id}))


def test_the_billing_address_is_kept_for_the_warehouse():
    billing = {"name": "Ana Bill", "address1": "2 Pay St", "city": "Springfield", "zip": "12345", "country_code": "US"}

    result = normalise_order(order(billing_address=billing))

    assert result["billing_address"] == billing


def test_a_shipping_address_with_a_country_name_but_no_iso_code_is_refused_before_anyone_is_called():
    address = {"address1": "1 Main St", "city": "Springfield", "zip": "12345", "country": "United States"}

    with pytest.raises(ValidationError, match="no two-letter country code"):
        normalise_order(order(shipping_address=address))

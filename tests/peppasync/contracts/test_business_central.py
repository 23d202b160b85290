"""The Business Central contract file itself: valid JSON Schema, every fact sourced on learn.microsoft.com."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from peppasync.contracts import check, contract_names

DOCUMENT: dict[str, Any] = json.loads(
    resources.files("peppasync.contracts").joinpath("business_central.json").read_text())
SOURCE = "https://learn.microsoft.com/"


def _unsourced(schema: Any, where: str) -> Iterator[str]:
    if not isinstance(schema, dict):
        return
    if not str(schema.get("x-source", "")).startswith(SOURCE):
        yield where
    for key, sub in schema.get("properties", {}).items():
        yield from _unsourced(sub, f"{where}.{key}")
    items = schema.get("items")
    if isinstance(items, dict) and "$ref" not in items:
        yield from _unsourced(items, f"{where}[]")


def test_every_body_property_and_fact_of_the_business_central_contract_names_a_microsoft_learn_page() -> None:
    unsourced = [place for name, schema in DOCUMENT["$defs"].items() for place in _unsourced(schema, name)]
    unsourced += [f"x-facts.{name}" for name, fact in DOCUMENT["x-facts"].items()
                  if not str(fact.get("x-source", "")).startswith(SOURCE)]

    assert unsourced == []


def test_what_could_not_be_confirmed_is_marked_as_such() -> None:
    unconfirmed = {name for name, schema in DOCUMENT["$defs"].items() if "x-unconfirmed" in schema}
    unconfirmed |= {f"x-facts.{name}" for name, fact in DOCUMENT["x-facts"].items() if "x-unconfirmed" in fact}

    assert unconfirmed == {"SalesOrderCreate", "SalesOrderLineCreate", "CustomerCreate", "x-facts.retry_after",
                           "x-facts.cancel", "x-facts.duplicate_key"}


def test_the_contract_defines_the_bodies_peppasync_sends_and_reads() -> None:
    assert {"TokenRequest", "TokenResponse", "SalesOrderCreate", "SalesOrderLineCreate", "SalesOrderLineUpdate",
            "CustomerCreate", "CustomerUpdate", "SalesOrder", "SalesOrderLine", "Customer", "Item", "Collection",
            "ErrorBody"} <= set(contract_names("business_central"))


def test_the_odata_error_body_keeps_the_contract_and_a_bare_message_does_not() -> None:
    example = {"error": {"code": "Internal_EntityWithSameKeyExists",
                         "message": "The record in table Sales Header already exists."}}

    assert check("business_central", "ErrorBody", example) == []
    assert [p.path for p in check("business_central", "ErrorBody", {"message": "Bad Request"})] == [""]


def test_the_docs_own_line_example_keeps_the_line_contract_once_its_ids_are_left_to_the_number() -> None:
    line = {"lineType": "Item", "lineObjectNumber": "1996-S", "description": "ATLANTA Whiteboard, base",
            "quantity": 12, "unitPrice": 1397.3, "discountAmount": 0}

    assert check("business_central", "SalesOrderLineCreate", line) == []

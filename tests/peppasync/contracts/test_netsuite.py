"""The NetSuite contract file itself: valid JSON Schema, and every fact it states has a source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from peppasync.contracts import check, contract_names

DOCUMENT: dict[str, Any] = json.loads(resources.files("peppasync.contracts").joinpath("netsuite.json").read_text())
SOURCES = ("https://docs.oracle.com/en/cloud/saas/netsuite/", "https://system.netsuite.com/help/helpcenter/")


def _unsourced(schema: Any, where: str) -> Iterator[str]:
    """Places in a schema that state a fact (a property, a body, a branch) without an x-source."""
    if not isinstance(schema, dict):
        return
    if not str(schema.get("x-source", "")).startswith(SOURCES):
        yield where
    for key, sub in schema.get("properties", {}).items():
        yield from _unsourced(sub, f"{where}.{key}")
    for branch in ("then", "else"):
        if branch in schema:
            yield from _unsourced(schema[branch], f"{where}:{branch}")
    for n, sub in enumerate(schema.get("oneOf", [])):
        if "enum" in sub or "properties" in sub:
            yield from _unsourced(sub, f"{where}:oneOf[{n}]")
    items = schema.get("items")
    if isinstance(items, dict) and "$ref" not in items:
        yield from _unsourced(items, f"{where}[]")


def test_every_body_property_and_rule_of_the_netsuite_contract_names_an_oracle_page() -> None:
    unsourced = [place for name, schema in DOCUMENT["$defs"].items() for place in _unsourced(schema, name)]

    assert unsourced == []


def test_the_netsuite_contract_defines_the_bodies_peppasync_sends_and_reads() -> None:
    assert {"SalesOrderUpsert", "SalesOrderCancel", "CustomerUpsert", "InventoryItem", "ErrorBody"} <= set(
        contract_names("netsuite"))


def test_the_docs_own_error_example_keeps_the_error_body_contract_and_a_bare_message_does_not() -> None:
    example = {"type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1", "title": "Bad Request",
               "status": 400, "o:errorDetails": [{
                   "detail": "Error while accessing resource: You have entered an Invalid Field Value 9999 for the "
                             "following field: item",
                   "o:errorCode": "INVALID_CONTENT", "o:errorPath": "item.items[0].item"}]}

    assert check("netsuite", "ErrorBody", example) == []
    assert [p.path for p in check("netsuite", "ErrorBody", {"status": 400, "message": "Bad Request"})] == [""]

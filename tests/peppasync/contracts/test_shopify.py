"""The shipped Shopify schema: where it comes from, that it is Shopify's 2026-10, and how a refusal reads."""

from __future__ import annotations

import fnmatch
import gzip
import json
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLInputObjectType,
    build_client_schema,
    build_schema,
    introspection_from_schema,
    validate_schema,
)
from setuptools.config.setupcfg import read_configuration

from peppasync.config import ShopifyConfig
from peppasync.contracts import (
    SHOPIFY_API_VERSION,
    shopify_admin_schema,
    shopify_request_errors,
    shopify_schema_source,
)
from peppasync.contracts.shopify import derive_admin_schema, schema_file_name

ROOT = Path(__file__).resolve().parents[3]

SET_QUANTITIES = """
mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) { userErrors { code } }
}
"""


def _quantity(**changes: Any) -> dict[str, Any]:
    row = {"inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/1",
           "quantity": 5, "changeFromQuantity": None}
    return {**row, **changes}


def test_the_shipped_schema_names_its_source_and_its_one_adjustment() -> None:
    source = shopify_schema_source()

    assert SHOPIFY_API_VERSION == "2026-10"
    assert source["package"] == "@shopify/dev-mcp@1.16.0 (npm, ISC licence)"
    assert source["file"] == "dist/data/admin_2026-10.json.gz"
    assert len(source["file_sha256"]) == 64
    assert source["tarball_integrity"].startswith("sha512-")
    assert "ChannelDefinition.id" in source["adjustment"]
    assert source["regenerate"].startswith("scripts/refresh_shopify_schema.py --version 2026-10")


def test_the_shipped_schema_is_shopifys_2026_10_admin_api() -> None:
    schema = shopify_admin_schema()

    quantity = schema.get_type("InventoryQuantityInput")
    set_input = schema.get_type("InventorySetQuantitiesInput")
    idempotent = schema.get_directive("idempotent")
    assert isinstance(quantity, GraphQLInputObjectType) and isinstance(set_input, GraphQLInputObjectType)
    assert schema.query_type is not None and schema.query_type.name == "QueryRoot"
    # 2026-04 made changeFromQuantity the compare-and-swap and removed the old fields.
    assert set(quantity.fields) == {"changeFromQuantity", "inventoryItemId", "locationId", "quantity"}
    assert "ignoreCompareQuantity" not in set_input.fields
    assert idempotent is not None and str(idempotent.args["key"].type) == "String!"


def test_the_shipped_schema_passes_graphql_cores_schema_validation() -> None:
    raw = resources.files("peppasync.contracts").joinpath(schema_file_name(SHOPIFY_API_VERSION)).read_bytes()

    schema = build_client_schema(json.loads(gzip.decompress(raw))["data"])

    assert validate_schema(schema) == []


def test_deriving_clears_only_a_deprecation_that_contradicts_its_interface_and_drops_descriptions() -> None:
    sdl = '''
        interface Node { id: ID! }
        "A thing."
        type Thing implements Node { id: ID! @deprecated(reason: "use key") old: String @deprecated key: String }
        type QueryRoot { thing: Thing }
        schema { query: QueryRoot }
    '''
    published = {"data": introspection_from_schema(build_schema(sdl, assume_valid=True))}

    data, adjusted = derive_admin_schema(published)

    fields = {f["name"]: f for t in data["__schema"]["types"] if t["name"] == "Thing" for f in t["fields"]}
    assert adjusted == ["Thing.id"]
    assert (fields["id"]["isDeprecated"], fields["old"]["isDeprecated"]) == (False, True)
    assert all(t["description"] is None for t in data["__schema"]["types"])
    assert validate_schema(build_client_schema(data)) == []  # type: ignore[arg-type]
    assert published["data"]["__schema"] != data["__schema"]  # the caller's copy is left as it was


def test_nothing_reads_the_schema_when_the_packages_are_imported() -> None:
    code = ("import gzip\n"
            "def refuse(*a, **k): raise SystemExit('the schema was read at import time')\n"
            "gzip.decompress = refuse\n"
            "import peppasync.contracts, peppasync.sandbox, actors.connectors, peppasync.config\n")

    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr


def test_every_configuration_names_the_api_version_whose_schema_ships() -> None:
    files = [ROOT / "peppasync.example.toml", ROOT / "deploy" / "systemd" / "peppasync.toml"]

    pinned = {ShopifyConfig().api_version, *(tomllib.loads(f.read_text())["shopify"]["api_version"] for f in files)}

    assert pinned == {SHOPIFY_API_VERSION}


def test_the_schema_file_is_package_data_so_a_built_wheel_carries_it() -> None:
    patterns = read_configuration(ROOT / "setup.cfg")["options"]["package_data"]["peppasync.contracts"]

    assert any(fnmatch.fnmatch(schema_file_name(SHOPIFY_API_VERSION), p) for p in patterns)


# -- how Shopify refuses ------------------------------------------------------------------------

def test_an_unknown_field_is_refused_in_shopifys_words_and_shape() -> None:
    errors = shopify_request_errors("{\n  nope { id }\n}")

    # As Shopify answered for an unknown root field: https://github.com/MONEI/Shopify-api-node/issues/519
    assert errors == [{
        "message": "Field 'nope' doesn't exist on type 'QueryRoot'",
        "locations": [{"line": 2, "column": 3}],
        "path": ["query", "nope"],
        "extensions": {"code": "undefinedField", "typeName": "QueryRoot", "fieldName": "nope"},
    }]


def test_a_missing_required_variable_is_refused_as_invalid_variable() -> None:
    errors = shopify_request_errors(SET_QUANTITIES, {"input": {"name": "available", "reason": "correction",
                                                               "quantities": [_quantity()]}})

    assert errors == [{
        "message": "Variable $key of type String! was provided invalid value",
        "locations": [{"line": 2, "column": 52}],
        "extensions": {"code": "INVALID_VARIABLE", "value": None,
                       "problems": [{"path": [], "explanation": "Expected value to not be null"}]},
    }]


def test_each_wrong_part_of_a_variable_is_named_with_its_path() -> None:
    value = {"name": "available", "reason": "correction",
             "quantities": [_quantity(quantity="five"), _quantity(compareQuantity=3), {"quantity": 1}]}

    errors = shopify_request_errors(SET_QUANTITIES, {"input": value, "key": "k-1"})

    assert len(errors) == 1
    assert errors[0]["extensions"]["code"] == "INVALID_VARIABLE"
    assert errors[0]["extensions"]["problems"] == [
        {"path": ["quantities", 0, "quantity"], "explanation": 'Could not coerce value "five" to Int'},
        {"path": ["quantities", 1, "compareQuantity"], "explanation": "Field is not defined on InventoryQuantityInput"},
        {"path": ["quantities", 2, "inventoryItemId"], "explanation": "Expected value to not be null"},
        {"path": ["quantities", 2, "locationId"], "explanation": "Expected value to not be null"},
    ]
    assert errors[0]["message"].startswith(
        "Variable $input of type InventorySetQuantitiesInput! was provided invalid value for "
        'quantities.0.quantity (Could not coerce value "five" to Int), quantities.1.compareQuantity (')


@pytest.mark.parametrize(("document", "code", "message"), [
    ('{ order(id: "gid://shopify/Order/1") { id fulfillmentOrders(first: 1, colour: "red") { nodes { id } } } }',
     "argumentNotAccepted", "Field 'fulfillmentOrders' doesn't accept argument 'colour'"),
    ("{ order { id } }", "missingRequiredArguments", "Field 'order' is missing required arguments: id"),
    ('{ order(id: "gid://shopify/Order/1") { lineItems } }', "selectionMismatch",
     "Field must have selections (field 'lineItems' returns LineItemConnection but has no selections. "
     "Did you mean 'lineItems { ... }'?)"),
    ('{ order(id: "gid://shopify/Order/1") { name { first } } }', "selectionMismatch",
     "Selections can't be made on scalars (field 'name' returns String but has selections [\"first\"])"),
    ("query Recent { orders(first: 5, query: $q) { nodes { id } } }", "variableNotDefined",
     "Variable $q is used by Recent but not declared"),
    ("query Recent($n: Int) { orders(first: 5) { nodes { id } } }", "variableNotUsed",
     "Variable $n is declared by Recent but not used"),
    ("query Recent($n: String!) { orders(first: $n) { nodes { id } } }", "variableMismatch",
     "Type mismatch on variable $n and argument first (String! / Int)"),
    ('{ orders(first: "ten") { nodes { id } } }', "argumentLiteralsIncompatible",
     "Argument 'first' on Field 'orders' has an invalid value (\"ten\"). Expected type 'Int'."),
    ("{ shop { name @cached } }", "undefinedDirective", "Directive @cached is not defined"),
    ('mutation { inventorySetQuantities(input: {name: "available", reason: "correction", quantities: []}) '
     "@idempotent { userErrors { code } } }", "missingRequiredArguments",
     "Directive 'idempotent' is missing required arguments: key"),
])
def test_a_refused_document_carries_graphql_rubys_code_and_wording(document: str, code: str, message: str) -> None:
    errors = shopify_request_errors(document)

    assert [(e["extensions"]["code"], e["message"]) for e in errors] == [(code, message)]


def test_variables_are_not_checked_while_the_document_is_refused() -> None:
    errors = shopify_request_errors("query Q($id: ID!) { order(id: $id) { colour } }", {})

    assert [e["extensions"]["code"] for e in errors] == ["undefinedField"]

"""docs/contracts.md, rendered from the contract files so that the page and the checks cannot differ."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["VENDORS", "graphql_section", "render"]

# Vendor file -> the heading its table goes under.
VENDORS = {
    "shopify": "Shopify (webhook bodies; the GraphQL documents are checked against Shopify's own schema)",
    "netsuite": "NetSuite (SuiteTalk REST record API)",
    "business_central": "Microsoft Dynamics 365 Business Central (API v2.0)",
    "shipstation": "ShipStation (V1 orders, shipments and webhooks; V2 inventory)",
}

_HEAD = """# External contracts

Every field Peppasync sends to, or reads from, Shopify, NetSuite, Business Central and ShipStation, with the
vendor's page that states it. The tables are rendered from the contract files in `peppasync/contracts/`
(JSON Schema, one file per vendor): the connectors' tests check every body they build against those files,
and the sandbox refuses what they refuse, with the vendor's error shape. When the sandbox and a vendor's documentation
disagree, the documentation wins: change the contract file, then the code.

Regenerate this page with `.venv/bin/python scripts/contracts_doc.py` (a test fails while it is stale).
"""


def _load(vendor: str) -> dict[str, Any] | None:
    path = resources.files("peppasync.contracts").joinpath(f"{vendor}.json")
    if not path.is_file():
        return None
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def _kind(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return " \\| ".join("null" if v is None else f"`{v}`" for v in schema["enum"])
    kind = schema.get("type", "")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array" and isinstance(schema.get("items"), dict):
        kind = f"array of {_kind(schema['items'])}"
    if "oneOf" in schema:
        kind = " or ".join(_kind(s) for s in schema["oneOf"])
    return str(kind)


def _rows(name: str, schema: dict[str, Any], inherited: str) -> list[str]:
    source = schema.get("x-source", inherited)
    required = set(schema.get("required", ()))
    rows = []
    for field, sub in schema.get("properties", {}).items():
        sub = sub if isinstance(sub, dict) else {}
        rows.append(f"| {name} | `{field}` | {'yes' if field in required else ''} | {_kind(sub)} | "
                    f"{sub.get('x-source', source)} |")
    return rows


def graphql_section(documents: dict[str, str]) -> str:
    """A table of the GraphQL operations sent to Shopify: name, root fields, and their reference pages.

    ``documents`` maps where a document is defined to its text; the caller passes the connector's
    (this layer does not import the actors).
    """
    from graphql import OperationDefinitionNode, parse

    from .shopify import SHOPIFY_API_VERSION

    rows = []
    for where, text in documents.items():
        for definition in parse(text).definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            kind = definition.operation.value
            folder = "mutations" if kind == "mutation" else "queries"
            fields = sorted({s.name.value for s in definition.selection_set.selections
                             if hasattr(s, "name")})
            pages = ", ".join(f"https://shopify.dev/docs/api/admin-graphql/{SHOPIFY_API_VERSION}/{folder}/{f}"
                              for f in fields)
            name = definition.name.value if definition.name else "(anonymous)"
            rows.append(f"| {name} | {kind} | {', '.join(f'`{f}`' for f in fields)} | `{where}` | {pages} |")
    return (f"\n## Shopify Admin GraphQL {SHOPIFY_API_VERSION}: the operations sent\n\n"
            "Each is validated, with the variables actually sent, against Shopify's own schema of this version "
            "(`peppasync/contracts/shopify_admin_*.json.gz`), in the tests and by the sandbox.\n\n"
            "| operation | kind | root fields | defined in | source |\n|---|---|---|---|---|\n"
            + "\n".join(rows) + "\n")


def render(extra: str = "") -> str:
    """The whole page; ``extra`` (e.g. ``graphql_section(...)``) goes after the introduction."""
    parts = [_HEAD + extra]
    for vendor, title in VENDORS.items():
        document = _load(vendor)
        if document is None:
            continue
        parts.append(f"\n## {title}\n")
        parts.append("| body | field | required | type | source |\n|---|---|---|---|---|")
        for name, schema in document.get("$defs", {}).items():
            endpoint = schema.get("x-endpoint")
            label = f"{name} ({endpoint})" if endpoint else name
            parts.extend(_rows(label, schema, schema.get("x-source", "")))
    return "\n".join(parts) + "\n"

"""Shopify's Admin GraphQL API as Shopify publishes it, for the version Peppasync pins.

The schema is Shopify's own introspection of the Admin API, taken from the npm package
``@shopify/dev-mcp`` (ISC licence; Shopify's MCP server ships it as
``dist/data/admin_<version>.json.gz``) and stored here as ``shopify_admin_<version>.json.gz``
with its descriptions removed and one adjustment (see ``derive_admin_schema``). The file's
``_source`` header names the package, the file and its checksums; ``scripts/refresh_shopify_schema.py``
regenerates it for another version.

It is kept as introspection JSON rather than SDL because graphql-core builds a schema from it in
about 0.3 s, against 2.6 s to parse the same schema printed as SDL. Nothing is read at import
time: the first call to ``shopify_admin_schema()`` loads it, later calls reuse it.
"""

from __future__ import annotations

import copy
import functools
import gzip
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, build_client_schema, parse

from .shopify_errors import document_errors
from .shopify_variables import variable_errors

__all__ = [
    "SHOPIFY_API_VERSION",
    "derive_admin_schema",
    "schema_file_name",
    "shopify_admin_schema",
    "shopify_document_errors",
    "shopify_request_errors",
    "shopify_schema_source",
    "shopify_variable_errors",
]

# The latest stable version the package ships; Shopify supports a stable version for at least
# twelve months after its release (https://shopify.dev/docs/api/usage/versioning). 2026-04 and
# later make `changeFromQuantity` mandatory per quantity and `@idempotent` mandatory on
# `inventorySetQuantities`, which is what the connector sends
# (https://shopify.dev/changelog/finalizing-compare-and-swap-redesign-for-inventory-set-quantities,
# https://shopify.dev/changelog/making-idempotency-mandatory-for-inventory-adjustments-and-refund-mutations).
SHOPIFY_API_VERSION = "2026-10"


def schema_file_name(version: str) -> str:
    """The package-data file that holds the schema of ``version``."""
    return f"shopify_admin_{version}.json.gz"


@functools.cache
def _load() -> tuple[dict[str, Any], GraphQLSchema]:
    raw = resources.files(__package__).joinpath(schema_file_name(SHOPIFY_API_VERSION)).read_bytes()
    payload = json.loads(gzip.decompress(raw))
    # The file was checked with graphql-core's schema validation when it was derived (and a test
    # checks it again); skipping that here saves half a second on every start.
    return payload["_source"], build_client_schema(payload["data"], assume_valid=True)


def shopify_admin_schema() -> GraphQLSchema:
    """The Admin GraphQL schema of ``SHOPIFY_API_VERSION``, loaded on first use."""
    return _load()[1]


def shopify_schema_source() -> dict[str, Any]:
    """Where the shipped schema comes from: package, file, checksums and the adjustment made."""
    return dict(_load()[0])


def shopify_document_errors(document: DocumentNode) -> list[dict[str, Any]]:
    """What Shopify refuses in this document before running it, as Shopify words it; [] if nothing."""
    return document_errors(shopify_admin_schema(), document)


def shopify_variable_errors(document: DocumentNode, variables: Mapping[str, Any],
                            operation_name: str | None = None) -> list[dict[str, Any]]:
    """The variables Shopify refuses for the operation that would run (``INVALID_VARIABLE``); [] if none."""
    return variable_errors(shopify_admin_schema(), document, variables, operation_name)


def shopify_request_errors(query: str | DocumentNode, variables: Mapping[str, Any] | None = None,
                           operation_name: str | None = None) -> list[dict[str, Any]]:
    """Every reason Shopify would refuse this request before running it; [] when it would run.

    Shopify checks the document first and the variables only for a valid document.
    """
    if isinstance(query, str):
        try:
            query = parse(query)
        except GraphQLError as exc:
            return [dict(exc.formatted)]
    return shopify_document_errors(query) or shopify_variable_errors(query, variables or {}, operation_name)


def derive_admin_schema(published: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Shopify's published introspection, as Peppasync ships it.

    ``published`` is the package's JSON (``{"data": {"__schema": ...}}``). Descriptions are
    dropped (they are most of the file, and shopify.dev has them). One adjustment: a few object
    fields are deprecated although the interface field they implement is not (e.g.
    ``ChannelDefinition.id`` of ``Node.id``). graphql-core's schema validation, following
    graphql-js, refuses that, so the deprecation is cleared on those implementation fields; the
    fields themselves and their types are unchanged. Returns the ``__schema`` data and the
    ``Type.field`` names adjusted.
    """
    data: dict[str, Any] = _without_descriptions(copy.deepcopy(dict(published["data"])))
    types = {t["name"]: t for t in data["__schema"]["types"]}
    adjusted: list[str] = []
    for kind in data["__schema"]["types"]:
        for interface in kind.get("interfaces") or ():
            live = {f["name"] for f in types[interface["name"]].get("fields") or () if not f["isDeprecated"]}
            for field in kind.get("fields") or ():
                if field["isDeprecated"] and field["name"] in live:
                    field["isDeprecated"], field["deprecationReason"] = False, None
                    adjusted.append(f"{kind['name']}.{field['name']}")
    return data, sorted(set(adjusted))


def _without_descriptions(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (None if k == "description" else _without_descriptions(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_descriptions(v) for v in value]
    return value

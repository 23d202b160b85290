"""The vendors' own contracts, shipped as data: what their APIs accept, checked in tests and by the sandbox."""

from .shopify import (
    SHOPIFY_API_VERSION,
    shopify_admin_schema,
    shopify_document_errors,
    shopify_request_errors,
    shopify_schema_source,
    shopify_variable_errors,
)

__all__ = [
    "SHOPIFY_API_VERSION",
    "shopify_admin_schema",
    "shopify_document_errors",
    "shopify_request_errors",
    "shopify_schema_source",
    "shopify_variable_errors",
]

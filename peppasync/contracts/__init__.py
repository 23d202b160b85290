"""The vendors' contracts: what each external API requires, as data with a source URL per fact.

The connectors' tests check every body they build against these, and the sandbox
refuses what they refuse, so the product and its simulators cannot drift apart
from the vendors' documentation together. JSON bodies are JSON Schema files
(``check``); Shopify's GraphQL documents are checked against Shopify's own schema.
"""

from .shapes import ContractProblem, check, contract, contract_names
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
    "ContractProblem",
    "check",
    "contract",
    "contract_names",
    "shopify_admin_schema",
    "shopify_document_errors",
    "shopify_request_errors",
    "shopify_schema_source",
    "shopify_variable_errors",
]

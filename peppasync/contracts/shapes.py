"""JSON contracts: one JSON Schema file per vendor, a named definition per request or response body.

Each file (``<vendor>.json`` beside this module) holds its bodies under ``$defs``;
every property that states a fact carries ``x-source``, the vendor page it comes
from. Validation is JSON Schema 2020-12 (the ``jsonschema`` reference
implementation), so a contract reads the same way as the vendors' OpenAPI documents.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema

__all__ = ["ContractProblem", "check", "contract", "contract_names"]


@dataclass(frozen=True)
class ContractProblem:
    """One way a body breaks its contract: where, what, and the vendor's page that says so."""

    path: str
    message: str
    source: str

    def __str__(self) -> str:
        return f"{self.path or '(body)'}: {self.message}"


@functools.cache
def _document(vendor: str) -> dict[str, Any]:
    try:
        text = resources.files(__package__).joinpath(f"{vendor}.json").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyError(f"no contract file for vendor {vendor!r}") from None
    document: dict[str, Any] = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(document)
    return document


def contract_names(vendor: str) -> list[str]:
    """The bodies a vendor's contract defines."""
    return sorted(_document(vendor).get("$defs", {}))


@functools.cache
def contract(vendor: str, name: str) -> jsonschema.Draft202012Validator:
    """A validator for one body of one vendor (``contract("shipstation", "CreateOrderRequest")``)."""
    document = _document(vendor)
    if name not in document.get("$defs", {}):
        raise KeyError(f"the {vendor} contract has no body {name!r}; it has {', '.join(contract_names(vendor))}")
    uri = f"urn:peppasync:contract:{vendor}"
    registry: referencing.Registry[Any] = referencing.Registry().with_resource(
        uri, referencing.Resource.from_contents(document, default_specification=referencing.jsonschema.DRAFT202012))
    return jsonschema.Draft202012Validator({"$ref": f"{uri}#/$defs/{name}"}, registry=registry,
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _source(error: jsonschema.ValidationError) -> str:
    """The page behind the broken rule: the property's own source, else its object's."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = next((k for k in error.validator_value if k not in error.instance), None)
        prop = schema.get("properties", {}).get(missing, {})
        if isinstance(prop, dict) and "x-source" in prop:
            return str(prop["x-source"])
    return str(schema.get("x-source", ""))


def check(vendor: str, name: str, body: Any) -> list[ContractProblem]:
    """Every way ``body`` breaks the contract, most specific first; empty when it keeps it."""
    problems = []
    for error in sorted(contract(vendor, name).iter_errors(body), key=lambda e: list(map(str, e.path))):
        path = ".".join(str(p) for p in error.absolute_path)
        problems.append(ContractProblem(path, error.message, _source(error)))
    return problems

"""How Shopify words the variables it refuses: graphql-ruby's variable errors.

graphql-core's ``validate_input_value`` decides what is invalid; this module words each problem as
graphql-ruby does, which checks variables only once the document is valid
(``lib/graphql/query/validation_pipeline.rb``) and answers one error per variable:
"Variable $x of type T! was provided invalid value [for path (explanation), ...]", located at the
variable's definition, ``extensions`` ``{value, problems: [{path, explanation}]}``
(``lib/graphql/query/variable_validation_error.rb``; the explanations come from
``lib/graphql/schema/{non_null,input_object,scalar,enum}.rb``, https://github.com/rmosolgo/graphql-ruby).
A response of that shape from Shopify: https://github.com/carstenlebek/shopify-non-embedded-app-template/issues/22 .
Admin API responses also carry ``extensions.code`` ``INVALID_VARIABLE``, as quoted in public bug
reports; no shopify.dev page documents it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLInputType,
    GraphQLSchema,
    Node,
    OperationDefinitionNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_enum_type,
    is_input_object_type,
    is_input_type,
    is_list_type,
    is_non_null_type,
    is_required_input_field,
    type_from_ast,
)
from graphql.utilities import validate_input_value

__all__ = ["INVALID_VARIABLE", "variable_errors"]

INVALID_VARIABLE = "INVALID_VARIABLE"


def variable_errors(schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any],
                    operation_name: str | None = None) -> list[dict[str, Any]]:
    """The variables the operation that would run refuses; ``document`` must be valid."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        named = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        message = f'No operation named "{operation_name}"' if operation_name or len(named) < 2 \
            else "An operation name is required"
        return [{"message": message}]
    errors = []
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        type_ = type_from_ast(schema, definition.type)
        if type_ is None or not is_input_type(type_):
            continue  # the document's validation reports it
        if name in variables:
            value = variables[name]
        elif definition.default_value is not None:
            continue
        else:
            value = None
        problems = _problems(value, type_)
        if problems:
            located = [f"{'.'.join(str(p) for p in problem['path'])} ({problem['explanation']})"
                       for problem in problems if problem["path"]]
            message = f"Variable ${name} of type {type_} was provided invalid value"
            errors.append({
                "message": message + (f" for {', '.join(located)}" if located else ""),
                "locations": _locations([definition]),
                "extensions": {"code": INVALID_VARIABLE, "value": value, "problems": problems},
            })
    return errors


def _problems(value: Any, type_: GraphQLInputType) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def on_error(error: GraphQLError, path: list[str | int]) -> None:
        for problem in _explain(value, type_, list(path)):
            if problem not in found:
                found.append(problem)

    validate_input_value(value, type_, on_error)
    return found


def _explain(root: Any, root_type: GraphQLInputType, path: list[str | int]) -> list[dict[str, Any]]:
    """graphql-ruby's explanation of what is wrong at ``path`` (graphql-core found something there)."""
    type_: Any = root_type
    value: Any = root
    for key in path:
        type_ = _list_of_one(get_nullable_type(type_), value)
        if isinstance(key, int):
            type_, value = type_.of_type, value[key]
        else:
            type_, value = type_.fields[key].type, value.get(key)
    if is_non_null_type(type_) and value is None:
        return [_problem(path, "Expected value to not be null")]
    named = _list_of_one(get_nullable_type(type_), value)
    if is_input_object_type(named):
        if not isinstance(value, dict):
            return [_problem(path, f"Expected {_json(value)} to be a key-value object.")]
        unknown = [_problem([*path, k], f"Field is not defined on {named.name}")
                   for k in value if k not in named.fields]
        missing = [_problem([*path, name], "Expected value to not be null")
                   for name, field in named.fields.items() if is_required_input_field(field) and name not in value]
        return unknown + missing
    if is_enum_type(named):
        return [_problem(path, f"Expected {_json(value)} to be one of: {', '.join(named.values)}")]
    return [_problem(path, f"Could not coerce value {_json(value)} to {get_named_type(named).name}")]


def _list_of_one(type_: Any, value: Any) -> Any:
    # A list type accepts one item given without the list.
    while is_list_type(type_) and not isinstance(value, (list, tuple)):
        type_ = get_nullable_type(type_.of_type)
    return type_


def _problem(path: list[str | int], explanation: str) -> dict[str, Any]:
    return {"path": path, "explanation": explanation}


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _locations(nodes: list[Node]) -> list[dict[str, int]]:
    # GraphQLError works out line and column from the nodes' source positions.
    return [{"line": loc.line, "column": loc.column} for loc in GraphQLError("", nodes).locations or ()]

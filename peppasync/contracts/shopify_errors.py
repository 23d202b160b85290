"""How Shopify words a document it refuses before running it: graphql-ruby's validation errors.

graphql-core decides what is invalid (the GraphQL specification's rules); this module words each
problem the way the Admin API does. Shopify serves the Admin API with graphql-ruby and answers an
invalid request with HTTP 200 and ``errors`` only, each with ``message``, ``locations``, ``path``
and ``extensions.code``, for example::

    {"message": "Field 'files' doesn't exist on type 'QueryRoot'", "locations": [{"line": 2, "column": 7}],
     "path": ["query", "files"], "extensions": {"code": "undefinedField", "typeName": "QueryRoot",
                                                 "fieldName": "files"}}

Sources:

- that response: https://github.com/MONEI/Shopify-api-node/issues/519 ; the ``extensions.code``
  convention: https://shopify.dev/changelog/improved-graphql-errors
- codes, messages and extensions of graphql-ruby's static validation:
  https://github.com/rmosolgo/graphql-ruby/tree/master/lib/graphql/static_validation/rules
  (``*_error.rb``; the path: ``base_visitor.rb``)
- variables: ``shopify_variables``.

A problem graphql-ruby words in a way this module does not reproduce keeps graphql-core's message,
with graphql-ruby's code for its rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    ArgumentNode,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLDirective,
    GraphQLError,
    GraphQLField,
    GraphQLSchema,
    InlineFragmentNode,
    Node,
    ObjectFieldNode,
    OperationDefinitionNode,
    ValidationContext,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    is_enum_type,
    is_list_type,
    is_required_argument,
    print_ast,
    specified_rules,
    type_from_ast,
    validate,
)
from graphql.validation import ASTValidationContext, ASTValidationRule

__all__ = ["document_errors"]

# A rule graphql-ruby has no counterpart for (graphql-core's @defer/@stream checks, introspection depth).
_OTHER = "validationFailed"

# graphql-core rule -> graphql-ruby's code for the same check.
_CODES = {
    "ExecutableDefinitionsRule": "queryContainsSchemaDefinitions",
    "KnownOperationTypesRule": "missingMutationConfiguration",
    "UniqueOperationNamesRule": "uniquelyNamedOperations",
    "LoneAnonymousOperationRule": "uniquelyNamedOperations",
    "SingleFieldSubscriptionsRule": "notSingleSubscription",
    "KnownTypeNamesRule": "undefinedType",
    "FragmentsOnCompositeTypesRule": "fragmentOnNonCompositeType",
    "VariablesAreInputTypesRule": "variableRequiresValidType",
    "ScalarLeafsRule": "selectionMismatch",
    "FieldsOnCorrectTypeRule": "undefinedField",
    "UniqueFragmentNamesRule": "fragmentNotUnique",
    "KnownFragmentNamesRule": "useAndDefineFragment",
    "NoUnusedFragmentsRule": "useAndDefineFragment",
    "PossibleFragmentSpreadsRule": "cannotSpreadFragment",
    "NoFragmentCyclesRule": "infiniteLoop",
    "UniqueVariableNamesRule": "variableNotUnique",
    "NoUndefinedVariablesRule": "variableNotDefined",
    "NoUnusedVariablesRule": "variableNotUsed",
    "KnownDirectivesRule": "undefinedDirective",
    "UniqueDirectivesPerLocationRule": "directiveNotUniqueForLocation",
    "KnownArgumentNamesRule": "argumentNotAccepted",
    "UniqueArgumentNamesRule": "argumentNotUnique",
    "ValuesOfCorrectTypeRule": "argumentLiteralsIncompatible",
    "ProvidedRequiredArgumentsRule": "missingRequiredArguments",
    "VariablesInAllowedPositionRule": "variableMismatch",
    "OverlappingFieldsCanBeMergedRule": "fieldConflict",
    "UniqueInputFieldNamesRule": "inputFieldNotUnique",
}

Worded = tuple[str, dict[str, Any], list[Node]]


def document_errors(schema: GraphQLSchema, document: DocumentNode) -> list[dict[str, Any]]:
    """Every validation problem of ``document`` against ``schema``, as Shopify reports it."""
    return [dict(error.formatted) for error in validate(schema, document, _RULES)]


class _Trail:
    """Where the validation is in the document, as graphql-ruby's error ``path`` names it."""

    def __init__(self) -> None:
        self.entries: list[tuple[str | None, Node]] = []
        self.reported: set[tuple[str, int]] = set()

    def path(self) -> list[str]:
        return [segment for segment, _ in self.entries if segment is not None]

    def nearest(self, *kinds: type[Node]) -> Node | None:
        return next((node for _, node in reversed(self.entries) if isinstance(node, kinds)), None)


def _segment(node: Node) -> str | None:
    if isinstance(node, OperationDefinitionNode):
        return node.operation.value + (f" {node.name.value}" if node.name else "")
    if isinstance(node, FragmentDefinitionNode):
        return f"fragment {node.name.value}"
    if isinstance(node, InlineFragmentNode):
        return f"... on {node.type_condition.name.value}" if node.type_condition else "..."
    if isinstance(node, FieldNode):
        return (node.alias or node.name).value
    if isinstance(node, ArgumentNode):
        return node.name.value
    if isinstance(node, FragmentSpreadNode):
        return f"... {node.name.value}"
    return None


_TRACKED = (OperationDefinitionNode, FragmentDefinitionNode, InlineFragmentNode, FieldNode, ArgumentNode,
            FragmentSpreadNode, DirectiveNode)


def _trail(context: ASTValidationContext) -> _Trail:
    trail: _Trail | None = getattr(context, "_shopify_trail", None)
    if trail is None:
        trail = _Trail()
        context._shopify_trail = trail  # type: ignore[attr-defined]
    return trail


class _TrailIn(ASTValidationRule):
    """Runs first: a node is on the trail while every rule looks at it."""

    def enter(self, node: Node, *_args: Any) -> None:
        if isinstance(node, _TRACKED):
            _trail(self.context).entries.append((_segment(node), node))


class _TrailOut(ASTValidationRule):
    """Runs last: a node leaves the trail after every rule has left it."""

    def leave(self, node: Node, *_args: Any) -> None:
        if isinstance(node, _TRACKED):
            _trail(self.context).entries.pop()


class _RuleContext:
    """The shared validation context as one rule sees it: what the rule reports is worded by Shopify."""

    def __init__(self, shared: ValidationContext, code: str) -> None:
        self._shared = shared
        self._code = code

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shared, name)

    def report_error(self, error: GraphQLError) -> None:
        trail = _trail(self._shared)
        code, worded = _word(self._code, error, self._shared, trail)
        if worded is None:
            return  # graphql-ruby reports this problem once; graphql-core reported it before
        message, extensions, nodes = worded
        self._shared.report_error(GraphQLError(message, nodes or error.nodes, path=trail.path(),
                                               extensions={"code": code, **extensions}))


def _coded(rule: type[ASTValidationRule]) -> type[ASTValidationRule]:
    code = _CODES.get(rule.__name__, _OTHER)

    def __init__(self: ASTValidationRule, context: ValidationContext) -> None:
        rule.__init__(self, _RuleContext(context, code))  # type: ignore[arg-type]

    return type(rule.__name__, (rule,), {"__init__": __init__})


_RULES: tuple[type[ASTValidationRule], ...] = (_TrailIn, *(_coded(rule) for rule in specified_rules), _TrailOut)


def _word(code: str, error: GraphQLError, context: ValidationContext,
          trail: _Trail) -> tuple[str, Worded | None]:
    """Shopify's code and wording of ``error``; no wording when graphql-ruby reported it already."""
    nodes = list(error.nodes or ())
    node = nodes[0] if nodes else None
    if code == "missingMutationConfiguration" and isinstance(node, OperationDefinitionNode) \
            and node.operation.value == "subscription":
        return "missingSubscriptionConfiguration", (error.message, {}, nodes)
    if code == "undefinedDirective" and isinstance(node, DirectiveNode):
        if context.schema.get_directive(node.name.value) is not None:
            return "directiveCannotBeApplied", (error.message, {}, nodes)
        return code, (f"Directive @{node.name.value} is not defined", {"directiveName": node.name.value}, nodes)
    # graphql-core reports each missing argument, and each bad part of a literal; graphql-ruby once.
    once = {"missingRequiredArguments": node, "argumentLiteralsIncompatible": trail.nearest(ArgumentNode)}
    if once.get(code) is not None:
        key = (code, id(once[code]))
        if key in trail.reported:
            return code, None
        trail.reported.add(key)
    wording = _WORDINGS.get(code)
    return code, (wording(context, trail, node, nodes) if wording else None) or (error.message, {}, nodes)


def _undefined_field(context: ValidationContext, trail: _Trail, node: Node | None,
                     nodes: list[Node]) -> Worded | None:
    parent = context.get_parent_type()
    if not isinstance(node, FieldNode) or parent is None:
        return None
    field = node.name.value
    return (f"Field '{field}' doesn't exist on type '{parent.name}'",
            {"typeName": parent.name, "fieldName": field}, nodes)


def _selection_mismatch(context: ValidationContext, trail: _Trail, node: Node | None,
                        nodes: list[Node]) -> Worded | None:
    # graphql-core points at the unwanted selection set, graphql-ruby at the field.
    found, type_ = trail.nearest(FieldNode), context.get_type()
    if not isinstance(found, FieldNode) or type_ is None:
        return None
    named, field = get_named_type(type_), found.name.value
    extensions = {"nodeName": f"field '{field}'", "typeName": named.name}
    if found.selection_set is None:
        return (f"Field must have selections (field '{field}' returns {named.name} but has no selections. "
                f"Did you mean '{field} {{ ... }}'?)", extensions, [found])
    selected = ", ".join(_selected(s) for s in found.selection_set.selections)
    kind = "enum" if is_enum_type(named) else "scalar"
    return (f"Selections can't be made on {kind}s (field '{field}' returns {named.name} but has selections "
            f"[{selected}])", extensions, [found])


def _selected(selection: Node) -> str:
    if isinstance(selection, InlineFragmentNode):
        condition = selection.type_condition
        return f'"... on {condition.name.value} {{ ... }}"' if condition else '"... { ... }"'
    return f'"{selection.name.value}"' if isinstance(selection, (FieldNode, FragmentSpreadNode)) else '""'


def _argument_not_accepted(context: ValidationContext, trail: _Trail, node: Node | None,
                           nodes: list[Node]) -> Worded | None:
    owner = trail.nearest(FieldNode, DirectiveNode)
    if not isinstance(node, ArgumentNode) or not isinstance(owner, (FieldNode, DirectiveNode)):
        return None
    kind, name = _owner(owner)
    argument = node.name.value
    return (f"{kind} '{name}' doesn't accept argument '{argument}'",
            {"name": name, "typeName": kind, "argumentName": argument}, nodes)


def _owner(node: FieldNode | DirectiveNode) -> tuple[str, str]:
    if isinstance(node, FieldNode):
        return "Field", (node.alias or node.name).value
    return "Directive", node.name.value


def _missing_arguments(context: ValidationContext, trail: _Trail, node: Node | None,
                       nodes: list[Node]) -> Worded | None:
    definition: GraphQLField | GraphQLDirective | None
    if isinstance(node, FieldNode):
        kind, definition = "Field", context.get_field_def()
    elif isinstance(node, DirectiveNode):
        kind, definition = "Directive", context.schema.get_directive(node.name.value)
    else:
        return None
    if definition is None:
        return None
    given = {argument.name.value for argument in node.arguments or ()}
    missing = ", ".join(name for name, argument in definition.args.items()
                        if is_required_argument(argument) and name not in given)
    name = node.name.value
    return (f"{kind} '{name}' is missing required arguments: {missing}",
            {"className": kind, "name": name, "arguments": missing}, nodes)


def _literal_incompatible(context: ValidationContext, trail: _Trail, node: Node | None,
                          nodes: list[Node]) -> Worded | None:
    argument, owner, definition = trail.nearest(ArgumentNode), trail.nearest(FieldNode, DirectiveNode), \
        context.get_argument()
    if not isinstance(argument, ArgumentNode) or not isinstance(owner, (FieldNode, DirectiveNode)) \
            or definition is None:
        return None
    kind, name = _owner(owner)
    return (f"Argument '{argument.name.value}' on {kind} '{name}' has an invalid value "
            f"({print_ast(argument.value)}). Expected type '{definition.type}'.",
            {"typeName": kind, "argumentName": argument.name.value}, [owner])


def _operation_of(context: ValidationContext, node: Node) -> OperationDefinitionNode | None:
    for definition in context.document.definitions:
        if isinstance(definition, OperationDefinitionNode) and any(n is node for n in _walk(definition)):
            return definition
    return None


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for key in node.keys:
        child = getattr(node, key, None)
        for item in child if isinstance(child, (list, tuple)) else (child,):
            if isinstance(item, Node):
                yield from _walk(item)


def _operation_name(operation: OperationDefinitionNode | None) -> str:
    if operation is None or operation.name is None:
        return f"anonymous {operation.operation.value if operation else 'query'}"
    return operation.name.value


def _variable_not_defined(context: ValidationContext, trail: _Trail, node: Node | None,
                          nodes: list[Node]) -> Worded | None:
    if not isinstance(node, VariableNode):
        return None
    operation = next((n for n in nodes if isinstance(n, OperationDefinitionNode)), None)
    name = node.name.value
    return (f"Variable ${name} is used by {_operation_name(operation)} but not declared",
            {"variableName": name}, [node])


def _variable_not_used(context: ValidationContext, trail: _Trail, node: Node | None,
                       nodes: list[Node]) -> Worded | None:
    if not isinstance(node, VariableDefinitionNode):
        return None
    name = node.variable.name.value
    return (f"Variable ${name} is declared by {_operation_name(_operation_of(context, node))} but not used",
            {"variableName": name}, nodes)


def _variable_mismatch(context: ValidationContext, trail: _Trail, node: Node | None,
                       nodes: list[Node]) -> Worded | None:
    usage = next((n for n in nodes if isinstance(n, VariableNode)), None)
    if not isinstance(node, VariableDefinitionNode) or usage is None:
        return None
    operation = _operation_of(context, node)
    expected = next((u.type for u in context.get_recursive_variable_usages(operation) if u.node is usage), None) \
        if operation is not None else None
    argument = next((n for n in _walk(operation) if isinstance(n, (ArgumentNode, ObjectFieldNode))
                     and n.value is usage), None) if operation is not None else None
    declared = type_from_ast(context.schema, node.type)
    if expected is None or argument is None or declared is None:
        return None
    if get_named_type(declared) is not get_named_type(expected):
        kind = "Type mismatch"
    elif _depth(declared) != _depth(expected):
        kind = "List dimension mismatch"
    else:
        kind = "Nullability mismatch"
    name, argument_name = node.variable.name.value, argument.name.value
    return (f"{kind} on variable ${name} and argument {argument_name} ({declared} / {expected})",
            {"variableName": name, "typeName": str(declared), "argumentName": argument_name, "errorMessage": kind},
            [argument])


def _depth(type_: Any) -> int:
    depth = 0
    while hasattr(type_, "of_type"):
        depth += is_list_type(type_)
        type_ = type_.of_type
    return depth


_WORDINGS = {
    "undefinedField": _undefined_field,
    "selectionMismatch": _selection_mismatch,
    "argumentNotAccepted": _argument_not_accepted,
    "missingRequiredArguments": _missing_arguments,
    "argumentLiteralsIncompatible": _literal_incompatible,
    "variableNotDefined": _variable_not_defined,
    "variableNotUsed": _variable_not_used,
    "variableMismatch": _variable_mismatch,
}

"""The sandbox's Shopify schema is a part of Shopify's own 2026-10 schema, nothing else."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    is_required_argument,
    parse,
    print_type,
    validate,
)

from peppasync.contracts import shopify_admin_schema
from peppasync.sandbox.shopify_schema import SDL, build_shopify_schema


def _differences(sandbox: GraphQLSchema, shopify: GraphQLSchema) -> list[str]:
    found = []
    for name, kind in sandbox.type_map.items():
        real = shopify.type_map.get(name)
        if name.startswith("__"):
            continue
        if real is None or type(real) is not type(kind):
            found.append(f"{name}: Shopify has {type(real).__name__ if real else 'no such type'}")
        elif isinstance(kind, (GraphQLObjectType, GraphQLInterfaceType)):
            assert isinstance(real, (GraphQLObjectType, GraphQLInterfaceType))
            for field_name, field in kind.fields.items():
                theirs = real.fields.get(field_name)
                if theirs is None or str(theirs.type) != str(field.type):
                    found.append(f"{name}.{field_name}: {field.type}, Shopify {theirs.type if theirs else 'none'}")
                    continue
                for arg_name, arg in theirs.args.items():
                    ours = field.args.get(arg_name)
                    if (ours is None and is_required_argument(arg)) or (ours and str(ours.type) != str(arg.type)):
                        found.append(f"{name}.{field_name}({arg_name}): {ours.type if ours else 'none'}, "
                                     f"Shopify {arg.type}")
                found.extend(f"{name}.{field_name}({a}): Shopify has no such argument"
                             for a in field.args if a not in theirs.args)
        elif isinstance(kind, GraphQLInputObjectType) and print_type(kind) != print_type(real):
            found.append(f"{name}: not Shopify's input")
        elif isinstance(kind, GraphQLEnumType):
            assert isinstance(real, GraphQLEnumType)
            found.extend(f"{name}.{v}: Shopify has no such value" for v in kind.values if v not in real.values)
    return found


def test_every_type_field_and_argument_the_sandbox_serves_is_shopifys() -> None:
    assert _differences(build_shopify_schema(), shopify_admin_schema()) == []


def test_the_comparison_notices_a_field_shopify_does_not_have() -> None:
    invented = build_shopify_schema(SDL.replace("type Location { id: ID! name: String! }",
                                                "type Location { id: ID! name: String! colour: String }"))

    assert _differences(invented, shopify_admin_schema()) == ["Location.colour: String, Shopify none"]


def test_the_sandbox_simulates_every_field_the_connector_reads() -> None:
    from actors.connectors.shopify_queries import (
        FULFILLMENT_CREATE,
        ORDER_FULFILLMENT_ORDERS,
        ORDERS_UPDATED_SINCE,
        SET_QUANTITIES,
        levels_query,
        transactions_query,
        variants_query,
    )

    documents = [ORDERS_UPDATED_SINCE, ORDER_FULFILLMENT_ORDERS, FULFILLMENT_CREATE, SET_QUANTITIES,
                 variants_query(["A", "B"])[0], levels_query(["gid://shopify/InventoryItem/1"], "L")[0],
                 transactions_query(["gid://shopify/Order/1", "gid://shopify/Order/2"])[0]]

    assert [validate(build_shopify_schema(), parse(d)) for d in documents] == [[]] * len(documents)

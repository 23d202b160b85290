"""The part of Shopify's Admin GraphQL schema the sandbox simulates, and its query cost."""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    TypeDefinitionNode,
    Visitor,
    build_ast_schema,
    concat_ast,
    get_named_type,
    is_leaf_type,
    parse,
    print_type,
    value_from_ast_untyped,
    visit,
)
from graphql.language import DocumentNode

from peppasync.contracts import shopify_admin_schema

__all__ = ["MAX_PAGE", "MAX_QUERY_COST", "MUTATION_COST", "SDL", "build_shopify_schema", "query_cost"]

MAX_QUERY_COST = 1000
MAX_PAGE = 250
MUTATION_COST = 10

# What the sandbox simulates, as a part of Shopify's Admin API 2026-10: every type, field and argument
# here is Shopify's own (a test checks it against peppasync.contracts). Input objects, and the enums
# and scalars not spelled out here, are taken whole from Shopify's schema by build_shopify_schema();
# the enums spelled out list only what the resolvers simulate. A document Shopify accepts that uses
# anything else is answered "not simulated".
SDL = '''
schema { query: QueryRoot mutation: Mutation }

directive @idempotent(key: String!) on FIELD

enum OrderSortKeys { CREATED_AT ID PROCESSED_AT UPDATED_AT }
enum ProductVariantSortKeys { ID }
enum CurrencyCode { USD EUR GBP CAD AUD JPY CHF SEK }
enum RefundLineItemRestockType { CANCEL LEGACY_RESTOCK NO_RESTOCK RETURN }
enum OrderTransactionKind { AUTHORIZATION CAPTURE CHANGE EMV_AUTHORIZATION REFUND SALE SUGGESTED_REFUND VOID }
enum OrderTransactionStatus { AWAITING_RESPONSE ERROR FAILURE PENDING SUCCESS UNKNOWN }

type QueryRoot {
  shop: Shop!
  order(id: ID!): Order
  orders(first: Int, after: String, last: Int, before: String, query: String,
         sortKey: OrderSortKeys = ID, reverse: Boolean = false): OrderConnection!
  productVariants(first: Int, after: String, last: Int, before: String, query: String,
                  sortKey: ProductVariantSortKeys = ID, reverse: Boolean = false): ProductVariantConnection!
  fulfillmentOrders(first: Int, after: String, query: String, includeClosed: Boolean = false): FulfillmentOrderConnection!
  inventoryItem(id: ID!): InventoryItem
  location(id: ID): Location
}

type Mutation {
  fulfillmentCreate(fulfillment: FulfillmentInput!, message: String): FulfillmentCreatePayload
  fulfillmentOrderHold(fulfillmentHold: FulfillmentOrderHoldInput!, id: ID!): FulfillmentOrderHoldPayload
  fulfillmentOrderReleaseHold(externalId: String, holdIds: [ID!], id: ID!): FulfillmentOrderReleaseHoldPayload
  inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
}

type Shop { id: ID! name: String! myshopifyDomain: String! currencyCode: CurrencyCode! }
type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
type Customer { id: ID! email: String firstName: String lastName: String displayName: String! }
type MailingAddress {
  firstName: String lastName: String name: String company: String address1: String address2: String
  city: String province: String provinceCode: String zip: String country: String countryCodeV2: CountryCode
  phone: String
}

type Order {
  id: ID! legacyResourceId: UnsignedInt64! name: String! email: String test: Boolean!
  createdAt: DateTime! updatedAt: DateTime! cancelledAt: DateTime cancelReason: OrderCancelReason
  currencyCode: CurrencyCode! presentmentCurrencyCode: CurrencyCode! taxesIncluded: Boolean!
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus! shippingLine: ShippingLine
  refunds(first: Int): [Refund!]!
  totalPriceSet: MoneyBag! subtotalPriceSet: MoneyBag totalTaxSet: MoneyBag totalDiscountsSet: MoneyBag
  totalShippingPriceSet: MoneyBag!
  currentTotalPriceSet: MoneyBag! currentSubtotalPriceSet: MoneyBag! currentTotalTaxSet: MoneyBag!
  currentTotalDiscountsSet: MoneyBag! totalRefundedShippingSet: MoneyBag!
  customer: Customer shippingAddress: MailingAddress billingAddress: MailingAddress requiresShipping: Boolean!
  transactions(first: Int): [OrderTransaction!]!
  lineItems(first: Int, after: String): LineItemConnection!
  fulfillmentOrders(first: Int, after: String): FulfillmentOrderConnection!
  fulfillments(first: Int): [Fulfillment!]!
}
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { nodes: [Order!]! edges: [OrderEdge!]! pageInfo: PageInfo! }

type LineItem {
  id: ID! sku: String name: String! title: String! quantity: Int! currentQuantity: Int! requiresShipping: Boolean!
  isGiftCard: Boolean! originalUnitPriceSet: MoneyBag! variant: ProductVariant product: Product
  discountAllocations: [DiscountAllocation!]! taxLines(first: Int): [TaxLine!]!
}
type TransactionFee { id: ID! amount: MoneyV2! flatFee: MoneyV2! rate: Decimal! type: String! taxAmount: MoneyV2! }
type DiscountAllocation { allocatedAmountSet: MoneyBag! }
type TaxLine { title: String! rate: Float priceSet: MoneyBag! }
type Refund {
  id: ID! legacyResourceId: UnsignedInt64! createdAt: DateTime note: String
  refundLineItems(first: Int, after: String): RefundLineItemConnection!
  transactions(first: Int, after: String): OrderTransactionConnection!
  refundShippingLines(first: Int, after: String): RefundShippingLineConnection!
}
type RefundLineItem {
  quantity: Int! restockType: RefundLineItemRestockType! lineItem: LineItem! subtotalSet: MoneyBag!
  totalTaxSet: MoneyBag!
}
type RefundLineItemConnection { nodes: [RefundLineItem!]! pageInfo: PageInfo! }
type OrderTransaction {
  id: ID! kind: OrderTransactionKind! status: OrderTransactionStatus! gateway: String amountSet: MoneyBag!
  fees: [TransactionFee!]!
}
type OrderTransactionConnection { nodes: [OrderTransaction!]! pageInfo: PageInfo! }
type RefundShippingLine { subtotalAmountSet: MoneyBag! taxAmountSet: MoneyBag! }
type RefundShippingLineConnection { nodes: [RefundShippingLine!]! pageInfo: PageInfo! }
type ShippingLine { title: String! code: String discountedPriceSet: MoneyBag! taxLines: [TaxLine!]! }
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { nodes: [LineItem!]! edges: [LineItemEdge!]! pageInfo: PageInfo! }

type Product { id: ID! title: String! tags: [String!]! }
type ProductVariant {
  id: ID! legacyResourceId: UnsignedInt64! sku: String title: String! displayName: String! price: Money!
  inventoryQuantity: Int inventoryItem: InventoryItem!
}
type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection { nodes: [ProductVariant!]! edges: [ProductVariantEdge!]! pageInfo: PageInfo! }

type InventoryItem { id: ID! legacyResourceId: UnsignedInt64! sku: String tracked: Boolean!
  unitCost: MoneyV2 inventoryLevel(locationId: ID!): InventoryLevel }
type InventoryLevel { id: ID! location: Location! quantities(names: [String!]!): [InventoryQuantity!]! }
type InventoryQuantity { name: String! quantity: Int! updatedAt: DateTime }
type Location { id: ID! name: String! }

type FulfillmentOrder {
  id: ID! status: FulfillmentOrderStatus! orderId: ID! orderName: String! createdAt: DateTime! updatedAt: DateTime!
  assignedLocation: FulfillmentOrderAssignedLocation!
  lineItems(first: Int, after: String): FulfillmentOrderLineItemConnection!
  fulfillmentHolds: [FulfillmentHold!]!
}
type FulfillmentHold {
  id: ID! handle: String reason: FulfillmentHoldReason! reasonNotes: String heldByRequestingApp: Boolean!
  displayReason: String!
}
type FulfillmentOrderHoldUserError { field: [String!] message: String! code: FulfillmentOrderHoldUserErrorCode }
type FulfillmentOrderHoldPayload {
  fulfillmentHold: FulfillmentHold fulfillmentOrder: FulfillmentOrder remainingFulfillmentOrder: FulfillmentOrder
  userErrors: [FulfillmentOrderHoldUserError!]!
}
type FulfillmentOrderReleaseHoldUserError {
  field: [String!] message: String! code: FulfillmentOrderReleaseHoldUserErrorCode
}
type FulfillmentOrderReleaseHoldPayload {
  fulfillmentOrder: FulfillmentOrder userErrors: [FulfillmentOrderReleaseHoldUserError!]!
}
type FulfillmentOrderAssignedLocation { name: String! location: Location }
type FulfillmentOrderEdge { cursor: String! node: FulfillmentOrder! }
type FulfillmentOrderConnection { nodes: [FulfillmentOrder!]! edges: [FulfillmentOrderEdge!]! pageInfo: PageInfo! }
type FulfillmentOrderLineItem { id: ID! sku: String totalQuantity: Int! remainingQuantity: Int! lineItem: LineItem! }
type FulfillmentOrderLineItemEdge { cursor: String! node: FulfillmentOrderLineItem! }
type FulfillmentOrderLineItemConnection {
  nodes: [FulfillmentOrderLineItem!]! edges: [FulfillmentOrderLineItemEdge!]! pageInfo: PageInfo!
}

type FulfillmentTrackingInfo { company: String number: String url: URL }
type Fulfillment { id: ID! name: String! status: FulfillmentStatus! createdAt: DateTime!
  trackingInfo(first: Int): [FulfillmentTrackingInfo!]! }

type UserError { field: [String!] message: String! }
type FulfillmentCreatePayload { fulfillment: Fulfillment userErrors: [UserError!]! }

type InventoryChange { name: String! delta: Int! quantityAfterChange: Int item: InventoryItem location: Location }
type InventoryAdjustmentGroup { id: ID! createdAt: DateTime! reason: String! referenceDocumentUri: String
  changes: [InventoryChange!]! }
type InventorySetQuantitiesUserError { field: [String!] message: String! code: InventorySetQuantitiesUserErrorCode }
type InventorySetQuantitiesPayload {
  inventoryAdjustmentGroup: InventoryAdjustmentGroup userErrors: [InventorySetQuantitiesUserError!]!
}
'''

_BUILT_IN = frozenset({"String", "Int", "Float", "Boolean", "ID"})


def build_shopify_schema(sdl: str = SDL) -> GraphQLSchema:
    """The executable schema (resolvers come from the root value).

    ``sdl`` (the SDL above), plus Shopify's own definition of every input object, enum and scalar
    it names without spelling out, and of what those name in turn.
    """
    document = parse(sdl)
    real = shopify_admin_schema()
    defined = {d.name.value for d in document.definitions if isinstance(d, TypeDefinitionNode)}
    borrowed: dict[str, GraphQLNamedType] = {}
    wanted = sorted(_named(document) - defined - _BUILT_IN)
    while wanted:
        name = wanted.pop()
        if name in borrowed or name in defined or name in _BUILT_IN:
            continue
        kind = real.get_type(name)
        if not isinstance(kind, (GraphQLInputObjectType, GraphQLEnumType, GraphQLScalarType)):
            raise ValueError(f"the sandbox's Shopify SDL names {name} without defining it, and Shopify's "
                             f"{name} is not an input object, enum or scalar that could be taken whole")
        borrowed[name] = kind
        if isinstance(kind, GraphQLInputObjectType):
            wanted.extend(get_named_type(field.type).name for field in kind.fields.values())
    shopify = parse("\n".join(print_type(kind) for kind in borrowed.values())) if borrowed else None
    return build_ast_schema(concat_ast([document, shopify]) if shopify else document)


def _named(document: DocumentNode) -> set[str]:
    names: set[str] = set()

    class Names(Visitor):
        def enter_named_type(self, node: NamedTypeNode, *_args: Any) -> None:
            names.add(node.name.value)

    visit(document, Names())
    return names


def _page_size(node: FieldNode, variables: dict[str, Any]) -> int | None:
    for arg in node.arguments or ():
        if arg.name.value in ("first", "last"):
            value = value_from_ast_untyped(arg.value, variables)
            return int(value) if isinstance(value, int) else None
    return None


def _selection_cost(selection_set: SelectionSetNode | None, parent: GraphQLObjectType,
                    fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, InlineFragmentNode):
            total += _selection_cost(selection.selection_set, parent, fragments, variables)
        elif isinstance(selection, FieldNode):
            total += field_cost(selection, parent, fragments, variables)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                total += _selection_cost(fragment.selection_set, parent, fragments, variables)
    return total


def field_cost(node: FieldNode, parent: GraphQLObjectType, fragments: dict[str, FragmentDefinitionNode],
               variables: dict[str, Any]) -> int:
    """Shopify's rules: scalars 0, objects 1, connections 2 + page size times their nodes."""
    definition = parent.fields.get(node.name.value)
    if definition is None:
        return 0
    named = get_named_type(definition.type)
    if is_leaf_type(named) or not isinstance(named, GraphQLObjectType):
        return 0
    inner = _selection_cost(node.selection_set, named, fragments, variables)
    if named.name.endswith("Connection"):
        size = _page_size(node, variables) or 0
        return 2 + size * inner
    if named.name.endswith("Edge") or named.name == "PageInfo":
        return inner
    if node.name.value == "nodes":
        # `nodes` lists one item per page slot; the connection multiplies it.
        return 1 + inner
    return 1 + inner


def connection_item_cost(node: FieldNode, connection: GraphQLObjectType,
                         fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]) -> int:
    """What one item of a connection field costs: used to refund unfilled page slots."""
    return _selection_cost(node.selection_set, connection, fragments, variables)


def query_cost(document: DocumentNode, schema: GraphQLSchema, variables: dict[str, Any],
               operation_name: str | None = None) -> int:
    """The requested cost of the operation that will run."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [op for op in operations if op.name and op.name.value == operation_name]
    if not operations:
        return 0
    operation = operations[0]
    if operation.operation == OperationType.MUTATION:
        return MUTATION_COST
    root = schema.query_type
    assert root is not None
    return _selection_cost(operation.selection_set, root, fragments, variables)

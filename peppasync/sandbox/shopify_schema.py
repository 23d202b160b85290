"""The subset of Shopify's Admin GraphQL schema the sandbox serves, and its query cost."""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    build_schema,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)
from graphql.language import DocumentNode

__all__ = ["MAX_PAGE", "MAX_QUERY_COST", "MUTATION_COST", "SDL", "build_shopify_schema", "query_cost"]

MAX_QUERY_COST = 1000
MAX_PAGE = 250
MUTATION_COST = 10

# Field and type names follow Shopify's Admin API; only what Peppasync's connectors use.
SDL = '''
directive @idempotent(key: String!) on FIELD
scalar DateTime
scalar Decimal
scalar URL
scalar UnsignedInt64

enum OrderSortKeys { CREATED_AT ID PROCESSED_AT UPDATED_AT ORDER_NUMBER }
enum ProductVariantSortKeys { ID SKU TITLE }
enum FulfillmentOrderStatus { OPEN IN_PROGRESS CLOSED CANCELLED INCOMPLETE ON_HOLD SCHEDULED }
enum FulfillmentStatus { SUCCESS CANCELLED ERROR FAILURE OPEN PENDING }
enum OrderDisplayFinancialStatus { PENDING AUTHORIZED PARTIALLY_PAID PAID PARTIALLY_REFUNDED REFUNDED VOIDED EXPIRED }
enum OrderDisplayFulfillmentStatus { UNFULFILLED PARTIALLY_FULFILLED FULFILLED RESTOCKED IN_PROGRESS ON_HOLD OPEN SCHEDULED }
enum CurrencyCode { USD EUR GBP CAD AUD JPY CHF SEK }
enum InventorySetQuantitiesUserErrorCode {
  CHANGE_FROM_QUANTITY_STALE COMPARE_QUANTITY_REQUIRED COMPARE_QUANTITY_STALE
  IDEMPOTENCY_CONCURRENT_REQUEST IDEMPOTENCY_KEY_PARAMETER_MISMATCH IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED
  INVALID_INVENTORY_ITEM INVALID_LOCATION INVALID_NAME INVALID_QUANTITY_NEGATIVE
  INVALID_QUANTITY_TOO_HIGH INVALID_QUANTITY_TOO_LOW INVALID_REASON INVALID_REFERENCE_DOCUMENT
  ITEM_NOT_STOCKED_AT_LOCATION NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR NON_MUTABLE_INVENTORY_ITEM
}

type Query {
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
  inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
}

type Shop { id: ID! name: String! myshopifyDomain: String! currencyCode: CurrencyCode! }
type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
type Customer { id: ID! email: String firstName: String lastName: String displayName: String! }
type MailingAddress {
  firstName: String lastName: String name: String company: String address1: String address2: String
  city: String province: String provinceCode: String zip: String country: String countryCodeV2: String phone: String
}

type Order {
  id: ID! legacyResourceId: UnsignedInt64! name: String! email: String test: Boolean!
  createdAt: DateTime! updatedAt: DateTime! cancelledAt: DateTime cancelReason: String
  currencyCode: CurrencyCode! displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  totalPriceSet: MoneyBag! subtotalPriceSet: MoneyBag totalTaxSet: MoneyBag totalDiscountsSet: MoneyBag
  totalShippingPriceSet: MoneyBag!
  currentTotalPriceSet: MoneyBag! currentSubtotalPriceSet: MoneyBag! currentTotalTaxSet: MoneyBag!
  currentTotalDiscountsSet: MoneyBag! totalRefundedShippingSet: MoneyBag!
  customer: Customer shippingAddress: MailingAddress billingAddress: MailingAddress requiresShipping: Boolean!
  lineItems(first: Int, after: String): LineItemConnection!
  fulfillmentOrders(first: Int, after: String): FulfillmentOrderConnection!
  fulfillments(first: Int): [Fulfillment!]!
}
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { nodes: [Order!]! edges: [OrderEdge!]! pageInfo: PageInfo! }

type LineItem {
  id: ID! sku: String name: String! title: String! quantity: Int! currentQuantity: Int! requiresShipping: Boolean!
  isGiftCard: Boolean! originalUnitPriceSet: MoneyBag! variant: ProductVariant
}
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { nodes: [LineItem!]! edges: [LineItemEdge!]! pageInfo: PageInfo! }

type ProductVariant {
  id: ID! legacyResourceId: UnsignedInt64! sku: String title: String! displayName: String! price: Decimal!
  inventoryQuantity: Int inventoryItem: InventoryItem!
}
type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection { nodes: [ProductVariant!]! edges: [ProductVariantEdge!]! pageInfo: PageInfo! }

type InventoryItem { id: ID! legacyResourceId: UnsignedInt64! sku: String tracked: Boolean!
  inventoryLevel(locationId: ID!): InventoryLevel }
type InventoryLevel { id: ID! location: Location! quantities(names: [String!]!): [InventoryQuantity!]! }
type InventoryQuantity { name: String! quantity: Int! updatedAt: DateTime }
type Location { id: ID! name: String! }

type FulfillmentOrder {
  id: ID! status: FulfillmentOrderStatus! orderId: ID! orderName: String! createdAt: DateTime! updatedAt: DateTime!
  assignedLocation: FulfillmentOrderAssignedLocation!
  lineItems(first: Int, after: String): FulfillmentOrderLineItemConnection!
}
type FulfillmentOrderAssignedLocation { name: String location: Location }
type FulfillmentOrderEdge { cursor: String! node: FulfillmentOrder! }
type FulfillmentOrderConnection { nodes: [FulfillmentOrder!]! edges: [FulfillmentOrderEdge!]! pageInfo: PageInfo! }
type FulfillmentOrderLineItem { id: ID! sku: String totalQuantity: Int! remainingQuantity: Int! lineItem: LineItem! }
type FulfillmentOrderLineItemEdge { cursor: String! node: FulfillmentOrderLineItem! }
type FulfillmentOrderLineItemConnection {
  nodes: [FulfillmentOrderLineItem!]! edges: [FulfillmentOrderLineItemEdge!]! pageInfo: PageInfo!
}

type FulfillmentTrackingInfo { company: String number: String url: URL }
type Fulfillment { id: ID! name: String status: FulfillmentStatus! createdAt: DateTime!
  trackingInfo(first: Int): [FulfillmentTrackingInfo!]! }

input FulfillmentOrderLineItemInput { id: ID! quantity: Int! }
input FulfillmentOrderLineItemsInput { fulfillmentOrderId: ID! fulfillmentOrderLineItems: [FulfillmentOrderLineItemInput!] }
input FulfillmentTrackingInput { company: String number: String numbers: [String!] url: URL urls: [URL!] }
input FulfillmentInput {
  lineItemsByFulfillmentOrder: [FulfillmentOrderLineItemsInput!]!
  notifyCustomer: Boolean = false trackingInfo: FulfillmentTrackingInput
}
type UserError { field: [String!] message: String! }
type FulfillmentCreatePayload { fulfillment: Fulfillment userErrors: [UserError!]! }

input InventoryQuantityInput {
  inventoryItemId: ID! locationId: ID! quantity: Int! compareQuantity: Int changeFromQuantity: Int
}
input InventorySetQuantitiesInput {
  name: String! reason: String! referenceDocumentUri: String ignoreCompareQuantity: Boolean
  quantities: [InventoryQuantityInput!]!
}
type InventoryChange { name: String! delta: Int! quantityAfterChange: Int item: InventoryItem location: Location }
type InventoryAdjustmentGroup { id: ID! createdAt: DateTime! reason: String! referenceDocumentUri: String
  changes: [InventoryChange!]! }
type InventorySetQuantitiesUserError { field: [String!] message: String! code: InventorySetQuantitiesUserErrorCode }
type InventorySetQuantitiesPayload {
  inventoryAdjustmentGroup: InventoryAdjustmentGroup userErrors: [InventorySetQuantitiesUserError!]!
}
'''


def build_shopify_schema() -> GraphQLSchema:
    """The executable schema (resolvers come from the root value)."""
    return build_schema(SDL)


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

"""Clients the way a connector would write them: GraphQL posts and OAuth-signed NetSuite calls."""

from __future__ import annotations

import json
from typing import Any

import requests
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client

from peppasync.sandbox import Sandbox

LOCATION = "gid://shopify/Location/61000000001"

SET_QUANTITY = """
mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id changes { name delta } }
    userErrors { field code message }
  }
}
"""


def graphql(sb: Sandbox, query: str, variables: dict[str, Any] | None = None,
            token: str | None = None) -> requests.Response:
    token = sb.shopify.access_token if token is None else token
    return requests.post(sb.graphql_url, json={"query": query, "variables": variables or {}},
                         headers={"X-Shopify-Access-Token": token}, timeout=10)


def netsuite(sb: Sandbox, method: str, path: str, body: Any = None, *, token_secret: str | None = None,
             realm: str | None = None) -> requests.Response:
    creds = sb.netsuite.credentials
    client = Client(creds.consumer_key, client_secret=creds.consumer_secret, resource_owner_key=creds.token_id,
                    resource_owner_secret=creds.token_secret if token_secret is None else token_secret,
                    signature_method=SIGNATURE_HMAC_SHA256, realm=creds.account_id if realm is None else realm)
    url = f"{sb.netsuite_url}/services/rest/record/v1/{path}"
    data = json.dumps(body) if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    url, headers, data = client.sign(url, method, body=data, headers=headers)
    return requests.request(method, url, data=data, headers=headers, timeout=10)


def set_available(sb: Sandbox, item_gid: str, quantity: int, change_from: int | None, key: str) -> Any:
    """One inventorySetQuantities call for ``available``, compared against ``change_from``."""
    return graphql(sb, SET_QUANTITY, {"key": key, "input": {
        "name": "available", "reason": "correction",
        "quantities": [{"inventoryItemId": item_gid, "locationId": LOCATION, "quantity": quantity,
                        "changeFromQuantity": change_from}]}}).json()

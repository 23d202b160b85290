"""The synchronous baseline against Business Central: one order at a time, one call per line, each awaited.

The order is created with its first line, then every other line is added by its own call
(``salesOrders({id})/salesOrderLines``), as a middleware that maps Shopify lines one by one
would. Customers are created once each; the token is fetched once.
"""

from __future__ import annotations

from collections.abc import MutableSet
from typing import Any

import gevent
import requests

from peppasync.config import parse_config
from peppasync.sandbox import PlacedOrder, Sandbox

__all__ = ["SequentialBusinessCentral"]


class SequentialBusinessCentral:
    """A plain sequential Business Central client: no parallelism, a call per line, simple retries."""

    def __init__(self, sandbox: Sandbox, *, attempts: int = 8, customers: MutableSet[int] | None = None) -> None:
        bc = parse_config(sandbox.config_sections(), source="baseline", environ={}).business_central
        self.base = f"{bc.base_url}/v2.0/{bc.tenant}/{bc.environment}/api/v2.0/companies({bc.company_id})/"
        self.session = requests.Session()
        token = self.session.post(f"{bc.login_url}/{bc.tenant}/oauth2/v2.0/token", timeout=(3.05, 60), data={
            "grant_type": "client_credentials", "client_id": bc.client_id, "client_secret": bc.client_secret,
            "scope": bc.scope}).json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.guest = bc.guest_customer
        self.attempts = attempts
        self.pause = 0.5 / sandbox.time_scale
        self.calls = 0
        self._customers: MutableSet[int] = set() if customers is None else customers  # as ``SequentialMiddleware``

    def sync(self, order: PlacedOrder) -> None:
        body = order.payload
        customer = body.get("customer") or {}
        number = self.guest
        if customer.get("id"):
            number = f"SHC{customer['id']}"
            if customer["id"] not in self._customers:
                self._post("customers", {"number": number, "type": "Person", "email": customer["email"],
                                         "displayName": f"{customer['first_name']} {customer['last_name']}"})
                self._customers.add(customer["id"])
        lines = [{"lineType": "Item", "lineObjectNumber": line["sku"], "quantity": line["quantity"],
                  "unitPrice": float(line["price"])} for line in body["line_items"]]
        created = self._post("salesOrders", {"number": f"SH{order.id}", "externalDocumentNumber": str(order.id),
                                             "customerNumber": number, "salesOrderLines": lines[:1]})
        for line in lines[1:]:
            self._post(f"salesOrders({created['id']})/salesOrderLines", line)

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        for attempt in range(self.attempts):
            self.calls += 1
            try:
                response = self.session.post(self.base + path, json=body, timeout=(3.05, 60))
            except requests.ConnectionError:
                response = None
            if response is not None and response.status_code < 400:
                return response.json()
            if response is not None and response.status_code < 500 and response.status_code != 429:
                raise RuntimeError(f"the ERP refused {path}: HTTP {response.status_code} {response.text[:200]}")
            gevent.sleep(self.pause * 2**attempt)
        raise RuntimeError(f"the ERP kept failing {path} after {self.attempts} attempts")

    def close(self) -> None:
        self.session.close()

"""NetsuiteAccount: the references a body needs that only the account's configuration knows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from peppasync.config import NetsuiteConfig
from peppasync.errors import ConnectorError

__all__ = ["NetsuiteAccount"]


@dataclass(frozen=True)
class NetsuiteAccount:
    """Completes sales order and customer bodies with the account's own records (internal ids).

    The order flow names what it knows: the customer by external id, the currency by its ISO
    code (as the reference's ``refName``). NetSuite sets references by internal or external id
    only, so the account supplies the rest: the guest customer of an order placed without a
    Shopify customer, the internal id of each currency, and (OneWorld) the subsidiary of a new
    customer. What the configuration lacks is refused before anything is sent, naming the key.
    """

    guest_customer: str = ""
    subsidiary: str = ""
    currencies: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: NetsuiteConfig) -> NetsuiteAccount:
        return cls(config.guest_customer, config.subsidiary, config.currencies)

    def sales_order(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The body to send: the entity and currency set by internal id where the order could not."""
        return self.transaction(body)

    def transaction(self, body: Mapping[str, Any], entity: str = "entity") -> dict[str, Any]:
        """Any transaction's body (a sales order, deposit, credit memo, cash refund, return
        authorization) with its customer (the field ``entity``) and currency completed."""
        out = dict(body)
        if entity not in out:
            if not self.guest_customer:
                raise _unconfigured("guest_customer", "this order has no Shopify customer and NetSuite requires a "
                                    "customer on every sales order: set [netsuite] guest_customer to the internal "
                                    "id of the customer that takes guest orders")
            out[entity] = {"id": self.guest_customer}
        currency = out.get("currency")
        if isinstance(currency, Mapping) and not {"id", "externalId"} & set(currency):
            code = str(currency.get("refName") or "")
            if not self.currencies:
                # Without a map the account is taken to sell in one currency: the customer's applies.
                del out["currency"]
            elif code in self.currencies:
                out["currency"] = {"id": str(self.currencies[code])}
            else:
                raise _unconfigured("currencies", f"the order is in {code}, which [netsuite] currencies does not "
                                    f"name (it has {', '.join(sorted(self.currencies))}): add {code} = its "
                                    "currency record's internal id")
        return out

    def customer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The body to send: in a OneWorld account, the customer's subsidiary."""
        out = dict(body)
        if self.subsidiary and "subsidiary" not in out:
            out["subsidiary"] = {"id": self.subsidiary}
        return out


def _unconfigured(key: str, message: str) -> ConnectorError:
    return ConnectorError(f"netsuite: {message}", connector="netsuite", code=f"CONFIG_{key.upper()}",
                          transient=False)

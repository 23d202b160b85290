"""The tries of one step are bounded: a connector's own retries times the message's attempts.

One message whose ERP call always fails with a 503 is sent through the real
pieces (a durable actor, the poison policy, the NetSuite connector) against a
loopback server that counts what reaches it.
"""

from __future__ import annotations

import math
from dataclasses import replace

from peppasync.backoff import Backoff
from peppasync.config import EngineConfig, NetsuiteConfig
from peppasync.retry import RetryPolicy, max_tries

from actors.connectors import NetsuiteConnector, call
from actors.durable import DurableActor
from supervisors import PoisonPolicy
from tests.actors.conftest import CountingHooks

from .conftest import json_body

# The product's attempts in both layers; only the waits are shortened, so the test does not wait.
QUICK = Backoff(base=0.001, cap=0.002)
IN_HANDLER = replace(RetryPolicy(), backoff=QUICK)
DURABLE = RetryPolicy(max_attempts=EngineConfig().max_attempts, deadline=math.inf, backoff=QUICK)


class ItemCostReader(DurableActor):
    """Asks the ERP for one item's cost per message."""

    kind = "item_cost_reader"

    def handle(self, message):
        call("netsuite", self.service("netsuite").item_cost, message.payload["sku"])


def _always_busy(request):
    body = {"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.6.4", "title": "Service Unavailable",
            "status": 503, "o:errorDetails": [{"detail": "try later", "o:errorCode": "UNEXPECTED_ERROR"}]}
    return 503, {"Content-Type": "application/json"}, json_body(body)


def test_a_step_that_always_fails_reaches_the_server_at_most_the_product_of_both_layers_tries(
        stub, make_system, store):
    server = stub(_always_busy)
    netsuite = NetsuiteConnector(
        NetsuiteConfig(base_url=server.url, account_id="123", consumer_key="ck", consumer_secret="cs",
                       token_id="ti", token_secret="ts"),
        retry=IN_HANDLER,
    )
    hooks = CountingHooks()
    system = make_system(ItemCostReader, hooks=hooks, policy=PoisonPolicy(DURABLE),
                         services={"netsuite": netsuite})
    system.start()

    system.tell("item_cost_reader", "MUG", {"sku": "MUG"})
    hooks.wait_finished(1)
    system.stop()

    [entry] = store.quarantine_list()
    assert entry.reason == "max_attempts"
    assert len(server.requests) == max_tries(IN_HANDLER, DURABLE) == 15

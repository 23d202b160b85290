"""The inventory actor under a real actor system and store: oversells counted, logged without flooding."""

import logging

import gevent
import pytest

from peppasync.clock import ManualClock
from peppasync.store import open_store

from actors.inventory import OVERSELL_LOG_INTERVAL, InventoryActor, InventorySettings
from actors.system import ActorSystem
from tests.actors.conftest import CountingHooks, roomy_supervision, small_policy


class OversellHooks(CountingHooks):
    def __init__(self) -> None:
        super().__init__()
        self.oversold: list[int] = []

    def on_oversell(self, kind: str, units: int) -> None:
        self.oversold.append(units)


class Catalog:
    """Shopify's SKU -> inventory item lookup (the external side of actors.catalog)."""

    def inventory_item(self, sku: str) -> str:
        return f"item-{sku}"


@pytest.fixture
def inventory(tmp_path):
    clock = ManualClock()
    store = open_store(f"sqlite:///{tmp_path}/inventory.db", clock=clock)
    store.migrate()
    hooks = OversellHooks()
    system = ActorSystem(store, small_policy(), clock=clock, supervision=roomy_supervision(clock), hooks=hooks,
                         sweep_interval=0.05,
                         services={"inventory": InventorySettings(), "catalog": Catalog()})
    system.register(InventoryActor)
    system.start()
    sent = 0

    def send(payload):
        nonlocal sent
        system.tell("inventory", "MUG", payload)
        sent += 1
        hooks.wait_finished(sent)

    yield send, clock, hooks, store
    system.stop(timeout=5)
    store.close()


def _oversell_lines(caplog):
    return [r for r in caplog.records if r.name == "peppasync.inventory" and r.getMessage().startswith("oversell")]


def test_every_oversell_is_counted_and_a_sku_that_keeps_overselling_logs_once_a_minute(inventory, caplog):
    send, clock, hooks, _ = inventory
    caplog.set_level(logging.WARNING, logger="peppasync.inventory")
    send({"type": "stock", "on_hand": 2, "allocated": 0, "as_of": clock.time()})

    send({"type": "commit", "order_id": "A", "quantity": 2})  # the last two units: no oversell
    send({"type": "commit", "order_id": "B", "quantity": 3})  # none left: 3 oversold
    for order in ("C", "D"):
        clock.advance(1)
        send({"type": "commit", "order_id": order, "quantity": 1})
    first = _oversell_lines(caplog)
    clock.advance(OVERSELL_LOG_INTERVAL)
    send({"type": "commit", "order_id": "E", "quantity": 2})

    assert hooks.oversold == [3, 1, 1, 2]
    assert [(r.order_id, r.units) for r in first] == [("B", 3)]
    [_, summary] = _oversell_lines(caplog)
    assert (summary.sku, summary.orders, summary.units) == ("MUG", 3, 4)  # C, D and E
    assert summary.since_seconds == pytest.approx(OVERSELL_LOG_INTERVAL + 2, abs=0.5)


def test_an_edited_order_holds_its_new_quantity_and_a_cancelled_one_gives_its_units_back(inventory):
    # The ledger puts new values rather than changing the saved ones in place (the actor
    # replaces its state; the suite's check fails any message that changes it in place).
    send, clock, hooks, store = inventory
    send({"type": "stock", "on_hand": 10, "allocated": 0, "as_of": clock.time()})
    send({"type": "commit", "order_id": "A", "quantity": 2})
    send({"type": "commit", "order_id": "A", "quantity": 5})  # the order was edited
    send({"type": "commit", "order_id": "B", "quantity": 1})
    clock.advance(1)
    send({"type": "allocated", "order_id": "B", "at": clock.time()})

    def ledger():
        # Saved with the last message's completion, which commits just after its handler ran.
        for _ in range(500):
            waiting = store.pending("inventory", "MUG", limit=1, now=float("inf"))
            if not waiting:
                return store.get_state("inventory", "MUG")[0]
            gevent.sleep(0.01)
        raise AssertionError(f"the inventory actor's messages did not complete: {waiting}")

    assert ledger()["orders"] == {"A": [5, None], "B": [1, clock.time()]}
    wants = ledger()["seq"]

    send({"type": "release", "order_id": "A"})  # cancelled: its 5 units are sellable again
    send({"type": "stock", "on_hand": 10, "allocated": 1, "as_of": clock.time() + 1})  # the WMS has B now

    state = ledger()
    assert state["orders"] == {}
    assert (state["on_hand"], state["wms_allocated"]) == (10, 1)
    assert state["seq"] > wants and state["sent"]["quantity"] == 9  # Shopify is asked to show 10 - 1
    assert hooks.oversold == []

"""The actors: the durable base actor and its system, and the kinds the server hosts.

    system = ActorSystem(store, PoisonPolicy(...), clock=clock, supervision=KeyedSupervisor(...))
    system.register(OrderActor)
    system.start()
    system.tell("order", "1001", {"type": "webhook", ...})

Kinds: ``OrderActor`` (one per Shopify order), ``InventoryActor`` (one per SKU),
``StockFlusherActor`` and ``StockFeedActor`` (stock to and from Shopify and the
WMS), ``ShipmentFeedActor`` (shipments from the WMS) and ``ReconcilerActor``
(the self-healing sweep), ``MarginActor`` (one per order: its true margin, over the
unit costs of ``CostBook``), ``GateActor`` and ``GateTimerActor`` (one per build-to-order
order and gate, and its durable timers; the workflows are ``GateSettings``). How a
committed message reaches its actor, and the FIFO and at-least-once rules, are
``Delivery``'s (``actors.delivery``). The policies an ``ActorSystem`` is given
(``PoisonPolicy``, ``Supervision``) are implemented in ``supervisors``.
Subpackages: ``actors.connectors`` (one per external system) and
``actors.adapters`` (the ports of ``actors.ports`` over them).
"""

from .catalog import Catalog
from .costs import CostBook
from .delivery import Delivery
from .durable import ActorContext, DurableActor, HandlerCrashedError, PoisonPolicy
from .gate import GateActor, GateTimerActor
from .gate_workflows import GateSettings
from .hooks import ActorHooks, MetricsActorHooks
from .host import ActorSystemHost
from .inventory import InventoryActor, InventorySettings
from .margin import MarginActor, MarginSettings
from .order import OrderActor
from .reconciler import ReconcilerActor
from .shipments import ShipmentFeedActor
from .stock_feed import StockFeedActor
from .stock_flusher import StockFlusherActor
from .system import ActorSystem, Supervision

__all__ = [
    "ActorContext",
    "ActorHooks",
    "ActorSystem",
    "ActorSystemHost",
    "Catalog",
    "CostBook",
    "Delivery",
    "DurableActor",
    "GateActor",
    "GateSettings",
    "GateTimerActor",
    "HandlerCrashedError",
    "InventoryActor",
    "InventorySettings",
    "MarginActor",
    "MarginSettings",
    "MetricsActorHooks",
    "OrderActor",
    "PoisonPolicy",
    "ReconcilerActor",
    "ShipmentFeedActor",
    "StockFeedActor",
    "StockFlusherActor",
    "Supervision",
]

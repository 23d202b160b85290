"""Every Prometheus metric Peppasync exports, defined once.

Names follow DESIGN.md (prefix ``peppasync_``, base units). Label values are
bounded sets: actor kinds, connector names, outcomes; never an order id or SKU.
Components do not call prometheus_client themselves; they emit events and a
subscriber updates these collectors.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

__all__ = ["ACTOR_KINDS", "CONNECTORS", "FLOWS", "MARGIN_COMPONENTS", "Metrics", "REPAIR_KINDS", "SWEEPS"]

FLOWS = ("order_to_erp", "order_to_wms", "shipment_to_shopify", "stock_to_shopify", "event_to_margin")
ACTOR_KINDS = ("order", "shipments", "reconciler", "inventory", "stock_feed", "stock_flusher", "margin", "gate",
               "gate_timer")
# The parts of an order's margin: revenue, the costs it always has, and "other" for the configured per-order costs.
MARGIN_COMPONENTS = ("revenue", "cogs", "fulfilment", "payment_fees", "other")
CONNECTORS = ("shopify", "netsuite", "wms", "wms_inventory")
REPAIR_KINDS = ("missed_order", "missed_refund", "missed_shipment", "stock_drift")
# The reconciler's sweeps: Shopify's orders, the WMS's shipments, Shopify's stock.
SWEEPS = ("orders", "shipments", "stock")

# Handler work runs from milliseconds (a state change) to tens of seconds (an
# ERP call under load); web-latency default buckets stop at 10 s.
_DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Sync lag has an SLO of seconds to minutes; 30 s and 300 s are boundaries.
_LAG_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)
# A sweep takes a page or a few (under a second) up to a catch-up over a day of history (an hour).
_SWEEP_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)
# Time in a build-to-order gate: an automatic rule (seconds), a same-day approval, days of design, weeks of production.
_GATE_BUCKETS = (60, 900, 3600, 4 * 3600, 12 * 3600, 86400, 2 * 86400, 3 * 86400, 7 * 86400, 14 * 86400,
                 30 * 86400, 60 * 86400)
# Margin percent of an order: losses, thin, typical retail (30 to 60) and digital goods.
_MARGIN_BUCKETS = (-50, -25, -10, 0, 5, 10, 15, 20, 30, 40, 50, 60, 80, 100)


class Metrics:
    """The collectors, registered on one registry (a fresh one per test)."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        if process:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
        p = "peppasync_"
        self.build_info = Info(p + "build", "Peppasync version and store backend.", registry=r)
        # Mailboxes
        self.mailbox_depth = Gauge(
            p + "mailbox_depth", "Messages waiting in durable mailboxes.", ["actor"], registry=r
        )
        self.mailbox_oldest_age_seconds = Gauge(
            p + "mailbox_oldest_age_seconds",
            "Age of the oldest waiting message.",
            ["actor"],
            registry=r,
        )
        self.backlog_drain_seconds = Gauge(
            p + "backlog_drain_seconds",
            "Estimated time to drain the backlog at the current handling rate.",
            ["actor"],
            registry=r,
        )
        # Messages
        self.messages_total = Counter(
            p + "messages_total",
            "Messages handled, by outcome (ok, retry, quarantined).",
            ["actor", "outcome"],
            registry=r,
        )
        self.message_duration_seconds = Histogram(
            p + "message_duration_seconds",
            "Time spent in a message handler.",
            ["actor"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        # Actors
        self.actors_active = Gauge(
            p + "actors_active", "Actors currently activated.", ["actor"], registry=r
        )
        self.actor_restarts_total = Counter(
            p + "actor_restarts_total", "Actor restarts by supervisors.", ["actor"], registry=r
        )
        self.supervisor_escalations_total = Counter(
            p + "supervisor_escalations_total",
            "Supervisors that exceeded their restart intensity and escalated.",
            ["supervisor"],
            registry=r,
        )
        self.quarantined_messages = Gauge(
            p + "quarantined_messages",
            "Messages in quarantine awaiting an operator.",
            ["actor", "reason"],
            registry=r,
        )
        # Connectors
        self.connector_requests_total = Counter(
            p + "connector_requests_total",
            "Calls to external systems, by outcome.",
            ["connector", "outcome"],
            registry=r,
        )
        self.connector_request_duration_seconds = Histogram(
            p + "connector_request_duration_seconds",
            "Latency of calls to external systems.",
            ["connector"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.connector_inflight = Gauge(
            p + "connector_inflight", "Calls in flight.", ["connector"], registry=r
        )
        self.connector_waiting = Gauge(
            p + "connector_waiting", "Calls waiting for a slot of the connector's limit.", ["connector"], registry=r
        )
        self.connector_concurrency_limit = Gauge(
            p + "connector_concurrency_limit",
            "Current adaptive concurrency limit.",
            ["connector"],
            registry=r,
        )
        self.connector_throttled_total = Counter(
            p + "connector_throttled_total",
            "Calls the external system throttled (429, THROTTLED).",
            ["connector"],
            registry=r,
        )
        self.connector_bucket_available = Gauge(
            p + "connector_bucket_available",
            "Points left in the API's cost bucket, as last reported.",
            ["connector"],
            registry=r,
        )
        # Flows
        self.sync_lag_seconds = Histogram(
            p + "sync_lag_seconds",
            "Time from a change in one system to its confirmation in another.",
            ["flow"],
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.webhooks_total = Counter(
            p + "webhooks_total",
            "Webhooks received, by source, topic and outcome.",
            ["source", "topic", "outcome"],
            registry=r,
        )
        self.reconcile_repairs_total = Counter(
            p + "reconcile_repairs_total",
            "Repairs made by the reconciler, by kind.",
            ["kind"],
            registry=r,
        )
        self.reconcile_sweep_duration_seconds = Histogram(
            p + "reconcile_sweep_duration_seconds",
            "Time a reconciler sweep took from its first page to its last, failed steps included.",
            ["sweep"],
            buckets=_SWEEP_BUCKETS,
            registry=r,
        )
        self.reconcile_last_success_timestamp_seconds = Gauge(
            p + "reconcile_last_success_timestamp_seconds",
            "When a reconciler sweep last went through every page (the process start until one has).",
            ["sweep"],
            registry=r,
        )
        self.reconcile_sweep_failures_total = Counter(
            p + "reconcile_sweep_failures_total",
            "Reconciler sweep steps that failed; the sweep resumes from the failed step.",
            ["sweep"],
            registry=r,
        )
        self.reconcile_interval_seconds = Gauge(
            p + "reconcile_interval_seconds",
            "The configured time between the end of one reconciler sweep and the start of the next.",
            registry=r,
        )
        self.orders = Gauge(p + "orders", "Orders by state.", ["state"], registry=r)
        self.oversells_total = Counter(
            p + "oversells_total",
            "Orders accepted for a SKU whose sellable stock was already zero.",
            registry=r,
        )
        # Margin: the sum over orders of each component, kept as two counters because a
        # refund or a new cost takes some back: net = increase(amount) - increase(reversed).
        self.margin_amount_total = Counter(
            p + "margin_amount_total",
            "Margin components added up over orders, by component and shop currency: increases.",
            ["component", "currency"],
            registry=r,
        )
        self.margin_amount_reversed_total = Counter(
            p + "margin_amount_reversed_total",
            "Margin components added up over orders, by component and shop currency: decreases "
            "(refunds, costs revised down).",
            ["component", "currency"],
            registry=r,
        )
        self.margin_percent = Histogram(
            p + "margin_percent",
            "Margin percent of each order when it is first computed.",
            buckets=_MARGIN_BUCKETS,
            registry=r,
        )
        self.margin_below_floor_total = Counter(
            p + "margin_below_floor_total",
            "Orders whose margin fell below the configured floor ([margin] floor_percent).",
            registry=r,
        )
        # Build-to-order gates; the gate label is a gate's name from [gates], a bounded set.
        self.gates = Gauge(p + "gates", "Build-to-order gates open or held, by gate and state.", ["gate", "state"],
                           registry=r)
        self.gates_overdue = Gauge(
            p + "gates_overdue", "Gates still open or held past their due time (their SLA breached).", ["gate"],
            registry=r,
        )
        self.gate_seconds = Histogram(
            p + "gate_seconds", "Time from a gate's opening to its passing or rejection.", ["gate", "outcome"],
            buckets=_GATE_BUCKETS, registry=r,
        )
        self.gate_sla_breaches_total = Counter(
            p + "gate_sla_breaches_total", "Gates that went past their due time, each counted once.", ["gate"],
            registry=r,
        )
        # Store
        self.store_up = Gauge(p + "store_up", "1 when the store answered its last ping.", registry=r)
        self.store_commits_total = Counter(
            p + "store_commits_total", "Group commits made by the store writer.", registry=r
        )
        self.store_commit_batch_size = Histogram(
            p + "store_commit_batch_size",
            "Writes carried by one group commit.",
            buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=r,
        )
        self.store_commit_duration_seconds = Histogram(
            p + "store_commit_duration_seconds",
            "Time one group commit takes, fsync included.",
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        # The hub: how late it wakes a timer, the time an answer on a socket (an ERP call's
        # included) waits too before its greenlet goes on.
        self.hub_lag_seconds = Histogram(
            p + "hub_lag_seconds",
            "How late the hub woke a quarter-second timer.",
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        # The cyclic garbage collector stops every greenlet while it runs: a pause is hub lag too.
        self.gc_pause_seconds = Histogram(
            p + "gc_pause_seconds",
            "How long one run of the cyclic garbage collector stopped the process, by the oldest generation it "
            "collected (2: a full collection).",
            ["generation"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        for generation in ("0", "1", "2"):
            self.gc_pause_seconds.labels(generation=generation)
        # Cluster (several nodes on one PostgreSQL; all 0 on a single node)
        self.cluster_nodes = Gauge(
            p + "cluster_nodes", "Nodes of the cluster whose heartbeat this node saw within the lease TTL.",
            registry=r,
        )
        self.cluster_leases = Gauge(
            p + "cluster_leases", "Partition leases (shares of the actor keys) this node holds.", registry=r
        )
        self.cluster_leader = Gauge(p + "cluster_leader", "1 when this node holds the leader lease.", registry=r)
        self.cluster_lease_changes_total = Counter(
            p + "cluster_lease_changes_total",
            "Leases this node gained or lost (a node joining, leaving or dying moves some; more is flapping).",
            registry=r,
        )
        for flow in FLOWS:
            self.sync_lag_seconds.labels(flow=flow)
        # Counters that exist from the start read 0, so rate() and increase()
        # see their first event instead of a series appearing at 1.
        for kind in ACTOR_KINDS:
            self.actor_restarts_total.labels(actor=kind)
            for outcome in ("ok", "retry", "quarantined"):
                self.messages_total.labels(actor=kind, outcome=outcome)
        for connector in CONNECTORS:
            self.connector_throttled_total.labels(connector=connector)
            for outcome in ("ok", "throttled", "transient_error", "permanent_error"):
                self.connector_requests_total.labels(connector=connector, outcome=outcome)
        for kind in REPAIR_KINDS:
            self.reconcile_repairs_total.labels(kind=kind)
        for sweep in SWEEPS:
            self.reconcile_sweep_failures_total.labels(sweep=sweep)
            self.reconcile_sweep_duration_seconds.labels(sweep=sweep)

    def exposition(self) -> bytes:
        """The text exposition of every collector, as ``/metrics`` serves it."""
        return generate_latest(self.registry)

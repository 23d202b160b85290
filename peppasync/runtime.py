"""The runtime: boots the engine in order and shuts it down in reverse.

Boot: refuse to run unpatched, open and migrate the store, start the actor
system (which resumes every pending mailbox), start the HTTP server, tell
systemd we are ready. Shutdown on SIGTERM/SIGINT: stop accepting, let in-flight
requests finish, stop the actors, flush the writer, close the store, exit 0.
"""

from __future__ import annotations

import logging
import math
import signal
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import gevent
import gevent.event
import gevent.util
from gevent import monkey

from peppasync import __version__
from peppasync.backlog import BacklogGauges
from peppasync.backoff import Backoff
from peppasync.clock import Clock, SystemClock
from peppasync.config import Config
from peppasync.errors import RuntimeStartError, StoreError, StoreUnavailableError
from peppasync.exits import Exit
from peppasync.heap import PauseMeter, tune_garbage_collector
from peppasync.http import ConnectorControl, HttpServer, listen, make_app
from peppasync.hub_lag import HubLag
from peppasync.metrics import Metrics
from peppasync.notify import Notifier
from peppasync.retry import RetryPolicy
from peppasync.store import Store, open_store, redact_url
from peppasync.store.leases import cluster_view
from peppasync.store.limits import SharedLimit, SharedRate
from peppasync.store.membership import Membership
from peppasync.store.node import NodeLock, hold_store

from actors import ActorSystem, ActorSystemHost, DurableActor, GateSettings, MetricsActorHooks
from actors.gate import changed_gates
from supervisors import (
    ChildSpec,
    KeyedSupervisor,
    MetricsSupervisorHooks,
    OneForOneStrategy,
    PoisonPolicy,
    RestartIntensity,
    RestartPolicy,
    start_root,
)

__all__ = ["ACTOR_RESTARTS", "DEDUP_WINDOW", "SYSTEM_RESTARTS", "Runtime", "require_patched"]

#: Restarts of crashed actors, per kind (see ``supervisors.KeyedSupervisor``): one key crashing
#: over and over stays below the intensity (its backoff grows to 30 s); twenty crashes of a
#: kind within a minute are a shared cause, and the kind escalates to the root.
ACTOR_RESTARTS = RestartPolicy(
    intensity=RestartIntensity(max_restarts=20, period=60.0),
    backoff=Backoff(base=0.5, cap=30.0, jitter=0.5),
)
#: Restarts of the actor system under the root: the third in a minute makes the process exit
#: non-zero, and systemd starts it again.
SYSTEM_RESTARTS = RestartPolicy(
    intensity=RestartIntensity(max_restarts=3, period=60.0),
    backoff=Backoff(base=1.0, cap=30.0, jitter=0.5),
)

#: Seconds a webhook's event id is remembered for deduplication. Shopify retries
#: a webhook for 48 hours; a week covers that with room for a long outage.
DEDUP_WINDOW = 7 * 24 * 3600.0

#: How often the hub's lag is sampled (``peppasync_hub_lag_seconds``).
_HUB_LAG_INTERVAL = 0.25
log = logging.getLogger("peppasync.runtime")


def require_patched() -> None:
    """Refuse to start unless gevent patched the standard library first."""
    missing = [m for m in ("socket", "_thread", "threading", "select", "time") if not monkey.is_module_patched(m)]
    if missing:
        raise RuntimeStartError(
            "gevent is not monkey-patched (unpatched: " + ", ".join(missing) + "); start Peppasync "
            "through the `peppasync` command, or call gevent.monkey.patch_all() as the first "
            "statement of your entry point"
        )


class Runtime:
    """One Peppasync node: store, actors, HTTP. Implements what the HTTP layer needs."""

    def __init__(
        self,
        config: Config,
        *,
        kinds: Iterable[type[DurableActor]] = (),
        services: Callable[[Config, Metrics, Clock], dict[str, Any]] | None = None,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
        notifier: Notifier | None = None,
        gauge_interval: float = 2.0,
        dedup_window: float = DEDUP_WINDOW,
        prune_interval: float = 3600.0,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.metrics = metrics or Metrics()
        self.metrics.build_info.info({"version": __version__})
        self._kinds = list(kinds)
        self._make_services = services
        self.services: dict[str, Any] = {}
        self._notifier = notifier or Notifier()
        self._gauge_interval = gauge_interval
        self._dedup_window = dedup_window
        self._prune_interval = prune_interval
        self._connectors: dict[str, ConnectorControl] = {}
        self._stopped = gevent.event.Event()
        self._exit_code = 0
        self._node: NodeLock | None = None
        #: This node's membership of a cluster (``[cluster] enabled``), else None.
        self.membership: Membership | None = None
        #: On a cluster, the vendor caps this node holds with the others (the ERP's concurrency).
        self.shared_limits: list[SharedLimit | SharedRate] = []
        self._lease_changes_seen = 0
        self._background: list[gevent.Greenlet] = []
        self._gc_pauses = PauseMeter(keep=True)  # read into peppasync_gc_pause_seconds by the hub-lag loop
        self._lag = HubLag(_HUB_LAG_INTERVAL, observe=self._hub_lag)
        self.store: Store
        self.system: ActorSystem
        self.http: HttpServer
        self._started = False

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        """Start everything in order; on any failure undo what had started and raise.

        The port is bound first and the store opened next, so the two ways a
        start usually fails (the port is taken, the store cannot be reached)
        raise ``RuntimeStartError`` before any actor runs. Whatever fails, the
        parts already started are stopped again: a failed start leaves no
        greenlet behind to keep the process alive.
        """
        require_patched()
        cfg = self.config
        undo: list[Callable[[], None]] = []
        try:
            self._start(cfg, undo)
        except BaseException:
            for step in reversed(undo):
                try:
                    step()
                except Exception:
                    log.exception("undoing a failed start failed")
            raise

    def _start(self, cfg: Config, undo: list[Callable[[], None]]) -> None:
        listener = listen(cfg.server.host, cfg.server.port)
        undo.append(listener.close)
        try:
            self.store = open_store(
                cfg.store.url, clock=self.clock, batch_max=cfg.store.batch_max, metrics=self.metrics,
                idle_in_transaction=cfg.cluster.lease_ttl if cfg.cluster.enabled else None,
            )
            undo.append(self.store.close)
            applied = self.store.migrate()
            cluster = cfg.cluster
            if not cluster.enabled or cluster.wakeups == "notify":
                # One serving node per store, or only nodes of a cluster: a single node beside
                # others would handle every message again. (Behind PgBouncer's transaction
                # pooling a session lock does not hold; there the leases alone decide.)
                self._node = hold_store(cfg.store.url, on_lost=lambda: self.request_stop(1),
                                        cluster=cluster.enabled)
                undo.append(self._release_node)
            if cluster.enabled:
                self.membership = Membership(
                    cfg.store.url, node_id=cluster.node_id, listen=cfg.server.listen, ttl=cluster.lease_ttl,
                    interval=cluster.heartbeat_interval, wakeups=cluster.wakeups)
        except StoreError as exc:
            url = exc.url or redact_url(cfg.store.url)
            raise StoreUnavailableError(f"cannot open the store: {exc}", url=url) from exc
        if applied:
            log.info("store migrated", extra={"versions": applied})
        # Orders by state start from what the store holds; the actors' transitions move them on.
        for status, count in self.store.count_by_status("order").items():
            self.metrics.orders.labels(state=status).set(count)
        self._count_gates()
        if self._make_services is not None:
            self.services = self._make_services(cfg, self.metrics, self.clock)
            undo.append(self._close_services)
        for name, service in self.services.items():
            if all(hasattr(service, a) for a in ("pause", "resume", "set_limit", "stats")):
                self._connectors[name] = service
        engine = cfg.engine
        # The outer retry layer (peppasync.retry): a message gets max_attempts attempts, with no
        # deadline; each connector call inside it makes at most its own RetryPolicy's tries.
        policy = PoisonPolicy(
            RetryPolicy(
                max_attempts=engine.max_attempts,
                deadline=math.inf,
                backoff=Backoff(base=engine.retry_min_seconds, cap=engine.retry_max_seconds, jitter=0.5),
            )
        )
        supervision_hooks = MetricsSupervisorHooks(self.metrics)
        self.system = ActorSystem(
            self.store,
            policy,
            clock=self.clock,
            supervision=KeyedSupervisor(ACTOR_RESTARTS, clock=self.clock, hooks=supervision_hooks),
            hooks=MetricsActorHooks(self.metrics),
            prefetch=engine.prefetch,
            idle_seconds=engine.idle_seconds,
            services=self.services,
            ownership=self.membership,
            sweep_interval=1.0 if self.membership is None or self.membership.wakeups == "notify" else 0.5,
        )
        for kind in self._kinds:
            self.system.register(kind)
        membership = self.membership
        if membership is not None:
            # Leases first: the actor system starts delivering to what this node owns.
            membership.listener = self.system.delivery.leases_changed
            membership.drain = self.system.delivery.hand_over
            membership.on_hint = self.system.delivery.hinted
            try:
                membership.start()
            except StoreError as exc:
                raise StoreUnavailableError(f"cannot join the cluster: {exc}", url=redact_url(cfg.store.url)) from exc
            undo.append(self._leave_cluster)
            self._share_limits(cfg, membership)
        app = make_app(
            self,
            ops_token=cfg.server.ops_token,
            shopify_secret=cfg.shopify.webhook_secret,
            wms_token=cfg.wms.webhook_token,
            max_body=cfg.server.max_body_bytes,
            margins="margin" in self.system.kinds,
            console=cfg.console,
            gates=GateSettings.from_config(cfg.gates),
        )
        self.http = HttpServer(app, cfg.server.host, cfg.server.port, listener=listener)
        timeout = cfg.server.shutdown_timeout
        # The tree: root -> actor system -> one supervisor per actor kind. A kind past its
        # intensity fails the actor system, which the root restarts; past the root's
        # intensity the root gives up and the process exits non-zero; systemd restarts
        # it, the durable mailboxes make that safe.
        self._root = start_root(
            [
                ChildSpec(
                    "actors",
                    ActorSystemHost.spec_start(self.system, timeout),
                    shutdown=timeout + 5,
                    kind="actor_system",
                )
            ],
            on_give_up=self._give_up,
            strategy=OneForOneStrategy(),
            intensity=SYSTEM_RESTARTS.intensity,
            backoff=SYSTEM_RESTARTS.backoff,
            clock=self.clock,
            hooks=supervision_hooks,
        )
        undo.append(lambda: self._stop_actors(timeout))
        self.http.start()
        undo.append(lambda: self.http.stop(timeout=timeout))
        if "gate" in self.system.kinds:
            # A changed [gates] rule applies to open gates now, not when their old timer fires.
            settings = GateSettings.from_config(cfg.gates)
            for key in changed_gates(self.store.states("gate"), settings):
                self.system.tell("gate", key, {"type": "tick"})
        for kind in self._kinds:
            boot_key = getattr(kind, "boot_key", None)
            if boot_key is not None:
                # Each boot starts a fresh tick chain (reconciler, stock feed); they drop older ones.
                self.system.tell(kind.kind, boot_key, {"type": "tick", "chain": uuid.uuid4().hex, "boot": True})
        gauges = BacklogGauges(self.store, self.metrics, self.system.kinds)
        self._background.append(gevent.spawn(self._every, self._gauge_interval, gauges.refresh))
        if self.membership is not None:
            self._background.append(gevent.spawn(self._every, self._gauge_interval, self._cluster_gauges))
        self._background.append(gevent.spawn(self._every, self._prune_interval, self._prune_dedup))
        self._lag.start()
        if self._notifier.watchdog_interval:
            self._background.append(
                gevent.spawn(self._every, self._notifier.watchdog_interval, lambda now: self._notifier.watchdog())
            )
        undo.append(self._kill_background)
        tune_garbage_collector()
        self._gc_pauses.start()
        self._started = True
        self._notifier.ready(f"serving on {self.http.url}")
        log.info(
            "peppasync serving",
            extra={"url": self.http.url, "store": self.store.backend, "version": __version__},
        )

    def _stop_actors(self, timeout: float) -> None:
        if self._root.is_alive():
            self._root.stop(timeout=timeout + 10)
        self.system.stop(timeout=timeout)

    def _count_gates(self) -> None:
        """Open gates by gate and state, and the overdue ones, start from what the store holds."""
        open_gates: dict[tuple[str, str], int] = {}
        overdue: dict[str, int] = {}
        for _key, state in self.store.states("gate"):
            gate = state.get("gate") or {}
            name, status = str(gate.get("gate") or ""), str(gate.get("status") or "")
            if name and status in ("open", "held"):
                open_gates[(name, status)] = open_gates.get((name, status), 0) + 1
                if gate.get("breached"):
                    overdue[name] = overdue.get(name, 0) + 1
        for (name, status), count in open_gates.items():
            self.metrics.gates.labels(gate=name, state=status).set(count)
        for name, count in overdue.items():
            self.metrics.gates_overdue.labels(gate=name).set(count)

    def _close_services(self) -> None:
        for service in self.services.values():
            close = getattr(service, "close", None)
            if callable(close):
                close()

    def _kill_background(self) -> None:
        for greenlet in self._background:
            greenlet.kill()
        self._lag.stop()
        self._gc_pauses.stop()

    def _cluster_gauges(self, now: float) -> None:
        membership, m = self.membership, self.metrics
        assert membership is not None
        m.cluster_nodes.set(len(membership.nodes))
        m.cluster_leases.set(sum(1 for name in membership.held if name.startswith("partition/")))
        m.cluster_leader.set(1 if membership.leads else 0)
        changes = membership.changes - self._lease_changes_seen
        if changes > 0:
            m.cluster_lease_changes_total.inc(changes)
            self._lease_changes_seen = membership.changes

    def _prune_dedup(self, now: float) -> None:
        """Forget webhook event ids older than the dedup window; Shopify stops retrying long before."""
        if self.membership is not None and not self.membership.leads:
            return  # the cluster's leader prunes
        pruned = self.store.prune_dedup(before=now - self._dedup_window)
        if pruned:
            log.info("webhook dedup keys pruned", extra={"pruned": pruned, "window": self._dedup_window})

    def stop(self) -> None:
        """Drain and stop; safe to call twice."""
        if not self._started:
            return
        self._started = False
        self._notifier.stopping()
        timeout = self.config.server.shutdown_timeout
        log.info("stopping", extra={"timeout": timeout})
        self.http.stop(timeout=timeout)
        self._kill_background()
        self._stop_actors(timeout)
        self._close_services()
        self.store.close()
        # After the last commit of our actors: the leases go at once, and the others take over now.
        self._leave_cluster()
        self._release_node()
        log.info("stopped")

    def _share_limits(self, cfg: Config, membership: Membership) -> None:
        """The vendors' limits are the accounts', not each node's: hold them with the other nodes."""
        for name in ("netsuite", "business_central"):
            connector = self.services.get(name)
            limiter = getattr(connector, "limiter", None)
            if connector is None or limiter is None:
                continue
            shared = SharedLimit(
                cfg.store.url, f"{name}:concurrency", int(connector.max_limit), node_id=membership.node_id,
                demand=_demand_of(limiter),
                apply=limiter.set_share, ttl=cfg.cluster.lease_ttl)
            limiter.on_wait = shared.kick
            shared.start()
            self.shared_limits.append(shared)
        # Shopify's cost bucket and the WMS's request windows are the account's too: each node
        # believes only its part of what the vendor reports.
        for name, model in (("shopify", "bucket"), ("wms", "window"), ("wms_inventory", "budget")):
            connector = self.services.get(name)
            budget = getattr(connector, model, None)
            if connector is None or budget is None:
                continue
            rate = SharedRate(cfg.store.url, f"{name}:rate", node_id=membership.node_id,
                              demand=_waiting_of(connector.limiter), apply=budget.set_share,
                              ttl=cfg.cluster.lease_ttl)
            rate.start()
            self.shared_limits.append(rate)

    def _leave_cluster(self) -> None:
        for shared in self.shared_limits:
            shared.stop()
        self.shared_limits = []
        if self.membership is not None:
            self.membership.stop()

    def _release_node(self) -> None:
        if self._node is not None:
            self._node.release()
            self._node = None

    def _give_up(self, exit: Exit) -> None:
        log.critical("supervision gave up; exiting so the service manager restarts us",
                     exc_info=exit.exc_info, extra={"exit": exit.detail})
        self.request_stop(1)

    def request_stop(self, exit_code: int = 0) -> None:
        self._exit_code = max(self._exit_code, exit_code)
        self._stopped.set()

    def serve(self, ready: Callable[[Runtime], None] | None = None) -> int:
        """Start, serve until SIGTERM/SIGINT (or ``request_stop``), stop; returns the exit code.

        SIGUSR1 logs the stack of every greenlet, also while starting or
        stopping: what a server that will not start or stop is waiting for.
        """
        # The handlers come before start: the port answers before start returns,
        # and a signal in between (systemd's stop, Ctrl-C, a stack dump) must not
        # kill the process half-started. A stop asked for then happens once started.
        dump = gevent.signal_handler(signal.SIGUSR1, _log_greenlet_stacks)
        handlers = [
            gevent.signal_handler(signal.SIGTERM, self.request_stop),
            gevent.signal_handler(signal.SIGINT, self.request_stop),
        ]
        try:
            self.start()
            if ready is not None:
                ready(self)
            self._stopped.wait()
        finally:
            for handler in handlers:
                handler.cancel()
            try:
                self.stop()
            finally:
                dump.cancel()
        return self._exit_code

    def _hub_lag(self, lag: float) -> None:
        """One sample of how late the hub wakes a timer: the time an answer on a socket waits too
        before its greenlet goes on (one long piece of work, or a long round of ready greenlets)."""
        self.metrics.hub_lag_seconds.observe(lag)
        # The collector's pauses, kept by its callback (which may take no lock), as metrics.
        for generation, seconds in self._gc_pauses.drain():
            self.metrics.gc_pause_seconds.labels(generation=str(generation)).observe(seconds)

    def _every(self, interval: float, fn: Callable[[float], Any]) -> None:
        while True:
            try:
                fn(self.clock.time())
            except Exception:
                log.exception("periodic task failed; trying again")
            gevent.sleep(interval)

    # -- what the HTTP layer asks ---------------------------------------------

    def now(self) -> float:
        return self.clock.time()

    def wake(self, kind: str, key: str, *, reread: bool = False) -> None:
        """Have (kind, key) look at its mailbox: only for messages no commit of this process stored."""
        self.system.wake(kind, key, reread=reread)

    def connector(self, name: str) -> ConnectorControl | None:
        return self._connectors.get(name)

    def readiness(self) -> dict[str, bool]:
        return {"store": self.store.ping(), "actors": self._started}

    def status(self) -> dict[str, Any]:
        stats = self.store.mailbox_stats(now=self.clock.time())
        return {
            "version": __version__,
            "store": self.store.backend,
            "schema_version": self.store.schema_version(),
            "mailboxes": {
                kind: {"depth": s.depth, "oldest_age_seconds": round(s.oldest_age_seconds, 3)}
                for kind, s in sorted(stats.items())
            },
            "actors_active": {kind: self.system.active(kind) for kind in self.system.kinds},
            "quarantine": {f"{k}/{r}": n for (k, r), n in sorted(self.store.quarantine_counts().items())},
            "connectors": {name: dict(c.stats()) for name, c in sorted(self._connectors.items())},
            **({"cluster": self.cluster_status()} if self.membership is not None else {}),
        }

    def cluster_status(self) -> dict[str, Any]:
        """This node, the nodes, how many partitions each holds, the leader (from the lease table)."""
        membership = self.membership
        assert membership is not None
        return cluster_view(membership.leases(), membership.nodes, me=membership.node_id)


def _demand_of(limiter: Any) -> Callable[[], tuple[int, int]]:
    """What a connector's limiter wants of a shared cap: (waiting + in flight, in flight).

    Never more than its own limit (the connector's adaptive one): slots it could not use
    would sit idle while another node waits for them.
    """
    return lambda: (min(limiter.waiting + limiter.inflight_shared, limiter.limit), limiter.inflight_shared)


def _waiting_of(limiter: Any) -> Callable[[], int]:
    """What a connector wants of a shared rate: the calls waiting and in flight."""
    return lambda: int(limiter.waiting + limiter.inflight)


def _log_greenlet_stacks() -> None:
    log.warning("greenlet stacks", extra={"stacks": "\n".join(gevent.util.format_run_info())})

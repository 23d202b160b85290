"""Replay: a sandbox and an engine process wired to it, replaying orders, with cheap progress."""

from __future__ import annotations

import contextlib
import shutil
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent

from peppasync.demo import demo_sandbox, engine_config
from peppasync.sandbox import Sandbox, SandboxProfile
from peppasync.store import Store, open_store

from .balancer import Balancer
from .engine import EngineProcess, write_toml
from .heal import cancelled_orders, ships
from .scratch import create_schema, drop_schema

__all__ = ["Progress", "Replay", "free_port"]


def free_port() -> int:
    """A TCP port nothing listens on now (the OS's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Progress:
    """Counts read from the simulators, cheap enough to poll several times a second."""

    placed: int
    valid_in_erp: int
    valid_placed: int
    wms: int
    shipped: int
    fulfilled: int
    placing: bool

    @property
    def erp_done(self) -> bool:
        """Every order is placed and every valid one is in the ERP."""
        return not self.placing and self.valid_in_erp >= self.valid_placed

    @property
    def shipped_fulfilled(self) -> bool:
        return self.fulfilled >= self.shipped


class Replay:
    """One run's world in ``directory``: a started sandbox, an engine process, a store file.

    Orders are placed in the background at the profile's pace (``place``); the
    engine can be killed and restarted at will (``engine``); ``store()`` opens the
    engine's store from this process, for what only the engine knows (quarantine).

    With ``postgres`` (a database URL) the store is a fresh schema there, dropped
    on ``close``; with ``nodes`` above 1 the engine is a cluster of that many
    ``serve`` processes (``engines``) behind a round-robin balancer on the
    address the sandbox sends its webhooks to (``cluster``, its settings, makes
    even one node a cluster of one).
    """

    def __init__(self, directory: Path, *, profile: str | SandboxProfile, seed: int, time_scale: float,
                 engine: dict[str, Any] | None = None, erp: str = "netsuite", nodes: int = 1,
                 postgres: str | None = None, cluster: dict[str, Any] | None = None) -> None:
        if nodes < 1:
            raise ValueError(f"nodes must be at least 1, got {nodes}")
        if nodes > 1 and not postgres:
            raise ValueError("several nodes need a PostgreSQL store: give its URL (postgres)")
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        self.directory = directory
        listen = f"127.0.0.1:{free_port()}"
        self.sandbox: Sandbox = demo_sandbox(profile=profile, seed=seed, time_scale=time_scale, listen=listen,
                                             erp=erp)
        self.sandbox.start()
        self.database = directory / "engine.db"
        self._admin_url = postgres
        self._schema: str | None = None
        self.store_url = f"sqlite:///{self.database.resolve()}"
        if postgres:
            self._schema = f"peppasync_bench_{uuid.uuid4().hex[:12]}"
            self.store_url = create_schema(postgres, self._schema)
        raw = engine_config(self.sandbox, self.database, listen=listen, engine=engine)
        raw["store"] = {"url": self.store_url}
        if postgres and (nodes > 1 or cluster is not None):
            raw["cluster"] = {"enabled": True, "lease_ttl": 5.0, "heartbeat_interval": 1.0, **(cluster or {})}
        self.reconcile_interval = float(raw["engine"]["reconcile_interval"])
        self.engines: list[EngineProcess] = []
        self._balancer: Balancer | None = None
        if nodes == 1 and "cluster" not in raw:
            config = write_toml(directory / "peppasync.toml", raw)
            self.engines.append(EngineProcess(config, f"http://{listen}", directory / "engine.log"))
        else:
            backends = []
            for n in range(1, nodes + 1):
                own = f"127.0.0.1:{free_port()}"
                backends.append(own)
                node_raw = {**raw, "server": {**raw["server"], "listen": own},
                            "cluster": {**raw["cluster"], "node_id": f"node-{n}"}}
                config = write_toml(directory / f"node-{n}.toml", node_raw)
                self.engines.append(EngineProcess(config, f"http://{own}", directory / f"node-{n}.log"))
            self._balancer = Balancer(listen, backends)
        #: The first node (the only one, unless ``nodes`` is above 1).
        self.engine = self.engines[0]
        self._placer: gevent.Greenlet | None = None
        self._valid: set[str] = set()
        self._seen = 0

    def start(self) -> None:
        try:
            if self._balancer is not None:
                self._balancer.start()
            gevent.joinall([gevent.spawn(e.start) for e in self.engines], raise_error=True)
        except BaseException:
            self.close()
            raise

    def place(self, n: int, *, malformed_ratio: float, lines_mean: float = 3.0) -> None:
        """Start placing ``n`` orders at the profile's pace and burst shape."""
        self._placer = gevent.spawn(self.sandbox.place_orders, n, malformed_ratio=malformed_ratio,
                                    lines_mean=lines_mean, paced=True)

    def progress(self) -> Progress:
        sb = self.sandbox
        placing = self._placer is not None and not self._placer.ready()
        if self._placer is not None and self._placer.ready():
            self._placer.get()  # a failure to place orders ends the run here, with its cause
        self._catch_up()
        booked = sb.erp.booked_ids()
        in_erp = sum(1 for eid in self._valid if eid in booked)
        return Progress(
            placed=len(sb.placed), valid_in_erp=in_erp, valid_placed=len(self._valid),
            wms=len(sb.wms.warehouse.orders), shipped=len(sb.wms.warehouse.shipments),
            fulfilled=len(sb.shopify.shop.fulfillments), placing=placing,
        )

    def _catch_up(self) -> None:
        placed = self.sandbox.placed
        for order in placed[self._seen:]:
            if order.valid:
                self._valid.add(str(order.id))
        self._seen = len(placed)

    def erp_created(self) -> dict[int, float]:
        """When each placed valid order's sales order was created in the ERP (sandbox clock)."""
        self._catch_up()
        booked = self.sandbox.erp.booked()
        return {int(eid): booked[eid].created for eid in self._valid if eid in booked}

    def shipped_orders(self) -> set[int]:
        """Orders the WMS has shipped so far."""
        warehouse = self.sandbox.wms.warehouse
        with warehouse.lock:
            return {int(s["orderKey"]) for s in warehouse.shipments if str(s["orderKey"]).isdigit()}

    def fully_consistent(self) -> bool:
        """Every order is placed, every valid one is in the ERP, every valid one to ship (not
        cancelled) is in the WMS, and every order the WMS shipped is fulfilled in Shopify."""
        if self._placer is None or not self.progress().erp_done:
            return False
        sb = self.sandbox
        cancelled = cancelled_orders(sb)
        due = {str(p.id) for p in sb.placed if p.valid and p.id not in cancelled and ships(p)}
        with sb.wms.warehouse.lock:
            in_wms = set(sb.wms.warehouse.orders)
        return due <= in_wms and self.shipped_orders() <= self.fulfilled_orders()

    def fulfilled_orders(self) -> set[int]:
        """Orders with at least one fulfillment in Shopify."""
        shop = self.sandbox.shopify.shop
        with shop.lock:
            return {int(f["order_id"]) for f in shop.fulfillments.values()}

    def store(self) -> Store:
        return open_store(self.store_url)

    def stop_engines(self) -> None:
        """SIGTERM every node at once and wait for them."""
        gevent.joinall([gevent.spawn(e.stop) for e in self.engines])

    def close(self) -> None:
        """Stop the placer, the engines and the sandbox (in that order); drop a PostgreSQL schema."""
        if self._placer is not None:
            self._placer.kill()
        try:
            gevent.joinall([gevent.spawn(e.stop) for e in self.engines])
        finally:
            if self._balancer is not None:
                self._balancer.stop()
            self.sandbox.stop()
            if self._admin_url and self._schema:
                with contextlib.suppress(Exception):
                    drop_schema(self._admin_url, self._schema)
                self._schema = None

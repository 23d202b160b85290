"""Fuzzing the webhook ingress: signed, mutated bodies through the real server, and what must hold.

The sandbox and the engine (HTTP server on a loopback port, SQLite store,
actors, connectors) run in this process. ``peppasync.sandbox.fuzz`` makes the
webhooks; senders post them at a steady rate; then the engine drains its
mailboxes and the run is judged on what an operator would see:

- no answer is a 5xx (Shopify retries those for two days);
- nothing acknowledged is lost: every 200 "accepted" message is still in its
  mailbox, in quarantine, or among the events its order actor handled;
- every actor that got a message can load its state, and no message was
  quarantined because its actor could not start;
- the quarantine lists, from the store and from ``GET /api/v1/quarantine``;
- every error the engine logged carries its exception, and the gevent hub
  printed no raw traceback.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import gevent
import gevent.pool
import requests
import requests.adapters

from peppasync.config import parse_config
from peppasync.demo import engine_config, start_engine
from peppasync.runtime import Runtime
from peppasync.sandbox import PROFILES, Sandbox
from peppasync.sandbox.fuzz import FuzzedWebhook, WebhookFuzzer

from .progress import ProgressBar
from .replay import free_port

__all__ = ["FuzzOptions", "FuzzReport", "run_fuzz"]

_ACTOR_START_FAILURES = ("HandlerCrashedError", "RecursionError")


@dataclass(frozen=True)
class FuzzOptions:
    """How many webhooks, how fast, from which seed, and where the run's files go."""

    bodies: int = 10_000
    rate: float = 50.0  # webhooks per second; 0: as fast as the server answers
    seed: int = 13
    orders: int = 100  # real orders the webhooks are made from
    time_scale: float = 20.0
    senders: int = 8
    drain_timeout: float = 120.0
    directory: Path = field(default_factory=lambda: Path(".peppasync-bench/fuzz"))

    def __post_init__(self) -> None:
        if self.bodies < 1 or self.orders < 1 or self.senders < 1:
            raise ValueError(f"bodies, orders and senders must be at least 1, got {self.bodies}, "
                             f"{self.orders} and {self.senders}")
        if self.rate < 0 or not self.time_scale > 0:
            raise ValueError(f"rate must be 0 or more and time_scale positive, got {self.rate}, {self.time_scale}")


@dataclass
class FuzzReport:
    """What the run saw; ``passed`` says whether everything that must hold held."""

    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)  # "400 too_deep": how many
    server_errors: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0
    lost: list[int] = field(default_factory=list)
    unloadable: list[str] = field(default_factory=list)
    quarantined: int = 0
    quarantine_listed: int = 0
    quarantine_error: str = ""
    crashes_without_exception: list[str] = field(default_factory=list)
    actor_restarts: int = 0
    drained: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (``passed`` included)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["statuses"] = {str(status): n for status, n in sorted(self.statuses.items())}
        data["refusals"] = dict(self.refusals.most_common())
        data["passed"] = self.passed
        return data

    @property
    def passed(self) -> bool:
        return not (self.server_errors or self.transport_errors or self.lost or self.unloadable
                    or self.quarantine_error or self.crashes_without_exception or self.quarantine_listed
                    != self.quarantined)

    def lines(self) -> list[str]:
        """The report as an operator reads it."""
        twos = sum(n for status, n in self.statuses.items() if 200 <= status < 300)
        fours = sum(n for status, n in self.statuses.items() if 400 <= status < 500)
        out = [
            f"sent                                {self.sent} in {self.seconds:.0f} s",
            f"2xx                                 {twos} (accepted {self.accepted}, duplicate {self.duplicates},"
            f" other {twos - self.accepted - self.duplicates})",
            f"4xx                                 {fours}",
            *(f"  {reason:<34}{n}" for reason, n in sorted(self.refusals.items(), key=lambda r: (-r[1], r[0]))),
            f"5xx                                 {len(self.server_errors)}",
            *(f"  {line}" for line in self.server_errors[:10]),
            f"no answer (transport errors)        {len(self.transport_errors)}",
            *(f"  {line}" for line in self.transport_errors[:10]),
            f"acknowledged but lost               {len(self.lost)}",
            f"actors that cannot load their state {len(self.unloadable)}",
            *(f"  {key}" for key in self.unloadable[:10]),
            f"quarantine entries listed           {self.quarantine_listed} of {self.quarantined}"
            + (f" ({self.quarantine_error})" if self.quarantine_error else ""),
            f"crashes without a logged exception  {len(self.crashes_without_exception)}",
            *(f"  {line}" for line in self.crashes_without_exception[:10]),
            f"actor restarts                      {self.actor_restarts}",
            f"mailboxes drained                   {'yes' if self.drained else 'no (timed out)'}",
            "PASS" if self.passed else "FAIL",
        ]
        return out


class _ErrorsWithoutException(logging.Handler):
    """Keeps every ERROR the engine logs without the exception that caused it."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info is None and not record.name.startswith("peppasync.sandbox"):
            self.found.append(f"{record.name}: {record.getMessage()} {getattr(record, 'error', '')}".strip())


class _HubTracebacks(io.TextIOBase):
    """Stands in for the gevent hub's exception stream: counts raw tracebacks, passes them on."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.found: list[str] = []

    def write(self, text: str) -> int:
        # The hub ends each traceback it prints with "<greenlet> failed with <ErrorClass>".
        if " failed with " in text:
            self.found.append(text.strip()[-200:])
        if self.inner is not None:
            self.inner.write(text)
        return len(text)


def run_fuzz(options: FuzzOptions, out: TextIO | None = None) -> FuzzReport:
    """Send ``options.bodies`` fuzzed webhooks to a fresh engine and judge the outcome."""
    out = out if out is not None else sys.stdout
    directory = options.directory
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("fuzz.db*"):
        old.unlink()
    listen = f"127.0.0.1:{free_port()}"
    sandbox = Sandbox(PROFILES["calm"], seed=options.seed, time_scale=options.time_scale,
                      webhook_url=None, wms_webhook_url=f"http://{listen}/webhooks/wms")
    sandbox.start()
    raw = engine_config(sandbox, directory / "fuzz.db", listen=listen)
    runtime = start_engine(sandbox, parse_config(raw, source="fuzz", environ={}))
    committed: dict[int, tuple[str, str]] = {}
    runtime.store.listen(lambda added: committed.update(
        (message_id, (op.key, _event_key(op.payload))) for message_id, op, _, _ in added
        if op.kind == "order" and op.payload.get("type") == "webhook"
    ))
    errors = _ErrorsWithoutException()
    logging.getLogger().addHandler(errors)
    hub = gevent.get_hub()
    tracebacks = _HubTracebacks(hub.exception_stream)
    hub.exception_stream = tracebacks
    report = FuzzReport()
    started = time.monotonic()
    try:
        placed = sandbox.place_orders(options.orders, malformed_ratio=0.05, messy_ratio=0.3)
        fuzzer = WebhookFuzzer(sandbox.webhook_secret, [p.payload for p in placed], seed=options.seed,
                               now=sandbox.clock.time)
        accepted = _send(runtime, fuzzer, options, report, out)
        report.seconds = time.monotonic() - started
        report.drained = _drain(runtime, options.drain_timeout)
        _judge(runtime, accepted, committed, report)
        report.actor_restarts = int(sum(
            sample.value for metric in runtime.metrics.registry.collect()
            if metric.name == "peppasync_actor_restarts" for sample in metric.samples
            if sample.name.endswith("_total")
        ))
    finally:
        hub.exception_stream = tracebacks.inner
        logging.getLogger().removeHandler(errors)
        runtime.stop()
        sandbox.stop()
    report.crashes_without_exception = errors.found + [f"gevent hub: {t}" for t in tracebacks.found]
    return report


def _event_key(payload: dict[str, Any]) -> str:
    """The key under which the order actor records a webhook it handled."""
    event = str(payload.get("event_id") or "")
    return f"{event}:{str(payload['digest'])[:16]}" if event and payload.get("digest") else event


def _send(runtime: Runtime, fuzzer: WebhookFuzzer, options: FuzzOptions, report: FuzzReport,
          out: TextIO) -> list[int]:
    url = f"{runtime.http.url}/webhooks/shopify"
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=options.senders))
    accepted: list[int] = []
    pool = gevent.pool.Pool(options.senders)
    progress = ProgressBar(out, "webhooks", options.bodies)
    started = time.monotonic()

    def post(hook: FuzzedWebhook) -> None:
        try:
            answer = session.post(url, data=hook.body, headers=hook.headers, timeout=30)
        except requests.RequestException as exc:
            report.transport_errors.append(f"{hook.mutation}: {type(exc).__name__}: {exc}"[:300])
            return
        report.statuses[answer.status_code] += 1
        try:
            data = answer.json()
        except ValueError:
            data = {}
        if answer.status_code >= 500:
            report.server_errors.append(f"{answer.status_code} {hook.mutation}: {answer.text[:200].strip()}")
        elif answer.status_code >= 400:
            report.refusals[f"{answer.status_code} {data.get('reason') or _reason(data)}"] += 1
        elif data.get("status") == "accepted":
            report.accepted += 1
            accepted.append(int(data["message_id"]))
        elif data.get("status") == "duplicate":
            report.duplicates += 1

    for n in range(options.bodies):
        if options.rate:
            gevent.sleep(max(0.0, started + n / options.rate - time.monotonic()))
        pool.spawn(post, fuzzer.next())
        report.sent += 1
        progress.update(n + 1)
    pool.join()
    progress.close(f"{report.sent} sent, {sum(report.statuses.values())} answered")
    session.close()
    return accepted


def _reason(data: dict[str, Any]) -> str:
    return str(data.get("error") or "no reason given").split(":")[0][:40]


def _drain(runtime: Runtime, timeout: float) -> bool:
    """Wait until the order actors have handled every message (other kinds keep timers of their own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = runtime.store.mailbox_stats().get("order")
        if stats is None or not stats.depth:
            return True
        gevent.sleep(0.25)
    return False


_LISTING_TRIES = 10


def _judge(runtime: Runtime, accepted: list[int], committed: dict[int, tuple[str, str]],
           report: FuzzReport) -> None:
    store = runtime.store
    entries: list[Any] = []
    # The engine may still quarantine while it is listed (the reconciler reads back what webhooks
    # missed): compare the API's listing with the store's only when no entry came in meanwhile.
    for _ in range(_LISTING_TRIES):
        try:
            before = len(store.quarantine_list(state=None))
            report.quarantine_listed = _listed_by_api(runtime, report)
            entries = store.quarantine_list(state=None)
            json.dumps([e.payload for e in entries])
        except Exception as exc:  # noqa: BLE001 - the finding itself
            report.quarantine_error = f"the store's listing failed: {type(exc).__name__}: {exc}"[:300]
            entries = []
            break
        if len(entries) == before:
            break
        gevent.sleep(1.0)
    report.quarantined = len(entries)
    quarantined = {e.message_id for e in entries}
    for entry in entries:
        if entry.error_class in _ACTOR_START_FAILURES or any(n in entry.traceback for n in _ACTOR_START_FAILURES):
            report.unloadable.append(f"{entry.kind} {entry.key}: quarantined as {entry.error_class}")
    keys = sorted({committed[m][0] for m in accepted if m in committed})
    pending: set[int] = set()
    events: dict[str, set[str]] = {}
    for key in keys:
        try:
            found = store.get_state("order", key)
            json.dumps(found)
            pending |= {m.id for m in store.load_many("order", [key], limit=100_000)[key][1]}
        except Exception as exc:  # noqa: BLE001 - the finding itself
            report.unloadable.append(f"order {key}: {type(exc).__name__}: {exc}"[:300])
            continue
        events[key] = set((found[0] if found else {}).get("events", ()))
    for message_id in accepted:
        if message_id not in committed:
            report.lost.append(message_id)  # acknowledged, and no commit ever added it
            continue
        key, event = committed[message_id]
        if message_id not in quarantined and message_id not in pending and event not in events.get(key, ()):
            report.lost.append(message_id)


def _listed_by_api(runtime: Runtime, report: FuzzReport) -> int:
    url = f"{runtime.http.url}/api/v1/quarantine"
    headers = {"Authorization": f"Bearer {runtime.config.server.ops_token}"}
    listed = 0
    for state in ("open", "retried", "discarded"):
        after = 0
        while True:
            answer = requests.get(url, params={"state": state, "limit": 1000, "after": after}, headers=headers,
                                  timeout=30)
            if answer.status_code != 200:
                report.quarantine_error = f"GET /api/v1/quarantine answered {answer.status_code}: {answer.text[:200]}"
                return listed
            page = answer.json()
            listed += len(page["entries"])
            if page["next"] is None:
                break
            after = page["next"]
    return listed

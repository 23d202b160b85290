"""Operator commands: status, quarantine and connector control.

Quarantine commands work on the store directly, so they work while the server
is down; the server's sweep picks up a retried message within a second.
Connector commands act on the running server through its ops API.

None of them creates a store: a store that is not there, or has no schema, is
an error that says so. Acts on the store are audited under the operating
system's account that ran them (``cli:<user>``, see ``_who``), never a name the
caller types.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import requests

from peppasync.cli.configfile import load_for
from peppasync.cli.output import fail, print_json, print_table
from peppasync.config import Config
from peppasync.errors import JsonInputError, StoreError
from peppasync.redact import Redactor, config_secrets
from peppasync.store import QuarantineEntry, Store, open_store
from peppasync.store.leases import LeaseBook, cluster_view
from peppasync.strict_json import parse_json

__all__ = ["connector", "quarantine_discard", "quarantine_list", "quarantine_retry", "quarantine_show", "status"]

# Entries read per store query when the CLI lists every one.
_PAGE = 1000


@contextmanager
def _store(config: Config) -> Iterator[Store]:
    store = open_store(config.store.url, create=False)
    try:
        if store.schema_version() == 0:
            raise StoreError(
                f"store {store.url} has no Peppasync schema; check [store] url in {config.source}"
                " (the server sets the schema up when it first starts; `peppasync migrate` does it now)",
                url=store.url,
            )
        yield store
    finally:
        store.close()


def _who() -> str:
    """The account running this command, by uid, and the login behind it when that differs.

    ``$USER`` and ``$LOGNAME`` are the caller's say and count for nothing. The
    login uid (``/proc/self/loginuid``) is set by PAM at login and survives
    ``sudo -u peppasync``, which is how ``peppasync-ops`` runs: the audit then
    reads ``cli:alice as peppasync``.
    """
    account = _account(os.geteuid())
    login = _login_uid()
    if login is not None and login != os.geteuid():
        return f"cli:{_account(login)} as {account}"
    return f"cli:{account}"


def _account(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid with no passwd entry, as in some containers
        return f"uid={uid}"


def _login_uid() -> int | None:
    try:
        value = int(Path("/proc/self/loginuid").read_text().strip())
    except (OSError, ValueError):
        return None
    return None if value == 0xFFFFFFFF else value  # unset: no login session (a service, a container)


def _server_url(config: Config) -> str:
    host = config.server.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{config.server.port}"


def status(args: argparse.Namespace) -> int:
    """The store's backlog and quarantine, and the server's readiness; exit 1 unless the server is ready."""
    config = load_for(args)
    redactor = Redactor(config_secrets(config))
    with _store(config) as store:
        now = store.clock.time()
        stats = store.mailbox_stats(now=now)
        counts = store.quarantine_counts()
        version = store.schema_version()
    cluster = _cluster(config)
    problem = ""
    try:
        answer = requests.get(_server_url(config) + "/readyz", timeout=2)
        server = "ready" if answer.status_code == 200 else "not ready"
        if answer.status_code != 200:
            problem = f"server at {_server_url(config)} is not ready: {redactor.text(answer.text.strip())}"
    except requests.RequestException as exc:
        server = "not reachable"
        problem = f"server at {_server_url(config)} is not reachable: {_why(exc)}"
    data: dict[str, Any] = {
        "server": {"url": _server_url(config), "state": server},
        "store": {"url": redactor.text(config.store.url), "schema_version": version},
        "mailboxes": {k: {"depth": s.depth, "oldest_age_seconds": s.oldest_age_seconds} for k, s in stats.items()},
        "quarantine": [{"kind": k, "reason": r, "count": n} for (k, r), n in sorted(counts.items())],
        **({"cluster": cluster} if cluster is not None else {}),
    }
    if args.json:
        print_json(data)
        return _status_code(problem)
    print(f"server  {data['server']['url']}  {server}")
    print(f"store   {data['store']['url']}  schema version {version}\n")
    if stats:
        print_table(
            ["ACTOR", "DEPTH", "OLDEST AGE (s)"],
            [(k, s.depth, f"{s.oldest_age_seconds:.1f}") for k, s in sorted(stats.items())],
        )
    else:
        print("mailboxes: empty")
    print()
    if counts:
        print_table(["ACTOR", "REASON", "QUARANTINED"], [(k, r, n) for (k, r), n in sorted(counts.items())])
    else:
        print("quarantine: empty")
    if cluster is not None:
        print()
        print(f"cluster: leader {cluster['leader'] or 'none'}, {cluster['partitions']} partitions, "
              f"{cluster['unowned_partitions']} not owned")
        print_table(
            ["NODE", "HOST", "LISTEN", "PARTITIONS", "HEARTBEAT AGE (s)", "STATE"],
            [(n["node"], n["host"], n["listen"], n["partitions"], f"{n['heartbeat_age_seconds']:.1f}",
              "leader" if n["leader"] else n["state"]) for n in cluster["nodes"]],
        )
    return _status_code(problem)


def _cluster(config: Config) -> dict[str, Any] | None:
    """The cluster's nodes, leases and leader, from the lease table (a cluster's store only)."""
    if not config.cluster.enabled:
        return None
    book = LeaseBook(config.store.url)
    try:
        view = cluster_view(book.leases(), book.nodes())
    finally:
        book.close()
    for node in view["nodes"]:
        node["state"] = "up" if node["heartbeat_age_seconds"] <= config.cluster.lease_ttl else "lost"
    return view


def _why(exc: requests.RequestException) -> str:
    """The system's reason under requests' wrapping ("connection refused"), else the error's class."""
    if isinstance(exc, requests.Timeout):
        return "no answer within 2 s"
    found = re.findall(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
    return found[-1].strip().lower() if found else type(exc).__name__


def _status_code(problem: str) -> int:
    """1 with one line on stderr when the server is not ready: what a health check script tests."""
    if problem:
        sys.stdout.flush()  # the report first, then the line that explains the exit code
        return fail(problem)
    return 0


def quarantine_list(args: argparse.Namespace) -> int:
    config = load_for(args)
    filters = {"state": args.state, "kind": args.kind or None, "reason": args.reason or None}
    entries: list[QuarantineEntry] = []
    with _store(config) as store:
        after = args.after
        while True:
            # Without --limit, every page: nothing matching is left out.
            page = store.quarantine_page(**filters, after=after, limit=args.limit or _PAGE)
            entries += page.entries
            if args.limit is not None or page.next is None:
                break
            after = page.next
    total, cursor = page.total, page.next
    if args.json:
        print_json({"entries": [asdict(e) for e in entries], "total": total, "next": cursor})
        return 0
    what = f"{args.state} quarantined messages"
    what += f" of kind {args.kind}" if args.kind else ""
    what += f" with reason {args.reason}" if args.reason else ""
    if entries:
        print_table(
            ["ID", "ACTOR", "KEY", "REASON", "ERROR", "ATTEMPTS", "STATE"],
            [(e.id, e.kind, e.key, e.reason, e.error_class, e.attempts, e.state) for e in entries],
        )
    elif args.after and total:
        print(f"no {what} after id {args.after} ({total} in all)")
    else:
        print(f"no {what}")
    if cursor is not None:
        command = ["peppasync", "quarantine", "list"]
        command += ["--state", args.state] if args.state != "open" else []
        command += ["--kind", args.kind] if args.kind else []
        command += ["--reason", args.reason] if args.reason else []
        command += ["--limit", str(args.limit), "--after", str(cursor)]
        command += ["--config", args.config] if args.config else []
        print(f"peppasync: {len(entries)} of {total} {what} shown; the next {args.limit}: {shlex.join(command)}",
              file=sys.stderr)
    return 0


def quarantine_show(args: argparse.Namespace) -> int:
    config = load_for(args)
    with _store(config) as store:
        entry = store.quarantine_get(args.id)
    if args.json:
        print_json(asdict(entry))
        return 0
    for field, value in asdict(entry).items():
        if field in ("payload", "traceback"):
            continue
        print(f"{field:>14}: {value}")
    print("\npayload:")
    print(json.dumps(entry.payload, indent=2, ensure_ascii=False))
    print("\ntraceback:")
    print(entry.traceback)
    return 0


def quarantine_retry(args: argparse.Namespace) -> int:
    config = load_for(args)
    payload = None
    if args.payload:
        try:
            # The same strict parse as every input at the edge: no NaN, bounded depth and numbers.
            payload = parse_json(Path(args.payload).read_bytes())
        except OSError as exc:
            return fail(f"cannot read {args.payload}: {exc.strerror}", 2)
        except JsonInputError as exc:
            return fail(f"{args.payload} is not JSON the engine can keep ({exc.problem}): {exc}", 2)
        if not isinstance(payload, dict):
            return fail(f"{args.payload} must hold a JSON object", 2)
    with _store(config) as store:
        entry = store.quarantine_get(args.id)
        if entry.state != "open":
            return fail(f"quarantine entry {args.id} is already {entry.state}")
        message_id = store.quarantine_retry(args.id, who=_who(), payload=payload)
    if args.json:
        print_json({"retried": args.id, "message_id": message_id})
    else:
        edited = " with the edited payload" if payload is not None else ""
        print(f"quarantine entry {args.id} is back in the {entry.kind} mailbox{edited} as message {message_id}")
    return 0


def quarantine_discard(args: argparse.Namespace) -> int:
    config = load_for(args)
    with _store(config) as store:
        entry = store.quarantine_get(args.id)
        if entry.state != "open":
            return fail(f"quarantine entry {args.id} is already {entry.state}")
        store.quarantine_discard(args.id, who=_who())
    if args.json:
        print_json({"discarded": args.id})
    else:
        print(f"quarantine entry {args.id} discarded")
    return 0


def connector(args: argparse.Namespace) -> int:
    config = load_for(args)
    if not config.server.ops_token:
        return fail("[server] ops_token is not set, so the server's ops API is disabled", 2)
    base = f"{_server_url(config)}/api/v1/connectors/{args.name}"
    headers = {"Authorization": f"Bearer {config.server.ops_token}"}
    try:
        if args.action == "limit":
            resp = requests.put(base + "/limit", json={"limit": args.limit}, headers=headers, timeout=5)
        else:
            resp = requests.post(f"{base}/{args.action}", headers=headers, timeout=5)
    except requests.RequestException as exc:
        return fail(f"server at {_server_url(config)} is not reachable: {_why(exc)}")
    body = resp.json() if resp.headers.get("Content-Type", "").startswith("application/json") else {}
    if resp.status_code != 200:
        # 400: the request itself is wrong (a limit out of bounds), which is a usage error.
        code = 2 if resp.status_code == 400 else 1
        return fail(f"server refused: {resp.status_code} {body.get('error', resp.text)}", code)
    if args.json:
        print_json(body)
    else:
        print(", ".join(f"{k}={v}" for k, v in body.items()))
    return 0


def _not_an_order(order: str) -> int:
    """ORDER is not a Shopify order id: said, with the usage error's exit code."""
    return fail(f"ORDER must be a Shopify order id (a whole number), got {order!r}", 2)


def margin_show(args: argparse.Namespace) -> int:
    # Imported here: `serve` checks that the installed actors package is ours before any of it runs.
    from actors.margin_report import margin_of

    config = load_for(args)
    if not args.order.isdigit():
        return _not_an_order(args.order)
    with _store(config) as store:
        view = margin_of(store, args.order)
    if args.json:
        print_json(view)
        return 0
    flags = " (cancelled)" if view["cancelled"] else ""
    print(f"order {view['name'] or view['order_id']} ({view['order_id']}), sold {view['sold_at']}{flags}")
    revenue = view["revenue"]
    rows = [("revenue", revenue["amount"], revenue["basis"], revenue["source"])]
    rows += [(c["name"], "-" + c["amount"], c["basis"], c["source"]) for c in view["costs"]]
    print_table(["COMPONENT", f"AMOUNT ({view['currency']})", "BASIS", "SOURCE"], rows)
    percent = f" ({view['percent']} %)" if view["percent"] is not None else ""
    print(f"margin: {view['margin']} {view['currency']}{percent}")
    if view["presentment_currency"] != view["currency"]:
        print(f"revenue in the buyer's currency: {revenue.get('presentment')} {view['presentment_currency']}")
    if not view["complete"]:
        missing = ", ".join(c["name"] for c in view["costs"] if c["basis"] == "missing")
        print(f"incomplete: no figure for {missing}, so the margin is better than it really is")
    return 0


def margin_report(args: argparse.Namespace) -> int:
    from actors.margin_report import margin_report as margin_report_of
    from actors.margin_report import since_epoch

    config = load_for(args)
    try:
        since = since_epoch(args.since or None)
    except ValueError as exc:
        return fail(f"--since {exc}", 2)
    with _store(config) as store:
        report = margin_report_of(store, since=since, by=args.by, worst=args.worst)
    if args.json:
        print_json(report)
        return 0
    if not report["rows"]:
        print("no margins yet" + (f" for orders sold since {args.since}" if args.since else ""))
        return 0
    cost_names = sorted({name for row in report["rows"] for name in row["costs"]})
    print_table(
        [args.by.upper(), "CURRENCY", "ORDERS", "REVENUE", *(n.upper() for n in cost_names), "MARGIN", "%", ""],
        [(r["group"], r["currency"], r["orders"], r["revenue"], *(r["costs"].get(n, "0") for n in cost_names),
          r["margin"], r["percent"] or "-", _bar(r["percent"])) for r in report["rows"]],
    )
    print(f"{report['orders']} orders ({report['incomplete_orders']} with a cost missing; "
          f"{report['cancelled_orders']} cancelled, left out)")
    if report["worst_orders"] and args.by != "order":
        worst = ", ".join(f"{o['name'] or o['order_id']} {o['margin']} {o['currency']}" for o in report["worst_orders"])
        print(f"worst orders: {worst}")
    if report["worst_skus"] and args.by != "sku":
        worst = ", ".join(f"{s['group']} {s['margin']} {s['currency']}" for s in report["worst_skus"])
        print(f"worst SKUs: {worst}")
    return 0


def margin_recost(args: argparse.Namespace) -> int:
    import time

    from actors.margin_report import recost, since_epoch

    config = load_for(args)
    if args.order is not None and not args.order.isdigit():
        return _not_an_order(args.order)
    if args.since and args.order is not None:
        return fail("--since goes with --sku: one order is recosted whenever it was sold", 2)
    try:
        since = since_epoch(args.since or None)
    except ValueError as exc:
        return fail(f"--since {exc}", 2)
    with _store(config) as store:
        keys = recost(store, order_id=args.order, sku=args.sku, since=since, now=time.time())
    if args.json:
        print_json({"recost": keys})
    elif keys:
        print(f"{len(keys)} orders will read their unit costs again: {', '.join(keys[:20])}"
              + (" ..." if len(keys) > 20 else ""))
    else:
        print(f"no order with a margin sold {args.sku}" + (f" since {args.since}" if args.since else ""))
    return 0


def _bar(percent: str | None, width: int = 20) -> str:
    """A margin percent as a bar, one block per 5 %: a trend reads faster than a column of figures."""
    if percent is None:
        return ""
    value = float(percent)
    blocks = min(width, round(abs(value) / 5))
    return ("-" if value < 0 else "") + "#" * blocks

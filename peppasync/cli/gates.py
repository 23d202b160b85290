"""``peppasync gates``: the build-to-order gates waiting for someone, and people's signals on them.

Like the quarantine commands, they work on the store directly, so they work while the
server is down; the server's sweep delivers a signal within a second. A signal names who
decided (``--by``, the approver); the audit log also records the operating system's account
that sent it.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import UTC, datetime

from peppasync.cli.configfile import load_for
from peppasync.cli.ops import _not_an_order, _store, _who
from peppasync.cli.output import fail, print_json, print_table
from peppasync.clock import SystemClock

__all__ = ["add_gates_arguments"]

_ACTIONS = ("approve", "reject", "hold", "release", "note")


def add_gates_arguments(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                        config_arg: object) -> None:
    """``gates list`` and one subcommand per signal."""
    g = sub.add_parser("gates", help="build-to-order gates: list them, approve, reject, hold, release, note")
    gsub = g.add_subparsers(dest="action", metavar="ACTION")
    gsub.required = True
    p = gsub.add_parser("list", help="open and held gates, overdue first, with their due times")
    config_arg(p)  # type: ignore[operator]
    p.add_argument("--gate", help="only this gate (finance, design, ...)")
    p.add_argument("--overdue", action="store_true", help="only gates past their due time")
    p.add_argument("--all", action="store_true", help="passed and rejected gates too")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=gates_list)
    for action in _ACTIONS:
        p = gsub.add_parser(action, help=f"{action} a gate of an order")
        config_arg(p)  # type: ignore[operator]
        p.add_argument("order", help="the Shopify order id")
        p.add_argument("gate", help="the gate's name, as [gates] names it")
        p.add_argument("--by", required=True, metavar="NAME", help="who decided (the approver's name)")
        p.add_argument("--note", default="", metavar="TEXT", help="why; kept in the gate's trail")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=gates_signal, signal=action)


def _when(moment: float | None) -> str:
    return "" if moment is None else datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")


def gates_list(args: argparse.Namespace) -> int:
    from actors.gate_board import gate_rows
    from actors.gate_workflows import GateSettings

    config = load_for(args)
    settings = GateSettings.from_config(config.gates)
    if args.gate and settings.workflows and not any(w.rule(args.gate) for w in settings.workflows):
        names = sorted({g.name for w in settings.workflows for g in w.gates})
        return fail(f"no gate {args.gate!r} in [gates]; the gates are {', '.join(names)}", 2)
    with _store(config) as store:
        rows = gate_rows(store, settings, SystemClock().time(), gate=args.gate or None, overdue=args.overdue,
                         closed=args.all)
    if args.json:
        print_json({"gates": [asdict(r) for r in rows]})
        return 0
    if not rows:
        print("no gate " + ("overdue" if args.overdue else "waiting for anyone") + (f" at {args.gate}" if args.gate
                                                                                     else ""))
        return 0
    print_table(["ORDER", "GATE", "STATUS", "OWNER", "DUE", "OVERDUE", "LAST"], [
        (r.order_id, r.gate, r.status, r.owner, _when(r.due_at), "yes" if r.overdue else "",
         f"{r.last_action} by {r.last_who}: {r.last_why}" if r.last_action else "")
        for r in rows])
    return 0


def gates_signal(args: argparse.Namespace) -> int:
    from actors.gate_board import send_signal
    from actors.gate_workflows import GateSettings

    config = load_for(args)
    if not args.order.isdigit():
        return _not_an_order(args.order)
    with _store(config) as store:
        signal_id = send_signal(store, GateSettings.from_config(config.gates), args.order, args.gate, args.signal,
                                who=args.by, why=args.note, via=_who(), now=SystemClock().time())
    if args.json:
        print_json({"order": args.order, "gate": args.gate, "action": args.signal, "signal_id": signal_id})
    else:
        print(f"{args.signal} of {args.gate} for order {args.order} by {args.by} sent; the gate applies it within "
              "a second while the server runs (peppasync gates list shows where it stands)")
    return 0

"""Argument parsing and dispatch for every ``peppasync`` subcommand."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from peppasync import __version__
from peppasync.cli import bench, commands, ops
from peppasync.cli.configfile import CONFIG_VARIABLE, SYSTEM_CONFIG
from peppasync.cli.gates import add_gates_arguments
from peppasync.cli.output import fail
from peppasync.config import LOG_FORMATS, LOG_LEVELS
from peppasync.errors import ConfigError, InstallationError, PeppasyncError
from peppasync.redact import Redactor

__all__ = ["build_parser", "run"]

# What a process killed by SIGPIPE reports: the reader of our output went away.
_CLOSED_PIPE = 128 + 13


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", metavar="FILE",
                   help=f"peppasync.toml (default: ${CONFIG_VARIABLE}, else {SYSTEM_CONFIG})")


def _exposure_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-world-readable-config", action="store_true",
                   help="no warning when the configuration file holds secrets other users can read")


def _whole(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"expected a whole number of at least {low}, got {text!r}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="peppasync",
        description="Keeps Shopify, the ERP and the warehouse consistent.",
    )
    parser.add_argument("--version", action="version", version=f"peppasync {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("serve", help="run the server until SIGTERM")
    _config_arg(p)
    p.add_argument("--log-level", choices=LOG_LEVELS, help="overrides [log] level (default: info)")
    p.add_argument("--log-format", choices=LOG_FORMATS, help="overrides [log] format (default: json)")
    _exposure_arg(p)
    p.set_defaults(func=commands.serve)

    p = sub.add_parser("check-config", help="validate a configuration file")
    p.add_argument("file", metavar="FILE")
    _exposure_arg(p)
    p.set_defaults(func=commands.check_config)

    p = sub.add_parser("migrate", help="apply store migrations")
    _config_arg(p)
    p.set_defaults(func=commands.migrate)

    p = sub.add_parser("demo", help="run the sandbox and the engine together on SQLite")
    commands.add_demo_arguments(p)
    p.set_defaults(func=commands.demo)

    p = sub.add_parser("sandbox", help="serve the simulated Shopify, NetSuite and WMS")
    commands.add_sandbox_arguments(p)
    p.set_defaults(func=commands.sandbox)

    p = sub.add_parser("bench", help="the Black Friday benchmark and the crash-safety runs")
    bench.add_bench_arguments(p)

    p = sub.add_parser("status", help="mailboxes, quarantine and server health")
    _config_arg(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=ops.status)

    q = sub.add_parser("quarantine", help="inspect and act on quarantined messages")
    qsub = q.add_subparsers(dest="action", metavar="ACTION")
    qsub.required = True
    p = qsub.add_parser("list", help="list quarantined messages")
    _config_arg(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--state", choices=("open", "retried", "discarded"), default="open")
    p.add_argument("--kind", help="only messages of this actor kind (order, inventory, ...)")
    p.add_argument("--reason", help="only messages quarantined for this reason (validation, ...)")
    p.add_argument("--limit", type=_whole(1), metavar="N",
                   help="list at most N (one page) and say how to get the next; default: list every one")
    p.add_argument("--after", type=_whole(0), default=0, metavar="ID",
                   help="start after this entry id (the `next` of the previous page)")
    p.set_defaults(func=ops.quarantine_list)
    for name, func, text in (
        ("show", ops.quarantine_show, "show one quarantined message with its traceback"),
        ("retry", ops.quarantine_retry, "put a quarantined message back in its mailbox"),
        ("discard", ops.quarantine_discard, "discard a quarantined message (audited)"),
    ):
        p = qsub.add_parser(name, help=text)
        _config_arg(p)
        p.add_argument("id", type=int)
        p.add_argument("--json", action="store_true")
        if name == "retry":
            p.add_argument("--payload", metavar="FILE", help="JSON file with an edited payload")
        p.set_defaults(func=func)

    add_gates_arguments(sub, _config_arg)

    m = sub.add_parser("margin", help="true margin per order: one order's, or a report over many")
    msub = m.add_subparsers(dest="action", metavar="ACTION")
    msub.required = True
    p = msub.add_parser("show", help="one order's margin, component by component, with sources")
    _config_arg(p)
    p.add_argument("order", help="the Shopify order id (a whole number)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=ops.margin_show)
    p = msub.add_parser("report", help="margins added up by day, SKU or order, and the worst orders and SKUs")
    _config_arg(p)
    p.add_argument("--since", metavar="DATE", help="orders sold at or after this date or time (2026-11-27)")
    p.add_argument("--by", choices=("day", "sku", "order"), default="day")
    p.add_argument("--worst", type=_whole(0), default=10, metavar="N", help="name the N worst orders and SKUs")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=ops.margin_report)
    p = msub.add_parser("recost", help="read unit costs again: for one order, or every order that sold a SKU")
    _config_arg(p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("order", nargs="?", help="the Shopify order id")
    which.add_argument("--sku", help="every order that sold this SKU")
    p.add_argument("--since", metavar="DATE", help="with --sku: orders sold at or after this date")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=ops.margin_recost)

    c = sub.add_parser("connector", help="pause, resume or limit a connector of the running server")
    csub = c.add_subparsers(dest="action", metavar="ACTION")
    csub.required = True
    for name in ("pause", "resume"):
        p = csub.add_parser(name)
        _config_arg(p)
        p.add_argument("name", choices=("shopify", "netsuite", "business_central", "wms", "wms_inventory"))
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=ops.connector)
    p = csub.add_parser("limit", help="cap the connector's concurrency, from 1 to its configured ceiling")
    _config_arg(p)
    p.add_argument("name", choices=("shopify", "netsuite", "business_central", "wms", "wms_inventory"))
    p.add_argument("limit", type=_whole(1), metavar="N")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=ops.connector)

    return parser


def run(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        code = func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        # `peppasync quarantine list | head -1`: the reader has what it wanted.
        # Later writes (and Python's own flush at exit) go nowhere, quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return _CLOSED_PIPE
    except ConfigError as exc:
        print("peppasync: configuration is not valid:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {Redactor().text(str(problem))}", file=sys.stderr)
        return 2
    except InstallationError as exc:  # reinstalling fixes it, restarting does not: exit 2
        print("peppasync: the installed engine packages are not Peppasync's own:", file=sys.stderr)
        for reason in exc.problems:
            print(f"  {reason}", file=sys.stderr)
        return 2
    except PeppasyncError as exc:
        return fail(Redactor().text(str(exc)))
    except KeyboardInterrupt:
        return 130

"""Commands that run things: serve, check-config, migrate, demo, sandbox."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from peppasync.cli.configfile import exposure, load_for
from peppasync.config import ERP_KINDS, Config, load_config
from peppasync.errors import RuntimeStartError
from peppasync.installation import check_installation
from peppasync.logs import capture_uncaught, setup_logging
from peppasync.redact import Redactor, config_secrets

__all__ = [
    "add_demo_arguments",
    "add_sandbox_arguments",
    "check_config",
    "demo",
    "load_for",
    "migrate",
    "sandbox",
    "serve",
]

log = logging.getLogger("peppasync.serve")


def serve(args: argparse.Namespace) -> int:
    """Run the server; exit 2 with one log line when it cannot start (port taken, store unreachable)."""
    # Before a line of actors/ or supervisors/ runs: another distribution may have replaced them.
    check_installation()
    from peppasync.engine import engine_kinds, engine_services
    from peppasync.runtime import Runtime

    # No sandbox fallback: a server talks to the real services or refuses to start.
    config = load_for(args, complete=True)
    level = args.log_level or config.log.level
    form = args.log_format or config.log.format
    setup_logging(level.lower(), json_lines=form == "json", redactor=Redactor(config_secrets(config)))
    capture_uncaught()
    _warn_if_exposed(config, args)
    try:
        return Runtime(config, kinds=engine_kinds(config), services=engine_services).serve()
    except RuntimeStartError as exc:
        log.critical("cannot start", extra={"error": str(exc), "error_class": type(exc).__name__})
        return 2
    except Exception:
        log.critical("server failed", exc_info=True)
        return 1


def _warn_if_exposed(config: Config, args: argparse.Namespace) -> None:
    if args.allow_world_readable_config or not Path(config.source).is_file():
        return
    found = exposure(Path(config.source))
    if found is not None:
        log.warning(
            "configuration file with secrets is readable by other users",
            extra={"path": str(found.path), "mode": f"{found.mode:04o}", "keys": list(found.secrets),
                   "fix": found.fix, "silence": "--allow-world-readable-config"},
        )


def check_config(args: argparse.Namespace) -> int:
    config = load_config(args.file, complete=True)
    redactor = Redactor(config_secrets(config))
    print(f"{args.file}: valid")
    print(f"  store: {redactor.text(config.store.url)}")
    print(f"  listen: {config.server.listen}")
    print(f"  shopify: {redactor.text(config.shopify.shop_url)}")
    if config.erp.kind == "business_central":
        bc = config.business_central
        print(f"  business central: {redactor.text(bc.base_url)} (tenant {bc.tenant}, environment {bc.environment}, "
              f"company {bc.company_id})")
    else:
        print(f"  netsuite: {redactor.text(config.netsuite.base_url)} (account {config.netsuite.account_id})")
    print(f"  wms: {redactor.text(config.wms.base_url)}")
    print(f"  log: {config.log.level.lower()}, {config.log.format}")
    if not config.server.ops_token:
        print("  note: [server] ops_token is empty, so the ops API is disabled")
    found = None if args.allow_world_readable_config else exposure(Path(args.file))
    if found is not None:
        print(f"peppasync: warning: {found} (--allow-world-readable-config silences this)", file=sys.stderr)
    return 0


def migrate(args: argparse.Namespace) -> int:
    from peppasync.store import open_store

    config = load_for(args)
    # Never a new store: a mistyped path must not become an empty database that reports "current".
    store = open_store(config.store.url, create=False)
    try:
        applied = store.migrate()
        version = store.schema_version()
    finally:
        store.close()
    if applied:
        print(f"applied migrations {', '.join(map(str, applied))}; schema version {version}")
    else:
        print(f"schema is current (version {version})")
    return 0


def add_sandbox_arguments(parser: argparse.ArgumentParser) -> None:
    try:
        from peppasync.sandbox.cli import add_arguments
    except ImportError:
        return
    add_arguments(parser)


def sandbox(args: argparse.Namespace) -> int:
    from peppasync.sandbox.cli import command

    return int(command(args))


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orders", type=int, default=300, help="orders to place (default 300)")
    parser.add_argument("--profile", default="black-friday", help="sandbox profile (calm, black-friday)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-scale", type=float, default=20.0, help="sandbox speed-up (default 20)")
    parser.add_argument("--dir", default=".peppasync-demo", help="where the demo keeps its SQLite store")
    parser.add_argument("--listen", default="127.0.0.1:8470")
    parser.add_argument("--serve", action="store_true", help="keep serving after the run, until Ctrl-C")
    parser.add_argument("--erp", choices=ERP_KINDS, default="netsuite",
                        help="the ERP the sandbox simulates and the engine books orders in (default netsuite)")
    parser.add_argument("--bto", action="store_true",
                        help="custom orders through their stage gates instead (--orders of them, 4 to 40)")


def demo(args: argparse.Namespace) -> int:
    from peppasync.demo import run_demo

    setup_logging("warning", json_lines=False)
    if args.bto:
        from peppasync.demo_bto import run_bto_demo

        return run_bto_demo(args)
    return run_demo(args)

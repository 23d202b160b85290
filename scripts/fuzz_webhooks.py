from gevent import monkey

monkey.patch_all()

ABOUT = """Signed, mutated Shopify webhooks against a sandbox-backed engine; prints what held and what did not.

    .venv/bin/python scripts/fuzz_webhooks.py                       # 10,000 webhooks at 50/s
    .venv/bin/python scripts/fuzz_webhooks.py --bodies 2000 --rate 0

Prints: sent, 2xx, 4xx by reason, 5xx, webhooks acknowledged but lost, actors
that cannot load their state, quarantine entries listed, errors logged without
their exception (and raw gevent tracebacks). The engine's own log goes to
engine.log in --directory. Exit code 0 when everything held, 1 otherwise.
"""

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from peppasync.bench.fuzz import FuzzOptions, run_fuzz  # noqa: E402
from peppasync.logs import JsonFormatter  # noqa: E402


def main(argv: list[str]) -> int:
    defaults = FuzzOptions()
    parser = argparse.ArgumentParser(prog="fuzz_webhooks.py", description=ABOUT,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bodies", type=int, default=defaults.bodies, help="webhooks to send (default %(default)s)")
    parser.add_argument("--rate", type=float, default=defaults.rate,
                        help="webhooks per second; 0 sends as fast as the server answers (default %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="default %(default)s")
    parser.add_argument("--orders", type=int, default=defaults.orders,
                        help="real orders the webhooks are made from (default %(default)s)")
    parser.add_argument("--senders", type=int, default=defaults.senders,
                        help="requests in flight at once (default %(default)s)")
    parser.add_argument("--time-scale", type=float, default=defaults.time_scale, help="default %(default)s")
    parser.add_argument("--drain-timeout", type=float, default=defaults.drain_timeout,
                        help="seconds to wait for the engine to empty its mailboxes (default %(default)s)")
    parser.add_argument("--directory", type=Path, default=defaults.directory, help="default %(default)s")
    parser.add_argument("--json", type=Path, help="also write the report to this file as JSON")
    args = parser.parse_args(argv)
    try:
        options = FuzzOptions(bodies=args.bodies, rate=args.rate, seed=args.seed, orders=args.orders,
                              senders=args.senders, time_scale=args.time_scale, drain_timeout=args.drain_timeout,
                              directory=args.directory)
    except ValueError as exc:
        parser.error(str(exc))
    options.directory.mkdir(parents=True, exist_ok=True)
    log_file = logging.FileHandler(options.directory / "engine.log", mode="w")
    log_file.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[log_file])
    report = run_fuzz(options, sys.stdout)
    print("\n".join(report.lines()))
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

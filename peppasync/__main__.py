"""Console entry point: ``peppasync``. Patches gevent before anything else is imported."""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402


def main() -> None:
    from peppasync.cli import run

    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()

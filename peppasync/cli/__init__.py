"""The ``peppasync`` command line: human tables by default, ``--json`` for scripts.

Exit codes: 0 ok, 1 failure, 2 usage or configuration error.
"""

from peppasync.cli.main import run

__all__ = ["run"]

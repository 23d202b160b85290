from gevent import monkey

monkey.patch_all()

"""`peppasync bench chaos`, runnable from a checkout: .venv/bin/python scripts/bench_chaos.py --help"""

import os  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from peppasync.cli.main import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run(["bench", "chaos", *sys.argv[1:]]))

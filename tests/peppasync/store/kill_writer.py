"""Child process for the SIGKILL test: writes batches forever, printing each id once acknowledged.

    python kill_writer.py STORE_URL
"""

from gevent import monkey

monkey.patch_all()

import os
import sys

import gevent

from peppasync.store import open_store, ops


def main(url: str) -> None:
    store = open_store(url)
    store.migrate()

    def produce(p: int) -> None:
        n = 0
        while True:
            ids = store.write([
                ops.Insert("crash", f"p{p}", {"p": p, "n": n}),
                ops.Insert("crash", f"p{p}", {"p": p, "n": n + 1}),
            ])
            n += 2
            # Printed only after write() returned: every id on stdout is acknowledged.
            os.write(1, "".join(f"{i}\n" for i in ids).encode())

    gevent.joinall([gevent.spawn(produce, p) for p in range(50)], raise_error=True)


if __name__ == "__main__":
    main(sys.argv[1])

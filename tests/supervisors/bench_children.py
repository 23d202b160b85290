"""Measures one supervisor with many dynamic children (not a test: pytest does not collect it).

.venv/bin/python -m tests.supervisors.bench_children 100000
"""

from gevent import monkey

monkey.patch_all()

import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import pykka  # noqa: E402

from supervisors import SupervisedActor, start_root  # noqa: E402


class Idle(SupervisedActor):
    kind = "idle"


def main(n: int) -> None:
    root = start_root([], on_give_up=print)
    sup = root.proxy()
    t0 = time.perf_counter()
    pykka.get_all([sup.start_child(Idle.child_spec(f"idle-{i}")) for i in range(n)], timeout=600)
    t1 = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pykka.get_all([sup.terminate_child(f"idle-{i}") for i in range(n)], timeout=600)
    t2 = time.perf_counter()
    pykka.get_all([sup.start_child(Idle.child_spec(f"idle-{i}")) for i in range(n)], timeout=600)
    t3 = time.perf_counter()
    root.stop(timeout=600)
    t4 = time.perf_counter()
    print(
        f"{n} children: start_child {n / (t1 - t0):.0f}/s, terminate_child {n / (t2 - t1):.0f}/s, "
        f"root stop (reverse order) {t4 - t3:.2f} s, peak RSS {rss:.0f} MiB"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)

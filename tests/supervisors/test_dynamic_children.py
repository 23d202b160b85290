"""Children added and removed at run time, up to tens of thousands under one supervisor."""

import pykka

from supervisors import RestartIntensity, SupervisedActor

from .doubles import WAIT, bump, crash, supervise, which, workers

MANY = 10_000


class Idle(SupervisedActor):
    kind = "idle"


def test_dynamic_children_follow_the_static_ones_in_start_order(journal, clock):
    root = supervise(journal, workers(journal, "a"), clock=clock)
    sup = root.proxy()

    for spec in workers(journal, "x", "y"):
        sup.start_child(spec).get(timeout=WAIT)

    assert which(root) == [("a", True, 0), ("x", True, 0), ("y", True, 0)]


def test_a_dynamic_child_is_supervised_like_any_other(journal, clock):
    root = supervise(journal, [], intensity=RestartIntensity(5, 5.0), clock=clock)
    [spec] = workers(journal, "order-42")
    root.proxy().start_child(spec).get(timeout=WAIT)
    bump(journal, "order-42")

    crash(journal, "order-42")
    journal.wait_count("restarted", 1)

    assert which(root) == [("order-42", True, 1)]
    assert bump(journal, "order-42") == 1


def test_terminating_a_child_stops_it_and_forgets_it(journal, clock):
    root = supervise(journal, workers(journal, "a", "b"), clock=clock)
    b = journal.refs["b"]

    root.proxy().terminate_child("b").get(timeout=WAIT)

    assert which(root) == [("a", True, 0)]
    assert not b.is_alive()
    assert journal.of("restarted") == []


def test_ten_thousand_dynamic_children_start_and_terminate(clock):
    root = supervise_quietly(clock)
    sup = root.proxy()

    refs = pykka.get_all([sup.start_child(Idle.child_spec(f"idle-{i}")) for i in range(MANY)], timeout=60)
    alive = which(root)
    pykka.get_all([sup.terminate_child(f"idle-{i}") for i in range(MANY)], timeout=60)

    assert len(alive) == MANY and all(up for _, up, _ in alive)
    assert which(root) == []
    assert not any(ref.is_alive() for ref in refs)
    assert pykka.ActorRegistry.get_all() == [root]


def supervise_quietly(clock):
    from supervisors import start_root

    return start_root([], on_give_up=lambda exit: None, clock=clock)

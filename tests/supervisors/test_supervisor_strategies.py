"""Which children come back after a failure, in which order, and with what state (OTP semantics)."""

from typing import cast

import gevent.event

from supervisors import (
    OneForAllStrategy,
    OneForOneStrategy,
    RestartIntensity,
    RestForOneStrategy,
    SupervisorProxy,
)

from .doubles import WAIT, Worker, bump, crash, life, supervise, which, workers

ROOMY = RestartIntensity(max_restarts=10, period=5.0)


def test_children_start_in_list_order_and_stop_in_reverse(journal, clock):
    root = supervise(journal, workers(journal, "a", "b", "c"), clock=clock)

    started = life(journal)
    root.stop(timeout=WAIT)

    assert started == ["start a", "start b", "start c"]
    assert life(journal)[3:] == ["stop c", "stop b", "stop a"]


def test_one_for_one_restarts_only_the_crashed_child_which_comes_back_with_fresh_state(journal, clock):
    root = supervise(
        journal, workers(journal, "a", "b", "c"), strategy=OneForOneStrategy(), intensity=ROOMY, clock=clock
    )
    bump(journal, "a")
    bump(journal, "b")
    bump(journal, "b")

    crash(journal, "b")
    journal.wait_count("restarted", 1)

    assert which(root) == [("a", True, 0), ("b", True, 1), ("c", True, 0)]
    assert life(journal)[3:] == ["crash b", "start b"]
    assert bump(journal, "b") == 1
    assert bump(journal, "a") == 2


def test_one_for_all_stops_the_others_in_reverse_then_starts_all_in_order(journal, clock):
    root = supervise(
        journal, workers(journal, "a", "b", "c"), strategy=OneForAllStrategy(), intensity=ROOMY, clock=clock
    )
    bump(journal, "a")

    crash(journal, "b")
    journal.wait_count("restarted", 3)

    assert life(journal)[3:] == ["crash b", "stop c", "stop a", "start a", "start b", "start c"]
    assert which(root) == [("a", True, 1), ("b", True, 1), ("c", True, 1)]
    assert bump(journal, "a") == 1


def test_rest_for_one_restarts_the_crashed_child_and_those_started_after_it(journal, clock):
    root = supervise(
        journal,
        workers(journal, "store", "http", "connectors", "orders"),
        strategy=RestForOneStrategy(),
        intensity=ROOMY,
        clock=clock,
    )
    bump(journal, "store")

    crash(journal, "http")
    journal.wait_count("restarted", 3)

    assert life(journal)[4:] == [
        "crash http",
        "stop orders",
        "stop connectors",
        "start http",
        "start connectors",
        "start orders",
    ]
    assert which(root) == [
        ("store", True, 0),
        ("http", True, 1),
        ("connectors", True, 1),
        ("orders", True, 1),
    ]
    assert bump(journal, "store") == 2


def test_the_supervisor_reports_every_exit_it_saw_to_its_hooks(journal, clock):
    supervise(journal, workers(journal, "a", "b"), strategy=OneForAllStrategy(), intensity=ROOMY, clock=clock)

    crash(journal, "a")
    journal.wait_count("restarted", 2)

    assert journal.of("exited") == [("exited", "root", "a", "failure"), ("exited", "root", "b", "shutdown")]


def test_a_message_the_supervisor_does_not_know_is_ignored_not_fatal(journal, clock):
    root = supervise(journal, workers(journal, "a"), clock=clock)

    root.tell("reload please")

    assert which(root) == [("a", True, 0)]


def test_a_child_that_does_not_stop_within_its_shutdown_time_is_abandoned_and_the_rest_still_stop(
    journal, clock
):
    release = gevent.event.Event()

    class Stubborn(Worker):
        def on_stop(self) -> None:
            release.wait(WAIT)
            super().on_stop()

    children = [*workers(journal, "a"), Stubborn.child_spec("stubborn", journal, "stubborn", shutdown=0.05)]
    root = supervise(journal, [*children, *workers(journal, "c")], clock=clock)

    root.stop(timeout=WAIT)
    stopped_meanwhile = life(journal)[3:]
    release.set()

    assert stopped_meanwhile == ["stop c", "stop a"]
    assert [e[2] for e in journal.of("exited")] == ["c", "stubborn", "a"]


def test_the_typed_proxy_speaks_the_supervisors_message_api(journal, clock):
    root = supervise(journal, workers(journal, "x"), clock=clock)
    sup = cast(SupervisorProxy, root.proxy())

    listed = sup.which_children().get(timeout=WAIT)

    assert listed == [("x", True, 0)]

"""Restart intensity: too many restarts and the supervisor gives up, leaving it to its parent."""

import pykka

from peppasync.exits import ExitKind

from supervisors import RestartIntensity, RestartIntensityExceededError, supervisor_spec

from .doubles import WAIT, bump, crash, life, supervise, which, workers


def test_a_second_restart_within_five_seconds_makes_the_root_give_up(journal, clock):
    root = supervise(journal, workers(journal, "a", "b", "c"), clock=clock)
    crash(journal, "b")
    journal.wait_count("restarted", 1)

    clock.advance(4.0)
    crash(journal, "b")
    journal.wait_count("gave_up", 1)

    [(_, exit)] = journal.of("gave_up")
    assert exit.kind is ExitKind.FAILURE
    assert exit.detail == "reached_max_restart_intensity"
    assert isinstance(exit.error, RestartIntensityExceededError)
    assert (exit.error.supervisor, exit.error.child_id) == ("root", "b")
    assert root.actor_stopped.wait(WAIT)


def test_giving_up_stops_the_other_children_in_reverse_order(journal, clock):
    supervise(journal, workers(journal, "a", "b", "c"), intensity=RestartIntensity(0, 5.0), clock=clock)

    crash(journal, "b")
    journal.wait_count("gave_up", 1)

    assert life(journal) == ["start a", "start b", "start c", "crash b", "stop c", "stop a"]
    assert [e[1] for e in journal.of("escalated")] == ["root"]


def test_restarts_further_apart_than_the_period_never_add_up(journal, clock):
    root = supervise(journal, workers(journal, "a"), clock=clock)

    for round in range(1, 4):
        crash(journal, "a")
        journal.wait_count("restarted", round)
        clock.advance(5.1)

    assert which(root) == [("a", True, 3)]
    assert journal.of("gave_up") == []


def test_a_child_supervisor_that_gives_up_is_restarted_by_its_parent_with_fresh_children(journal, clock):
    orders = supervisor_spec("orders", workers(journal, "order-1"), clock=clock, hooks=journal)
    root = supervise(
        journal, [orders, *workers(journal, "store")], intensity=RestartIntensity(3, 5.0), clock=clock
    )
    bump(journal, "order-1")
    bump(journal, "store")

    crash(journal, "order-1")
    journal.wait_count("restarted", 1)
    crash(journal, "order-1")
    journal.wait_for(lambda: ("restarted", "root", "orders", 0.0) in journal.events)

    assert [e[1] for e in journal.of("escalated")] == ["orders"]
    assert which(root) == [("orders", True, 1), ("store", True, 0)]
    assert bump(journal, "order-1") == 1
    assert bump(journal, "store") == 2
    assert journal.of("gave_up") == []


def test_when_the_child_supervisor_keeps_giving_up_the_root_gives_up_too(journal, clock):
    orders = supervisor_spec("orders", workers(journal, "order-1"), clock=clock, hooks=journal)
    supervise(journal, [orders, *workers(journal, "store")], clock=clock)

    crash(journal, "order-1")
    journal.wait_count("restarted", 1)
    crash(journal, "order-1")
    journal.wait_count("restarted", 2)
    crash(journal, "order-1")
    journal.wait_count("restarted", 3)
    crash(journal, "order-1")
    journal.wait_count("gave_up", 1)

    assert [e[1] for e in journal.of("escalated")] == ["orders", "orders", "root"]
    [(_, exit)] = journal.of("gave_up")
    assert exit.detail == "reached_max_restart_intensity"
    assert exit.error.child_id == "orders"
    assert exit.error.cause.detail == "reached_max_restart_intensity"


def test_stopping_the_root_on_request_is_not_giving_up(journal, clock):
    root = supervise(journal, workers(journal, "a"), clock=clock)

    root.stop(timeout=WAIT)

    assert life(journal) == ["start a", "stop a"]
    assert journal.of("gave_up") == []


def test_stopping_every_actor_through_pykka_stops_the_tree_from_the_root_without_restarts(journal, clock):
    connectors = supervisor_spec("connectors", workers(journal, "erp", "wms"), hooks=journal, clock=clock)
    supervise(journal, [*workers(journal, "store"), connectors, *workers(journal, "http")], clock=clock)

    pykka.ActorRegistry.stop_all(timeout=WAIT)

    assert life(journal)[4:] == ["stop http", "stop wms", "stop erp", "stop store"]
    assert journal.of("restarted") == []
    assert pykka.ActorRegistry.get_all() == []

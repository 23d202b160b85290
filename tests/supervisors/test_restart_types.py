"""Permanent, transient and temporary children, and exits from incarnations already replaced."""

from typing import Any

import pykka

from peppasync.exits import Exit, ExitListener

from supervisors import ChildSpec, OneForAllStrategy, RestartIntensity, RestartType

from .doubles import WAIT, BareChild, Crash, Finish, crash, life, supervise, which, workers

ROOMY = RestartIntensity(max_restarts=10, period=5.0)


def test_a_permanent_child_is_restarted_even_after_ending_normally(journal, clock):
    root = supervise(journal, workers(journal, "p"), intensity=ROOMY, clock=clock)

    journal.refs["p"].tell(Finish())
    journal.wait_count("restarted", 1)

    assert which(root) == [("p", True, 1)]
    assert journal.of("exited") == [("exited", "root", "p", "normal")]


def test_a_transient_child_is_restarted_after_a_crash(journal, clock):
    root = supervise(
        journal, workers(journal, "t", restart=RestartType.TRANSIENT), intensity=ROOMY, clock=clock
    )

    crash(journal, "t")
    journal.wait_count("restarted", 1)

    assert which(root) == [("t", True, 1)]


def test_a_transient_child_that_ends_normally_stays_down(journal, clock):
    root = supervise(
        journal, workers(journal, "t", restart=RestartType.TRANSIENT), intensity=ROOMY, clock=clock
    )

    journal.refs["t"].tell(Finish())
    journal.wait_count("exited", 1)

    assert which(root) == [("t", False, 0)]
    assert journal.of("restarted") == []


def test_a_transient_child_stopped_from_outside_is_a_shutdown_and_stays_down(journal, clock):
    root = supervise(
        journal, workers(journal, "t", restart=RestartType.TRANSIENT), intensity=ROOMY, clock=clock
    )

    journal.refs["t"].stop(timeout=WAIT)
    journal.wait_count("exited", 1)

    assert which(root) == [("t", False, 0)]
    assert journal.of("exited") == [("exited", "root", "t", "shutdown")]


def test_a_temporary_child_is_never_restarted_and_is_forgotten(journal, clock):
    root = supervise(
        journal, workers(journal, "tmp", restart=RestartType.TEMPORARY) + workers(journal, "p"), clock=clock
    )

    crash(journal, "tmp")
    journal.wait_count("exited", 1)

    assert which(root) == [("p", True, 0)]
    assert life(journal) == ["start tmp", "start p", "crash tmp"]


def test_a_temporary_child_stopped_by_a_siblings_one_for_all_is_not_restarted(journal, clock):
    children = (
        workers(journal, "a") + workers(journal, "tmp", restart=RestartType.TEMPORARY) + workers(journal, "c")
    )
    root = supervise(journal, children, strategy=OneForAllStrategy(), intensity=ROOMY, clock=clock)

    crash(journal, "a")
    journal.wait_count("restarted", 2)

    assert which(root) == [("a", True, 1), ("c", True, 1)]
    assert life(journal)[3:] == ["crash a", "stop c", "stop tmp", "start a", "start c"]


def test_exits_from_an_incarnation_already_replaced_are_ignored(journal, clock):
    listeners: list[ExitListener] = []
    refs: list[pykka.ActorRef[Any]] = []

    def start(on_exit: ExitListener) -> pykka.ActorRef[Any]:
        listeners.append(on_exit)
        refs.append(BareChild.start(on_exit))
        return refs[-1]

    root = supervise(journal, [ChildSpec("bare", start)], intensity=ROOMY, clock=clock)
    refs[0].tell(Crash(RuntimeError("first incarnation crashed")))
    journal.wait_count("restarted", 1)

    listeners[0](Exit.failure(RuntimeError("a late echo from the first incarnation")))
    listeners[0](Exit.normal())

    assert which(root) == [("bare", True, 1)]
    assert len(refs) == 2 and refs[1].is_alive()
    assert len(journal.of("exited")) == 1


def test_a_plain_pykka_actor_keeping_the_protocol_by_hand_is_supervised_too(journal, clock):
    refs: list[pykka.ActorRef[Any]] = []

    def start(on_exit: ExitListener) -> pykka.ActorRef[Any]:
        refs.append(BareChild.start(on_exit))
        return refs[-1]

    root = supervise(journal, [ChildSpec("bare", start, kind="bare")], intensity=ROOMY, clock=clock)

    refs[0].tell(Crash(ValueError("bad")))
    journal.wait_count("restarted", 1)

    assert which(root) == [("bare", True, 1)]
    assert not refs[0].is_alive()

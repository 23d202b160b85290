"""A child whose start raises counts as a failed child."""

import gevent.event
import pytest

from peppasync.exits import Exit

from supervisors import (
    ChildSpec,
    RestartIntensity,
    RestartType,
    RestForOneStrategy,
)

from .doubles import WAIT, Worker, life, supervise, which, workers

ROOMY = RestartIntensity(max_restarts=10, period=5.0)


def _fails_first(times: int):
    left = [times]

    def fail_start() -> bool:
        left[0] -= 1
        return left[0] >= 0

    return fail_start


def test_a_child_that_fails_to_start_once_is_restarted_and_its_siblings_start_anyway(journal, clock):
    children = [
        Worker.child_spec("flaky", journal, "flaky", fail_start=_fails_first(1)),
        *workers(journal, "b"),
    ]

    root = supervise(journal, children, intensity=ROOMY, clock=clock)
    journal.wait_count("restarted", 1)

    assert which(root) == [("flaky", True, 1), ("b", True, 0)]
    [(_, _, _, kind)] = journal.of("exited")
    assert kind == "failure"


def test_under_rest_for_one_the_children_after_a_failed_start_wait_for_it(journal, clock):
    children = [
        *workers(journal, "store"),
        Worker.child_spec("http", journal, "http", fail_start=_fails_first(1)),
        *workers(journal, "orders"),
    ]

    root = supervise(journal, children, strategy=RestForOneStrategy(), intensity=ROOMY, clock=clock)
    journal.wait_count("restarted", 1)
    children_now = which(root)

    assert children_now == [("store", True, 0), ("http", True, 1), ("orders", True, 0)]
    assert life(journal) == ["start store", "start http", "start orders"]


def test_children_held_behind_a_temporary_child_that_fails_to_start_start_anyway(journal, clock):
    broken = Worker.child_spec("tmp", journal, "tmp", fail_start=lambda: True, restart=RestartType.TEMPORARY)

    root = supervise(
        journal,
        [*workers(journal, "a"), broken, *workers(journal, "c")],
        strategy=RestForOneStrategy(),
        clock=clock,
    )
    journal.wait_count("start", 2)

    assert which(root) == [("a", True, 0), ("c", True, 0)]
    assert journal.of("gave_up") == []


def test_a_child_that_never_starts_makes_its_supervisor_give_up(journal, clock):
    children = [
        *workers(journal, "a"),
        Worker.child_spec("broken", journal, "broken", fail_start=lambda: True),
    ]

    supervise(journal, children, clock=clock)
    journal.wait_count("gave_up", 1)

    [(_, exit)] = journal.of("gave_up")
    assert exit.error.child_id == "broken"
    assert "broken cannot start" in exit.error.cause.detail
    assert life(journal) == ["start a", "stop a"]


def test_a_start_function_that_returns_no_actor_ref_counts_as_a_failure(journal, clock):
    supervise(journal, [ChildSpec("odd", lambda on_exit: "not a ref")], clock=clock)  # type: ignore[arg-type,return-value]

    journal.wait_count("gave_up", 1)

    [(_, exit)] = journal.of("gave_up")
    assert "returned 'not a ref', not a pykka.ActorRef" in exit.error.cause.detail


def test_start_supervised_raises_what_on_start_raised_and_reports_the_failed_end():
    exits: list[Exit] = []
    reported = gevent.event.Event()

    def on_exit(exit: Exit) -> None:
        exits.append(exit)
        reported.set()

    with pytest.raises(RuntimeError, match="w cannot start"):
        Worker.start_supervised(on_exit, None, "w", fail_start=lambda: True)

    assert reported.wait(WAIT)
    assert [(e.kind.value, e.detail) for e in exits] == [
        ("failure", "failed to start: RuntimeError('w cannot start')")
    ]
